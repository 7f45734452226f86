"""What a sweep will cost before it starts: hours per run and in all, from measurements, never guessed.

Two sources, the first that knows a run wins:
- runs of the same method and config already done in the store (their wall seconds per env step, on this machine);
- the paper-size measurements of docs/atari100k.md (benchmarks/train_step.py and one trainer run on an H200; the
  2-core CPU row of this project's machine): seconds per training call and per acting step, plus the trainer's
  measured overhead, for the paper's model sizes (16x64 batches, 256-unit model).
A run neither knows gets no number, and the line says how many such runs there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.plan import RunSpec
from hieros import rundir
from hieros.config import run_config_hash
from hieros.envs import task_domain

# docs/atari100k.md, paper size, seconds: (update per training call, acting per agent step); key (model_name, levels)
GPU_MEASURED = {("hieros", 3): (0.163, 0.012), ("hieros", 1): (0.137, 0.007), ("dreamer", 1): (0.320, 0.005)}
GPU_TRAINER_OVERHEAD = 0.05  # the trainer's seconds per agent step beyond the benchmark (measured on the H200)
CPU_MEASURED = {("hieros", 3): (8.1, 0.012)}  # this project's 2-core machine
DAY_HOURS = 24.0


@dataclass(frozen=True)
class Estimate:
    hours: float  # all runs that have an estimate, one after another
    known: int  # runs with an estimate
    unknown: int  # runs without one
    unit: str  # "GPU-hours" or "CPU-hours"
    source: str

    def line(self, runs_at_once: int) -> str:
        """'# cost: ... ' for a dry run; a warning where the wall time on this machine passes a day."""
        if not self.known:
            return f"# cost: no measurement covers these {self.unknown} runs (docs/atari100k.md says how to measure)"
        wall = self.hours / max(1, runs_at_once)
        text = (
            f"# cost: about {self.hours:,.1f} {self.unit} for {self.known} runs ({self.source})"
            f"{f', {self.unknown} more runs without a measurement' if self.unknown else ''}"
            f"; about {_duration(wall)} of wall time with {runs_at_once} at a time"
        )
        if self.unit == "CPU-hours" and wall > DAY_HOURS:
            text += "\n# warning: more than a day on this machine; run it on a GPU machine or cluster (--backend slurm)"
        return text


def _duration(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def seconds_per_step_from_store(records: Iterable[dict]) -> float | None:
    """Mean wall seconds per env step of finished runs (run.json progress), or None without any."""
    rates = [
        r["progress"]["wall_seconds"] / r["progress"]["env_steps"]
        for r in records
        if r["status"] == "done" and r["progress"].get("env_steps") and r["progress"].get("wall_seconds")
    ]
    return sum(rates) / len(rates) if rates else None


def measured_seconds_per_step(spec: RunSpec, gpu: bool) -> float | None:
    """The paper-size measurement for this run's agent, per agent step, or None where none applies."""
    config = spec.config
    paper_size = (config.batch_size, config.batch_length, config.units, config.dyn_deter) == (16, 64, 256, 256)
    if not paper_size:
        return None
    found = (GPU_MEASURED if gpu else CPU_MEASURED).get((config.model_name, config.max_hierarchy))
    if found is None:
        return None
    update, acting = found
    calls_per_step = config.train_ratio / (config.batch_size * config.batch_length)
    return calls_per_step * update + acting + (GPU_TRAINER_OVERHEAD if gpu else 0.0)


def estimate(todo: Sequence[RunSpec], done_records: dict[tuple[str, str], list[dict]], gpu: bool) -> Estimate:
    """Hours of the runs to do; `done_records` {(method, config hash): finished run records of the store}."""
    hours, known, sources = 0.0, 0, set()
    for spec in todo:
        steps = spec.budget_frames // max(1, _frames_per_step(spec))
        rate = seconds_per_step_from_store(done_records.get((spec.method, spec.config_hash), []))
        source = "from the store's finished runs of the same config"
        if rate is None:
            rate = measured_seconds_per_step(spec, gpu)
            source = "from docs/atari100k.md's " + ("H200" if gpu else "2-core CPU") + " measurements"
        if rate is None:
            continue
        hours += rate * steps / 3600
        known += 1
        sources.add(source)
    return Estimate(hours, known, len(todo) - known, "GPU-hours" if gpu else "CPU-hours", "; ".join(sorted(sources)))


def _frames_per_step(spec: RunSpec) -> int:
    """The action repeat of the run's environment (frames per agent step), as its protocol will record it."""
    domain = task_domain(spec.task)
    return int(spec.config.env[domain].repeat) if domain in spec.config.env else 1


def finished_records(results: str, specs: Sequence[RunSpec]) -> dict[tuple[str, str], list[dict]]:
    """{(method, config hash): finished run records} for the methods of `specs`, read from the store."""
    wanted = {spec.method for spec in specs}
    out: dict[tuple[str, str], list[dict]] = {}
    for run_dir in rundir.find_runs(results):
        try:
            record = rundir.read_run(run_dir)
        except rundir.RunFileError:
            continue
        if record["method"] in wanted and record["status"] == "done":
            out.setdefault((record["method"], run_config_hash(record)), []).append(record)
    return out
