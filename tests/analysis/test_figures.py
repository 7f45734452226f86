"""Figures a paper can print (#34): one colour per method, the same in every figure of a report, at 15 methods;
one- and two-column sizes, 7 pt text, legends outside the data, x axes framed and labelled without offsets; no
sampler figure in a DMC report; the LaTeX table split where its methods pass the text width."""

import json
import re
from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.text import Text

from analysis import figures, latex, sampler
from analysis.outputs import figure_makers, write
from analysis.report import Options, compute
from hieros import rundir

FIFTEEN = tuple(f"method_{i:02d}_{'long_name' if i % 4 == 0 else 'x'}" for i in range(15))
METHOD_FIGURES = ("aggregates", "profiles", "efficiency", "games", "curves", "metric_model_loss")
NONE = ["none"]  # most tests here are about our runs: no shipped baselines beside them


@pytest.fixture(scope="module")
def fifteen(tmp_path_factory, stores) -> tuple[Any, dict[str, tuple[Any, Any]]]:
    """A report of 15 methods on 3 Atari games (2 runs each) and its figures, drawn."""
    root = tmp_path_factory.mktemp("fifteen")
    stores.small_store(root, methods=FIFTEEN, seeds=2)
    options = Options(
        root, root / "out", baselines=["none"], published=[], reps=100, metrics=["model_loss"], sampler=False
    )
    report = compute(options)
    return report, {name: draw() for name, draw in figure_makers(report, options).items()}


def _hex(color: Any) -> str:
    return to_hex(color, keep_alpha=False)


def drawn_colours(fig: Any, labelled_rows: bool) -> dict[str, set[str]]:
    """{method: the colours it is drawn in}: legend entries by their label, and, in a figure of `labelled_rows`
    (the aggregates, the games), the bars and dots of each row by the row's label on the first panel."""
    found: dict[str, set[str]] = defaultdict(set)
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            found[text.get_text()].add(_hex(handle.get_color()))
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    if labelled_rows:
        for ax in fig.axes:
            for bar in ax.patches:
                if bar.get_height() < 1:  # the bars of a row, not a stripe behind it
                    found[rows[round(bar.get_y() + bar.get_height() / 2)]].add(_hex(bar.get_facecolor()))
            for dots in (c for c in ax.collections if isinstance(c, PathCollection)):  # the runs' dots
                for (_, y), colour in zip(dots.get_offsets(), dots.get_facecolors(), strict=True):
                    found[rows[round(y)]].add(_hex(colour))
    return found


def test_fifteen_methods_have_fifteen_colours_the_same_in_every_figure(fifteen):
    report, drawn = fifteen
    palette = {m: s["color"] for m, s in figures.colors(list(report.summary.methods)).items()}
    assert len(set(palette.values())) == 15
    assert list(palette.values())[:10] == [_hex(f"C{i}") for i in range(10)]  # tab10 first, then glasbey's
    for name in METHOD_FIGURES:
        colours = drawn_colours(drawn[name][0], name in ("aggregates", "games"))
        assert set(colours) == set(FIFTEEN), name  # every method drawn, and told apart by a label
        assert all(len(c) == 1 for c in colours.values()), name  # one colour per method
        assert len({c for cs in colours.values() for c in cs}) == 15, name  # no two methods share one
        assert {m: c.pop() for m, c in colours.items()} == palette, name  # the same in every figure


def test_the_palette_is_kept_by_position_and_readable_on_white():
    first = figures.colors(["a", "b", "c"])
    assert figures.colors(["a", "b", "c", "d"])["c"] == first["c"]  # a method added at the end moves no other
    hues = figures.hues()
    assert len(set(hues)) == len(hues) > 100
    luminance = [figures._luminance([int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]) for h in hues[10:]]
    assert min(luminance) >= figures.LUMINANCE[0] and max(luminance) <= figures.LUMINANCE[1]


def _fonts_and_frames(name: str, fig: Any) -> None:
    """One or two paper columns wide; no text under 7 pt; every x axis framed, its labels without an offset; every
    legend outside every panel."""
    fig.canvas.draw()
    assert round(fig.get_figwidth(), 2) in (figures.COLUMN, figures.PAGE), name
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
    assert min(sizes) >= 7, name
    for ax in (ax for ax in fig.axes if ax.axison):
        assert ax.spines["bottom"].get_visible() and ax.get_xticklabels(), name
        assert ax.xaxis.get_offset_text().get_text() == "", name
        box = ax.get_window_extent()
        for legend in fig.legends:
            assert not legend.get_window_extent().overlaps(box), name


