"""The hierarchy: which level acts and trains when, subgoal codes and how long they are held, the three rewards
by hand, one level == the flat agent, and the subgoal picture."""

import math

import numpy as np
import pytest
import torch

from hieros.agent.build import make_learning_agent
from hieros.agent.level import Level
from hieros.agent.subgoal import SubgoalAutoencoder, novelty_reward, subgoal_reward
from hieros.config import build_config
from hieros.envs.base import ActSpace

FLAG_SPACE = {"reward": ((), np.float32), "is_first": ((), bool), "is_last": ((), bool), "is_terminal": ((), bool)}
VECTOR_SPACE = {"vector": ((5,), np.float32), **FLAG_SPACE}
IMAGE_SPACE = {"image": ((64, 64, 3), np.uint8), **FLAG_SPACE}
CONTINUOUS = ActSpace(discrete=False, shape=(1,))


def observations(steps: int, ends: tuple[int, ...] = (), seed: int = 0, image: bool = False):
    """A batch-of-one observation stream; an episode ends (is_last) at each step in `ends`, the next one starts."""
    rng = np.random.default_rng(seed)
    first = True
    for t in range(steps):
        obs = {
            "reward": np.array([rng.normal()], np.float32),
            "is_first": np.array([first]),
            "is_last": np.array([t in ends]),
            "is_terminal": np.array([False]),
        }
        if image:
            obs["image"] = rng.integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)
        else:
            obs["vector"] = rng.normal(size=(1, 5)).astype(np.float32)
        first = t in ends
        yield t, obs


def agent(levels: int = 3, **overrides: str):
    config = build_config(["dmc_proprio", "debug"], {"max_hierarchy": str(levels), **overrides})
    return make_learning_agent(config, VECTOR_SPACE, CONTINUOUS)


def spy_records(monkeypatch, hieros) -> list[tuple[int, int, dict]]:
    """(policy step, level, row) for every replay row written, by wrapping the real `Level.record`."""
    rows, clock = [], {"step": 0}
    for index, level in enumerate(hieros.levels):

        def record(row, level=level, index=index):
            rows.append((clock["step"], index, row))
            Level.record(level, row)

        monkeypatch.setattr(level, "record", record)

    def run(stream):
        state = hieros.initial_state(1)
        for t, obs in stream:
            clock["step"] = t
            _, state = hieros.policy(obs, state, "train")
        return state

    return rows, run


def test_acting_schedule_by_hand(monkeypatch):
    """Level i acts at steps divisible by 4^i once its history holds 4 lower latents: level 1 first at step 4
    (history from steps 0-3 plus 4), level 2 first at step 16 (its history fills at steps 0, 4, 8, 12)."""
    hieros = agent()
    rows, run = spy_records(monkeypatch, hieros)
    run(observations(37))
    acted = {i: [t for t, level, _ in rows if level == i] for i in range(3)}
    assert acted[0] == list(range(37))
    assert acted[1] == [4, 8, 12, 16, 20, 24, 28, 32, 36]
    assert acted[2] == [16, 32]


def test_training_schedule_by_hand(monkeypatch):
    """Level i trains at every 4^i-th call once its replay holds a batch."""
    hieros = agent(batch_length="4", batch_size="2")
    _, run = spy_records(monkeypatch, hieros)
    run(observations(200))  # level 2: 12 rows from step 16 on, 9 windows of 4 >= batch 2
    calls = []
    for index, level in enumerate(hieros.levels):
        monkeypatch.setattr(level, "train_step", lambda index=index: calls.append((hieros.train_calls, index)) or {})
    for _ in range(20):
        hieros.train_step()
    trained = {i: [call for call, level in calls if level == i] for i in range(3)}
    assert trained == {0: list(range(20)), 1: [0, 4, 8, 12, 16], 2: [0, 16]}


