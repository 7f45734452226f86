"""An ablation ladder: rungs that each change one thing, read from a report's summary.

A ladder is written as method names in order, `A,B,C:REF,...`: each rung is compared with the rung before it, or
with REF where given (a branch off the main line). For each rung the ladder gives its aggregate score with its
interval, P(rung > reference) and P(rung > floor) (the random policy), each with its 95% interval, all taken from
the report's own stratified bootstrap (summary["methods"], summary["improvement"]), and the verdict of each
comparison from the report's calibrated tests (summary["tests"], analysis.comparisons: the ladder's comparisons
are the family its Holm correction runs over); nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analysis.store import StoreError

FLOOR = "random"


def parse(items: Sequence[str]) -> list[tuple[str, str | None]]:
    """['a', 'b', 'c:a'] -> [('a', None), ('b', 'a'), ('c', 'a')]: each rung and the rung it is compared with."""
    rungs: list[tuple[str, str | None]] = []
    for item in items:
        name, _, reference = item.partition(":")
        if not name:
            raise StoreError(f"--ladder: empty rung in {','.join(items)!r}; write it as A,B,C:REF")
        rungs.append((name, reference or (rungs[-1][0] if rungs else None)))
    return rungs


def metric(summary: Mapping[str, Any]) -> str:
    """The aggregate a ladder shows: the mean for one task (the runs' mean score), else rliable's IQM."""
    return "Mean" if len(summary["tasks"]) == 1 else "IQM"


def probability(summary: Mapping[str, Any], x: str, y: str) -> dict[str, float] | None:
    """P(x > y) with its interval, from the report's pairs in either order; None if the report has no such pair."""
    pairs = summary["improvement"]
    if f"{x} vs {y}" in pairs:
        return dict(pairs[f"{x} vs {y}"])
    if f"{y} vs {x}" in pairs:
        found = pairs[f"{y} vs {x}"]
        return {"value": 1 - found["value"], "low": 1 - found["high"], "high": 1 - found["low"]}
    return None


def rows(summary: Mapping[str, Any], rungs: Sequence[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """One row per rung: method, reference, runs, score {value, low, high}, vs_reference and vs_floor (P(X > Y)
    {value, low, high}, or None where there is nothing to compare with)."""
    methods = summary["methods"]
    for name in {n for rung in rungs for n in rung if n is not None}:
        if name not in methods:
            raise StoreError(f"--ladder: {name!r} is not a method of this report; it has {', '.join(methods)}")
    aggregate = metric(summary)
    floor = FLOOR if FLOOR in methods else None
    return [
        {
            "method": name,
            "reference": reference,
            "runs": methods[name]["runs_per_task"],
            "score": methods[name]["aggregates"][aggregate],
            "vs_reference": probability(summary, name, reference) if reference else None,
            "vs_floor": probability(summary, name, floor) if floor and name != floor else None,
        }
        for name, reference in rungs
    ]


FLIPPED = {"better": "worse", "worse": "better"}


def tested(tests: Mapping[str, Any], x: str, y: str) -> dict[str, Any] | None:
    """The calibrated test of x against y from summary["tests"], in either order (turned round where it was
    made as y against x); None where the report did not test the pair."""
    pairs = tests["pairs"]
    if f"{x} vs {y}" in pairs:
        return dict(pairs[f"{x} vs {y}"])
    if f"{y} vs {x}" not in pairs:
        return None
    found = pairs[f"{y} vs {x}"]
    return {
        **found,
        "x": x,
        "y": y,
        "verdict": FLIPPED.get(found["verdict"], found["verdict"]),
        "improvement": 1 - found["improvement"],
        "runs": found["runs"][::-1],
    }


def with_tests(table: Sequence[Mapping[str, Any]], tests: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ladder's rows with each comparison's test: test_reference and test_floor (or None)."""
    return [
        {
            **row,
            "test_reference": tested(tests, row["method"], row["reference"]) if row["reference"] else None,
            "test_floor": tested(tests, row["method"], FLOOR) if row["vs_floor"] else None,
        }
        for row in table
    ]


def verdict(test: Mapping[str, Any] | None) -> str:
    """A comparison's calibrated verdict: better, worse, level or inconclusive ('' where there is none)."""
    return "" if test is None else str(test["verdict"])


VERDICT_ROOM = 0.55  # of P(X > Y)'s unit axis, right of 1: where each comparison's verdict is written
COLUMNS = (  # of the ladder figure's CSV, a row per rung
    "method",
    "reference",
    "runs",
    "score",
    "score_low",
    "score_high",
    "p_vs_reference",
    "p_vs_reference_low",
    "p_vs_reference_high",
    "p_vs_random",
    "p_vs_random_low",
    "p_vs_random_high",
    "verdict_vs_reference",
    "verdict_vs_random",
)


def draw(
    table: Sequence[Mapping[str, Any]], aggregate: str, floor_score: Mapping[str, float] | None = None
) -> tuple[Any, tuple[list[str], list[list[Any]]]]:
    """Two panels across the page, a row per rung from the top, labelled with its runs: the score's interval and
    point, with the first rung's score and random's (`floor_score`) as reference lines; and P(rung > compared)
    (filled) and P(rung > random) (hollow) with their intervals beside the 0.5 line, each with its test's verdict."""
    from matplotlib.ticker import MaxNLocator

    from analysis.figures import PAGE, ROW, pyplot

    plt = pyplot()
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(PAGE, 2 * ROW * len(table) + 1.0), sharey=True, gridspec_kw={"width_ratios": [1, 1.1]}
    )
    labels = [
        row["method"] + (f" vs {row['reference']}" if row["reference"] else "") + f" (n={row['runs']})" for row in table
    ]
    for y, row in enumerate(table):
        _draw_rung(left, right, y, row)
    left.axvline(table[0]["score"]["value"], color="C0", lw=0.8, ls=":")
    if floor_score is not None:
        left.axvline(floor_score["value"], color="0.3", lw=0.8, ls="--")
    right.axvline(0.5, color="0.4", lw=0.8, ls="--")
    right.set_xlim(-0.03, 1 + VERDICT_ROOM)
    right.set_xticks([0, 0.25, 0.5, 0.75, 1])
    right.spines["right"].set_visible(False)
    right.spines["bottom"].set_bounds(0, 1)  # the axis is P's; the room right of it holds the verdicts
    left.set_yticks(range(len(table)), labels)
    left.invert_yaxis()
    left.xaxis.set_major_locator(MaxNLocator(nbins=5))  # a narrow range's 8 default ticks run into each other
    left.set_xlabel(f"score, {aggregate} [95% CI]")
    right.set_xlabel("P(X > Y) [95% CI]; verdict")
    handles = _legend_handles(plt, table, floor_score is not None)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    return fig, (list(COLUMNS), [_csv_row(row) for row in table])


def _draw_rung(left: Any, right: Any, y: int, row: Mapping[str, Any]) -> None:
    """One rung at height `y`: its score's interval and point on `left`, its comparisons and verdicts on `right`."""
    score = row["score"]
    left.plot([score["low"], score["high"]], [y, y], color="C0", lw=4, alpha=0.45, solid_capstyle="butt")
    left.plot([score["value"]], [y], "|", color="C0", ms=9, mew=1.5)
    for key, test_key, shift in (("vs_reference", "test_reference", -0.17), ("vs_floor", "test_floor", 0.17)):
        p = row[key]
        if p is None:
            continue
        color = "C1" if key == "vs_reference" else "C2"
        right.plot([p["low"], p["high"]], [y + shift, y + shift], color=color, lw=1.5)
        right.plot([p["value"]], [y + shift], "o", color=color, mfc=color if key == "vs_reference" else "white", ms=4)
        right.text(1.06, y + shift, verdict(row.get(test_key)), va="center", fontsize=6.5, color=color)


def _legend_handles(plt: Any, table: Sequence[Mapping[str, Any]], with_floor: bool) -> list[Any]:
    """The ladder figure's legend: the first rung's line, random's (`with_floor`), and the comparisons it shows."""
    return [
        plt.Line2D([], [], color="C0", lw=0.8, ls=":", label=f"{table[0]['method']} (first rung)"),
        *([plt.Line2D([], [], color="0.3", lw=0.8, ls="--", label="random")] if with_floor else []),
        plt.Line2D([], [], color="C1", marker="o", ms=4, label="P(rung > compared)"),
        *(
            [plt.Line2D([], [], color="C2", marker="o", mfc="white", ms=4, label="P(rung > random)")]
            if any(row["vs_floor"] is not None for row in table)
            else []
        ),
    ]


def _csv_row(row: Mapping[str, Any]) -> list[Any]:
    """One rung's row of the ladder figure's CSV (COLUMNS): '' where it has no such comparison."""
    score = row["score"]
    probabilities = [
        row[k][f] if row[k] else "" for k in ("vs_reference", "vs_floor") for f in ("value", "low", "high")
    ]
    verdicts = [verdict(row.get(k)) for k in ("test_reference", "test_floor")]
    return [
        row["method"],
        row["reference"] or "",
        row["runs"],
        score["value"],
        score["low"],
        score["high"],
        *probabilities,
        *verdicts,
    ]
