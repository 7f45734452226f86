"""hieros-bench report: from the results store to report.md, summary.json, a LaTeX table and figures.

The numbers are computed once here (per game: mean and bootstrap CI of raw scores; aggregates over the same
tasks for every method: Median, IQM, Mean, Optimality Gap with stratified bootstrap CIs; probability of
improvement; performance profiles) and then written in each format. Same inputs, same bytes out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis import figures, stats
from analysis.checks import check
from analysis.published import published
from analysis.store import Method, StoreError, load_store, normalize, random_human
from hieros import rundir

PAPER_TASKS_EXCLUDED = ("atari_up_n_down",)  # the HIEROS paper reports 25 games
CURVE_BINS = 20


@dataclass
class Options:
    results: Path
    out: Path
    suite: str | None = None
    tasks: list[str] | None = None
    paper_tasks: bool = False
    reps: int = 2000
    seed: int = 0
    allow_partial: bool = False
    allow_mixed: bool = False
    expect_seeds: int | None = None
    published: list[str] = field(default_factory=lambda: ["HIEROS"])
    metrics: list[str] = field(default_factory=list)
    sampler: bool = True


class ReportError(Exception):
    """The checks failed; the message lists each problem on its own line."""


def _mean_ci(values: np.ndarray, reps: int, rng: np.random.Generator) -> tuple[float, float, float]:
    if len(values) == 1:
        return float(values[0]), float(values[0]), float(values[0])
    resampled = values[rng.integers(0, len(values), size=(reps, len(values)))].mean(axis=1)
    low, high = stats.interval(resampled)
    return float(values.mean()), low, high


def _verdict(value: float, low: float, high: float) -> str:
    return "inside" if low <= value <= high else ("above" if value > high else "below")


def _binned(run_dirs: list[Path], budget: int, select: Any, reps: int, rng: np.random.Generator) -> dict:
    """Mean and 95% band over runs of a per-run curve, in CURVE_BINS bins of env frames."""
    edges = np.linspace(0, budget, CURVE_BINS + 1)
    table = np.full((len(run_dirs), CURVE_BINS), np.nan)
    for row, run_dir in enumerate(run_dirs):
        points = [(r["frames"], v) for r in rundir.read_metrics(run_dir) if (v := select(r)) is not None]
        for b in range(CURVE_BINS):
            inside = [v for f, v in points if edges[b] < f <= edges[b + 1]]
            if inside:
                table[row, b] = np.mean(inside)
    keep = ~np.all(np.isnan(table), axis=0)
    table = table[:, keep]
    index = rng.integers(0, len(run_dirs), size=(reps, len(run_dirs)))
    with warnings.catch_warnings():  # bins where a resample has no run are NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = np.nanmean(table[index], axis=1)
        low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)
        mean = np.nanmean(table, axis=0)
    return {"x": edges[1:][keep], "mean": mean, "low": low, "high": high}


def compute(options: Options) -> dict[str, Any]:
    methods = load_store(options.results, options.suite)
    problems = check(methods, options.expect_seeds)
    blocking = [p for p in problems if (p.kind == "partial" and not options.allow_partial)
                or (p.kind == "mixed" and not options.allow_mixed)]
    if blocking:
        flags = sorted({"--allow-partial" if p.kind == "partial" else "--allow-mixed" for p in blocking})
        lines = "\n".join(f"  {p.kind}: {p.message}" for p in blocking)
        raise ReportError(f"the store fails {len(blocking)} check(s) ({' / '.join(flags)} to report anyway):\n{lines}")
    tasks = sorted(set.intersection(*(set(m.tasks) for m in methods.values())))
    if options.tasks:
        tasks = [t for t in tasks if t in options.tasks]
    if options.paper_tasks:
        tasks = [t for t in tasks if t not in PAPER_TASKS_EXCLUDED]
    if not tasks:
        raise StoreError("no task has runs of every method; nothing to compare")
    rng = np.random.default_rng(options.seed)
    summary: dict[str, Any] = {
        "suite": next(iter(methods.values())).suite, "tasks": tasks, "bootstrap": {"reps": options.reps,
        "seed": options.seed, "confidence": 0.95, "method": "percentile, stratified over runs within tasks"},
        "checks": [{"kind": p.kind, "message": p.message} for p in problems], "methods": {}, "published": {},
        "improvement": {}}
    arrays = {}
    for name, method in sorted(methods.items()):
        scores = method.scores(tasks)
        arrays[name] = scores
        games = {}
        for task in tasks:
            raw = np.array([r.final for _, r in sorted(method.runs[task].items()) if r.final is not None])
            mean, low, high = _mean_ci(raw, options.reps, rng)
            games[task] = {"mean": mean, "low": low, "high": high, "runs": len(raw),
                           "normalized": normalize(task, mean)}
        imported = any(r.record["provenance"].get("imported") for r in method.all_runs())
        summary["methods"][name] = {
            "imported": imported, "runs_per_task": int(scores.shape[0]), "games": games,
            "aggregates": stats.aggregate_with_ci(scores, options.reps, options.seed),
            "above_human": int(sum(g["normalized"] > 1 for g in games.values())),
        }
    atari_only = all(t.startswith("atari_") for t in tasks)
    for name in options.published if atari_only else []:
        entry = published().get(name)
        if entry is None:
            raise StoreError(f"--published {name!r} is not in the published table; known: {', '.join(published())}")
        summary["published"][name] = {"games": {t: entry.means[t] for t in tasks if t in entry.means},
                                      "aggregates": entry.aggregates, "sources": sorted(entry.sources),
                                      "intervals": False}
    names = list(arrays)
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            summary["improvement"][f"{x} vs {y}"] = stats.probability_of_improvement_with_ci(
                arrays[x], arrays[y], options.reps, options.seed)
    taus = np.linspace(0, max(2.0, float(max(a.max() for a in arrays.values()))), 101)
    summary["profiles"] = {"taus": taus.tolist(), "methods": {
        n: {k: v.tolist() for k, v in stats.performance_profile_with_ci(a, taus, options.reps, options.seed).items()}
        for n, a in arrays.items()}}
    summary["curves"] = _curves(methods, tasks, options, rng)
    return summary


def _curves(methods: dict[str, Method], tasks: list[str], options: Options,
            rng: np.random.Generator) -> dict[str, Any]:
    selectors = {"score": lambda r: r["score"] if r.get("type") == "episode" and r.get("mode") == "train" else None}
    selectors |= {m: (lambda r, m=m: r.get(m) if r.get("type") == "train" else None) for m in options.metrics}
    out: dict[str, Any] = {}
    for name, select in selectors.items():
        per_task: dict[str, Any] = {}
        for task in tasks:
            for method_name, method in sorted(methods.items()):
                runs = [r for r in method.runs[task].values() if (r.path / rundir.METRICS_FILE).exists()]
                if not runs:
                    continue
                budget = int(runs[0].record["protocol"].get("budget_frames") or 0)
                curve = _binned([r.path for r in runs], budget, select, min(options.reps, 500), rng)
                if len(curve["x"]):
                    per_task.setdefault(task, {})[method_name] = {k: v.tolist() for k, v in curve.items()}
        if per_task:
            out[name] = per_task
    return out


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"


def markdown(summary: dict[str, Any], figure_names: list[str]) -> str:
    methods, published_ = summary["methods"], summary["published"]
    lines = [f"# Report: suite {summary['suite']}", ""]
    boot = summary["bootstrap"]
    lines += [f"{len(summary['tasks'])} tasks; 95% stratified bootstrap intervals ({boot['reps']} replicates, "
              f"seed {boot['seed']}); published means have no intervals.", "", "## Checks", ""]
    checks = [f"- {c['kind']}: {c['message']}" for c in summary["checks"]]
    lines += checks or ["- all runs present, finished and comparable"]
    ours = [m for m, v in methods.items() if not v["imported"]]
    baselines = [m for m, v in methods.items() if v["imported"]]
    header = ["task", "random", "human", *methods, *published_]
    header += [f"{o} vs {b}" for o in ours for b in baselines]
    lines += ["", "## Per task (raw score: mean [95% CI])", "", "| " + " | ".join(header) + " |",
              "|" + "---|" * len(header)]
    table = random_human()
    for task in summary["tasks"]:
        cells = [task, *(map(_fmt, table[task]) if task in table else ("-", "-"))]
        for m in methods:
            g = methods[m]["games"][task]
            cells.append(f"{_fmt(g['mean'])} [{_fmt(g['low'])}, {_fmt(g['high'])}]")
        cells += [_fmt(published_[p]["games"][task]) if task in published_[p]["games"] else "-" for p in published_]
        for o in ours:
            for b in baselines:
                g = methods[b]["games"][task]
                cells.append(_verdict(methods[o]["games"][task]["mean"], g["low"], g["high"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Aggregates (normalised score: value [95% CI])", "",
              "| method | Median | IQM | Mean | Optimality Gap | tasks above human | runs per task |",
              "|---|---|---|---|---|---|---|"]
    for m, v in methods.items():
        a = v["aggregates"]
        cells = [f"{a[k]['value']:.3f} [{a[k]['low']:.3f}, {a[k]['high']:.3f}]" for k in stats.AGGREGATES]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {v['above_human']} | {v['runs_per_task']} |")
    for p, v in published_.items():
        cells = [f"{v['aggregates'][k]:.3f} (published)" if k in v["aggregates"] else "-" for k in stats.AGGREGATES]
        lines.append(f"| {p} | " + " | ".join(cells) + " | - | - |")
    if summary["improvement"]:
        lines += ["", "## Probability of improvement", "", "| X vs Y | P(X > Y) [95% CI] |", "|---|---|"]
        lines += [f"| {k} | {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}] |"
                  for k, v in summary["improvement"].items()]
    if published_:
        lines += ["", "## Sources of published numbers", ""]
        lines += [f"- {p}: {'; '.join(v['sources'])}" for p, v in published_.items()]
    lines += ["", "## Figures", ""] + [f"![{n}]({n}.png) ([PDF]({n}.pdf), [data]({n}.csv))" for n in figure_names]
    return "\n".join(lines) + "\n"


def latex(summary: dict[str, Any]) -> str:
    """booktabs table in the paper's layout: games as rows, random, human, methods; best per row in bold."""
    methods = list(summary["methods"]) + list(summary["published"])
    lines = [r"\begin{tabular}{l" + "r" * (2 + len(methods)) + "}", r"\toprule",
             "Game & Random & Human & " + " & ".join(m.replace("_", r"\_") for m in methods) + r" \\", r"\midrule"]
    table = random_human()
    for task in summary["tasks"]:
        values = [summary["methods"][m]["games"][task]["mean"] if m in summary["methods"]
                  else summary["published"][m]["games"].get(task) for m in methods]
        best = max((v for v in values if v is not None), default=None)
        cells = [f"\\textbf{{{_fmt(v)}}}" if v == best else _fmt(v) if v is not None else "-" for v in values]
        reference = " & ".join(map(_fmt, table[task])) if task in table else "- & -"
        name = task.removeprefix("atari_").replace("_", " ").title()
        lines.append(f"{name} & {reference} & " + " & ".join(cells) + r" \\")
    lines.append(r"\midrule")
    for metric in stats.AGGREGATES:
        values = [summary["methods"][m]["aggregates"][metric]["value"] if m in summary["methods"]
                  else summary["published"][m]["aggregates"].get(metric) for m in methods]
        lines.append(f"{metric} & & & " + " & ".join("-" if v is None else f"{v:.3f}" for v in values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write(options: Options, summary: dict[str, Any]) -> list[str]:
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    names = ["aggregates", "profiles"]
    figures.aggregates(out, {m: v["aggregates"] for m, v in summary["methods"].items()})
    profiles = summary["profiles"]
    figures.profiles(out, np.array(profiles["taus"]),
                     {m: {k: np.array(v) for k, v in c.items()} for m, c in profiles["methods"].items()})
    if summary["improvement"]:
        figures.improvement(out, summary["improvement"])
        names.append("improvement")
    for metric, per_task in summary["curves"].items():
        name = "curves" if metric == "score" else f"metric_{metric}"
        arrays = {t: {m: {k: np.array(v) for k, v in c.items()} for m, c in ms.items()} for t, ms in per_task.items()}
        figures.curves(out, name, "episode score" if metric == "score" else metric, arrays)
        names.append(name)
    if options.sampler:
        from analysis.sampler import sampler_figure

        sampler_figure(out, [1.0, 0.7, 0.3], seed=options.seed)
        names.append("sampler")
    rundir.atomic_write_json(out / "summary.json", summary)
    rundir.atomic_write_bytes(out / "report.md", markdown(summary, names).encode())
    rundir.atomic_write_bytes(out / "table_atari100k.tex", latex(summary).encode())
    return names