def test_subgoal_codes_are_one_hot_and_held(monkeypatch):
    hieros = agent(subgoal_shape="8,8")
    rows, run = spy_records(monkeypatch, hieros)
    run(observations(70))
    for lower, period in ((0, 4), (1, 16)):
        codes = {t: row["encoded_subgoal"][0] for t, level, row in rows if level == lower}
        held = [t for t in codes if t >= period]  # before the parent's first action the code is all zeros
        for t in held:
            code = codes[t].reshape(8, 8)
            assert set(np.unique(code)) == {0.0, 1.0} and (code.sum(1) == 1).all()
            start = t - t % period
            assert np.array_equal(codes[t], codes[start]), f"level {lower}: code changed inside a period at {t}"
        assert all(not codes[t].any() for t in codes if t < period)
        parent = {t: row["action"][0] for t, level, row in rows if level == lower + 1}
        for t in parent:  # the code a level receives is its parent's action at the parent's step
            assert np.array_equal(codes[t], parent[t])
    assert "encoded_subgoal" not in next(row for _, level, row in rows if level == 2)  # the top level gets none


@pytest.mark.parametrize("code", ["onehot", "probabilities"])
def test_evaluation_hands_down_the_argmax_or_the_class_probabilities(code):
    """D21: acting by the mode, a higher level's code is its argmax one-hot rows (ours) or its class probabilities
    (the original's FlattenDist.mode, `subgoal_eval_code: probabilities`); sampled codes are one-hot either way."""
    hieros = agent(subgoal_shape="2,4", subgoal_eval_code=code)
    state = hieros.initial_state(1)
    with torch.no_grad():  # a zero-initialised output layer would give uniform probabilities, equal to no argmax
        hieros.levels[1].actor_critic.actor.net.out.weight.normal_(0.0, 1.0)
    for _, obs in observations(5):
        _, state = hieros.policy(obs, state, "eval")
    rows = state["levels"][1]["action"][0].reshape(2, 4)
    assert torch.allclose(rows.sum(-1), torch.ones(2))
    one_hot = set(rows.unique().tolist()) <= {0.0, 1.0}
    assert one_hot == (code == "onehot")
    for _, obs in observations(5):
        _, state = hieros.policy(obs, state, "train")
    assert set(state["levels"][1]["action"].unique().tolist()) <= {0.0, 1.0}


def test_window_reward_and_episode_end(monkeypatch):
    """A higher level stores the window's mean env reward; at an episode end the window sum is dropped (D16)."""
    hieros = agent()
    rows, run = spy_records(monkeypatch, hieros)
    stream = list(observations(40, ends=(26,)))
    run(stream)
    rewards = np.array([obs["reward"][0] for _, obs in stream], np.float64)
    level1 = {t: row for t, level, row in rows if level == 1}
    assert level1[8]["reward"][0] == pytest.approx(rewards[5:9].sum() / 4, rel=1e-6)
    assert level1[4]["reward"][0] == pytest.approx(rewards[0:5].sum() / 4, rel=1e-6)  # the first window: 0-4
    assert level1[28]["reward"][0] == pytest.approx(rewards[27:29].sum() / 4, rel=1e-6)  # reset at 26
    level0 = {t: row for t, level, row in rows if level == 0}
    assert level0[26]["reward"][0] == 0.0 and level0[26]["is_last"][0]
    assert not level0[26]["action"].any()


def test_subgoal_reward_by_hand():
    deter = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    goal = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    # cos-max: <g, f> / max(|g|, |f|)^2 -> 1, 2/4, clipped -1, 2/4; then symlog
    expected = torch.tensor([math.log(2), math.log(1.5), 0.0, math.log(1.5)])
    assert torch.allclose(subgoal_reward(deter, goal, symlog_state=False), expected, atol=1e-6)
    # with the state symlogged first: f = symlog([0, 2]) = [0, ln 3], g = [0, 1]: ln3 / (ln3)^2 = 1 / ln 3
    value = subgoal_reward(deter[3:], goal[3:], symlog_state=True)
    assert value.item() == pytest.approx(math.log1p(1 / math.log(3)), rel=1e-6)


