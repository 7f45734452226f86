"""The run's record, run.json, as the training loop keeps it: identity, config, protocol and provenance once,
then progress (steps, frames, updates, episodes, wall and phase seconds, peak memory) and status as the run goes;
and the run directory claimed before anything is created in it (prepare_run_dir: locked, and a record of another
task, seed, method or config refused)."""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hieros import run_file, rundir, runlock
from hieros.config import Config, ConfigError, config_mismatch


def device_name() -> str:
    """The name of the CUDA device the run works on (torch has started CUDA), else 'cpu'."""
    torch = sys.modules.get("torch")
    used = torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()
    return torch.cuda.get_device_name() if used else "cpu"


def thread_count() -> int | None:
    """torch's CPU threads for this run (what a cost estimate at another thread count scales from)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


class RunRecord:
    """run.json as the training loop keeps it: the record (`record`, a run_file.Record), replaced as the run goes
    and written atomically by `write`; its progress is the checkpoint's "progress" (state_dict)."""

    def __init__(self, run_dir: Path, config: Config, env_protocol: Mapping[str, Any], frames_per_step: int):
        self.run_dir = run_dir
        self.frames_per_step = frames_per_step
        existing = run_file.read_run(run_dir) if (run_dir / rundir.RUN_FILE).exists() else None
        score = run_file.ScoreProtocol(config.score.protocol, config.score.window_frames)
        self.record = run_file.Record(
            suite=config.suite,
            method=config.method or config.model_name,
            task=config.task,
            seed=config.seed,
            status="running",
            config=config.to_dict(),
            config_hash=config.hash(),
            protocol=run_file.RunProtocol.of(env_protocol, frames_per_step, config.steps, score),
            provenance=run_file.Provenance.here(device_name(), thread_count()),
            attempts=(existing.attempts if existing else 0) + 1,
        )

    @property
    def progress(self) -> run_file.Progress:
        """The run's progress as last written or restored."""
        return self.record.progress

    def _update(self, **changes: Any) -> None:
        self.record = dataclasses.replace(self.record, **changes)

    def state_dict(self) -> dict[str, Any]:
        return self.progress.to_json()

    def load_state_dict(self, progress: Mapping[str, Any]) -> None:
        where = self.run_dir / "ckpt"
        self._update(progress=run_file.Progress.from_json({**self.progress.to_json(), **progress}, where))

    def scored(self, score: float) -> None:
        """A training episode ended with `score` (progress.last_score)."""
        self._update(progress=dataclasses.replace(self.progress, last_score=score))

    def write(self, counters: Mapping[str, Any], phase_seconds: Mapping[str, float], status: str | None = None) -> None:
        """Progress from the loop's counters and clocks, and the status if given, written atomically."""
        progress = self.progress
        step = counters["env_step"]
        torch = sys.modules.get("torch")
        progress = dataclasses.replace(
            progress,
            env_steps=step,
            frames=step * self.frames_per_step,
            grad_steps=counters["grad_steps"],
            episodes=counters["episodes"],
            wall_seconds=round(counters["wall_seconds"], 3),
            peak_rss_mb=round(max(progress.peak_rss_mb, rundir.peak_rss_mb()), 1),
            phase_seconds={name: round(value, 3) for name, value in phase_seconds.items()},
            peak_gpu_mb=torch.cuda.max_memory_allocated() / 2**20
            if torch is not None and torch.cuda.is_available()
            else progress.peak_gpu_mb,
        )
        self._update(progress=progress, status=status or self.record.status)
        run_file.write_run(self.run_dir, self.record)

    def finish(self, final: float | None, train_episodes: int) -> None:
        """The final score by the run's protocol and the end time (written with the next `write`)."""
        ended = dataclasses.replace(self.record.provenance, ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self._update(score=run_file.Score(final, train_episodes=train_episodes), provenance=ended)

    def failed(self, error: BaseException) -> None:
        """The error's traceback (its last 4000 characters), written with the next `write`."""
        self._update(error="".join(traceback.format_exception(error))[-4000:])


def default_logdir(config: Config) -> str:
    """CleanRL's run naming: {task}__{method}__{seed}__{unix time}."""
    return f"runs/{config.task}__{config.model_name}__{config.seed}__{int(time.time())}"


class RunLocked(Exception):
    """Another process is running this run directory."""


def prepare_run_dir(config: Config) -> Path:
    """The run directory, locked for this process; refuses to continue a run made with a different config."""
    run_dir = Path(config.logdir or default_logdir(config))
    run_dir.mkdir(parents=True, exist_ok=True)
    if not runlock.lock_run(run_dir):
        raise RunLocked(f"{run_dir} is being run by another process; wait for it or stop it")
    if (run_dir / rundir.RUN_FILE).exists():
        previous = run_file.read_run(run_dir)
        for key, was in (("task", previous.task), ("seed", previous.seed)):
            if was != config[key]:
                raise ConfigError(
                    f"{run_dir} holds a run of {key} {was!r}, not {config[key]!r}; "
                    f"give --{key}={was} to continue it, or a new --logdir"
                )
        if config.method and previous.method != config.method:
            raise ConfigError(
                f"{run_dir} holds a run of method {previous.method!r}, not {config.method!r}; "
                f"give --method={previous.method} to continue it, or a new --logdir"
            )
        why = config_mismatch(previous.config, config)
        if why is not None:
            raise ConfigError(
                f"{run_dir} holds a run with another config (hash {previous.config_hash}, now "
                f"{config.hash()}: {why}); use a new --logdir or delete it"
            )
    return run_dir
