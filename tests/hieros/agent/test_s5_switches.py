"""The S5WM's design switches of issue #36 (hieros/configs.yaml `s5.*`): at their defaults the model is the paper's;
each switch does what its comment says, checked on the module itself."""

import math

import pytest
import torch

from hieros.agent.distributions import OneHotDist
from hieros.agent.s5 import S5SSM
from hieros.agent.s5_dynamics import S5Dynamics
from hieros.config import build_config

EMBED, ACTIONS, B, T = 8, 2, 3, 12


def dynamics(**keys: str) -> S5Dynamics:
    torch.manual_seed(0)
    config = build_config(["dmc_proprio", "debug"], {f"s5.{k}": v for k, v in keys.items()})
    return S5Dynamics(config, embed_dim=EMBED, action_dim=ACTIONS).double().eval()


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    embed = torch.randn(B, T, EMBED, generator=generator, dtype=torch.float64)
    action = torch.randn(B, T, ACTIONS, generator=generator, dtype=torch.float64)
    is_first = torch.zeros(B, T, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[1, 5] = True  # an episode starts inside a sequence
    return embed, action, is_first


def test_the_time_step_range_is_where_log_delta_starts():
    ssm = S5SSM(4, 64, dt_min=1e-2, dt_max=2e-2)
    assert math.log(1e-2) <= ssm.log_step.min().item() and ssm.log_step.max().item() <= math.log(2e-2)
    assert dynamics(dt_min="0.01", dt_max="0.02").seq.blocks[0].ssm2.log_step.max().item() <= math.log(2e-2)


def test_clipped_eigenvalues_never_let_a_mode_grow():
    grown, clipped = S5SSM(4, 8), S5SSM(4, 8, clip_eigs=True)
    for ssm in (grown, clipped):
        with torch.no_grad():
            ssm.lambda_re.fill_(0.5)  # an update pushed every real part positive
    assert (grown.discretize()[0].abs() > 1).all()
    assert (clipped.discretize()[0].abs() < 1).all()
    torch.manual_seed(0)
    default = S5SSM(4, 8).discretize()[0]
    torch.manual_seed(0)
    assert torch.equal(default, S5SSM(4, 8, clip_eigs=True).discretize()[0])  # HiPPO's Re(Λ) = -1/2: nothing to clip


def test_stepping_through_the_sequence_is_the_parallel_scan(monkeypatch):
    """The stepwise observe that posterior_deter needs computes, for the paper's posterior, what the scan does."""
    monkeypatch.setattr(OneHotDist, "sample", OneHotDist.mode)  # the same latents on both paths
    model = dynamics()
    embed, action, is_first = batch()
    with torch.no_grad():
        parallel = model.observe(embed, action, is_first)
        stepwise = model._observe_stepwise(embed, action, is_first)
    for scan, steps in zip(parallel, stepwise, strict=True):
        assert scan.keys() == steps.keys()
        for key in scan:
            assert torch.allclose(scan[key], steps[key], atol=1e-9), key


def test_a_posterior_that_sees_deter_trains_through_every_step():
    model = dynamics(posterior_deter="true")
    assert model.obs_out.hidden[0].in_features == EMBED + model.deter_dim
    model.train()
    embed, action, is_first = batch()
    post, prior = model.observe(embed, action, is_first)
    assert prior["deter"].shape[:2] == (B, T)
    assert post["stoch"].shape[:2] == (B, T) and post["state"].shape[:2] == (B, T)
    post["logit"].sum().backward()
    assert model.seq.blocks[0].ssm1.b_tilde.grad is not None  # the posterior's deter input reaches the S5 stack


@pytest.mark.parametrize("key", ["dt_min", "dt_max", "clip_eigs", "posterior_deter"])
def test_every_preset_keeps_the_paper_value_of_each_switch(key):
    paper = {"dt_min": 1e-3, "dt_max": 1e-1, "clip_eigs": False, "posterior_deter": False}
    for presets in (
        ["atari100k"],
        ["dmc_vision"],
        ["dmc_proprio"],
        ["dmc_proprio", "cpu_small"],
        ["atari100k", "debug"],
    ):
        assert build_config(presets, {}).s5[key] == paper[key]
