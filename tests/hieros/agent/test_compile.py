"""--compile=true: torch.compile (inductor, here on CPU) of the world-model loss, the imagination's steps, their
scoring, the actor-critic losses, the subgoal autoencoder's loss and the acting step computes what eager computes,
to float rounding, after one update and after 100, with no graph breaks and no recompilation after the first
update."""

import numpy as np
import pytest
import torch
import torch._dynamo.utils
from torch._dynamo import explain

from hieros.agent.world_model import preprocess

UPDATES = 100


def train(filled_agent, compile_: bool) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, float]]:
    """The debug agent (one level) on Pong: parameters after 1 and after UPDATES updates, and the last metrics."""
    agent = filled_agent(max_hierarchy="1", compile=str(compile_).lower())
    (level,) = agent.levels

    def weights() -> list[torch.Tensor]:
        return [p.detach().clone() for m in (level.world_model, level.actor_critic) for p in m.state_dict().values()]

    metrics = level.train_step()
    first = weights()
    for _ in range(UPDATES - 1):
        metrics = level.train_step()
    return first, weights(), metrics


@pytest.mark.slow
def test_compiled_updates_equal_eager_ones_without_graph_breaks(filled_agent):
    eager_first, eager_last, eager_metrics = train(filled_agent, False)
    counters = torch._dynamo.utils.counters
    counters.clear()
    compiled_first, compiled_last, compiled_metrics = train(filled_agent, True)
    assert not counters["graph_break"], dict(counters["graph_break"])
    # acting, world-model loss, the imagination's first step and its next steps, the scoring, actor-critic losses
    assert counters["stats"]["unique_graphs"] == 6
    for eager, compiled in ((eager_first, compiled_first), (eager_last, compiled_last)):
        assert max((e - c).abs().max().item() for e, c in zip(eager, compiled, strict=True)) < 1e-5
    assert compiled_metrics.keys() == eager_metrics.keys()
    assert np.allclose(list(compiled_metrics.values()), list(eager_metrics.values()), rtol=1e-3, atol=1e-4)


def test_each_levels_compiled_paths_trace_into_one_graph_without_breaks(filled_agent):
    """Every level of the 3-level agent, with its subgoal and novelty rewards and its subgoal autoencoder: each
    function --compile compiles traces (torch._dynamo.explain, no code generated) into one graph, with no break."""
    agent = filled_agent()
    heads: set[str] = set()
    for index, level in enumerate(agent.levels):
        data = preprocess(level.replay.sample(level.config.batch_size), level.device, level.config.image_range)
        goal = data[level.goal_key].flatten(0, 1) if level.actor_critic.goal_dim else None
        level.world_model.train()
        traced = {"world-model loss": explain(level.world_model.loss)(data)}
        level.world_model.eval()
        start = {k: v.detach() for k, v in level.world_model.loss(data)[1].items()}
        actor_critic = level.actor_critic
        with actor_critic.imagining(level.world_model):
            state = {k: v.flatten(0, 1) for k, v in start.items()}
            traced["imagination's first step"] = explain(actor_critic.policy_step)(level.world_model, state, goal)
            _, action = actor_critic.policy_step(level.world_model, state, goal)
            step = (level.world_model, state, action, goal)
            traced["imagination's next step"] = explain(actor_critic.imagine_step)(*step)
            feats, states, actions, scores = actor_critic.rollout(level.world_model, start, level.rewards(data), goal)
            traced["scoring"] = explain(actor_critic.score)(level.world_model, feats, states, level.rewards(data))
        reward, discount, value = scores
        assert reward.keys() == value.keys() == actor_critic.heads.keys()
        traced["actor-critic losses"] = explain(actor_critic.losses)(feats, actions, reward, discount, value)
        if level.autoencoder is not None:
            traced["autoencoder losses"] = explain(level.autoencoder.losses)(states["deter"].detach())
        heads |= reward.keys()
        for name, explanation in traced.items():
            assert (explanation.graph_count, explanation.graph_break_count) == (1, 0), (index, name, explanation)
    assert heads == {"extrinsic", "subgoal", "novelty"}


@pytest.mark.slow
def test_every_levels_acting_traces_within_the_recompile_limit_at_train_and_eval_batches(filled_agent, monkeypatch):
    """--compile with 4 training environments and an evaluation at batch 1: each level's compiled acting step
    traces once per batch it meets, nothing falls back to eager (torch's default limit of 8 entries once did that
    without a word) and the limit stays far off. Traced with dynamo's eager backend: the same guards and cache
    entries as inductor, no code generated."""
    from hieros.agent import optim
    from hieros.envs import make_env
    from hieros.envs.base import stack

    monkeypatch.setattr(optim, "COMPILE_BACKEND", "eager")
    torch._dynamo.reset()
    counters = torch._dynamo.utils.counters
    counters.clear()
    agent = filled_agent(compile="true", num_envs="4")  # acts at batch 1 while its replays fill
    env = make_env("atari_pong", agent.levels[0].config, seed=2)
    for batch, mode in ((4, "train"), (1, "eval"), (4, "train")):
        obs, state = stack([env.reset()] * batch), agent.initial_state(batch)
        for _ in range(2 * agent.levels[0].config.subactor_update_every ** (len(agent.levels) - 1)):
            _, state = agent.policy(obs, state, mode=mode)
    assert counters["frames"]["total"] == counters["frames"]["ok"] and not counters["graph_break"]
    graphs = counters["stats"]["unique_graphs"]
    assert len(agent.levels) <= graphs <= len(agent.levels) * 2 * 2 < optim.RECOMPILE_LIMIT  # levels x batches x modes
    assert torch._dynamo.config.fail_on_recompile_limit_hit  # past the limit a run fails, never slows silently


def test_compile_wraps_only_when_asked_and_fails_past_its_recompile_limit(monkeypatch):
    """optim.compiled: the function itself without --compile; with it, a compiled function that computes the
    same, whose cache entries past RECOMPILE_LIMIT fail the run rather than run eagerly without a word (traced
    with dynamo's eager backend: the same guards, no code generated)."""
    from types import SimpleNamespace

    from hieros.agent import optim

    def double(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    assert optim.compiled(double, SimpleNamespace(compile=False)) is double
    monkeypatch.setattr(optim, "COMPILE_BACKEND", "eager")
    monkeypatch.setattr(optim, "RECOMPILE_LIMIT", 2)
    for key in ("recompile_limit", "fail_on_recompile_limit_hit"):  # set by compiled(); restored after the test
        monkeypatch.setattr(torch._dynamo.config, key, getattr(torch._dynamo.config, key))
    torch._dynamo.reset()
    fast = optim.compiled(double, SimpleNamespace(compile=True, device="cpu"))
    assert torch.equal(fast(torch.ones(2)), torch.full((2,), 2.0)) and torch.equal(
        fast(torch.ones(3)), torch.full((3,), 2.0)
    )
    with pytest.raises(torch._dynamo.exc.FailOnRecompileLimitHit):
        fast(torch.ones(4))  # a third shape: a third cache entry, past the limit of 2
    torch._dynamo.reset()
