"""A benchmark run's wall time end to end, eager beside --compile=true, on the same seed, in one run.

    python benchmarks/campaign_wall.py --methods hieros,dreamer --frames 8000    # a prefix, extrapolated
    python benchmarks/campaign_wall.py --methods hieros,dreamer --modes cold --frames 36000   # whole runs, scores

Each job is one (method, mode) run of the suite (cpu_learning by default): the run's own command from the suite's
plan (bench.plan, as `hieros-bench run` starts it, one torch thread), in a new temporary results store, stopped
with --stop_after at `--frames` (the whole budget: the run finishes and scores). Modes: `eager`; `cold`:
--compile=true with a new empty inductor cache, as the first compiled run of a campaign; `warm`: --compile=true
with the cache that method's `cold` job left, as every later run of that campaign. Jobs run two at a time in the
order given (methods, then modes; `--jobs`), as `hieros-bench run --jobs 2 --threads 1` runs them on these two
cores, so each wave's two runs share the machine alike: the default modes eager,cold,warm,eager put a second
eager run beside the warm one, which also bounds the drift between waves.

Measured per job, from the run's run.json (its progress is rewritten at every log, every 1000 frames here):
- wall: seconds from the process's launch to its last progress at `--frames` (imports, set-up, compilation,
  acting, updates);
- steady: the loop's seconds per 1000 frames over the prefix's second half (the compilation is behind it);
- budget wall: wall + the frames left to the budget at the steady rate (measured, where the job ran the budget);
- vs eager: that method's first eager job's budget wall / this job's (a speed-up).
With the whole budget run, the final score stands beside the committed store's run of the same seed and the
range over its seeds (`--store`). Run it with the machine otherwise idle.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_step import append_result  # noqa: E402

from bench import plan as bench_plan  # noqa: E402
from bench.suites import load  # noqa: E402
from hieros import run_file, rundir  # noqa: E402

MODES = ("eager", "cold", "warm")
POLL_SECONDS = 0.5


@dataclass
class Job:
    method: str
    mode: str
    command: list[str]
    run_dir: Path
    cache: Path | None
    budget: int
    frames: int  # where it stops: the prefix, or the budget
    samples: list[tuple[int, float, float]] = field(default_factory=list)  # (frames, loop wall, since launch)
    process: subprocess.Popen | None = None
    launched: float = 0.0
    log: Path | None = None

    def start(self, threads: int) -> None:
        env = {**os.environ, **bench_plan.worker_env(threads, None)}
        if self.cache is not None:
            env["TORCHINDUCTOR_CACHE_DIR"] = str(self.cache)
        self.log = self.run_dir.parent / "train.log"  # each job has its own store
        self.run_dir.parent.mkdir(parents=True, exist_ok=True)
        self.launched = time.perf_counter()
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def poll(self) -> bool:
        """Record the run's progress if it moved; True while the process runs."""
        running = self.process is not None and self.process.poll() is None
        if (self.run_dir / rundir.RUN_FILE).exists():
            progress = run_file.read_run(self.run_dir).progress
            if not self.samples or progress.frames > self.samples[-1][0]:
                self.samples.append((progress.frames, progress.wall_seconds, time.perf_counter() - self.launched))
        return running

    def check(self) -> None:
        code = self.process.returncode if self.process else None
        if code not in (0, 130):  # done, or stopped by --stop_after
            tail = self.log.read_text()[-2000:] if self.log else ""
            raise SystemExit(f"{self.method} {self.mode} exited with {code}:\n{tail}")

    def row(self) -> dict:
        """The measures above from the samples (the last one at `self.frames`)."""
        end_frames, end_loop, end_launch = self.samples[-1]
        if end_frames < self.frames:
            raise SystemExit(f"{self.method} {self.mode} stopped at {end_frames} frames, not {self.frames}")
        half = next(s for s in self.samples if s[0] >= self.frames / 2)
        steady = (end_loop - half[1]) / (end_frames - half[0]) * 1000
        record = run_file.read_run(self.run_dir)
        score = record.score.final if record.status == "done" else None
        return {
            "wall": end_launch,
            "steady": steady,
            "budget_wall": end_launch + (self.budget - end_frames) / 1000 * steady,
            "grad_steps": record.progress.grad_steps,
            "score": score,
        }


