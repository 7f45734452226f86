"""Optional Weights & Biases logging beside TensorBoard (`--wandb.enabled=true`; `pip install 'hieros-bench[wandb]'`).

One W&B run per run directory: project and entity from the config, group `<suite>/<method>` (or the model name),
CleanRL's run name `task__method__seed`, tags, the resolved config, and every record of metrics.jsonl under the
names `metric_names` gives (those of TensorBoard), stepped by environment frames. The W&B run id is kept in the
checkpoint, so a resumed run continues the same W&B run; `--wandb.mode=offline` writes it under
`<run dir>/wandb/` for `wandb sync`.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hieros.config import Config, ConfigError
from hieros.json_values import is_number

STAMPS = ("type", "mode", "env_step", "frames", "eval_index")


def check_available(config: Config) -> None:
    """A one-line error, before anything is created, when W&B logging is asked for and wandb is not installed."""
    if config.wandb.enabled and importlib.util.find_spec("wandb") is None:
        raise ConfigError(
            "--wandb.enabled=true needs the wandb package: pip install 'hieros-bench[wandb]' "
            "(or leave W&B off; TensorBoard and metrics.jsonl are always written)"
        )


def metric_names(record: Mapping[str, Any]) -> dict[str, float]:
    """A metrics.jsonl record as W&B (and TensorBoard) names: train/<key>, eval/<key>, <mode>_episode/<key>."""
    prefix = f"{record['mode']}_episode" if record["type"] == "episode" else record["type"]
    return {f"{prefix}/{key}": value for key, value in record.items() if key not in STAMPS and is_number(value)}


class WandbRun:
    def __init__(self, config: Config, run_dir: Path, run_id: str | None):
        import wandb

        method = config.method or config.model_name
        group = f"{config.suite}/{method}" if config.suite else method
        try:
            self.run = self._start(wandb, config, run_dir, run_id, group, method)
        except Exception as error:  # wandb's own errors (no API key, a bad project or entity, no network)
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(
                f"W&B could not start the run ({first}); run `wandb login`, check --wandb.project and "
                "--wandb.entity, or log offline with --wandb.mode=offline (or leave W&B off)"
            ) from error
        self.id = self.run.id

    @staticmethod
    def _start(wandb: Any, config: Config, run_dir: Path, run_id: str | None, group: str, method: str) -> Any:
        return wandb.init(
            project=config.wandb.project,
            entity=config.wandb.entity or None,
            mode=config.wandb.mode,
            group=group,
            name=f"{config.task}__{method}__{config.seed}",
            config=config.to_dict(),
            tags=[t for t in (config.suite, method, config.model_name, config.task) if t],
            id=run_id or uuid.uuid4().hex[:12],
            resume="allow",
            dir=str(run_dir),
            settings=wandb.Settings(console="off", quiet=True, x_disable_stats=True),
        )

    def log(self, record: Mapping[str, Any]) -> None:
        values = metric_names(record)
        if values:
            self.run.log(values, step=int(record["frames"]))

    def video(self, path: Path, frames: int) -> None:
        """An evaluation episode's GIF (hieros.video) as `eval/video`."""
        import wandb

        self.run.log({"eval/video": wandb.Video(str(path), format="gif")}, step=frames)

    def close(self) -> None:
        """Finish the run and shut W&B's service down, so the offline files are whole when this returns: the
        service writes them after `finish` returns, and its atexit teardown is unreliable in runner workers."""
        import wandb

        self.run.finish()
        wandb.teardown()
