"""hieros-bench report: from the results store to one summary (every number of the tables) plus the data of the
figures (`compute`); analysis.outputs then writes every file (summary.json, report.md, table_<suite>.tex and the
figures as PNG, PDF and CSV, drawn by analysis.figures and formatted by analysis.render). Same store, same bytes.

Per method: per-task mean raw score with a Student t interval over runs (inside the task's possible scores);
aggregates of normalised scores over the same tasks for every method (Median, IQM, Mean, Optimality Gap, and the
number of superhuman games for Atari) with 95% stratified bootstrap percentile intervals; probability of
improvement; performance profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from analysis import baselines, bootstrap, cache, comparisons, curves, efficiency, ladder, parallel, render, stats
from analysis.checks import Problem, check, failed_starts
from analysis.report_methods import (
    asked_pairs,
    baseline_verdicts,
    improvement_pairs,
    is_shipped,
    method_summary,
    published_summary,
)
from analysis.store import (
    Method,
    StoreError,
    display_name,
    normalization,
    suites_in,
)
from analysis.summary_file import Calibration, Check, Comparisons, Interval, Ladder, Rung, Statistics, Summary
from hieros.envs import task_domain
from hieros.run_search import Sources

PAPER_EXCLUDED = ("atari_up_n_down",)  # the HIEROS paper reports 25 of the 26 Atari100k games
TASK_SETS = {"hieros25": "the HIEROS paper's 25 games (Atari100k without UpNDown)"}  # named sets for --tasks
DEFAULT_PUBLISHED = ("HIEROS",)
FEW_RUNS = 3
COVERED_RUNS = 10
PROFILE_POINTS = 81
CALIBRATION_REPS = 2000  # bootstrap replicates per simulated experiment


@dataclass
class Options:
    results: Sources  # the store, or run directories and folders of them (hieros.run_search)
    out: Path
    suite: str | None = None
    methods: list[str] | None = None
    tasks: list[str] | None = None
    paper_tasks: bool = False
    reps: int = 50_000
    seed: int = 0
    allow_partial: bool = False
    allow_mixed: bool = False
    allow_failed: bool = False
    expect_seeds: int | None = None
    suite_seeds: comparisons.SeedPlan | None = None  # the suite file's seeds per method, where it names the suite
    published: list[str] | None = None  # None: DEFAULT_PUBLISHED for Atari reports
    metrics: list[str] = field(default_factory=list)
    sampler: bool = True
    calibrate: int = 0  # simulated experiments per method for the intervals' coverage (0: none)
    baselines: list[str] | None = None  # shipped per-run baselines (analysis.baselines); None: its DEFAULT on
    # an Atari100k store (400k frames), else none; ["all"], ["none"] as in --baselines
    jobs: int | None = None  # processes for the bootstrap and the figures; None: every core (same results)
    cache: bool = True  # reuse the shipped baselines' own estimates from analysis.cache (same results)
    ladder: list[str] | None = None  # an ablation ladder, e.g. ["dreamer", "hieros_1level", "hieros_rssm:hieros"]
    compare: list[list[str]] = field(default_factory=list)  # extra P(X > Y) pairs [[X, Y], ...], any two methods
    profile: str = "runs"  # performance profiles of run scores, or "average": of each task's mean over runs
    alpha: float = comparisons.ALPHA  # the family-wise level of the verdicts
    margin: float = comparisons.MARGIN  # "level": within this much normalised score (equivalence test)
    all_seeds: bool = False  # test on every seed, not only the suite's planned ones (optional stopping)

    @property
    def workers(self) -> int:
        return self.jobs or parallel.cpus()


class ChecksFailed(Exception):
    """The store fails checks that were not allowed; `lines` has one line per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class Report:
    summary: Summary  # everything in the tables; written as summary.json
    scores: dict[str, np.ndarray]  # normalised (runs, tasks) per method, tasks as summary.tasks
    profiles: dict[str, Any]  # {"taus": (points,), "methods": {name: {value, low, high}}}
    curves: dict[str, dict[str, dict[str, dict[str, np.ndarray]]]]  # {curve: {task: {method: {x, mean, low, high}}}}


