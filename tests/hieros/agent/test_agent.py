"""The level-0 pieces: lambda-returns by hand, S5WM observe vs. step, the world model learns a fixed batch."""

import numpy as np
import pytest
import torch

from hieros.agent.actor_critic import lambda_return
from hieros.agent.world_model import WorldModel, preprocess
from hieros.config import build_config

IMAGE_SPACE = {
    "image": ((64, 64, 3), np.uint8),
    "reward": ((), np.float32),
    "is_first": ((), bool),
    "is_last": ((), bool),
    "is_terminal": ((), bool),
}


def test_lambda_return_by_hand():
    reward = torch.tensor([[1.0], [2.0], [3.0]])
    value = torch.tensor([[10.0], [20.0], [30.0]])
    discount = torch.tensor([[0.5], [0.5], [0.5]])
    lam = 0.5
    # current: R1 = r1 + g1((1-l)V2 + l V2) = 2 + 0.5*30 = 17; R0 = 1 + 0.5(0.5*20 + 0.5*17) = 10.25
    current = lambda_return(reward, value, discount, lam, "current")
    assert torch.allclose(current[:, 0], torch.tensor([10.25, 17.0]))
    # next: R1 = r2 + g2 * V2 = 3 + 15 = 18; R0 = r1 + g1(0.5*20 + 0.5*18) = 2 + 0.5*19 = 11.5
    nxt = lambda_return(reward, value, discount, lam, "next")
    assert torch.allclose(nxt[:, 0], torch.tensor([11.5, 18.0]))


def _batch(config, steps=2):
    rng = np.random.default_rng(0)
    b, t = config.batch_size, config.batch_length
    is_first = np.zeros((b, t), bool)
    is_first[:, 0] = True
    is_first[:, t // 2] = True
    return {
        "image": rng.integers(0, 255, (b, t, 64, 64, 3), dtype=np.uint8),
        "reward": rng.normal(size=(b, t)).astype(np.float32),
        "is_first": is_first,
        "is_last": np.zeros((b, t), bool),
        "is_terminal": np.zeros((b, t), bool),
        "action": np.eye(steps, dtype=np.float32)[rng.integers(0, steps, (b, t))],
    }


@pytest.mark.parametrize(("image_range", "low", "high"), [("centered", -0.5, 0.5), ("unit", 0.0, 1.0)])
def test_preprocess_scales_pixels_to_the_image_range(image_range, low, high):
    pixels = np.array([[0, 51, 255]], np.uint8)
    out = preprocess({"image": pixels, "is_terminal": np.array([True])}, torch.device("cpu"), image_range)
    assert torch.allclose(out["image"], torch.tensor([[low, low + 0.2, high]]))
    assert out["cont"].tolist() == [0.0]


@pytest.mark.parametrize("dynamics", ["s5", "rssm"])
def test_world_model_loss_falls_on_a_fixed_batch(dynamics):
    torch.manual_seed(0)
    config = build_config(["atari100k", "debug"], {"dynamics_model": dynamics, "warmup_steps": "0", "model_lr": "1e-3"})
    model = WorldModel(config, IMAGE_SPACE, action_dim=2)
    data = preprocess(_batch(config), torch.device("cpu"))
    losses = [model.train_step(data)[1]["model_loss"] for _ in range(30)]
    assert losses[-1] < 0.8 * losses[0]


def test_s5wm_observe_matches_stepping():
    """Training (parallel scan) and acting (one step at a time) give the same deterministic features."""
    torch.manual_seed(0)
    config = build_config(["atari100k", "debug"], {"s5.dropout": "0"})
    model = WorldModel(config, IMAGE_SPACE, action_dim=2).eval()
    data = preprocess(_batch(config), torch.device("cpu"))
    dynamics = model.dynamics
    with torch.no_grad():
        embed = model.encoder(data)
        post, _ = dynamics.observe(embed, data["action"], data["is_first"])
        state = dynamics.initial(config.batch_size)
        action = torch.zeros_like(data["action"][:, 0])
        for t in range(config.batch_length):
            # the original pairs z_{t-1} with a_t in training (D2); step with the same pairing to compare
            state = {**state, "stoch": post["stoch"][:, t - 1]} if t else state
            step, _ = dynamics.obs_step(state, data["action"][:, t], embed[:, t], data["is_first"][:, t])
            assert torch.allclose(step["deter"], post["deter"][:, t], atol=1e-4)
            state, action = step, data["action"][:, t]
    del action


def test_s5wm_prior_and_posterior_layers_are_dyn_hidden_wide():
    """The original's Seq2SeqDynamics sizes its prior/posterior layers by dyn_hidden (its `hidden`), not units."""
    from hieros.agent.s5_dynamics import S5Dynamics

    config = build_config(["atari100k", "debug"], {"dyn_hidden": "48"})
    dynamics = S5Dynamics(config, embed_dim=8, action_dim=2)
    assert config.units == 32
    assert dynamics.img_out.out_dim == dynamics.obs_out.out_dim == 48
    assert dynamics.img_stat.in_features == dynamics.obs_stat.in_features == 48


@pytest.mark.parametrize("original", [True, False])
def test_reinforce_logprob_of_continuous_actions(original):
    """D17: the original's REINFORCE takes the log-prob of a / max(|a|, 1) (its img_step rescales the sampled
    action in place) with the reparameterised sample's gradient (its ContDist.sample is rsample), so the mean
    gets no gradient from an unclipped action; plain REINFORCE takes the sampled action, detached."""
    from hieros.agent.actor_critic import ActorCritic
    from hieros.agent.distributions import BoundedNormal

    config = build_config(["dmc_proprio", "debug"], {"reinforce_original_logprob": str(original).lower()})
    ac = ActorCritic(config, feat_dim=8, action_dim=1, dist="normal", heads={"extrinsic": 1.0})
    mean_raw = torch.zeros(2, 1, requires_grad=True)
    dist = BoundedNormal(mean_raw, torch.full((2, 1), 3.0), 0.1, 1.0)
    actions = torch.tensor([[0.5], [2.0]])  # the second one is outside [-1, 1]
    taken = ac._logprob_actions(dist, actions)
    dist.log_prob(taken).sum().backward()
    if original:
        assert torch.allclose(taken, torch.tensor([[0.5], [1.0]]))
        assert mean_raw.grad[0].item() == pytest.approx(0.0, abs=1e-7) and mean_raw.grad[1].item() != 0
    else:
        assert torch.equal(taken, actions) and not taken.requires_grad
        assert (mean_raw.grad != 0).all()
