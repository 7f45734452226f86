"""What this machine offers a sweep: CPU cores, GPUs, and from them the default jobs, threads and GPU slots."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


def cpu_count() -> int:
    """CPU cores this process may use (respects taskset and cgroup cpusets)."""
    return len(os.sched_getaffinity(0))


def visible_gpus() -> list[str]:
    """GPU ids from CUDA_VISIBLE_DEVICES when it is set (even empty: no GPU), else from `nvidia-smi -L`."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        ids = [g.strip() for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
        return [] if ids and ids[0].startswith("-") else ids  # "-1" hides every GPU
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]


@dataclass(frozen=True)
class Budget:
    jobs: int  # runs at a time
    threads: int  # OMP/MKL threads per run
    slots: list[str | None]  # one entry per concurrent run: a GPU id, or None on a CPU machine
    note: str = ""  # why fewer runs go at once than asked for

    def describe(self) -> str:
        gpus = sorted({s for s in self.slots if s is not None})
        where = f"GPUs {','.join(gpus)}" if gpus else "CPU"
        threads = f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"{self.jobs} at a time, {threads} each, on {where}"


def budget(
    jobs: int | None,
    threads: int | None,
    runs_per_gpu: int,
    gpus: list[str] | None = None,
    cpus: int | None = None,
    others: int = 0,
) -> Budget:
    """Defaults: on GPUs, one run per GPU slot (gpus x runs_per_gpu); on CPU, as many runs as cores / threads.

    Threads default to the cores divided among the runs. Asking for more jobs than GPU slots keeps the slots.
    `others`: runs that other runners have going in the same store; each is counted as taking a core, so two
    runners side by side do not each spread threads over every core (OpenMP threads on an oversubscribed CPU
    run many times slower)."""
    gpus = visible_gpus() if gpus is None else gpus
    cpus = cpu_count() if cpus is None else cpus
    note = f"{others} runs of another runner share these {cpus} cores" if others else ""
    if gpus:
        slots: list[str | None] = [g for _ in range(max(1, runs_per_gpu)) for g in gpus]
        if jobs and jobs > len(slots):
            note = note and note + "; "
            note += (
                f"--jobs {jobs} but only {len(slots)} GPU slots ({len(gpus)} GPUs x runs_per_gpu "
                f"{runs_per_gpu}); raise --runs-per-gpu to share GPUs"
            )
        jobs = min(jobs or len(slots), len(slots))
        slots = slots[:jobs]
    else:
        jobs = jobs or max(1, max(1, cpus - others) // (threads or 1))
        slots = [None] * jobs
    return Budget(jobs, threads or max(1, cpus // (jobs + others)), slots, note)
