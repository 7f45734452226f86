"""Checks before numbers: is the store complete, finished and comparable? Each problem is one line.

`partial` problems (missing tasks or seeds, runs not finished) are allowed by --allow-partial; `mixed` problems
(several configs or protocols inside one method, a protocol that differs between methods, a final score in
run.json that its metrics do not reproduce) by --allow-mixed; `failed` problems (runs whose last attempt failed
before they wrote a run.json, which the store would otherwise not show at all) by --allow-failed. Without them
the report fails before it computes a number.

The expected grid is inferred from the store: every method should have every task that any method has; our
methods (not imported) should all have the union of their seeds (or 1..N with --expect-seeds N) on every task;
an imported method, whose seeds are its authors' numbering, should have the union of its own seeds everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analysis.store import Method, Run, describe_protocol, env_key, protocol_key
from hieros import run_search, runlock
from hieros.config import run_config_hash
from hieros.envs import task_domain
from hieros.run_search import Sources

if TYPE_CHECKING:
    from analysis.comparisons import SeedPlan

LISTED = 6  # items named in one line before "and N more"


@dataclass(frozen=True)
class Problem:
    kind: str  # partial | mixed | failed
    message: str


def _listing(items: list[str]) -> str:
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(items[:LISTED]) + more


def coverage(
    methods: dict[str, Method], expect_seeds: int | None = None, suite_seeds: SeedPlan | None = None
) -> list[Problem]:
    """Missing tasks and missing seeds against the grid inferred from the store. `suite_seeds`: the seeds the
    suite file asks of each method (benchmark.toml); seeds above a method's plan that other methods have (a
    ladder's baselines run with 5 where its rungs have 3) are extra, not expected of it."""
    problems = []
    all_tasks = sorted({task for m in methods.values() for task in m.tasks})
    seen = set().union(*(m.seeds() for m in methods.values() if not m.imported))
    for name, method in sorted(methods.items()):
        ours = ({s for s in seen if s <= suite_seeds.of(name)} or seen) if suite_seeds else seen
        missing = [t for t in all_tasks if t not in method.runs]
        if missing:
            problems.append(Problem("partial", f"{name}: no runs on {len(missing)} task(s): {_listing(missing)}"))
        expected = method.seeds() if method.imported else set(range(1, expect_seeds + 1)) if expect_seeds else ours
        gaps: dict[tuple[int, ...], list[str]] = {}
        for task in method.tasks:
            lacking = tuple(sorted(expected - set(method.runs[task])))
            if lacking:
                gaps.setdefault(lacking, []).append(task)
        for lacking, tasks in sorted(gaps.items()):
            seeds = ", ".join(map(str, lacking))
            problems.append(
                Problem("partial", f"{name}: seed(s) {seeds} missing on {len(tasks)} task(s): {_listing(tasks)}")
            )
        if method.imported and expect_seeds:
            short = [t for t in method.tasks if len(method.runs[t]) < expect_seeds]
            if short:
                problems.append(
                    Problem(
                        "partial", f"{name}: fewer than {expect_seeds} runs on {len(short)} task(s): {_listing(short)}"
                    )
                )
    return problems


def unfinished(methods: dict[str, Method]) -> list[Problem]:
    """Runs that are running or failed. A finished run without a final score is not a problem: its protocol
    gives it none (the report notes it and leaves its cell out)."""
    problems = []
    for name, method in sorted(methods.items()):
        by_state: dict[str, list[str]] = {}
        for run in method.all_runs():
            state = run.record.status
            if state == "running" and not runlock.is_locked(run.path):
                state = "interrupted (running in run.json, but no process holds it)"
            if state != "done":
                by_state.setdefault(state, []).append(f"{run.task} seed {run.seed}")
        for state, runs in sorted(by_state.items()):
            problems.append(Problem("partial", f"{name}: {len(runs)} run(s) {state}: {_listing(runs)}"))
    return problems


