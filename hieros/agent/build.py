"""Build the learning agent of a checked config (hieros.config checks values, agent_api.check_run the rest).

`--model_name=hieros` is the hierarchy of `--max_hierarchy` levels (1 = the flat S5WM agent);
`--model_name=dreamer` is the same code with one level, the GRU RSSM and no intrinsic rewards (DreamerV3), as
the config resolves it (hieros.config.MODEL_IMPLIES), so run.json records what ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from hieros.agent.device import configure_backend, resolve_device
from hieros.agent.hierarchy import Hieros
from hieros.config import Config
from hieros.envs.base import ActSpace


def make_learning_agent(config: Config, obs_space: Mapping[str, Any], act_space: ActSpace) -> Hieros:
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    configure_backend(device, config.deterministic, config.tf32)
    torch.manual_seed(config.seed)
    return Hieros(config, obs_space, act_space, device)
