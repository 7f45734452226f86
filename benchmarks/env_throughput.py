"""Acting and environment throughput against the raw ALE / dm_control loop with the same preprocessing.

    python benchmarks/env_throughput.py               # prints a table and appends it to docs/benchmarks.md
    python benchmarks/env_throughput.py --steps 300 --no-append

Side by side, in one process, agent steps per second for:
- raw: the simulator driven directly, with the same preprocessing inline (ALE: 4-frame repeat, max of the last
  two RGB frames, INTER_AREA resize to 64x64; DMC: action repeat 2, 64x64 render without shadows, reflections
  or multisampling), random actions;
- env: our environment wrapper (hieros/envs), random actions;
- agent: our wrapper stepped by the HIEROS policy (3 levels, training mode, so each step is also recorded in
  the replays), debug and paper sizes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from train_step import append_result  # noqa: E402


def ale_raw(steps: int) -> float:
    import cv2
    from ale_py import ALEInterface, LoggerMode, roms

    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setInt("random_seed", 0)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(roms.get_rom_path("pong"))
    actions = ale.getMinimalActionSet()
    rng = np.random.default_rng(0)
    frames = [np.zeros((210, 160, 3), np.uint8) for _ in range(2)]
    start = time.perf_counter()
    for step in range(steps + 10):  # the first 10 steps warm up
        if step == 10:
            start = time.perf_counter()
        action = actions[rng.integers(len(actions))]
        for k in range(4):
            ale.act(action)
            if k >= 2:
                frames.reverse()
                ale.getScreenRGB(frames[1])
        cv2.resize(np.maximum(frames[0], frames[1]), (64, 64), interpolation=cv2.INTER_AREA)
        if ale.game_over():
            ale.reset_game()
    return time.perf_counter() - start


def dmc_raw(steps: int) -> float:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from dm_control import suite

    env = suite.load("cartpole", "balance", task_kwargs={"random": 0})
    model = env.physics.model
    model.vis.quality.offsamples = 0
    model.light_castshadow[:] = 0
    model.mat_reflectance[:] = 0
    spec = env.action_spec()
    rng = np.random.default_rng(0)
    env.reset()
    start = time.perf_counter()
    for step in range(steps + 10):  # the first 10 steps warm up (the renderer starts on the first)
        if step == 10:
            start = time.perf_counter()
        action = rng.uniform(spec.minimum, spec.maximum)
        for _ in range(2):
            time_step = env.step(action)
        env.physics.render(64, 64, camera_id=0)
        if time_step.last():
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return elapsed


def wrapper_loop(task: str, presets: list[str], steps: int, agent_model: str | None) -> float:
    """Our environment, stepped with random actions (agent_model None) or by the agent's policy."""
    from hieros.agent_api import make_agent
    from hieros.config import build_config
    from hieros.envs import make_env
    from hieros.envs.base import stack

    config = build_config(presets, {"task": task, "model_name": agent_model or "random"})
    env = make_env(task, config, seed=0)
    agent = make_agent(config, env.obs_space, env.act_space)
    obs, state = stack([env.reset()]), agent.initial_state(1)
    start = time.perf_counter()
    for step in range(steps + 10):  # the first 10 steps warm up
        if step == 10:
            start = time.perf_counter()
        action, state = agent.policy(obs, state, mode="train")
        obs = stack([env.reset() if obs["is_last"][0] else env.step(action[0])])
    elapsed = time.perf_counter() - start
    env.close()
    return elapsed


CASES: dict[str, tuple[str, Callable[[int], float]]] = {
    "atari raw ALE loop": ("atari", ale_raw),
    "atari env wrapper": ("atari", lambda n: wrapper_loop("atari_pong", ["atari100k"], n, None)),
    "atari + hieros debug": ("atari", lambda n: wrapper_loop("atari_pong", ["atari100k", "debug"], n, "hieros")),
    "atari + hieros paper": ("atari", lambda n: wrapper_loop("atari_pong", ["atari100k"], n, "hieros")),
    "dmc raw dm_control loop": ("dmc", dmc_raw),
    "dmc env wrapper": ("dmc", lambda n: wrapper_loop("dmc_cartpole_balance", ["dmc_vision"], n, None)),
    "dmc + hieros debug": ("dmc", lambda n: wrapper_loop("dmc_cartpole_balance", ["dmc_vision", "debug"], n, "hieros")),
    "dmc + hieros paper": ("dmc", lambda n: wrapper_loop("dmc_cartpole_balance", ["dmc_vision"], n, "hieros")),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="agent steps timed per case")
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args()
    import torch

    rows, raw = [], {}
    for name, (domain, run) in CASES.items():
        seconds = run(args.steps)
        rate = args.steps / seconds
        raw.setdefault(domain, rate)
        rows.append((name, rate, rate / raw[domain]))
        print(f"{name}: {rate:.0f} steps/s", flush=True)
    lines = ["| loop | agent steps/s | vs raw |", "|---|---|---|"]
    lines += [f"| {name} | {rate:.0f} | {ratio:.2f}x |" for name, rate, ratio in rows]
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append_result(
            "env_throughput.py",
            f"torch threads {torch.get_num_threads()}, {args.steps} agent steps per "
            "loop (Pong; cartpole balance from pixels)",
            table,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
