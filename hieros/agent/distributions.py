"""The distributions of DreamerV3/HIEROS, thin and torch-only: each reduces over its own event dimensions.

Conventions: parameters are (..., event); `log_prob` and `entropy` return (...). They follow NM512/Snagnar's
`tools.py` (`OneHotDist`, `FlattenDist`, `DiscDist`, `MSEDist`, `SymlogDist`, `Bernoulli`, `ContDist`).
Every distribution casts its parameters to fp32 when built (a no-op in fp32), so with --precision=bf16 the heads,
the KL and the losses stay fp32 (hieros.agent.precision).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hieros.agent.precision import exact, full


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


def _straight_through(value: torch.Tensor, grad_source: torch.Tensor) -> torch.Tensor:
    """Exactly `value` in the forward pass, the gradient of `grad_source` in the backward pass."""
    return value + (grad_source - grad_source.detach())


class OneHotDist:
    """Categorical over the last dim, mixed with a uniform: probs = (1 - unimix) softmax(logits) + unimix / K.

    `rows_reduce` treats the dim before the last as independent rows and reduces `log_prob`/`entropy` (and the
    KL) over them: "sum" for the 32 latent categoricals (torch's `Independent`), "mean" for HIEROS's subgoal
    codes (`FlattenDist`), None for a single categorical.
    """

    def __init__(self, logits: torch.Tensor, unimix: float = 0.0, rows_reduce: str | None = None):
        if rows_reduce not in (None, "sum", "mean"):
            raise ValueError(f"rows_reduce must be None, 'sum' or 'mean', not {rows_reduce!r}")
        logits = full(logits)
        if unimix > 0:
            probs = (1 - unimix) * F.softmax(logits, -1) + unimix / logits.shape[-1]
            self.probs, self.logits = probs, torch.log(probs)
        else:
            self.logits = F.log_softmax(logits, -1)
            self.probs = self.logits.exp()
        self.rows_reduce = rows_reduce

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        """Reduce a per-row quantity (..., rows) over the rows as configured."""
        if self.rows_reduce == "sum":
            return x.sum(-1)
        if self.rows_reduce == "mean":
            return x.mean(-1)
        return x

    def sample(self) -> torch.Tensor:
        """A one-hot sample with straight-through gradients: sample + probs - sg(probs)."""
        cdf = self.probs.detach().cumsum(-1)
        u = torch.rand_like(cdf[..., :1]) * cdf[..., -1:]
        index = (cdf <= u).sum(-1).clamp(max=cdf.shape[-1] - 1)  # inverse CDF: 10x faster than multinomial
        onehot = F.one_hot(index, cdf.shape[-1]).to(self.probs.dtype)
        return _straight_through(onehot, self.probs)

    def mode(self) -> torch.Tensor:
        """The argmax one-hot with straight-through gradients through the (normalised, mixed) logits."""
        onehot = F.one_hot(self.logits.argmax(-1), self.logits.shape[-1]).to(self.logits.dtype)
        return _straight_through(onehot, self.logits)

    def log_prob(self, onehot: torch.Tensor) -> torch.Tensor:
        """log p of the argmax of `onehot`; like torch's OneHotCategorical no gradient reaches `onehot`."""
        index = onehot.argmax(-1, keepdim=True)
        return self.reduce(self.logits.gather(-1, index).squeeze(-1))

    def entropy(self) -> torch.Tensor:
        return self.reduce(-(self.probs * self.logits).sum(-1))


class OneHotRows(OneHotDist):
    """HIEROS's higher-level actions (`onehot_categorical`): `rows` categoricals over flat (..., rows * K) logits.

    Samples and modes come back flat (..., rows * K) and `log_prob` takes flat actions; `log_prob` and `entropy`
    are the mean over the rows.
    """

    def __init__(self, logits: torch.Tensor, rows: int, unimix: float = 0.0):
        super().__init__(logits.unflatten(-1, (rows, -1)), unimix, rows_reduce="mean")

    def sample(self) -> torch.Tensor:
        return super().sample().flatten(-2)

    def mode(self) -> torch.Tensor:
        return super().mode().flatten(-2)

    def log_prob(self, onehot: torch.Tensor) -> torch.Tensor:
        return super().log_prob(onehot.unflatten(-1, self.logits.shape[-2:]))


def kl_categorical(post: OneHotDist, prior: OneHotDist) -> torch.Tensor:
    """KL(post || prior) between the two distributions as built (so with their unimix), per row (..., rows),
    then reduced over the rows like `post` (sum for the latents, as DreamerV3's `Independent` KL)."""
    return post.reduce((post.probs * (post.logits - prior.logits)).sum(-1))


class TwoHotSymlog:
    """DreamerV3's discrete regression (`DiscDist`): K bins (K = logits.shape[-1], 255) on [low, high] in
    symlog space; the target is a two-hot of symlog(target) over the two nearest bins."""

    def __init__(self, logits: torch.Tensor, low: float = -20.0, high: float = 20.0):
        self.logits = logits = full(logits)
        self.bins = torch.linspace(low, high, logits.shape[-1], device=logits.device, dtype=logits.dtype)

    def mean(self) -> torch.Tensor:
        with exact(self.logits):
            return symexp(F.softmax(self.logits, -1) @ self.bins)

    mode = mean

    def log_prob(self, target: torch.Tensor) -> torch.Tensor:
        """Two-hot cross-entropy; `target` is (...). Outside [low, high] the whole weight goes to the edge bin."""
        x = symlog(target.to(self.bins.dtype))
        n = self.bins.shape[0]
        above = torch.searchsorted(self.bins, x.detach().contiguous(), right=True)  # #bins <= x
        below = (above - 1).clamp(0, n - 1)
        above = above.clamp(0, n - 1)
        equal = below == above
        dist_below = torch.where(equal, 1.0, (self.bins[below] - x).abs())
        dist_above = torch.where(equal, 1.0, (self.bins[above] - x).abs())
        total = dist_below + dist_above
        log_pred = F.log_softmax(self.logits, -1)
        lp_below = log_pred.gather(-1, below.unsqueeze(-1)).squeeze(-1)
        lp_above = log_pred.gather(-1, above.unsqueeze(-1)).squeeze(-1)
        return (dist_above * lp_below + dist_below * lp_above) / total


def _check_shape(pred: torch.Tensor, x: torch.Tensor) -> None:
    if pred.shape != x.shape:  # broadcasting here would silently sum the wrong errors
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(x.shape)} differ in shape")


