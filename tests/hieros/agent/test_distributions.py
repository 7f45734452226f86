import math

import pytest
import torch
import torch.nn.functional as F
from torch import distributions as td

from hieros.agent.distributions import (
    MSE,
    Bernoulli,
    BoundedNormal,
    OneHotDist,
    OneHotRows,
    SymlogMSE,
    TwoHotSymlog,
    kl_categorical,
    symexp,
    symlog,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _mixed_logits(logits: torch.Tensor, unimix: float) -> torch.Tensor:
    return torch.log((1 - unimix) * F.softmax(logits, -1) + unimix / logits.shape[-1])


def test_symlog_symexp_inverse_and_values():
    x = torch.tensor([-1e4, -3.0, -1e-3, 0.0, 1e-3, 2.5, 1e6], dtype=torch.float64)
    torch.testing.assert_close(symexp(symlog(x)), x)
    torch.testing.assert_close(symlog(torch.tensor([math.e - 1])), torch.tensor([1.0]))


def test_onehot_unimix_floor_and_normalisation():
    logits = torch.tensor([[50.0, -50.0, 0.0, -50.0]])
    dist = OneHotDist(logits, unimix=0.01)
    assert dist.probs.min() >= 0.01 / 4 - 1e-7
    torch.testing.assert_close(dist.probs.sum(-1), torch.ones(1))
    torch.testing.assert_close(dist.logits.exp(), dist.probs)


def test_onehot_matches_torch_categorical():
    logits = torch.randn(5, 3, 7)
    ref = td.OneHotCategorical(logits=_mixed_logits(logits, 0.01))
    dist = OneHotDist(logits, unimix=0.01)
    value = F.one_hot(torch.randint(0, 7, (5, 3)), 7).float()
    torch.testing.assert_close(dist.log_prob(value), ref.log_prob(value))
    torch.testing.assert_close(dist.entropy(), ref.entropy())
    plain = OneHotDist(logits)
    torch.testing.assert_close(plain.log_prob(value), td.OneHotCategorical(logits=logits).log_prob(value))


def test_rows_reduce_sum_is_independent():
    logits = torch.randn(4, 32, 32)
    ref = td.Independent(td.OneHotCategorical(logits=_mixed_logits(logits, 0.01)), 1)
    dist = OneHotDist(logits, unimix=0.01, rows_reduce="sum")
    value = ref.sample()
    assert dist.log_prob(value).shape == (4,)
    torch.testing.assert_close(dist.log_prob(value), ref.log_prob(value))
    torch.testing.assert_close(dist.entropy(), ref.entropy())
    with pytest.raises(ValueError):
        OneHotDist(logits, rows_reduce="max")


def test_sample_is_onehot_with_straight_through_gradient():
    logits = torch.randn(6, 5, requires_grad=True)
    dist = OneHotDist(logits, unimix=0.01)
    sample = dist.sample()
    torch.testing.assert_close(sample.detach().sum(-1), torch.ones(6))
    assert set(sample.detach().unique().tolist()) <= {0.0, 1.0}
    (sample * torch.randn(6, 5)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_sample_frequencies_follow_probs():
    logits = torch.tensor([1.0, -2.0, 0.5, 0.0])
    dist = OneHotDist(logits.expand(40000, 4), unimix=0.01)
    freq = dist.sample().detach().mean(0)
    torch.testing.assert_close(freq, dist.probs[0], atol=0.015, rtol=0)


def test_mode_is_argmax_with_gradient():
    logits = torch.tensor([[0.1, 3.0, -1.0]], requires_grad=True)
    mode = OneHotDist(logits, unimix=0.01).mode()
    torch.testing.assert_close(mode.detach(), torch.tensor([[0.0, 1.0, 0.0]]))
    (mode * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_onehot_rows_mean_reduction_and_flat_actions():
    logits = torch.randn(3, 64)
    dist = OneHotRows(logits, rows=8, unimix=0.01)
    per_row = td.OneHotCategorical(logits=_mixed_logits(logits.reshape(3, 8, 8), 0.01))
    action = dist.sample()
    assert action.shape == (3, 64) and dist.mode().shape == (3, 64)
    torch.testing.assert_close(action.detach().reshape(3, 8, 8).sum(-1), torch.ones(3, 8))
    torch.testing.assert_close(dist.log_prob(action), per_row.log_prob(action.detach().reshape(3, 8, 8)).mean(-1))
    torch.testing.assert_close(dist.entropy(), per_row.entropy().mean(-1))


def test_kl_zero_for_equal_positive_otherwise_and_matches_torch():
    logits = torch.randn(10, 32, 32)
    same = kl_categorical(OneHotDist(logits, 0.01, "sum"), OneHotDist(logits.clone(), 0.01, "sum"))
    torch.testing.assert_close(same, torch.zeros(10), atol=1e-5, rtol=0)
    other = torch.randn(10, 32, 32)
    kl = kl_categorical(OneHotDist(logits, 0.01, "sum"), OneHotDist(other, 0.01, "sum"))
    assert kl.shape == (10,) and (kl > 0).all()
    ref = td.kl_divergence(
        td.Independent(td.OneHotCategorical(logits=_mixed_logits(logits, 0.01)), 1),
        td.Independent(td.OneHotCategorical(logits=_mixed_logits(other, 0.01)), 1),
    )
    torch.testing.assert_close(kl, ref)


def _disc_dist_log_prob(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NM512's DiscDist.log_prob, transcribed (one-hot targets, counting comparisons)."""
    buckets = torch.linspace(-20.0, 20.0, 255)
    x = symlog(target)
    below = (buckets <= x[..., None]).to(torch.int32).sum(-1) - 1
    above = len(buckets) - (buckets > x[..., None]).to(torch.int32).sum(-1)
    below, above = below.clip(0, 254).long(), above.clip(0, 254).long()
    equal = below == above
    to_below = torch.where(equal, 1, (buckets[below] - x).abs())
    to_above = torch.where(equal, 1, (buckets[above] - x).abs())
    total = to_below + to_above
    twohot = (
        F.one_hot(below, 255) * (to_above / total)[..., None] + F.one_hot(above, 255) * (to_below / total)[..., None]
    )
    return (twohot * F.log_softmax(logits, -1)).sum(-1)


def test_twohot_log_prob_matches_disc_dist_including_edges():
    logits = torch.randn(12, 255)
    on_bin = symexp(torch.linspace(-20.0, 20.0, 255)[[0, 3, 127, 254]])
    target = torch.cat([torch.randn(4) * 50, torch.tensor([0.0, 1e9, -1e9, symexp(torch.tensor(20.0)).item()]), on_bin])
    torch.testing.assert_close(TwoHotSymlog(logits).log_prob(target), _disc_dist_log_prob(logits, target))


def test_twohot_log_prob_maximal_at_target_bins_and_mean_recovers_target():
    bins = torch.linspace(-20.0, 20.0, 255)
    target = torch.tensor(7.3)
    x = symlog(target)
    below = int((bins <= x).sum()) - 1
    peaked = torch.full((255, 255), -30.0)
    peaked[torch.arange(255), torch.arange(255)] = 30.0  # row j: all mass on bin j
    log_probs = TwoHotSymlog(peaked).log_prob(target.expand(255))
    assert set(log_probs.topk(2).indices.tolist()) == {below, below + 1}
    weight_above = (x - bins[below]) / (bins[below + 1] - bins[below])
    twohot = torch.zeros(255)
    twohot[below], twohot[below + 1] = 1 - weight_above, weight_above
    dist = TwoHotSymlog(torch.log(twohot + 1e-12))
    torch.testing.assert_close(dist.mean(), target, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(dist.mode(), dist.mean())


def test_twohot_zero_logits_mean_is_zero_and_gradient():
    logits = torch.zeros(2, 3, 255, requires_grad=True)
    dist = TwoHotSymlog(logits)
    assert dist.mean().shape == (2, 3)
    torch.testing.assert_close(dist.mean(), torch.zeros(2, 3), atol=1e-5, rtol=0)
    (-dist.log_prob(torch.randn(2, 3))).mean().backward()
    assert logits.grad.abs().sum() > 0


def test_mse_and_symlog_mse_sum_over_event_dims():
    pred = torch.randn(2, 3, 4, 5, 6)
    x = torch.randn(2, 3, 4, 5, 6)
    torch.testing.assert_close(MSE(pred, 3).log_prob(x), -((pred - x) ** 2).sum((2, 3, 4)))
    vec, target = torch.randn(2, 3, 7), torch.randn(2, 3, 7) * 100
    dist = SymlogMSE(vec, 1)
    torch.testing.assert_close(dist.log_prob(target), -((vec - symlog(target)) ** 2).sum(-1))
    torch.testing.assert_close(dist.mode(), symexp(vec))
    assert SymlogMSE(symlog(target), 1).log_prob(target).abs().max() == 0
    with pytest.raises(ValueError):
        MSE(pred, 3).log_prob(x[..., :1])


def test_bernoulli():
    logits = torch.randn(4, 5, requires_grad=True)
    x = torch.randint(0, 2, (4, 5)).float()
    dist = Bernoulli(logits)
    torch.testing.assert_close(dist.log_prob(x), td.Bernoulli(logits=logits).log_prob(x))
    torch.testing.assert_close(dist.mean, torch.sigmoid(logits))
    mode = dist.mode()
    torch.testing.assert_close(mode.detach(), (logits > 0).float())
    mode.sum().backward()
    assert logits.grad.abs().sum() > 0


def test_bounded_normal_std_range_and_matches_torch():
    mean_raw = torch.randn(64, 6) * 10
    std_raw = torch.cat([torch.full((32, 6), -100.0), torch.full((32, 6), 100.0)]) + torch.randn(64, 6)
    dist = BoundedNormal(mean_raw, std_raw, 0.1, 1.0)
    assert dist.std.min() >= 0.1 and dist.std.max() <= 1.0
    assert dist.mean.abs().max() <= 1.0
    torch.testing.assert_close(
        BoundedNormal(torch.zeros(1), torch.zeros(1), 0.1, 1.0).std,
        torch.tensor([0.9 * torch.sigmoid(torch.tensor(2.0)).item() + 0.1]),
    )
    ref = td.Independent(td.Normal(torch.tanh(mean_raw), dist.std), 1)
    x = dist.sample()
    assert x.shape == (64, 6)
    torch.testing.assert_close(dist.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(dist.entropy(), ref.entropy())
    torch.testing.assert_close(dist.mode(), torch.tanh(mean_raw))


def test_bounded_normal_sample_is_reparameterised():
    mean_raw = torch.zeros(3, 2, requires_grad=True)
    BoundedNormal(mean_raw, torch.zeros(3, 2), 0.1, 1.0).sample().sum().backward()
    torch.testing.assert_close(mean_raw.grad, torch.ones(3, 2))