def select(methods: dict[str, Method], options: Options) -> dict[str, Method]:
    if not options.methods:
        return methods
    unknown = sorted(set(options.methods) - set(methods))
    if unknown:
        raise StoreError(f"no method {', '.join(unknown)} in the store; it holds {', '.join(sorted(methods))}")
    return {name: methods[name] for name in sorted(options.methods)}


def task_set(methods: dict[str, Method], options: Options) -> tuple[list[str], str]:
    """The report's tasks, and how they were chosen: those every method of the store has a score on, or, in a
    report of shipped baselines alone, those any of them has (a baseline is then scored on its own tasks)."""
    present = set().union(*(m.tasks for m in methods.values()))
    store = [m for m in methods.values() if not is_shipped(m)]
    if store:
        tasks = set.intersection(*(set(m.scored_tasks()) for m in store))
        how = "the tasks every method of the store has a score on"
        unscored = sorted(set.intersection(*(set(m.tasks) for m in store)) - tasks)
        if unscored:
            how += f" (left out: {', '.join(display_name(t) for t in unscored)}, where some method has no score)"
    else:
        tasks = set().union(*(m.scored_tasks() for m in methods.values()))
        how = "the tasks any of the baselines has a score on"
    named = [n for n in options.tasks or [] if n in TASK_SETS]
    chosen = [t for t in options.tasks or [] if t not in TASK_SETS]
    if chosen:
        unknown = sorted(set(chosen) - present)
        if unknown:
            raise StoreError(
                f"--tasks: no runs of {', '.join(unknown)}; the store has {', '.join(sorted(present))}"
                f", and the named sets {', '.join(TASK_SETS)}"
            )
        tasks &= set(chosen)
        how = "--tasks"
    if options.paper_tasks or named:
        if not all(task_domain(t) == "atari" for t in present):
            raise StoreError("hieros25 (--paper-tasks) is the HIEROS paper's 25 Atari games; this suite is not Atari")
        tasks -= set(PAPER_EXCLUDED)
        how = TASK_SETS["hieros25"]
    if not tasks:
        unscored = sorted(name for name, m in methods.items() if not is_shipped(m) and not m.scored_tasks())
        if unscored:
            raise StoreError(
                f"no finished run with a score yet of {', '.join(unscored)}; wait for one, or leave "
                f"{'it' if len(unscored) == 1 else 'them'} out with --methods"
            )
        raise StoreError("no task has runs of every method; nothing to compare (see --tasks, --methods)")
    return sorted(tasks), how


def own_tasks(methods: dict[str, Method], tasks: list[str]) -> dict[str, list[str]]:
    """Each method's tasks among the report's: all of them, or fewer for a baseline without a score on some (its
    aggregates are over these, and P(X > Y) with it over the tasks both have)."""
    scored = {name: set(m.scored_tasks()) for name, m in methods.items()}
    return {name: [t for t in tasks if t in scored[name]] for name in methods}


def gate(problems: list[Problem], options: Options) -> None:
    allowed = {"partial": options.allow_partial, "mixed": options.allow_mixed, "failed": options.allow_failed}
    blocking = [p for p in problems if not allowed[p.kind]]
    if blocking:
        flags = " / ".join(sorted({f"--allow-{p.kind}" for p in blocking}))
        raise ChecksFailed(
            [f"the store fails {len(blocking)} check(s); fix them or report anyway with {flags}:"]
            + [f"  {p.kind}: {p.message}" for p in blocking]
        )