def _sum_last(x: torch.Tensor, dims: int) -> torch.Tensor:
    return x.sum(tuple(range(-dims, 0))) if dims else x


class MSE:
    """Unit-variance regression (`MSEDist`, sum): log p(x) = -sum over the last `dims` dims of (pred - x)^2."""

    def __init__(self, pred: torch.Tensor, dims: int):
        self.pred, self.dims = full(pred), dims

    def mode(self) -> torch.Tensor:
        return self.pred

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        _check_shape(self.pred, x)
        return -_sum_last((self.pred - x) ** 2, self.dims)


class SymlogMSE(MSE):
    """Squared error in symlog space (`SymlogDist`): errors below 1e-8 count as zero; the mode is symexp(pred)."""

    def mode(self) -> torch.Tensor:
        return symexp(self.pred)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        _check_shape(self.pred, x)
        distance = (self.pred - symlog(x)) ** 2
        distance = torch.where(distance < 1e-8, 0.0, distance)
        return -_sum_last(distance, self.dims)


class Bernoulli:
    """Elementwise Bernoulli on logits (no event dims): `mean` is the probability, `mode()` rounds it
    straight-through."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits = full(logits)
        self.mean = torch.sigmoid(logits)

    def mode(self) -> torch.Tensor:
        return _straight_through(torch.round(self.mean).detach(), self.mean)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits, x, reduction="none")


class BoundedNormal:
    """The `normal` actor: Normal(tanh(mean_raw), (max - min) sigmoid(std_raw + 2) + min), independent over the
    last (action) dim. `sample()` is reparameterised and unclipped, as HIEROS's `ContDist` (NM512's later
    `absmax` rescaling is not in HIEROS); the environment clips to [-1, 1]."""

    def __init__(self, mean_raw: torch.Tensor, std_raw: torch.Tensor, min_std: float, max_std: float):
        self.mean = torch.tanh(full(mean_raw))
        self.std = (max_std - min_std) * torch.sigmoid(full(std_raw) + 2.0) + min_std

    def sample(self) -> torch.Tensor:
        return self.mean + self.std * torch.randn_like(self.mean)

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return (-0.5 * z**2 - torch.log(self.std)).sum(-1) - 0.5 * math.log(2 * math.pi) * x.shape[-1]

    def entropy(self) -> torch.Tensor:
        return torch.log(self.std).sum(-1) + (0.5 + 0.5 * math.log(2 * math.pi)) * self.std.shape[-1]
