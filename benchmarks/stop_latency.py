"""How long a training run takes to stop, from SIGTERM to exit with a checkpoint, in each phase of the loop.

    python benchmarks/stop_latency.py                 # prints a table and appends it to docs/benchmarks.md
    python benchmarks/stop_latency.py --no-append --phases eval

Each phase starts `python -m hieros.train` (the 3-level HIEROS agent, `dmc_proprio debug` on cartpole balance)
with settings that hold it in that phase for minutes, waits until its run.json shows the step before the phase
and then `--wait` seconds,
sends the signal, and measures the time to exit. Afterwards it checks the exit code (130), that the checkpoint
holds the step where the phase was (so the stop came inside it), and that the run resumes:

- train:      the loop of environment steps and updates
- eval:       greedy evaluation episodes on schedule (1000 episodes, at 100 env steps)
- eval_initial: the evaluation before training (`--eval_initial=true`)
- eval_final: the evaluation after the budget (`--eval_final=true`)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from hieros import checkpoint, run_file, rundir  # noqa: E402

BASE = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance", "--threads=1", "--save_every=1e9"]


@dataclass(frozen=True)
class Phase:
    name: str
    flags: tuple[str, ...]
    ready: int  # run.json shows this env step one step before the phase begins (a log is due there)
    env_step: int | None  # the step the checkpoint must hold (None: any step after the first)


PHASES = {
    "train": Phase("train", ("--steps=1e7", "--eval_every=1e9", "--log_every=100"), 50, None),
    "eval": Phase("eval", ("--steps=1e7", "--eval_every=200", "--log_every=198", "--eval_eps=1000"), 99, 100),
    "eval_initial": Phase("eval_initial", ("--steps=1e7", "--eval_initial=true", "--eval_eps=1000"), 0, 0),
    "eval_final": Phase(
        "eval_final",
        ("--steps=400", "--eval_every=1e9", "--log_every=398", "--eval_final=true", "--eval_eps=1000"),
        199,
        200,
    ),
}


@dataclass(frozen=True)
class Stop:
    phase: str
    seconds: float  # from the signal to the process's exit
    exit_code: int
    env_step: int  # in the checkpoint it wrote


def measure(phase: Phase, run_dir: Path, wait: float = 1.0, sig: int = signal.SIGTERM) -> Stop:
    """Start a run, signal it `wait` s after its run.json shows the step before `phase`, and time the stop."""
    command = [sys.executable, "-m", "hieros.train", *BASE, *phase.flags, f"--logdir={run_dir}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _env_steps(run_dir) < phase.ready:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{phase.name}: the run did not start: {process.stderr.read().decode()[-500:]}")
        time.sleep(0.05)
    time.sleep(wait)
    start = time.monotonic()
    os.kill(process.pid, sig)
    code = process.wait(timeout=600)
    seconds = time.monotonic() - start
    env_step = checkpoint.load(run_dir)["counters"]["env_step"]
    return Stop(phase.name, seconds, code, env_step)


def _env_steps(run_dir: Path) -> int:
    """The env steps run.json records (-1 before it exists); it is written whole (rename), so always readable."""
    if not (run_dir / rundir.RUN_FILE).exists():
        return -1
    return run_file.read_run(run_dir).progress.env_steps


def inside(phase: Phase, stop: Stop) -> bool:
    """Whether the checkpoint shows that the signal came in the phase it was meant for."""
    return stop.env_step > 0 if phase.env_step is None else stop.env_step == phase.env_step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=list(PHASES))
    parser.add_argument("--wait", type=float, default=1.0, help="seconds in the phase before the signal")
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args()
    rows = [
        "| phase | signal to exit (s) | exit code | checkpoint at env step | stopped inside the phase |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.phases:
            phase = PHASES[name]
            stop = measure(phase, Path(tmp) / name, args.wait)
            rows.append(
                f"| {name} | {stop.seconds:.2f} | {stop.exit_code} | {stop.env_step} | "
                f"{'yes' if inside(phase, stop) else 'no'} |"
            )
            print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(table)
    if not args.no_append:
        from train_step import append_result

        append_result("stop_latency.py", "SIGTERM, 3-level HIEROS, dmc_proprio debug", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
