"""Where a run's records go: metrics.jsonl (always), TensorBoard and W&B (when on), one call for each kind.

metrics.jsonl is the record the reports read; TensorBoard gets the scalars and pictures; W&B (hieros.wandb_log)
gets metrics.jsonl's records under TensorBoard's names and the episode videos. Steps are environment frames.
Subgoal pictures go to subgoals/ (hieros.video) and TensorBoard. `Averages` keeps the updates' metrics until
they are logged as their means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hieros import metrics_file, video
from hieros.config import Config
from hieros.wandb_log import WandbRun


class Logger:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.metrics = metrics_file.MetricsWriter(run_dir)
        self.tensorboard: Any = None
        self.wandb: WandbRun | None = None
        self._resume_wandb_id: str | None = None  # the W&B run of the checkpoint, continued by `open`

    def open(self, config: Config, frames: int) -> None:
        """TensorBoard (dropping its events past `frames`, as a resume does) and W&B (continuing the checkpoint's
        W&B run, if it has one)."""
        if config.wandb.enabled:
            self.wandb = WandbRun(config, self.run_dir, self._resume_wandb_id)
        if config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=frames)

    @property
    def wandb_id(self) -> str | None:
        return self.wandb.id if self.wandb else None

    def state_dict(self) -> str | None:
        """The W&B run's id, for the checkpoint (`wandb_id`)."""
        return self.wandb_id

    def load_state_dict(self, wandb_id: str | None) -> None:
        self._resume_wandb_id = wandb_id

    def write(self, record: dict[str, Any]) -> None:
        """A record into metrics.jsonl, and to W&B when it is on."""
        self.metrics.write(record)
        if self.wandb is not None:
            self.wandb.log(record)

    def scalar(self, name: str, value: float, frames: int) -> None:
        if self.tensorboard is not None:
            self.tensorboard.add_scalar(name, value, frames)

    def image(self, name: str, image: np.ndarray, frames: int) -> None:
        if self.tensorboard is not None:
            self.tensorboard.add_image(name, image, frames, dataformats="HWC")

    def subgoals(self, image: np.ndarray, step: int, frames: int) -> None:
        """The agent's subgoal picture at env step `step`: subgoals/step_<step>.png and TensorBoard `subgoals`."""
        video.write_picture(self.run_dir / video.SUBGOAL_DIR / f"step_{step:09d}.png", image)
        self.image("subgoals", image, frames)

    def video(self, path: Path, frames: int) -> None:
        if self.wandb is not None:
            self.wandb.video(path, frames)

    def close(self) -> None:
        self.metrics.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.close()


class Averages:
    """The updates' metrics since they were last logged, each key's values kept until `means` (the checkpoint's
    `pending`)."""

    def __init__(self) -> None:
        self.values: defaultdict[str, list[float]] = defaultdict(list)

    def add(self, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.values[key].append(value)

    def means(self) -> dict[str, float]:
        """Each key's mean, in key order; the values are then forgotten."""
        means = {k: float(np.mean(v)) for k, v in sorted(self.values.items())}
        self.values.clear()
        return means

    def state_dict(self) -> dict[str, list[float]]:
        return dict(self.values)

    def load_state_dict(self, values: Mapping[str, list[float]]) -> None:
        self.values = defaultdict(list, values)
