"""Building blocks: MLPs, the conv encoder and decoder, multi-key observation encoders/decoders, action heads.

Initialisation follows the original (NM512's `weight_init`): truncated normal with std sqrt(1/fan_avg)/0.8796 for
Linear and conv weights, zero biases, LayerNorm (1, 0); output layers uniform with limit sqrt(3 outscale/fan_avg).
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from hieros.distributions import MSE, BoundedNormal, OneHotDist, SymlogMSE, symlog


def _fan_avg(weight: torch.Tensor) -> float:
    space = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return (weight.shape[0] + weight.shape[1]) * space / 2


def init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
        std = math.sqrt(1.0 / _fan_avg(module.weight)) / 0.87962566103423978
        # the original passes absolute bounds of +-2, so for these small stds it is untruncated in practice
        nn.init.trunc_normal_(module.weight, 0.0, std, -2.0, 2.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def init_uniform(module: nn.Module, outscale: float) -> None:
    limit = math.sqrt(3.0 * outscale / _fan_avg(module.weight))
    nn.init.uniform_(module.weight, -limit, limit)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


ACTIVATIONS = {"SiLU": nn.SiLU, "GELU": nn.GELU, "ELU": nn.ELU, "ReLU": nn.ReLU, "Tanh": nn.Tanh}


class MLP(nn.Module):
    """`layers` x [Linear (no bias) -> LayerNorm -> act], then an output Linear if `out_dim` is given."""

    def __init__(self, in_dim: int, out_dim: int | None, layers: int, units: int, act: str = "SiLU",
                 symlog_inputs: bool = False, outscale: float = 1.0):
        super().__init__()
        self.symlog_inputs = symlog_inputs
        hidden: list[nn.Module] = []
        for i in range(layers):
            hidden += [nn.Linear(in_dim if i == 0 else units, units, bias=False), nn.LayerNorm(units, eps=1e-3),
                       ACTIVATIONS[act]()]
        self.hidden = nn.Sequential(*hidden)
        self.hidden.apply(init_weights)
        self.out_dim = units if out_dim is None else out_dim
        self.out = None
        if out_dim is not None:
            self.out = nn.Linear(units if layers else in_dim, out_dim)
            init_uniform(self.out, outscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.symlog_inputs:
            x = symlog(x)
        x = self.hidden(x)
        return x if self.out is None else self.out(x)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _stages(image_size: int, minres: int) -> int:
    return int(math.log2(image_size) - math.log2(minres))


class ConvEncoder(nn.Module):
    """(..., H, W, C) in [-0.5, 0.5] -> (..., out_dim): k4 s2 "same" convs, channels depth * 2^i, to minres."""

    def __init__(self, in_channels: int, depth: int, kernel: int, minres: int, image_size: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(_stages(image_size, minres)):
            out = depth * 2**i
            # padding 1 equals TensorFlow's "same" padding for kernel 4, stride 2 on even sizes
            layers += [nn.Conv2d(channels, out, kernel, 2, padding=(kernel - 2) // 2, bias=False),
                       ChannelLayerNorm(out, eps=1e-3), nn.SiLU()]
            channels = out
        self.net = nn.Sequential(*layers)
        self.net.apply(init_weights)
        self.out_dim = channels * minres * minres

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        lead = image.shape[:-3]
        x = image.reshape(-1, *image.shape[-3:]).permute(0, 3, 1, 2)
        return self.net(x).reshape(*lead, -1)


class ConvDecoder(nn.Module):
    """(..., feat) -> image mean (..., H, W, C): Linear to minres^2 channels, then k4 s2 transposed convs."""

    def __init__(self, feat_dim: int, out_channels: int, depth: int, kernel: int, minres: int, image_size: int):
        super().__init__()
        stages = _stages(image_size, minres)
        self.minres = minres
        self.channels = depth * 2 ** (stages - 1)
        self.linear = nn.Linear(feat_dim, minres * minres * self.channels)
        layers: list[nn.Module] = []
        channels = self.channels
        for _ in range(stages - 1):
            out = channels // 2
            layers += [nn.ConvTranspose2d(channels, out, kernel, 2, padding=(kernel - 2) // 2, bias=False),
                       ChannelLayerNorm(out, eps=1e-3), nn.SiLU()]
            channels = out
        self.net = nn.Sequential(*layers)
        self.net.apply(init_weights)
        self.final = nn.ConvTranspose2d(channels, out_channels, kernel, 2, padding=(kernel - 2) // 2)
        init_uniform(self.final, 1.0)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.linear(feat.reshape(-1, feat.shape[-1]))
        x = x.reshape(-1, self.channels, self.minres, self.minres)
        x = self.final(self.net(x))
        return x.permute(0, 2, 3, 1).reshape(*lead, *x.shape[2:], x.shape[1])


def _select(shapes: dict[str, tuple], cnn_keys: str, mlp_keys: str) -> tuple[list[str], list[str]]:
    cnn = [k for k, s in shapes.items() if len(s) == 3 and re.match(cnn_keys, k)]
    mlp = [k for k, s in shapes.items() if len(s) == 1 and re.match(mlp_keys, k)]
    if not cnn and not mlp:
        raise ValueError(f"no observation key matches cnn_keys={cnn_keys!r} or mlp_keys={mlp_keys!r} "
                         f"among {sorted(shapes)}")
    return cnn, mlp


class MultiEncoder(nn.Module):
    """Images (matched by `cnn_keys`) through the conv encoder, vectors (`mlp_keys`) through an MLP; concatenated."""

    def __init__(self, shapes: dict[str, tuple], cnn_keys: str, mlp_keys: str, depth: int, kernel: int,
                 minres: int, mlp_layers: int, mlp_units: int, symlog_inputs: bool):
        super().__init__()
        self.cnn_keys, self.mlp_keys = _select(shapes, cnn_keys, mlp_keys)
        self.out_dim = 0
        if self.cnn_keys:
            channels = sum(shapes[k][-1] for k in self.cnn_keys)
            self.cnn = ConvEncoder(channels, depth, kernel, minres, shapes[self.cnn_keys[0]][0])
            self.out_dim += self.cnn.out_dim
        if self.mlp_keys:
            size = sum(shapes[k][0] for k in self.mlp_keys)
            self.mlp = MLP(size, None, mlp_layers, mlp_units, symlog_inputs=symlog_inputs)
            self.out_dim += mlp_units

    def forward(self, data: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        if self.cnn_keys:
            parts.append(self.cnn(torch.cat([data[k] for k in self.cnn_keys], -1)))
        if self.mlp_keys:
            parts.append(self.mlp(torch.cat([data[k] for k in self.mlp_keys], -1)))
        return torch.cat(parts, -1)


class MultiDecoder(nn.Module):
    """Features -> {key: distribution}: MSE for images (summed over H, W, C), symlog MSE for vectors."""

    def __init__(self, shapes: dict[str, tuple], feat_dim: int, cnn_keys: str, mlp_keys: str, depth: int,
                 kernel: int, minres: int, mlp_layers: int, mlp_units: int):
        super().__init__()
        self.cnn_keys, self.mlp_keys = _select(shapes, cnn_keys, mlp_keys)
        self.channels = [shapes[k][-1] for k in self.cnn_keys]
        self.sizes = [shapes[k][0] for k in self.mlp_keys]
        if self.cnn_keys:
            self.cnn = ConvDecoder(feat_dim, sum(self.channels), depth, kernel, minres, shapes[self.cnn_keys[0]][0])
        if self.mlp_keys:
            self.mlp = MLP(feat_dim, sum(self.sizes), mlp_layers, mlp_units)

    def forward(self, feat: torch.Tensor) -> dict[str, MSE]:
        dists: dict[str, MSE] = {}
        if self.cnn_keys:
            images = self.cnn(feat).split(self.channels, -1)
            dists.update({k: MSE(x, 3) for k, x in zip(self.cnn_keys, images, strict=True)})
        if self.mlp_keys:
            vectors = self.mlp(feat).split(self.sizes, -1)
            dists.update({k: SymlogMSE(x, 1) for k, x in zip(self.mlp_keys, vectors, strict=True)})
        return dists


class ActionHead(nn.Module):
    """The actor: an MLP to a one-hot (discrete), one-hot rows (subgoal codes) or bounded normal distribution."""

    def __init__(self, in_dim: int, action_dim: int, layers: int, units: int, dist: str, unimix: float = 0.01,
                 min_std: float = 0.1, max_std: float = 1.0, rows: int = 1):
        super().__init__()
        self.dist, self.unimix, self.rows = dist, unimix, rows
        self.min_std, self.max_std = min_std, max_std
        out = 2 * action_dim if dist == "normal" else action_dim
        self.net = MLP(in_dim, out, layers, units, outscale=1.0)

    def forward(self, feat: torch.Tensor) -> OneHotDist | BoundedNormal:
        x = self.net(feat)
        if self.dist == "normal":
            mean, std = x.chunk(2, -1)
            return BoundedNormal(mean, std, self.min_std, self.max_std)
        if self.dist == "onehot_rows":
            return OneHotDist(x.unflatten(-1, (self.rows, -1)), self.unimix, rows_reduce="mean")
        return OneHotDist(x, self.unimix)