def failed_starts(
    results: Sources, methods: dict[str, Method], selected: Collection[str] | None, suite: str | None = None
) -> list[Problem]:
    """Runs of the methods' suite (or `suite`, where no run of it has a record; of `selected` methods only, where
    given) whose last attempt failed before the run wrote its run.json (runner.log says so): without this check
    their method, or their seeds, would be left out of the report without a word."""
    suite = next((m.suite for m in methods.values()), suite)
    by_method: dict[str, list[str]] = {}
    for found in run_search.failed_before_record(results):
        suite_name, method, task, seed_dir = found.path.absolute().parts[-4:]
        if suite_name == suite and (not selected or method in selected):
            by_method.setdefault(method, []).append(f"{task} seed {seed_dir.removeprefix('seed_')}")
    why = "failed before writing run.json (their runner.log says why)"
    return [
        Problem("failed", f"{name}: {len(runs)} run(s) {why}: {_listing(runs)}")
        for name, runs in sorted(by_method.items())
    ]


def _distinct(runs: list[Run], key: str) -> set[str]:
    return {run_config_hash(run.record) if key == "config_hash" else protocol_key(run.record.protocol) for run in runs}


def consistency(methods: dict[str, Method]) -> list[Problem]:
    """One config and one protocol per method and task family; the same protocol across methods; final scores
    in run.json reproduced from the metrics."""
    problems = []
    for name, method in sorted(methods.items()):
        for family in sorted({task_domain(t) for t in method.tasks}):
            runs = [r for r in method.all_runs() if task_domain(r.task) == family]
            hashes = _distinct(runs, "config_hash")
            if len(hashes) > 1:
                problems.append(
                    Problem(
                        "mixed",
                        f"{name}: {family} runs with {len(hashes)} different configs ({_listing(sorted(hashes))})",
                    )
                )
            if len(_distinct(runs, "protocol")) > 1:
                described = sorted({describe_protocol(r.record.protocol) for r in runs})
                problems.append(
                    Problem("mixed", f"{name}: {family} runs with different protocols ({'; '.join(described)})")
                )
        wrong = [
            f"{r.task} seed {r.seed}"
            for r in method.all_runs()
            if r.final is not None
            and r.recorded_final is not None
            and not math.isclose(r.final, r.recorded_final, rel_tol=1e-9, abs_tol=1e-9)
        ]
        if wrong:
            problems.append(
                Problem(
                    "mixed",
                    f"{name}: final score in run.json differs from the one its metrics "
                    f"give by its protocol on {len(wrong)} run(s): {_listing(wrong)}",
                )
            )
    return problems + _across_methods(methods)


def _protocols(runs: list[Run]) -> str:
    return " | ".join(sorted({describe_protocol(r.record.protocol) for r in runs}))


def _across_methods(methods: dict[str, Method]) -> list[Problem]:
    """Methods whose protocols differ on a task family; env settings compared among the methods that declare
    them (imported runs do not)."""
    problems = []
    for family in sorted({task_domain(t) for m in methods.values() for t in m.tasks}):
        runs = {name: [r for r in m.all_runs() if task_domain(r.task) == family] for name, m in sorted(methods.items())}
        groups: dict[frozenset[str], list[str]] = {}
        envs: dict[frozenset[str], list[str]] = {}
        for name, own in runs.items():
            if own:
                keys = frozenset(protocol_key(r.record.protocol, env=False) for r in own)
                groups.setdefault(keys, []).append(name)
                declared = frozenset(k for r in own if (k := env_key(r.record.protocol)) is not None)
                if declared:
                    envs.setdefault(declared, []).append(name)
        if len(groups) > 1:
            described = "; ".join(f"{', '.join(names)}: {_protocols(runs[names[0]])}" for names in groups.values())
            problems.append(Problem("mixed", f"{family}: methods use different score protocols ({described})"))
        if len(envs) > 1:
            listed = "; ".join(", ".join(names) for names in envs.values())
            problems.append(Problem("mixed", f"{family}: methods differ in env settings ({listed})"))
    return problems


def check(
    methods: dict[str, Method], expect_seeds: int | None = None, suite_seeds: SeedPlan | None = None
) -> list[Problem]:
    """Every problem of the store, partial ones first."""
    return coverage(methods, expect_seeds, suite_seeds) + unfinished(methods) + consistency(methods)