def test_novelty_reward_by_hand():
    config = build_config(["debug"], {"subgoal_compression.legacy_output_activation": "false"})
    autoencoder = SubgoalAutoencoder(config, deter_dim=2)
    with torch.no_grad():  # a decoder that always outputs 1: the reconstruction is [1, 1]
        autoencoder.decoder.out.weight.zero_()
        autoencoder.decoder.out.bias.fill_(1.0)
    deter = torch.tensor([[1.0, 3.0]])
    # raw target (D8): mean((1-1)^2, (3-1)^2) = 2 -> symlog = ln 3
    assert novelty_reward(autoencoder, deter, raw_target=True).item() == pytest.approx(math.log(3), rel=1e-6)
    # corrected: compare symlog(deter) = [ln 2, ln 4] with the reconstruction
    error = ((math.log(2) - 1) ** 2 + (math.log(4) - 1) ** 2) / 2
    assert novelty_reward(autoencoder, deter, raw_target=False).item() == pytest.approx(math.log1p(error), rel=1e-6)


def test_subgoal_autoencoder_codes_and_learns():
    torch.manual_seed(0)
    config = build_config(["debug"], {"subgoal_shape": "8,8", "subgoal_compression.lr": "3e-3"})
    autoencoder = SubgoalAutoencoder(config, deter_dim=16)
    data = torch.randn(4, 16).repeat(64, 1)  # four distinct states
    code = autoencoder.encode(data).reshape(-1, 8, 8)
    assert ((code == 0) | (code == 1)).all() and (code.sum(-1) == 1).all()
    losses = [autoencoder.train_step(data)["subgoal_autoencoder_reconstruction_loss"] for _ in range(150)]
    assert losses[-1] < 0.5 * losses[0]


def test_reward_heads_per_level():
    hieros = agent()
    assert [set(level.heads) for level in hieros.levels] == [
        {"extrinsic", "subgoal"},
        {"extrinsic", "subgoal", "novelty"},
        {"extrinsic", "novelty"},
    ]
    code = 2 * 4  # debug subgoal_shape
    assert [level.actor_critic.goal_dim for level in hieros.levels] == [code, code, 0]
    flat = agent(levels=1)
    assert set(flat.levels[0].heads) == {"extrinsic"} and flat.levels[0].autoencoder is None


