"""What the trackers' files of other agents' runs hold, as their readers give it (analysis/tensorboard_runs.py,
analysis/wandb_runs.py; analysis/foreign_runs.py makes them runs of the store): a run's episode returns under one
tag at the x values its writer logged them at, and the episode return tags of the writers the readers know."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.store import StoreError
from hieros.run_file import Record


@dataclass(frozen=True)
class Writer:
    name: str
    x_axis: str
    x_unit: str  # "steps" (agent steps: frames = x * frames per step) or "frames"


X_UNITS = ("steps", "frames")  # what an x axis counts
TAGS = {
    "charts/episodic_return": Writer("CleanRL", "global_step", "steps"),
    "Rewards/rew_avg": Writer("sheeprl", "policy_step", "steps"),
    "train_episode/score": Writer("hieros-bench", "frames", "frames"),
}


@dataclass
class ForeignRun:
    """One run as a reader found it."""

    name: str  # as its source names it: a folder below the one given, a W&B run name
    where: str  # the file or folder to name in a message
    points: list[tuple[float, float]]  # (x, episode return) in the order logged
    config: dict[str, Any] = field(default_factory=dict)  # flattened: {"env.id": ...}
    names: list[str] = field(default_factory=list)  # folders above it, nearest first, that may name its env
    record: Record | None = None  # our own run.json, for our own runs' TensorBoard files
    x_axis: str = "step"  # what the x values are: TensorBoard's step, a W&B key


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"env": {"id": "x"}} -> {"env.id": "x"}; W&B's {"key": {"value": v}} entries read as v."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and set(value) == {"value"}:
            value = value["value"]
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def tag_for(tags: list[str], asked: str | None, where: str) -> str:
    """The tag to read: the one asked, else the first of TAGS the source has; refused naming the tags it has."""
    if asked is not None and asked in tags:
        return asked
    if asked is None:
        for known in TAGS:
            if known in tags:
                return known
    has = ", ".join(sorted(tags)[:12]) + (f" and {len(tags) - 12} more" if len(tags) > 12 else "") or "none"
    wanted = f"the tag {asked!r}" if asked else f"any of the tags {', '.join(TAGS)}"
    raise StoreError(f"{where}: no episode returns under {wanted}; its tags: {has}; choose one with --tag")
