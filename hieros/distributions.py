"""The distributions of DreamerV3/HIEROS, thin and torch-only: each reduces over its event dimensions itself.

Shapes: logits and means are (..., event); `log_prob` and `entropy` return (...).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


class OneHotDist:
    """Categorical over the last dim with a uniform mixture; samples and modes are straight-through one-hots.

    `rows_reduce` treats the dim before the last as independent rows: "sum" for the 32 latent categoricals,
    "mean" for HIEROS's subgoal codes (log-prob and entropy averaged over the rows), None for a single one.
    """

    def __init__(self, logits: torch.Tensor, unimix: float = 0.0, rows_reduce: str | None = None):
        if unimix > 0:
            probs = F.softmax(logits, -1)
            probs = (1 - unimix) * probs + unimix / logits.shape[-1]
            logits = torch.log(probs)
        self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self.probs = self.logits.exp()
        self.rows_reduce = rows_reduce

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        if self.rows_reduce == "sum":
            return x.sum(-1)
        if self.rows_reduce == "mean":
            return x.mean(-1)
        return x

    def sample(self) -> torch.Tensor:
        flat = self.probs.reshape(-1, self.probs.shape[-1])
        index = torch.multinomial(flat, 1).reshape(self.probs.shape[:-1])
        onehot = F.one_hot(index, self.probs.shape[-1]).to(self.probs.dtype)
        return onehot + self.probs - self.probs.detach()

    def mode(self) -> torch.Tensor:
        onehot = F.one_hot(self.logits.argmax(-1), self.logits.shape[-1]).to(self.logits.dtype)
        return onehot + self.logits - self.logits.detach()

    def log_prob(self, onehot: torch.Tensor) -> torch.Tensor:
        return self._reduce((onehot * self.logits).sum(-1))

    def entropy(self) -> torch.Tensor:
        return self._reduce(-(self.probs * self.logits).sum(-1))


def kl_categorical(post: OneHotDist, prior: OneHotDist) -> torch.Tensor:
    """KL(post || prior) per row, reduced over rows like the distributions (sum for latents)."""
    return post._reduce((post.probs * (post.logits - prior.logits)).sum(-1))


class TwoHotSymlog:
    """DreamerV3's discrete regression: 255 bins on [-20, 20] in symlog space, two-hot targets."""

    def __init__(self, logits: torch.Tensor, low: float = -20.0, high: float = 20.0):
        self.logits = logits
        self.probs = F.softmax(logits, -1)
        self.bins = torch.linspace(low, high, logits.shape[-1], device=logits.device)

    def mean(self) -> torch.Tensor:
        return symexp((self.probs * self.bins).sum(-1))

    mode = mean

    def log_prob(self, target: torch.Tensor) -> torch.Tensor:
        x = symlog(target).detach()
        below = (self.bins <= x[..., None]).to(torch.int64).sum(-1) - 1
        above = len(self.bins) - (self.bins > x[..., None]).to(torch.int64).sum(-1)
        below = below.clamp(0, len(self.bins) - 1)
        above = above.clamp(0, len(self.bins) - 1)
        equal = below == above
        dist_below = torch.where(equal, torch.ones_like(x), (self.bins[below] - x).abs())
        dist_above = torch.where(equal, torch.ones_like(x), (self.bins[above] - x).abs())
        total = dist_below + dist_above
        weight_below, weight_above = dist_above / total, dist_below / total
        n = len(self.bins)
        twohot = F.one_hot(below, n) * weight_below[..., None] + F.one_hot(above, n) * weight_above[..., None]
        return (twohot * F.log_softmax(self.logits, -1)).sum(-1)


class MSE:
    """log p(x) = -sum of squared errors over the last `dims` dims (the original's MSEDist, summed)."""

    def __init__(self, mean: torch.Tensor, dims: int):
        self.mean, self.dims = mean, dims

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -((self.mean - x) ** 2).sum(tuple(range(-self.dims, 0)))


class SymlogMSE(MSE):
    """Squared error in symlog space; the mode maps back with symexp."""

    def mode(self) -> torch.Tensor:
        return symexp(self.mean)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return super().log_prob(symlog(x))


class Bernoulli:
    def __init__(self, logits: torch.Tensor):
        self.logits = logits
        self.mean = torch.sigmoid(logits)

    def mode(self) -> torch.Tensor:
        return (self.logits > 0).to(self.logits.dtype)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits, x, reduction="none")


class BoundedNormal:
    """The continuous actor: mean tanh(m), std (max - min) * sigmoid(s + 2) + min, independent over actions.

    Samples are reparameterised and scaled back into [-1, 1] where they leave it (NM512's `ContDist(absmax=1)`).
    """

    def __init__(self, mean_raw: torch.Tensor, std_raw: torch.Tensor, min_std: float, max_std: float):
        self.mean = torch.tanh(mean_raw)
        self.std = (max_std - min_std) * torch.sigmoid(std_raw + 2.0) + min_std

    def sample(self) -> torch.Tensor:
        x = self.mean + self.std * torch.randn_like(self.mean)
        return x / x.abs().clamp(min=1.0).detach()

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return (-0.5 * z**2 - torch.log(self.std) - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (0.5 + 0.5 * math.log(2 * math.pi) + torch.log(self.std)).sum(-1)