def test_figures_print_at_column_widths(fifteen):
    _, drawn = fifteen
    setup = sampler.preset_setup(items=300, capacity=10_000)
    for name, fig in [
        *((n, drawn[n][0]) for n in METHOD_FIGURES),
        ("sampler", sampler.draw(sampler.run(setup), setup)[0]),
    ]:
        _fonts_and_frames(name, fig)
    games = drawn["games"][0]
    assert [t.get_text() for t in games.axes[0].get_yticklabels()] == list(FIFTEEN)  # a labelled row per method


def test_profiles_of_bounded_scores_show_where_they_fall():
    taus = np.linspace(0.0, 1.0, 81)
    falls = {"value": (taus < 0.8) * 1.0, "low": (taus < 0.75) * 1.0, "high": (taus < 0.85) * 1.0}
    assert figures.profile_range(taus, {"a": falls}) == (0.7, 0.9)  # not 0 to 1, where nothing happens below 0.7
    atari = np.linspace(0.0, 8.0, 81)
    profile = {"a": {k: np.interp(atari, taus * 8, v) for k, v in falls.items()}}
    fig, _ = figures.draw_profiles(atari, profile, figures.colors(["a"]))
    assert fig.axes[0].get_xscale() == "symlog"


def test_a_dmc_report_has_no_sampler_figure(tmp_path, stores):
    for method in ("alpha", "beta"):
        for seed in (1, 2):
            stores.write_run(tmp_path / "dmc", method, "dmc_cartpole_balance", seed, [100.0 * seed], suite="dmc")
    stores.small_store(tmp_path / "atari")
    for store, drawn in (("dmc", False), ("atari", True)):
        options = Options(tmp_path / store, tmp_path / "out", baselines=["none"], reps=50)
        assert ("sampler" in figure_makers(compute(options), options)) == drawn, store


def _tabulars(tex: str) -> list[list[list[str]]]:
    """The cells of each tabular's rows."""
    return [
        [row.removesuffix(r" \\").split(" & ") for row in body.splitlines() if row.endswith(r" \\")]
        for body in re.findall(r"\\begin\{tabular\}.*?\\end\{tabular\}", tex, re.S)
    ]


def test_the_latex_table_is_split_where_its_methods_pass_the_text_width(fifteen):
    report, _ = fifteen
    tables = _tabulars(latex.table(report.summary))
    assert len(tables) > 1
    for rows in tables:
        assert [row[:3] for row in rows[1:]] == [row[:3] for row in tables[0][1:]]  # games and references each time
        columns = zip(*rows, strict=True)  # every row as wide as its heading
        assert sum(latex.PAD_PT + latex.CHAR_PT * max(map(latex._visible, c)) for c in columns) <= latex.TEXT_WIDTH_PT
    headings = [h for rows in tables for h in rows[0][3:]]
    assert [re.sub(r"\\shortstack\{(.*)\\\\(.*)\}", r"\1\2", h) for h in headings] == [
        m.replace("_", r"\_") for m in FIFTEEN
    ]  # each method once, in order, long names on two lines
    iqm = next(i for i, row in enumerate(tables[0]) if row[0].startswith("IQM"))
    assert sum(cell.startswith(r"\textbf") for rows in tables for cell in rows[iqm][3:]) == 1  # best of all tables
    few = replace(report.summary, methods={m: report.summary.methods[m] for m in FIFTEEN[:3]})
    assert len(_tabulars(latex.table(few))) == 1 and r"\shortstack" not in latex.table(few)


def test_figures_have_labelled_axes_and_are_images(tmp_path, stores):
    import matplotlib.image

    stores.small_store(tmp_path)
    options = Options(tmp_path, tmp_path / "out", baselines=NONE, reps=100, metrics=["model_loss"])
    report = compute(options)
    drawn = {name: draw() for name, draw in figure_makers(report, options).items()}
    assert list(drawn) == [
        "aggregates",
        "profiles",
        "improvement",
        "efficiency",
        "games",
        "curves",
        "metric_model_loss",
        "sampler",
    ]
    for name, (fig, (header, rows)) in drawn.items():
        axes = [ax for ax in fig.axes if ax.axison]
        assert axes and all(
            (ax.get_xlabel() or fig.get_supxlabel())
            and (ax.get_ylabel() or ax.get_yticklabels() or fig.get_supylabel())
            for ax in axes
        ), name
        assert header and rows, name
    paths = write(report, options)
    for path in paths:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            assert matplotlib.image.imread(path).shape[0] > 100


