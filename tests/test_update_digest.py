"""Speed work must not change what the agent computes: the weights of the 3-level debug agent after a few eager
fp32 updates, hashed bit for bit, are held against the hash recorded before that work (issue #16).

Float kernels differ between CPU instruction sets, so a hash is recorded per torch version and capability
(torch.backends.cpu.get_cpu_capability()); on a machine with none recorded the test says how to add one.
"""

import hashlib

import numpy as np
import pytest
import torch

from hieros import checkpoint
from hieros.agent_api import make_agent
from hieros.config import build_config
from hieros.envs import make_env
from hieros.train import stack

UPDATES = 5
RECORDED = {  # (torch version, CPU capability): sha256 of every level's weights after UPDATES training calls
    ("2.13.0+cpu", "AVX512"): "c8add9708b3d07683277752b169a45658b38440f3fee4329ae65cf83592bcf0b",
}


def filled_agent(**overrides: str):
    """The debug agent on Pong (seed 1, `overrides` as flags) whose every level has a batch in its replay, filled
    by acting with the untrained policy."""
    config = build_config(["atari100k", "debug"], {"task": "atari_pong", "seed": "1", **overrides})
    checkpoint.seed_everything(config.seed)
    env = make_env(config.task, config, seed=1)
    agent = make_agent(config, env.obs_space, env.act_space)
    obs, state = stack([env.reset()]), agent.initial_state(1)
    top = config.subactor_update_every ** (len(agent.levels) - 1)
    for _ in range((config.batch_length + config.batch_size) * top + top):
        action, state = agent.policy(obs, state, mode="train")
        obs = stack([env.reset() if obs["is_last"][0] else env.step(int(action[0]))])
    return agent


def updated_weights_digest(updates: int = UPDATES) -> str:
    """Train every level of the 3-level debug agent `updates` times and hash its weights."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: reductions in one order
    try:
        agent = filled_agent()
        for _ in range(updates):
            for level in agent.levels:
                level.train_step()
        digest = hashlib.sha256()
        for level in agent.levels:
            for module in (level.world_model, level.actor_critic, level.autoencoder):
                for name, value in ({} if module is None else module.state_dict()).items():
                    digest.update(name.encode() + np.ascontiguousarray(value.detach().cpu().numpy()).tobytes())
        return digest.hexdigest()
    finally:
        torch.set_num_threads(threads)


def test_eager_fp32_updates_give_the_recorded_weights_bit_for_bit():
    machine = (torch.__version__, torch.backends.cpu.get_cpu_capability())
    if machine not in RECORDED:
        pytest.skip(f"no digest recorded for {machine}: run updated_weights_digest() on a commit before the speed "
                    "work and add it to RECORDED")
    assert updated_weights_digest() == RECORDED[machine]
