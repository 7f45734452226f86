"""Build the learning agent a config asks for, refusing what this version cannot run in one line.

`--model_name=hieros` is the hierarchy of `--max_hierarchy` levels (1 = the flat S5WM agent);
`--model_name=dreamer` is the same code with one level, the GRU RSSM and no intrinsic rewards (DreamerV3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from hieros.config import Config, ConfigError
from hieros.envs.base import ActSpace
from hieros.hierarchy import Hieros


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_learning_agent(config: Config, obs_space: Mapping[str, Any], act_space: ActSpace) -> Hieros:
    if config.model_name == "dreamer":
        config = Config({**config, "dynamics_model": "rssm", "max_hierarchy": 1, "novelty_reward_weight": 0.0})
    if config.max_hierarchy < 1:
        raise ConfigError(f"--max_hierarchy={config.max_hierarchy}: the number of levels must be at least 1")
    if not config.hierarchical_world_models and config.max_hierarchy > 1:
        raise ConfigError("--hierarchical_world_models=false (higher levels imagining in level 0's world model) is "
                          "not built in this version; keep it true")
    if config.compile or config.precision != 32:
        raise ConfigError("--compile=true and --precision=16 are not built yet in this version; "
                          "use --compile=false --precision=32 (the paper's settings)")
    if act_space.discrete != (config.actor_dist == "onehot"):
        kind = "discrete" if act_space.discrete else "continuous"
        raise ConfigError(f"--actor_dist={config.actor_dist} does not fit the {kind} actions of this task; "
                          "use the task's preset (atari100k: onehot, dmc_*: normal)")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(config.deterministic)
    torch.manual_seed(config.seed)
    return Hieros(config, obs_space, act_space, resolve_device(config.device))