def make_jobs(args: argparse.Namespace, scratch: Path) -> list[Job]:
    benchmark = load(args.benchmark)
    suite = benchmark.suite(args.suite)
    jobs = []
    for method in args.methods:
        cache = scratch / f"inductor_{method}"  # the cold job's new cache, then the warm jobs'
        cold_wave = None
        for index, mode in enumerate(args.modes):
            wave = len(jobs) // args.jobs
            if mode == "cold" and cold_wave is None:
                cold_wave = wave
            if mode == "warm" and (cold_wave is None or cold_wave >= wave):
                raise SystemExit("--modes: a warm job needs a cold one in an earlier wave (it uses the cache left)")
            results = scratch / f"{method}_{mode}_{index}"
            (spec,) = bench_plan.plan(benchmark, suite, [method], [args.seed], results, tasks=[args.task])
            budget = spec.budget_frames
            frames = min(args.frames or budget, budget)
            command = list(spec.command)
            if frames < budget:
                command.append(f"--stop_after={frames}")
            if mode != "eager":
                command.append("--compile=true")
            jobs.append(Job(method, mode, command, spec.run_dir, cache if mode != "eager" else None, budget, frames))
    return jobs


def run_waves(jobs: list[Job], size: int, threads: int) -> None:
    for begin in range(0, len(jobs), size):
        wave = jobs[begin : begin + size]
        print("wave:", ", ".join(f"{job.method} {job.mode}" for job in wave), flush=True)
        for job in wave:
            job.start(threads)
        while any([job.poll() for job in wave]):
            time.sleep(POLL_SECONDS)
        for job in wave:
            job.poll()
            job.check()


def store_scores(store: Path, suite: str, method: str, task: str, seed: int) -> tuple[float | None, list[float]]:
    """The committed run's final score of `seed` and the final scores of every done seed of `method`."""
    scores = {}
    for path in sorted((store / suite / method / task).glob("seed_*")):
        record = run_file.read_run(path)
        if record.status == "done" and record.score.final is not None:
            scores[record.seed] = record.score.final
    return scores.get(seed), sorted(scores.values())


def table(jobs: list[Job], args: argparse.Namespace) -> str:
    lines = [
        "| method | mode | frames run | wall (s) | steady (s per 1k frames) | budget wall (s) | vs eager | "
        "grad steps | final score | store: same seed | store: range (seeds) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [(job, job.row()) for job in jobs]
    eager = {}  # each method's first eager job's budget wall
    for job, row in rows:
        if job.mode == "eager":
            eager.setdefault(job.method, row["budget_wall"])
    for job, row in rows:
        base = eager.get(job.method)
        ratio = f"{base / row['budget_wall']:.2f}x" if base else "-"
        measured = "" if job.frames < job.budget else " (measured)"
        score = same = spread = "-"
        if row["score"] is not None:
            seed_score, scores = store_scores(args.store, args.suite, job.method, args.task, args.seed)
            score = f"{row['score']:.1f}"
            same = f"{seed_score:.1f}" if seed_score is not None else "-"
            spread = f"{scores[0]:.1f} to {scores[-1]:.1f} ({len(scores)})" if scores else "-"
        lines.append(
            f"| {job.method} | {job.mode} | {job.frames} | {row['wall']:.0f} | {row['steady']:.1f} | "
            f"{row['budget_wall']:.0f}{measured} | {ratio} | {row['grad_steps']} | {score} | {same} | {spread} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="cpu_learning", help="the suite whose runs are timed (benchmark.toml)")
    parser.add_argument("--task", default="dmc_cartpole_balance", help="one task of the suite")
    parser.add_argument("--methods", default="hieros,dreamer", help="comma-separated methods of the suite")
    parser.add_argument("--modes", default="eager,cold,warm,eager", help=f"comma-separated, in order: {MODES}")
    parser.add_argument("--seed", type=int, default=1, help="the seed of every job")
    parser.add_argument("--frames", type=int, default=8000, help="the prefix each job runs; 0 = the whole budget")
    parser.add_argument("--jobs", type=int, default=2, help="jobs at a time (a wave)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--benchmark", default=str(ROOT / "benchmark.toml"))
    parser.add_argument("--store", type=Path, default=ROOT / "results", help="the committed results store")
    parser.add_argument("--no-append", action="store_true", help="print the table only (no docs/benchmarks.md)")
    args = parser.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    args.modes = [m for m in args.modes.split(",") if m]
    if unknown := [m for m in args.modes if m not in MODES]:
        raise SystemExit(f"--modes: {', '.join(unknown)} unknown; choose from {', '.join(MODES)}")
    with tempfile.TemporaryDirectory(prefix="campaign_wall_") as scratch:
        jobs = make_jobs(args, Path(scratch))
        run_waves(jobs, args.jobs, args.threads)
        text = table(jobs, args)
    print(text)
    if not args.no_append:
        details = (
            f"{args.suite} {args.task} seed {args.seed}, {args.jobs} jobs at a time, torch threads {args.threads}, "
            f"prefix {args.frames or 'whole budget'} frames"
        )
        append_result("campaign_wall.py", details, text)


if __name__ == "__main__":
    main()
