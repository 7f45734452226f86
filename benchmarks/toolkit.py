"""Costs of the toolkit around the agent, side by side in one run:

- runner overhead per run: a sweep of the random method with one job at a time, minus the runs' own loop time;
- report time for a synthetic store of 26 games x 5 seeds x 3 methods (written through hieros.rundir), alone,
  with the default shipped baselines beside it, and with every one of them (50000 bootstrap replicates each),
  the first time and with their own estimates cached (analysis.cache);
- replay memory against the raw uint8 frame bytes, for 100k Atari-sized steps.

    python benchmarks/toolkit.py            # prints a table and appends it to docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_step import append_result  # noqa: E402

from analysis.store import random_human  # noqa: E402
from hieros import metrics_file, run_file, rundir  # noqa: E402
from hieros.replay import Replay, Uniform  # noqa: E402


def runner_overhead(work: Path, seeds: int) -> tuple[float, int]:
    results = work / "runner"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "run",
            "smoke",
            "--method",
            "random",
            "--jobs",
            "1",
            "--seeds",
            str(seeds),
            "--results",
            str(results),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    loops = [run_file.read_run(p).progress.wall_seconds for p in rundir.find_runs(results)]
    return (wall - sum(loops)) / len(loops), len(loops)


def synthetic_store(results: Path, methods: int = 3, seeds: int = 5) -> None:
    """Runs with 40 training episodes each, the last at the budget (so every run has a final score), scores drawn
    around each game's random..human range."""
    rng = np.random.default_rng(0)
    provenance = run_file.Provenance.here("cpu")
    for m in range(methods):
        for task, (low, high) in random_human().items():
            for seed in range(1, seeds + 1):
                run = rundir.run_path(results, "atari100k", f"method{m}", task, seed)
                writer = metrics_file.MetricsWriter(run)
                frames = np.sort(rng.integers(1, 400_000, 40))
                frames[-1] = 400_000
                for f in frames:
                    writer.write(
                        {
                            "type": "episode",
                            "mode": "train",
                            "env_step": int(f) // 4,
                            "frames": int(f),
                            "score": float(low + (high - low) * rng.uniform(0, 0.3 * (m + 1))),
                        }
                    )
                writer.close()
                protocol = run_file.RunProtocol.of(
                    None, 4, 400_000, run_file.ScoreProtocol("final_train_window", 10000)
                )
                final = metrics_file.final_score(metrics_file.read_metrics(run), protocol.score, 400_000)
                record = run_file.Record(
                    suite="atari100k",
                    method=f"method{m}",
                    task=task,
                    seed=seed,
                    status="done",
                    config={},
                    config_hash=f"synthetic{m}",
                    protocol=protocol,
                    provenance=provenance,
                    progress=run_file.Progress(env_steps=100_000),
                    score=run_file.Score(final),
                )
                run_file.write_run(run, record)


REPORT_CASES = {  # flags, and whether the baselines' estimate cache (analysis.cache) is filled first
    "no baselines": (["--baselines", "none"], False),
    "the default baselines (7), empty cache": ([], False),
    "the default baselines (7), cached": ([], True),
    "every shipped baseline (13), empty cache": (["--baselines", "all"], False),
    "every shipped baseline (13), cached": (["--baselines", "all"], True),
}


def report_times(work: Path) -> dict[str, float]:
    """Seconds of `hieros-bench report` on the synthetic store, per case of REPORT_CASES, on every core."""
    results = work / "store"
    synthetic_store(results)
    out = {}
    for case, (flags, cached) in REPORT_CASES.items():
        env = {**os.environ, "HIEROS_BENCH_CACHE": str(work / "cache" / case)}
        command = [sys.executable, "-m", "bench.cli", "report", "--results", str(results), *flags]
        if cached:
            subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        out[case] = time.perf_counter() - start
    return out


def replay_memory(steps: int = 100_000) -> float:
    replay = Replay(capacity=steps, seq_len=64, selector=Uniform(0))
    frame = np.zeros((64, 64, 3), np.uint8)
    for t in range(steps):
        replay.add(
            {
                "image": frame,
                "reward": np.float32(0),
                "is_first": t == 0,
                "is_last": False,
                "is_terminal": False,
                "action": np.zeros(6, np.float32),
            }
        )
    return replay.nbytes() / (steps * frame.nbytes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per task of the overhead sweep")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        overhead, runs = runner_overhead(Path(tmp), args.seeds)
        seconds = report_times(Path(tmp))
    ratio = replay_memory()
    table = "\n".join(
        [
            "| measurement | value |",
            "|---|---|",
            f"| runner overhead per run (random method, {runs} runs, 1 job) | {overhead:.2f} s |",
            *(
                f"| report, 26 games x 5 seeds x 3 methods (synthetic store), {case} | {seconds[case]:.1f} s |"
                for case in REPORT_CASES
            ),
            f"| replay memory / raw uint8 frames, 100k steps of 64x64x3 | {ratio:.3f}x |",
        ]
    )
    print(table)
    if not args.no_append:
        append_result("toolkit.py", "", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