def compute(options: Options) -> Report:
    """Load, check, and compute every number of the report (raises ChecksFailed or StoreError)."""
    ours, problems = _checked_methods(options)
    methods = {**ours, **baselines.beside(ours, options.baselines)}
    if not methods:
        raise StoreError("no runs and no baselines to report; give --baselines all for the published field alone")
    tasks, how = task_set(methods, options)
    own = own_tasks(methods, tasks)
    left_out = sorted(n for n, t in own.items() if not t)  # a baseline without a score on any of them
    methods = {n: m for n, m in methods.items() if own[n]}
    atari = all(normalization(t) == "human" for t in tasks)
    names = options.published if options.published is not None else list(DEFAULT_PUBLISHED if atari else ())
    scores = {name: m.scores(own[name]) for name, m in methods.items()}
    taus = np.linspace(0.0, 8.0 if atari else 1.0, PROFILE_POINTS)
    pairs = improvement_pairs(methods)
    pairs += asked_pairs(options.compare, methods, pairs)
    pairs = [(x, y) for x, y in pairs if set(own[x]) & set(own[y])]  # P(X > Y) needs a task both have
    estimates, improvement = _estimates(methods, scores, own, pairs, taus, atari, options)
    summaries = {n: method_summary(n, m, own[n], scores[n], estimates[n]) for n, m in methods.items()}
    published = published_summary(names, tasks) if atari else {}
    probabilities = {f"{x} vs {y}": Interval(**improvement[(x, y)]) for x, y in pairs}
    rungs = None
    if options.ladder:
        rungs = ladder.rows(summaries, probabilities, ladder.metric(tasks), ladder.parse(options.ladder))
    tests = _tests(rungs, methods, set(ours), scores, own, pairs, options)
    summary = Summary(
        suite=next(iter(methods.values())).suite,
        tasks=tasks,
        task_selection=how,
        normalization={t: normalization(t) for t in tasks},
        statistics=_statistics(options),
        checks=[Check(p.kind, p.message) for p in problems],
        methods=summaries,
        published=published,
        left_out=left_out,
        efficiency=efficiency.compute(methods, own, options.reps, options.seed, options.workers),
        verdicts=baseline_verdicts(summaries, published),
        improvement=probabilities,
        tests=tests,
        ladder=None if rungs is None else Ladder(ladder.metric(tasks), ladder.with_tests(rungs, tests)),
        calibration=_calibration(scores, options) if options.calibrate else None,
        train_metrics=curves.end_values(ours, tasks, options.metrics) if options.metrics else None,
    )
    summary = replace(summary, notes=_notes(summary))
    profiles = {"taus": taus, "kind": options.profile, "methods": {n: estimates[n]["profile"] for n in methods}}
    return Report(summary, scores, profiles, curves.for_report(ours, tasks, options.metrics))


def _statistics(options: Options) -> Statistics:
    """How the report's intervals are made."""
    return Statistics(
        reps=options.reps,
        seed=options.seed,
        confidence=bootstrap.CONFIDENCE,
        aggregates="stratified bootstrap over runs within tasks, percentile interval (rliable)",
        per_task="Student t interval of the mean over runs, inside the task's possible scores",
        profile=options.profile,
    )


def _checked_methods(options: Options) -> tuple[dict[str, Method], list[Problem]]:
    """Our methods of the store as selected, and their problems (ChecksFailed where one is not allowed)."""
    ours = select(baselines.store_methods(options.results, options.suite, options.baselines), options)
    curves.check_metrics(ours, options.metrics)  # a --metric no run logs: said before any work
    problems = check(ours, options.expect_seeds, options.suite_seeds) if ours else []
    only = suites_in(options.results)
    problems += failed_starts(options.results, ours, options.methods, options.suite or (only[0] if only else None))
    gate(problems, options)
    return ours, problems