def test_curve_legend_fits_a_single_panel():
    from analysis import figures, figures_curves

    x = np.array([1.0, 2.0])
    curve = {"x": x, "mean": x, "low": x - 1, "high": x + 1, "runs": np.array([3, 3])}
    few = ["dreamer", "hieros", "hieros_1level", "random"]
    many = [*few, "hieros_2level", "hieros_rssm", "hieros_no_novelty", "hieros_no_subgoal_reward", "hieros_corrected"]
    for methods in (few, many):  # the cpu_learning ladder: 9 methods, long names, one panel
        fig, _ = figures_curves.draw_curves(
            {"dmc_cartpole_balance": {m: curve for m in methods}},
            "env frames",
            "score",
            figures.colors(methods),
            {},
        )
        fig.canvas.draw()
        legend, page = fig.legends[0].get_window_extent(), fig.bbox
        assert page.x0 <= legend.x0 and legend.x1 <= page.x1 and page.y0 <= legend.y0, methods


def test_a_falling_loss_is_drawn_on_a_log_axis():
    from analysis import figures, figures_curves

    def curves(*means: list[float]) -> dict:
        return {
            "task": {
                f"m{i}": {"x": np.arange(len(m)), "mean": np.array(m), "low": np.array(m), "high": np.array(m)}
                for i, m in enumerate(means)
            }
        }

    assert figures_curves.wants_log_axis(curves([3.0, 0.2], [2.0, 0.09]))  # 3 / 0.09 = 33 > 30
    assert not figures_curves.wants_log_axis(curves([3.0, 0.2], [2.0, 0.11]))  # 27
    assert not figures_curves.wants_log_axis(curves([3.0, 0.0]))  # a mean of 0 has no place on a log axis
    assert not figures_curves.wants_log_axis(curves([40.0, -0.5]))  # nor a negative one (an entropy)
    data = curves([3.0, 0.2], [2.0, 0.05])
    for c in data["task"].values():
        c["low"], c["runs"] = c["mean"] - 1.0, np.array([3, 3])  # a band reaching below 0
    fig, _ = figures_curves.draw_curves(data, "env steps", "loss", figures.colors(["m0", "m1"]), {}, log=True)
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    assert ax.get_yscale() == "log" and 0.005 <= bottom < 0.05 and top > 3.0
    assert fig.get_supylabel() == "loss (log scale)"


def test_one_task_draws_one_aggregate_panel_and_bands_stay_in_the_score_range(tmp_path, stores):
    """A one-task report: Median, IQM and Mean are one number, so the aggregates figure shows Mean and the
    optimality gap; DMC curve bands are drawn inside [0, 1000] (the CSV keeps the interval whole); an interval too
    narrow to see still shows a dot."""
    for seed, score in ((1, 990.0), (2, 1000.0), (3, 400.0)):
        stores.write_run(tmp_path, "alpha", "dmc_cartpole_balance", seed, [score], suite="cpu_learning")
        stores.write_run(tmp_path, "beta", "dmc_cartpole_balance", seed, [100.0 + seed], suite="cpu_learning")
    options = Options(tmp_path, tmp_path / "out", baselines=NONE, reps=200, sampler=False)
    drawn = {name: draw() for name, draw in figure_makers(compute(options), options).items()}
    fig, (_, rows) = drawn["aggregates"]
    assert [ax.get_title() for ax in fig.axes] == ["Mean", "Optimality Gap"]
    fig, (_, rows) = drawn["curves"]
    assert max(row[5] for row in rows) > 1000  # the t band of three runs goes past the maximum ...
    band = [c for c in fig.axes[0].collections if c.get_paths()]
    assert all(p.vertices[:, 1].max() <= 1000 for c in band for p in c.get_paths())  # ... and is drawn inside it
    fig, _ = drawn["improvement"]
    assert any(line.get_marker() == "o" for line in fig.axes[0].lines)  # P(alpha > beta) = 1 [1, 1]: a dot


def test_a_metric_named_per_level_is_a_figure_file_of_its_own(tmp_path, stores):
    stores.small_store(tmp_path)
    for run in rundir.find_runs(tmp_path):  # the agent names its metrics per level: level_0/model_loss
        with open(run / rundir.METRICS_FILE, "a") as f:
            f.write(json.dumps({"type": "train", "env_step": 100_000, "frames": 400_000, "level_0/model_loss": 1.5}))
    options = Options(tmp_path, tmp_path / "out", baselines=["none"], reps=100, sampler=False)
    options.metrics = ["level_0/model_loss"]
    report = compute(options)
    assert report.summary.train_metrics["level_0/model_loss"]["atari_pong"]["alpha"].mean == 1.5
    names = [path.name for path in write(report, options)]
    assert {"metric_level_0_model_loss.png", "metric_level_0_model_loss.csv"} <= set(names)
    assert "![metric_level_0_model_loss](metric_level_0_model_loss.png)" in (tmp_path / "out" / "report.md").read_text()
