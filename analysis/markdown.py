"""report.md from the report's summary: checks first, then the aggregates, the ladder, calibration, the verdicts,
the per-game tables, the train metrics, the figures and the sources. Pure formatting."""

from __future__ import annotations

from collections import Counter

from analysis import ladder
from analysis.render import (
    AGGREGATE_ORDER,
    aggregate_names,
    fmt,
    fmt_aggregate,
    label,
    ranked,
    runs_per_task,
    task_subset,
    tasks_mark,
    with_interval,
)
from analysis.store import display_name, random_human
from analysis.summary_file import Comparison, Comparisons, Interval, Summary

VERDICTS = (
    "inside: our mean lies inside the baseline's 95% interval (Student t over its runs), above/below: "
    "outside it. Against a published mean, which has no interval: where our interval lies against it."
)


def _header(summary: Summary) -> list[str]:
    stats_ = summary.statistics
    kinds = {n: "baseline, " if m.baseline else "imported, " if m.imported else "" for n, m in summary.methods.items()}
    methods = ", ".join(f"{n} ({kinds[n]}{runs_per_task(m)} runs/task)" for n, m in summary.methods.items())
    published = ", ".join(summary.published) or "none"
    return [
        f"# hieros-bench report: {summary.suite}",
        "",
        f"{len(summary.tasks)} tasks ({summary.task_selection}). Methods: {methods}. "
        f"Published means (no intervals): {published}.",
        "",
        f"95% intervals: aggregates by stratified bootstrap over runs within tasks, percentile method "
        f"({stats_.reps} replicates, seed {stats_.seed}), as rliable; per game Student t over runs. "
        f"Aggregates use normalised scores ({', '.join(sorted(set(summary.normalization.values())))}).",
        "",
    ]


def _checks(summary: Summary) -> list[str]:
    lines = ["## Checks", ""]
    lines += [f"- **{c.kind}**: {c.message}" for c in summary.checks] or [
        "- all runs present, finished and comparable (same tasks, seeds, configs and protocols)"
    ]
    if summary.checks:
        flags = " / ".join(sorted({f"--allow-{c.kind}" for c in summary.checks}))
        lines += ["", f"Reported anyway ({flags}): read the numbers with these in mind."]
    if summary.notes:
        lines += ["", *[f"- note: {n}" for n in summary.notes]]
    return [*lines, ""]


def _aggregates(summary: Summary) -> list[str]:
    names = aggregate_names(summary)
    lines = [
        "## Aggregates (normalised score, value [95% CI]; best IQM first)",
        "",
        "| method | runs/task | " + " | ".join(names) + " |",
        "|---|---" + "|---" * len(names) + "|",
    ]
    for name in ranked(summary):
        m = summary.methods[name]
        cells = [with_interval(k, m.aggregates[k]) for k in names]
        shown = label(name, m) + tasks_mark(summary, name)
        lines.append(f"| {shown} | {runs_per_task(m)} | " + " | ".join(cells) + " |")
    for name, p in summary.published.items():
        facts = ", ".join(f"{v} {k[2:]}" for k, v in p.facts.items())
        if p.aggregates:
            cells = [fmt_aggregate(k, p.aggregates.get(k)) for k in names]
            lines.append(
                f"| {name} (as published{', ' + facts if facts else ''}; no CI) | – | " + " | ".join(cells) + " |"
            )
        if p.from_means:
            cells = [fmt_aggregate(k, p.from_means.get(k)) for k in names]
            lines.append(f"| {name} (from its per-game means on these tasks; no CI) | – | " + " | ".join(cells) + " |")
    subsets = [f"- {n}{tasks_mark(summary, n)}: {task_subset(summary, n)}" for n in summary.methods]
    subsets = [line for line in subsets if not line.endswith(": ")]
    return [*lines, *(["", *subsets] if subsets else []), ""]


