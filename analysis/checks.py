"""Checks before numbers: is the store complete, finished and comparable? Each problem is one line.

`partial` problems (missing tasks or seeds, runs not done) are allowed by --allow-partial; `mixed` problems
(several config hashes inside one method and task family, several score protocols inside a method,
or protocols that differ between methods) by --allow-mixed. Without them the report fails before it
computes a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.store import Method


@dataclass(frozen=True)
class Problem:
    kind: str  # partial | mixed
    message: str


def check(methods: dict[str, Method], expect_seeds: int | None = None) -> list[Problem]:
    problems: list[Problem] = []
    all_tasks = sorted({task for m in methods.values() for task in m.tasks})
    protocols: dict[str, set[str]] = {}
    for name, method in sorted(methods.items()):
        missing = [t for t in all_tasks if t not in method.runs]
        if missing:
            problems.append(Problem("partial", f"{name}: no runs for {len(missing)} task(s): {', '.join(missing)}"))
        seeds = set(range(1, expect_seeds + 1)) if expect_seeds else method.seeds()
        for task in method.tasks:
            lacking = sorted(seeds - set(method.runs[task]))
            if lacking:
                problems.append(Problem("partial", f"{name} {task}: missing seed(s) {lacking}"))
        for run in method.all_runs():
            if run.record["status"] != "done" or run.final is None:
                where = f"{name} {run.record['task']} seed {run.record['seed']}"
                problems.append(Problem("partial", f"{where}: {run.record['status']}, no final score yet"))
        for family in sorted({task.partition("_")[0] for task in method.tasks}):
            runs = [r for r in method.all_runs() if r.record["task"].startswith(family + "_")]
            hashes = {run.record["config_hash"] for run in runs}
            if len(hashes) > 1:
                problems.append(Problem("mixed", f"{name}: {family} runs with {len(hashes)} different configs "
                                                 f"({', '.join(sorted(hashes))})"))
        keys = {run.protocol_key for run in method.all_runs()}
        if len(keys) > 1:
            problems.append(Problem("mixed", f"{name}: runs with different protocols ({'; '.join(sorted(keys))})"))
        for key in keys:
            protocols.setdefault(key, set()).add(name)
    if len(protocols) > 1:
        described = "; ".join(f"{', '.join(sorted(names))}: {key}" for key, names in sorted(protocols.items()))
        problems.append(Problem("mixed", f"methods use different score protocols ({described})"))
    return problems