def test_one_level_is_the_flat_agent():
    """`--max_hierarchy=1` acts, records and trains exactly as one `Level` driven on its own."""
    config = build_config(["dmc_proprio", "debug"], {"max_hierarchy": "1", "batch_size": "2", "batch_length": "8"})
    hieros = make_learning_agent(config, VECTOR_SPACE, CONTINUOUS)
    torch.manual_seed(config.seed)
    flat = Level(
        config, 0, VECTOR_SPACE, 1, "normal", 1, 0, {"extrinsic": 1.0}, autoencoder=False, device=torch.device("cpu")
    )
    stream = list(observations(60, ends=(30,)))
    state = hieros.initial_state(1)
    latent, prev = flat.initial_latent(1), torch.zeros(1, 1)
    for t, obs in stream:
        torch.manual_seed(t)
        env_action, state = hieros.policy(obs, state, "train")
        torch.manual_seed(t)
        action, latent = flat.act(obs, latent, prev, None, "train")
        ended = obs["is_last"][0]
        if not ended:
            assert np.array_equal(env_action, action.numpy())
        flat.record({**obs, "reward": obs["reward"] * (not ended), "action": action.numpy() * (not ended)})
        prev = action
        torch.manual_seed(1000 + t)
        hieros.train_step()
        torch.manual_seed(1000 + t)
        if len(flat.replay) >= config.batch_size:
            flat.train_step()
    for a, b in zip(hieros.levels[0].world_model.parameters(), flat.world_model.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(hieros.levels[0].actor_critic.parameters(), flat.actor_critic.parameters(), strict=True):
        assert torch.equal(a, b)


def test_subgoal_image_decodes_through_every_level():
    config = build_config(["atari100k", "debug"], {"max_hierarchy": "3"})
    hieros = make_learning_agent(config, IMAGE_SPACE, ActSpace(discrete=True, n=3))
    state = hieros.initial_state(1)
    for _, obs in observations(20, image=True):
        _, state = hieros.policy(obs, state, "train")
    image = hieros.subgoal_image(obs, state)
    assert image.shape == (64, 3 * 64, 3) and image.dtype == np.uint8
    assert np.array_equal(image[:, :64], obs["image"][0])
    assert hieros.subgoal_image(obs, state) is not None
    flat = make_learning_agent(
        build_config(["atari100k", "debug"], {"max_hierarchy": "1"}), IMAGE_SPACE, ActSpace(discrete=True, n=3)
    )
    assert flat.subgoal_image(obs, flat.initial_state(1)) is None


def test_evaluation_leaves_the_training_state_alone(monkeypatch):
    """Evaluation acts from its own state: no replay rows, and the training clocks do not move (D6)."""
    hieros = agent()
    rows, run = spy_records(monkeypatch, hieros)
    state = run(observations(10))
    written, step = len(rows), state["step"]
    eval_state = hieros.initial_state(1)
    for _, obs in observations(10, seed=1):
        _, eval_state = hieros.policy(obs, eval_state, "eval")
    assert len(rows) == written and state["step"] == step == 10 and eval_state["step"] == 10


def test_dropout_acts_only_in_the_world_model_update():
    """As the original (train.py set_eval, WorldModel._train): S5 dropout is on in the teacher-forced world-model
    pass and off in imagination, acting and the data the subgoal autoencoder trains on."""
    hieros = agent(levels=2, **{"s5.dropout": "0.5"})
    level = hieros.levels[0]
    dropouts = [m for m in level.world_model.modules() if isinstance(m, torch.nn.Dropout)]
    seen: list[bool] = []
    for module in dropouts:
        module.register_forward_hook(lambda module, inputs, output: seen.append(module.training))
    state = hieros.initial_state(1)
    for _, obs in observations(40, ends=(30,)):
        _, state = hieros.policy(obs, state, "train")
    assert seen and not any(seen)  # acting
    seen.clear()
    assert level.train_step()
    observe_calls = len(dropouts)  # one parallel pass through every block
    assert seen[:observe_calls] == [True] * observe_calls
    assert len(seen) > observe_calls and not any(seen[observe_calls:])  # imagination
    assert not any(
        m.training for lv in hieros.levels for m in (lv.world_model, lv.actor_critic, lv.autoencoder) if m is not None
    )
    # the same acting state and observation give the same greedy posterior twice
    probe = hieros.initial_state(1)
    obs = next(iter(observations(1)))[1]
    first = hieros.policy(obs, probe, "eval")[1]["levels"][0]["latent"]["deter"]
    second = hieros.policy(obs, hieros.initial_state(1), "eval")[1]["levels"][0]["latent"]["deter"]
    torch.testing.assert_close(first, second)


def test_every_levels_state_loads_into_a_fresh_agent(assert_same):
    """The 3-level agent's state (each level's world model, actor-critic, replay and subgoal autoencoder with its
    optimizer) loaded into a newly built agent gives back the same state, tensor for tensor."""
    config = build_config(["atari100k", "debug"], {"max_hierarchy": "3"})
    trained = make_learning_agent(config, IMAGE_SPACE, ActSpace(discrete=True, n=3))
    state = trained.initial_state(1)
    for _, obs in observations(20, image=True):
        _, state = trained.policy(obs, state, "train")
    saved = trained.state_dict()
    torch.manual_seed(1)  # the fresh agent's weights differ from the trained one's before the load
    fresh = make_learning_agent(config, IMAGE_SPACE, ActSpace(discrete=True, n=3))
    assert any(level.autoencoder is not None for level in fresh.levels)
    with pytest.raises(AssertionError):
        assert_same(fresh.state_dict(), saved)
    fresh.load_state_dict(saved)
    assert_same(fresh.state_dict(), saved)