def _estimates(
    methods: dict[str, Method],
    scores: dict[str, np.ndarray],
    own: dict[str, list[str]],
    pairs: list[tuple[str, str]],
    taus: np.ndarray,
    atari: bool,
    options: Options,
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], dict[str, float]]]:
    """Each method's bootstrap estimates and each pair's P(X > Y); shipped baselines' estimates through the cache."""

    def metrics(s: np.ndarray, counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return stats.aggregates(s, counts, taus, with_superhuman=atari, profile=options.profile)

    entries = {
        n: cache.key(
            n,
            scores[n],
            reps=options.reps,
            seed=options.seed,
            taus=taus,
            superhuman=atari,
            confidence=bootstrap.CONFIDENCE,
            profile=options.profile,
        )
        for n, m in methods.items()
        if options.cache and is_shipped(m)
    }
    known = {n: found for n, entry in entries.items() if (found := cache.load(entry)) is not None}
    estimates, improvement = bootstrap.joint_estimates(
        scores,
        dict.fromkeys(methods, metrics),
        pairs,
        options.reps,
        {n: bootstrap.rng_for(options.seed, n) for n in methods},
        options.workers,
        known,
        own,
    )
    for n, entry in entries.items():
        if n not in known:
            cache.store(entry, estimates[n])
    return estimates, improvement


def _tests(
    rungs: list[Rung] | None,
    methods: dict[str, Method],
    ours: set[str],
    scores: dict[str, np.ndarray],
    own: dict[str, list[str]],
    pairs: list[tuple[str, str]],
    options: Options,
) -> Comparisons:
    """The verdicts of the family of comparisons: the ladder's `rungs` where one was asked, else `pairs`."""
    floor = ladder.FLOOR if ladder.FLOOR in methods else None
    asked = [(x, y) for x, y in options.compare if x != y]
    chosen, how = comparisons.family(pairs, rungs, asked, floor)
    return comparisons.verdicts(
        scores,
        own,
        {n: m.scored_seeds(own[n]) for n, m in methods.items()},
        ours,
        chosen,
        how,
        options.suite_seeds,
        options.all_seeds,
        options.alpha,
        options.margin,
    )


def _calibration(scores: dict[str, np.ndarray], options: Options) -> Calibration:
    """The coverage of each method's intervals in options.calibrate simulated experiments."""
    reps = min(options.reps, CALIBRATION_REPS)
    return Calibration(
        trials=options.calibrate,
        reps=reps,
        coverage={
            n: bootstrap.coverage(s, options.calibrate, reps, bootstrap.rng_for(options.seed, "calibration", n))
            for n, s in scores.items()
            if (np.isfinite(s).sum(axis=0) > 1).all()
        },
    )


def _notes(summary: Summary) -> list[str]:
    notes = []
    for name, m in summary.methods.items():
        if m.tasks != summary.tasks:
            notes.append(f"{name}: {render.task_subset(summary, name)}")
    if summary.left_out:
        notes.append(f"left out, with no score on any of these tasks: {', '.join(summary.left_out)}")
    if any(m.runs_per_task < COVERED_RUNS for m in summary.methods.values()):
        notes.append(
            "with fewer than 10 runs per task, stratified bootstrap intervals (rliable's) are narrower than "
            "95%: see docs/report.md (Coverage), or --calibrate for this store"
        )
    for name, m in summary.methods.items():
        if m.unscored:
            shown = ", ".join(m.unscored[:3]) + (" ..." if len(m.unscored) > 3 else "")
            notes.append(
                f"{name}: {len(m.unscored)} finished run(s) have no score by their protocol ({shown}; "
                "final_train_window: no training episode ended in the final window); their cells are left "
                "out, as danijar/dreamerv3 does, and each task's n= counts the runs it has"
            )
        if m.runs_per_task < FEW_RUNS:
            notes.append(
                f"{name} has {render.runs_per_task(m)} run(s) per task in the aggregates: its intervals "
                "say little about the spread over seeds"
            )
    for name, p in summary.published.items():
        n_games = p.facts.get("n_games")
        if p.aggregates and n_games and n_games != len(summary.tasks):
            notes.append(
                f"{name}'s published aggregates are over {n_games} games, this report's over "
                f"{len(summary.tasks)}" + ("; see --paper-tasks" if n_games == 25 else "")
            )
    return notes
