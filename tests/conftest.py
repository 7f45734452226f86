"""Test-wide settings and shared helpers.

The report's estimate cache (analysis.cache) lives in a temporary directory, not the user's. Helpers that several
test modules use are fixtures here, so that no test module imports another: `stores` (runs written in the real
run-directory format, a small store, the report CLI) and `filled_agent` (the debug agent with a batch in every
level's replay).
"""

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

BUDGET = 400_000
PUBLISHED = Path(
    os.environ.get("HIEROS_PUBLISHED_SCORES")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "atari100k_raw"
)

if os.environ.get("PYTEST_XDIST_WORKER"):  # one worker per core (pyproject addopts): one thread each, set before torch
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _estimate_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HIEROS_BENCH_CACHE", str(tmp_path_factory.mktemp("estimate-cache")))
        yield


@pytest.fixture(scope="session")
def published() -> Path:
    """The published per-seed score files (../shared/data/atari100k_raw beside the checkout, or
    $HIEROS_PUBLISHED_SCORES). Where they are absent the test is skipped and `pytest -ra` names it; with
    HIEROS_REQUIRE_PUBLISHED=1 (.ci/run: CI has shared/ beside its clone) it fails instead."""
    if PUBLISHED.is_dir():
        return PUBLISHED
    message = f"published score files not found at {PUBLISHED} (the shared/ folder beside the checkout)"
    if os.environ.get("HIEROS_REQUIRE_PUBLISHED") == "1":
        pytest.fail(message)
    pytest.skip(message)


def run_report(results: Path, *flags: str) -> int:
    """`hieros-bench report` on `results` without the shipped baselines."""
    from bench.cli import main

    return main(["report", "--baselines", "none", "--results", str(results), *flags])


def write_run(
    results: Path,
    method: str,
    task: str,
    seed: int,
    scores: list[float],
    status: str = "done",
    config_hash: str = "cfg",
    window: int = 10_000,
    budget: int = BUDGET,
    suite: str = "atari100k",
) -> Path:
    """A run as hieros.train writes it: train episodes spread over the budget (the last ends at the budget) and
    a train record with model_loss after each; the final score by the protocol, as train.py stores it."""
    from hieros import metrics_file, run_file, rundir

    run = rundir.run_path(results, suite, method, task, seed)
    writer = metrics_file.MetricsWriter(run)
    frames = np.linspace(budget / len(scores), budget, len(scores)).astype(int).tolist()
    for f, score in zip(frames, scores, strict=True):
        writer.write(
            {"type": "episode", "mode": "train", "env_step": f // 4, "frames": f, "score": score, "length": 100}
        )
        writer.write(
            {
                "type": "train",
                "env_step": f // 4,
                "frames": f,
                "grad_steps": f // 64,
                "model_loss": 10.0 / (1 + f / 1e5) + seed,
            }
        )
    writer.close()
    env = {"suite": task.split("_")[0], "game": task, "mode": "train", "repeat": 4, "sticky": False}
    protocol = run_file.RunProtocol.of(env, 4, budget, run_file.ScoreProtocol("final_train_window", window))
    final = (
        metrics_file.final_score(metrics_file.read_metrics(run), protocol.score, budget) if status == "done" else None
    )
    record = run_file.Record(
        suite=suite,
        method=method,
        task=task,
        seed=seed,
        status=status,
        config={},
        config_hash=config_hash,
        protocol=protocol,
        provenance=run_file.Provenance(
            None, None, "3", {}, "test", "test", "cpu", None, None, [], "2026-01-01T00:00:00+0000"
        ),
        progress=run_file.Progress(env_steps=budget // 4, frames=budget),
        score=run_file.Score(final),
        error=None if status != "failed" else "boom",
    )
    run_file.write_run(run, record)
    return run


TASKS = ("atari_pong", "atari_breakout", "atari_frostbite")


def small_store(results: Path, methods: tuple[str, ...] = ("alpha", "beta"), seeds: int = 3) -> None:
    """Final scores: alpha = 10 * seed + task index, beta = alpha + 5 (one episode in the last window)."""
    for m, method in enumerate(methods):
        for t, task in enumerate(TASKS):
            for seed in range(1, seeds + 1):
                write_run(results, method, task, seed, [0.0, 1.0, 10.0 * seed + t + 5 * m])


def filled_agent(**overrides: str):
    """The debug agent on Pong (seed 1, `overrides` as flags) whose every level has a batch in its replay, filled
    by acting with the untrained policy."""
    from hieros import checkpoint
    from hieros.agent_api import make_agent
    from hieros.config import build_config
    from hieros.envs import make_env
    from hieros.envs.base import stack

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


@pytest.fixture(scope="session")
def stores() -> SimpleNamespace:
    """write_run, small_store, run_report, and the TASKS and BUDGET of small_store's Atari runs."""
    return SimpleNamespace(
        write_run=write_run, small_store=small_store, run_report=run_report, TASKS=TASKS, BUDGET=BUDGET
    )


def assert_same(a: Any, b: Any) -> None:
    """`a` and `b` (nested dicts, lists and tuples of tensors, arrays and plain values) equal, exactly."""
    import torch

    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b)
    else:
        assert a == b


@pytest.fixture(name="assert_same")
def assert_same_fixture() -> Any:
    """assert_same(a, b): nested states equal, tensor for tensor."""
    return assert_same


@pytest.fixture(name="filled_agent")
def filled_agent_fixture() -> Any:
    """filled_agent(**flags): a fresh debug agent with a batch in every level's replay."""
    return filled_agent
