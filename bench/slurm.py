"""`--backend slurm`: the pending runs as one Slurm job array through submitit, requeued on preemption or timeout.

Each array task runs the same `python -m hieros.train` command as the local backend. On preemption or timeout
Slurm signals the job; the training process saves its checkpoint, and submitit requeues the task through
`SubmititRun.checkpoint`, which resubmits the same command: the run resumes from its checkpoint.
No sbatch templates: submitit writes them. `backend="local-submitit"` runs the same path on this machine
with submitit's LocalExecutor (used by the tests; there is no Slurm here).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.local import EXIT_INTERRUPTED, Outcome
from bench.plan import RunSpec


@dataclass
class SubmititRun:
    """A picklable, checkpointable array task."""

    command: tuple[str, ...]
    run_dir: str
    threads: int

    def __call__(self) -> int:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "PYTHONUNBUFFERED": "1"}
        with open(Path(self.run_dir) / "runner.log", "a") as log:
            code = subprocess.run(self.command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        if code not in (0, EXIT_INTERRUPTED):
            raise RuntimeError(f"{self.run_dir}: training exited with {code}; see runner.log there")
        return code

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(self)


def submit(specs: list[RunSpec], results: Path, jobs: int, threads: int, settings: dict[str, Any],
           local: bool = False, wait: bool = True) -> list[Outcome]:
    """Submit one job array; with `wait`, block until it ends and report each run's outcome."""
    import submitit

    executor = submitit.AutoExecutor(folder=results / ".submitit" / "%j", cluster="local" if local else None)
    parameters: dict[str, Any] = {"timeout_min": int(settings.get("timeout_min", 1440)),
                                  "slurm_array_parallelism": jobs}
    if not local:
        parameters.update(gpus_per_node=int(settings.get("gpus_per_node", 1)),
                          cpus_per_task=int(settings.get("cpus_per_task", threads)),
                          mem_gb=int(settings.get("mem_gb", 32)))
        if settings.get("partition"):
            parameters["slurm_partition"] = settings["partition"]
    executor.update_parameters(**parameters)
    for spec in specs:
        spec.run_dir.mkdir(parents=True, exist_ok=True)
    tasks = [SubmititRun(spec.command, str(spec.run_dir), threads) for spec in specs]
    submitted = executor.submit_array(tasks)
    print(f"submitted {len(submitted)} runs as job array {submitted[0].job_id.split('_')[0]}"
          if submitted else "nothing to submit", flush=True)
    if not wait:
        return []
    outcomes = []
    for spec, job in zip(specs, submitted, strict=True):
        try:
            code = job.result()
            outcomes.append(Outcome(spec, "done" if code == 0 else "interrupted", 1))
        except Exception as error:  # submitit wraps the task's failure; keep its last line
            outcomes.append(Outcome(spec, "failed", 1, error=str(error).strip().splitlines()[-1]))
    return outcomes
