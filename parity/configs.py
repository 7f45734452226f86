"""Our config as the original's: which of our keys become which of its keys.

A key with the same dotted path in both configs carries over as is (dyn_*, units, lrs, encoder.*, s5.model_dim,
...). The rest is spelt out in RENAMED and NOT_CARRIED; keys of ours that appear in neither are our own switches
(docs/deviations.md), which the checks set to the original's behaviour.
"""

from __future__ import annotations

import argparse
from typing import Any

from hieros.config import Config, merge
from parity.original import Original

# ours -> the original's key(s), with the value translated
RENAMED: dict[str, Any] = {
    "s5.dropout": lambda v: {"s5": {"attn_dropout": v, "ff_dropout": v}},
    "replay": lambda v: {"replay": {"timebalanced": "efficienttimebalanced"}.get(v, v)},
    "num_envs": lambda v: {"envs": {"amount": v}},
}
# same name, other meaning: the original's `weight_decay` is an extra decay on top of AdamW's built-in 0.01,
# which is what our `weight_decay` is; the original's 0.0 is our 0.01.
NOT_CARRIED = {"weight_decay", "device", "logdir", "task"}


def _nested(update: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        update = update.setdefault(key, {})
    update[path[-1]] = value


def original_config(
    original: Original, config: Config, num_actions: int, blocks: tuple[str, ...] = ()
) -> argparse.Namespace:
    """The original's config for the same run: its defaults and `blocks`, then every key of ours it shares."""
    base = vars(original.config(list(blocks), {}))
    flags: dict[str, Any] = {}
    for key, value in config.flat().items():
        if key in NOT_CARRIED:
            continue
        if key in RENAMED:
            merge(flags, RENAMED[key](value))
            continue
        path, node = key.split("."), base
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if node is not None:
            _nested(flags, path, list(value) if isinstance(value, tuple) else value)
    flags.update(
        device="cpu",
        num_actions=num_actions,
        compile=False,
        precision=32,
        wandb_logging=False,
        tensorboard_logging=False,
    )
    return original.config(list(blocks), flags)
