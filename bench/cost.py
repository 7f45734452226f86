"""What a sweep will cost before it starts: hours per run and in all, from measurements, never guessed.

Two sources, the first that knows a run wins:
- runs of the same method and config already done in the store (their wall seconds per env step, evaluation
  included, at the thread count they recorded: the same count as planned where there is one, else scaled
  linearly from another, which is an upper bound and said so);
- the paper-size measurements of docs/atari100k.md (benchmarks/train_step.py and one trainer run on an H200; the
  2-core CPU row of this project's machine, at 2 threads): seconds per training call and per acting step, plus
  the trainer's measured overhead, for the paper's model sizes (16x64 batches, 256-unit model); and evaluation
  on top: every evaluation's greedy episodes (`eval_envs` at a time), at the acting cost, with the episode length
  of the task's evaluations in the store, or where it has none, the task's longest episode (an upper bound).
A run neither knows gets no number, and the line says how many such runs there are. The wall time is the
schedule's: runs go out in waves of `runs at once`, the longest first (ceil(runs / slots) waves of equal runs).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.plan import RunSpec
from hieros import metrics_file, run_file, rundir
from hieros.config import run_config_hash
from hieros.envs import task_domain
from hieros.run_file import Provenance, Record

# docs/atari100k.md, paper size, seconds: (update per training call, acting per agent step); key (model_name, levels)
GPU_MEASURED = {("hieros", 3): (0.163, 0.012), ("hieros", 1): (0.137, 0.007), ("dreamer", 1): (0.320, 0.005)}
GPU_MEASURED_ON = "H200"
GPU_TRAINER_OVERHEAD = 0.05  # the trainer's seconds per agent step beyond the benchmark (measured on the H200)
CPU_MEASURED = {("hieros", 3): (8.1, 0.012)}  # this project's 2-core machine
CPU_MEASURED_THREADS = 2
DMC_EPISODE_FRAMES = 1000  # a DeepMind Control episode: 1000 control steps, whatever the action repeat
DAY_HOURS = 24.0


@dataclass(frozen=True)
class RunCost:
    hours: float  # training and evaluation
    eval_hours: float | None  # the evaluation's share where it is estimated apart (None: inside `hours`)
    source: str


@dataclass(frozen=True)
class Estimate:
    costs: tuple[RunCost, ...]  # the runs that have an estimate
    unknown: int  # runs without one
    unit: str  # "GPU-hours" or "CPU-hours"

    @property
    def hours(self) -> float:
        return sum(c.hours for c in self.costs)

    @property
    def known(self) -> int:
        return len(self.costs)

    @property
    def source(self) -> str:
        return "; ".join(sorted({c.source for c in self.costs}))

    def line(self, runs_at_once: int, sharing: int = 1) -> str:
        """'# cost: ... ' for a dry run; a warning where the wall time on this machine passes a day."""
        if not self.known:
            return f"# cost: no measurement covers these {self.unknown} runs (docs/atari100k.md says how to measure)"
        slots = max(1, runs_at_once)
        # `sharing` runs to a GPU (runs_per_task, runs_per_gpu; `runs_at_once` is then the GPUs at a time) are priced
        # as if they took turns on it: an upper bound wherever sharing is no slower (gpu_check.sh measures it)
        hours = [c.hours for c in self.costs]
        packs = [sum(hours[i : i + sharing]) for i in range(0, len(hours), max(1, sharing))]
        wall = makespan(packs, slots)
        evaluation = [c.eval_hours for c in self.costs if c.eval_hours is not None]
        waves = math.ceil(len(packs) / slots)
        longest = f"the longest GPU's {sharing} runs" if sharing > 1 else "the longest run"
        text = (
            f"# cost: about {self.hours:,.1f} {self.unit} for {self.known} runs ({self.source})"
            f"{f', of which evaluation {sum(evaluation):,.1f}' if evaluation else ''}"
            f"{f', {self.unknown} more runs without a measurement' if self.unknown else ''}"
            f"; about {_duration(wall)} of wall time with {slots} at a time"
            f" ({waves} wave{'s' if waves > 1 else ''}, {longest} {_duration(max(packs))})"
        )
        if sharing > 1 and self.unit == "GPU-hours":
            text += (
                f"\n# {sharing} runs share each GPU, priced as if they took turns on it: an upper bound wherever "
                "sharing is no slower (benchmarks/gpu_check.sh measures the gain; docs/runner.md)"
            )
        if self.unit == "CPU-hours" and wall > DAY_HOURS:
            text += "\n# warning: more than a day on this machine; run it on a GPU machine or cluster (--backend slurm)"
        return text


def makespan(hours: Sequence[float], slots: int) -> float:
    """Wall hours of running `hours` with `slots` at a time, each next run on the first free slot, the longest
    first (as a job array with that parallelism does): ceil(n / slots) x the run for n equal runs."""
    free = [0.0] * max(1, min(slots, len(hours)))
    for run in sorted(hours, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + run)
    return max(free) if hours else 0.0


def _duration(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _made_with(record: Record) -> tuple[int | None, str | None]:
    """(torch's CPU threads, device) a run was made with; (None, None) for an imported run."""
    made = record.provenance
    return (made.threads, made.device) if isinstance(made, Provenance) else (None, None)


def seconds_per_step_from_store(records: Iterable[Record], threads: int | None = None) -> tuple[float, str] | None:
    """Mean wall seconds per env step of finished runs (run.json progress) and how it was found, or None
    without any: from runs at `threads` where there are any, else scaled linearly from their thread counts."""
    finished = [r for r in records if r.status == "done" and r.progress.env_steps and r.progress.wall_seconds]
    if not finished:
        return None
    runs = [(r.progress.wall_seconds / r.progress.env_steps, _made_with(r)[0]) for r in finished]
    devices = sorted({_made_with(r)[1] or "an unrecorded device" for r in finished})
    on = f", on {' and '.join(devices)}"  # the card (or cpu) the rate was measured on
    same = [rate for rate, used in runs if threads is None or used == threads]
    if same:
        return sum(same) / len(same), f"from the store's finished runs of the same config{on}"
    counted = [(rate, used) for rate, used in runs if used]
    if not counted:
        return sum(r for r, _ in runs) / len(runs), f"from the store's finished runs (thread count not recorded){on}"
    rates = [rate * used / threads for rate, used in counted]
    shown = ",".join(str(n) for n in sorted({used for _, used in counted}))
    return sum(rates) / len(rates), f"from the store's runs at {shown} threads, scaled to {threads} (at most){on}"


def measured_seconds_per_step(spec: RunSpec, gpu: bool, threads: int | None = None) -> float | None:
    """The paper-size measurement for this run's agent, per agent step (training; evaluation apart), or None
    where none applies. On the CPU, scaled linearly from the measurement's 2 threads to `threads`."""
    config = spec.config
    paper_size = (config.batch_size, config.batch_length, config.units, config.dyn_deter) == (16, 64, 256, 256)
    if not paper_size:
        return None
    found = (GPU_MEASURED if gpu else CPU_MEASURED).get((config.model_name, config.max_hierarchy))
    if found is None:
        return None
    update, acting = found
    calls_per_step = config.train_ratio / (config.batch_size * config.batch_length)
    scale = 1.0 if gpu or not threads else CPU_MEASURED_THREADS / threads
    return (calls_per_step * update + acting) * scale + (GPU_TRAINER_OVERHEAD if gpu else 0.0)


def evaluations(spec: RunSpec) -> int:
    """How many evaluations the run makes: one every `eval_every` frames before the budget is spent (as
    hieros.train schedules them), and the initial and final ones where asked for."""
    config = spec.config
    every = max(1, config.eval_every // _frames_per_step(spec))
    steps = spec.budget_frames // _frames_per_step(spec)
    return (steps - 1) // every + int(config.eval_initial) + int(config.eval_final)


def eval_episode_steps(spec: RunSpec, lengths: dict[str, float]) -> tuple[float, str]:
    """Agent steps of one evaluation episode: the mean of the task's evaluated episodes in the store
    (`lengths` {task: mean length}), else the task's longest episode (an upper bound)."""
    if spec.task in lengths:
        return lengths[spec.task], "evaluation episodes as long as the store's"
    domain = task_domain(spec.task)
    frames = spec.config.env.atari.length if domain == "atari" else DMC_EPISODE_FRAMES
    return frames / _frames_per_step(spec), "evaluation episodes at most as long as the task allows"


def run_cost(
    spec: RunSpec, done: list[Record], gpu: bool, threads: int | None, eval_lengths: dict[str, float]
) -> RunCost | None:
    """The run's hours, or None where nothing measured covers it."""
    steps = spec.budget_frames // max(1, _frames_per_step(spec))
    found = seconds_per_step_from_store(done, threads)
    if found is not None:
        return RunCost(found[0] * steps / 3600, None, found[1])
    rate = measured_seconds_per_step(spec, gpu, threads)
    if rate is None:
        return None
    where = f"{GPU_MEASURED_ON}" if gpu else f"2-core CPU, {CPU_MEASURED_THREADS} threads"
    acting = (GPU_MEASURED if gpu else CPU_MEASURED)[(spec.config.model_name, spec.config.max_hierarchy)][1]
    length, how = eval_episode_steps(spec, eval_lengths)
    # `eval_envs` environments act as one batch: a batched policy call costs about one call at batch 1 where acting
    # is latency-bound (a GPU), so episodes played together cost one episode's acting (not measured beyond batch 1)
    rounds = math.ceil(spec.config.eval_eps / spec.config.eval_envs)
    eval_hours = evaluations(spec) * rounds * length * acting / 3600
    source = f"from docs/atari100k.md's {where} measurements; {how}"
    return RunCost(rate * steps / 3600 + eval_hours, eval_hours, source)


def estimate(
    todo: Sequence[RunSpec],
    done_records: dict[tuple[str, str], list[Record]],
    gpu: bool,
    threads: int | None = None,
    eval_lengths: dict[str, float] | None = None,
) -> Estimate:
    """Hours of the runs to do; `done_records` {(method, config hash): finished run records of the store},
    `threads` each run's CPU threads, `eval_lengths` {task: mean evaluation episode length in agent steps}."""
    lengths = eval_lengths or {}
    costs = [run_cost(s, done_records.get((s.method, s.config_hash), []), gpu, threads, lengths) for s in todo]
    known = tuple(c for c in costs if c is not None)
    return Estimate(known, len(todo) - len(known), "GPU-hours" if gpu else "CPU-hours")


def _frames_per_step(spec: RunSpec) -> int:
    """The action repeat of the run's environment (frames per agent step), as its protocol will record it."""
    domain = task_domain(spec.task)
    return int(spec.config.env[domain].repeat) if domain in spec.config.env else 1


def finished_records(results: str, specs: Sequence[RunSpec]) -> dict[tuple[str, str], list[Record]]:
    """{(method, config hash): finished run records} for the methods of `specs`, read from the store."""
    wanted = {spec.method for spec in specs}
    out: dict[tuple[str, str], list[Record]] = {}
    for run_dir in rundir.find_runs(results):
        try:
            record = run_file.read_run(run_dir)
        except rundir.RunFileError:
            continue
        if record.method in wanted and record.status == "done":
            out.setdefault((record.method, run_config_hash(record)), []).append(record)
    return out


def eval_episode_lengths(results: str, tasks: Iterable[str]) -> dict[str, float]:
    """{task: mean length in agent steps of the evaluation episodes} of the store's runs of `tasks`."""
    wanted, lengths = set(tasks), {}
    for run_dir in rundir.find_runs(results):
        task = run_dir.parent.name
        if task not in wanted:
            continue
        try:
            records = metrics_file.read_metrics(run_dir)
        except (OSError, ValueError):
            continue
        found = [r["length"] for r in records if r.get("type") == "episode" and r.get("mode") == "eval"]
        lengths.setdefault(task, []).extend(found)
    return {task: sum(found) / len(found) for task, found in lengths.items() if found}
