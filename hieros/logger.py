"""Where a run's records go: metrics.jsonl (always), TensorBoard and W&B (when on), one call for each kind.

metrics.jsonl is the record the reports read; TensorBoard gets the scalars and pictures; W&B (hieros.wandb_log)
gets metrics.jsonl's records under TensorBoard's names and the episode videos. Steps are environment frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hieros import metrics_file
from hieros.config import Config
from hieros.wandb_log import WandbRun


class Logger:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.metrics = metrics_file.MetricsWriter(run_dir)
        self.tensorboard: Any = None
        self.wandb: WandbRun | None = None

    def open(self, config: Config, frames: int, wandb_id: str | None) -> None:
        """TensorBoard (dropping its events past `frames`, as a resume does) and W&B (continuing `wandb_id`)."""
        if config.wandb.enabled:
            self.wandb = WandbRun(config, self.run_dir, wandb_id)
        if config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=frames)

    @property
    def wandb_id(self) -> str | None:
        return self.wandb.id if self.wandb else None

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

    def video(self, path: Path, frames: int) -> None:
        if self.wandb is not None:
            self.wandb.video(path, frames)

    def close(self) -> None:
        self.metrics.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.close()