def _improvement(summary: Summary) -> list[str]:
    """The verdicts of the tested family, each with P(X > Y) as its effect size; the other pairs' P(X > Y) after."""
    tests = summary.tests
    if not tests.pairs and not summary.improvement:
        return []
    lines = ["## Verdicts", "", *_test_design(tests), ""]
    if tests.pairs:
        lines += [
            "| X vs Y | verdict | tested runs | P(X > Y) on them | p (Holm) | p equivalence (Holm) | power at the "
            "margin | Welch's p (not a verdict) | P(X > Y) [95% CI], every run |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, t in tests.pairs.items():
            every = _interval(ladder.probability(summary.improvement, t.x, t.y))
            lines.append(
                f"| {key} | **{t.verdict}** | {t.runs[0]} vs {t.runs[1]} | {t.improvement:.3f} | "
                f"{_p(t.p)} ({_p(t.p_adjusted)}) | {_p(t.p_equivalence)} ({_p(t.p_equivalence_adjusted)})"
                f" | {_p(t.power, 2)} | {_p(t.welch_p)} | {every} |"
            )
        lines.append("")
    rest = {k: v for k, v in summary.improvement.items() if not _in_family(tests, k)}
    if rest:
        lines += [
            "The other pairs of the report, untested (their P(X > Y) describes; it names no difference):",
            "",
            "| X vs Y | P(X > Y) [95% CI] |",
            "|---|---|",
            *(f"| {k} | {_interval(v)} |" for k, v in rest.items()),
            "",
        ]
    return lines


def _test_design(tests: Comparisons) -> list[str]:
    """What the verdicts mean: the test, the family and its correction, the margin, the seeds tested."""
    lines = [
        f"Each verdict comes from a {tests.test} at a family-wise level of {tests.alpha:g}, Holm-corrected "
        f"over a family of {tests.size} comparison(s): {tests.family}. **better** / **worse**: the "
        f"difference is shown; **level**: equivalence within ±{tests.margin:g} normalised score is shown "
        f"({tests.equivalence}; set with --margin); **inconclusive**: neither. P(X > Y) and its 95% bootstrap "
        "interval are the effect size, not the test. Power: the chance the test finds a true difference of one "
        "margin at these runs and the spread the two methods show (docs/report.md, Verdicts).",
    ]
    if tests.beyond_plan:
        beyond = "; ".join(f"{n}: seeds {', '.join(map(str, seeds))}" for n, seeds in tests.beyond_plan.items())
        own = tests.planned_seeds_of or {}
        plan = f"{tests.planned_seeds} per method" + (
            f" ({', '.join(f'{m} {n}' for m, n in sorted(own.items()))})" if own else ""
        )
        tested = "every seed (--all-seeds)" if tests.all_seeds else "each method's planned seeds"
        lines += [
            "",
            f"**Seeds beyond the plan** (the suite plans {plan}): {beyond}. Seeds added "
            f"after a result was read bias a test, so the verdicts use {tested}.",
        ]
    return lines


def _in_family(tests: Comparisons, pair: str) -> bool:
    x, _, y = pair.partition(" vs ")
    return pair in tests.pairs or f"{y} vs {x}" in tests.pairs


def _interval(p: Interval | None) -> str:
    return "" if p is None else f"{p.value:.3f} [{p.low:.3f}, {p.high:.3f}]"


def _p(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if value >= 10**-digits else f"<{10**-digits:g}"


def _ladder(summary: Summary) -> list[str]:
    if summary.ladder is None:
        return []
    lines = [
        "## Ablation ladder",
        "",
        "Each rung changes one thing from the rung it is compared with (the one above, or the one named). "
        "Verdicts as in Verdicts below: the ladder's comparisons are the family of its Holm correction; each "
        "cell gives P(X > Y) [95% CI], the verdict, the Holm-adjusted p of the difference, and the power to find "
        "a difference of one margin.",
        "",
        f"| rung | compared with | runs | score, {summary.ladder.metric} [95% CI] | rung vs compared "
        "| rung vs random |",
        "|---|---|---|---|---|---|",
    ]
    for rung in summary.ladder.rungs:
        lines.append(
            f"| {rung.method} | {rung.reference or ''} | {rung.runs} | {_interval(rung.score)} | "
            f"{_tested(rung.vs_reference, rung.test_reference)} | {_tested(rung.vs_floor, rung.test_floor)} |"
        )
    return [*lines, ""]


def _tested(p: Interval | None, test: Comparison | None) -> str:
    if p is None:
        return ""
    if test is None:
        return _interval(p)
    return f"{_interval(p)} **{test.verdict}**, p = {_p(test.p_adjusted)}, power {_p(test.power, 2)}"


def _train_metrics(summary: Summary) -> list[str]:
    """Each --metric at the end of training: a row per method, a column per task."""
    if not summary.train_metrics:
        return []
    lines = [
        "## Train metrics at the end of training",
        "",
        "Each run's mean over its train records in the last tenth of the budget; mean over runs [95% t interval], "
        "n = runs. The curves are the metric_<name> figures.",
        "",
    ]
    for metric, by_task in summary.train_metrics.items():
        tasks = list(by_task)
        names = list(dict.fromkeys(n for per in by_task.values() for n in per))
        lines += [f"**{metric}**", "", "| method | " + " | ".join(display_name(t) for t in tasks) + " |"]
        lines.append("|---|" + "---|" * len(tasks))
        for name in names:
            cells = []
            for task in tasks:
                v = by_task[task].get(name)
                interval = f" [{fmt(v.low)}, {fmt(v.high)}]" if v and v.runs > 1 else ""
                cells.append(f"{fmt(v.mean)}{interval}, n={v.runs}" if v else "–")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _calibration(summary: Summary) -> list[str]:
    c = summary.calibration
    if c is None:
        return []
    names = [k for k in AGGREGATE_ORDER if k != "Superhuman"]
    lines = [
        "## Calibration (coverage of the nominal 95% aggregate intervals)",
        "",
        f"{c.trials} simulated experiments per method with its runs per task, each task normal with the "
        f"mean and spread of the method's own scores; {c.reps} bootstrap replicates each. Below 0.95 means "
        "the intervals above are too narrow: they miss the truth more often than 1 in 20.",
        "",
        "| method | runs/task | " + " | ".join(names) + " |",
        "|---|---" + "|---" * len(names) + "|",
    ]
    for name, cover in c.coverage.items():
        runs = runs_per_task(summary.methods[name])
        lines.append(f"| {name} | {runs} | " + " | ".join(f"{cover[k]:.2f}" for k in names) + " |")
    return [*lines, ""]


def _games(summary: Summary) -> list[str]:
    methods, published = summary.methods, summary.published
    pairs = [(o, b) for o, bases in summary.verdicts.items() for b in bases]
    reference = random_human()
    atari = any(t in reference for t in summary.tasks)
    header = [
        "game",
        *(["random (ref.)", "human (ref.)"] if atari else []),
        *methods,
        *(f"{p} (published)" for p in published),
    ]
    lines = [
        "## Per game (raw score, mean [95% CI over runs], n = runs in the cell)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for task in summary.tasks:
        cells = [display_name(task), *(map(fmt, reference.get(task, (None, None))) if atari else [])]
        for m in methods.values():
            g = m.games.get(task)
            if g is None:  # a baseline without a score on this task
                cells.append("–")
                continue
            interval = f" [{fmt(g.low)}, {fmt(g.high)}]" if g.runs > 1 else ""
            cells.append(f"{fmt(g.mean)}{interval}, n={g.runs}" if g.runs else fmt(g.mean))
        cells += [fmt(p.games.get(task)) for p in published.values()]
        lines.append("| " + " | ".join(cells) + " |")
    if not pairs:
        return [*lines, ""]
    lines += [
        "",
        "## Where our mean lies per game, against each baseline (descriptive, not a test: see Verdicts)",
        "",
        "| game | " + " | ".join(f"{o} vs {b}" for o, b in pairs) + " |",
        "|---|" + "---|" * len(pairs),
    ]
    for task in summary.tasks:
        lines.append(
            f"| {display_name(task)} | " + " | ".join(summary.verdicts[o][b].get(task, "–") for o, b in pairs) + " |"
        )
    counts = [
        ", ".join(f"{k} {v}" for k, v in sorted(Counter(summary.verdicts[o][b].values()).items())) for o, b in pairs
    ]
    lines += ["| **count** | " + " | ".join(counts) + " |", "", VERDICTS]
    return [*lines, ""]


def _sources(summary: Summary) -> list[str]:
    lines = ["## Sources", ""]
    used = set(summary.normalization.values())
    if "human" in used:
        lines.append(
            "- random and human scores: analysis/data/atari_random_human.csv (the standard Atari100k table: "
            "DreamerV3 baselines.yaml, IRIS RANDOM/HUMAN.json, dqn_zoo)"
        )
    if "return/1000" in used:
        lines.append("- DMC scores normalised as return / 1000 (an episode's return lies in [0, 1000])")
    for name, m in summary.methods.items():
        if m.baseline:
            b = m.baseline
            lines.append(
                f"- {name}: shipped baseline (analysis/data/atari100k_baselines.csv) from {b.origin}; "
                f"protocol: {b.protocol}" + (f"; {b.note}" if b.note else "")
            )
            continue
        files = "; ".join(f"{s.file} (sha256 {s.sha256})" for s in m.sources)
        lines.append(
            f"- {name}: {'imported from ' + files if files else 'our runs'}; protocol "
            f"{'; '.join(m.protocols)}; config {', '.join(m.config_hashes)}"
        )
    for name, p in summary.published.items():
        lines.append(
            f"- {name} (published means, analysis/data/atari100k_published_means.csv): " + " | ".join(p.sources)
        )
    return [*lines, ""]


def report_md(summary: Summary, figures: list[str]) -> str:
    """report.md: checks first, then the aggregate, improvement and per-game tables, figures and sources."""
    lines = (
        _header(summary)
        + _checks(summary)
        + _aggregates(summary)
        + _ladder(summary)
        + _calibration(summary)
        + _improvement(summary)
        + _games(summary)
        + _train_metrics(summary)
    )
    lines += ["## Figures", ""] + [f"![{n}]({n}.png)\n\n[PDF]({n}.pdf) · [data]({n}.csv)\n" for n in figures]
    return "\n".join(lines + _sources(summary))
