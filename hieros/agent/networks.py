"""Building blocks: MLPs, the conv encoder and decoder, multi-key observation encoders/decoders, the action head.

Initialisation is the original's (`tools.weight_init`): Linear and conv weights truncated normal with std
sqrt(1/fan_avg)/0.8796 and *absolute* bounds [-2, 2] (so in practice untruncated, and the std stays 1.137x
sqrt(1/fan_avg)), zero biases, LayerNorm (1, 0). Output layers use `init_uniform` (limit sqrt(3 outscale/fan_avg)).
The conv decoder's input Linear and last transposed conv keep PyTorch's default init, as in HIEROS, whose
`uniform_weight_init` only touches Linear layers.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from hieros.agent.distributions import MSE, BoundedNormal, OneHotDist, OneHotRows, SymlogMSE, symlog


def _fan_avg(weight: torch.Tensor) -> float:
    space = math.prod(weight.shape[2:])
    return (weight.shape[0] + weight.shape[1]) * space / 2


def init_weights(module: nn.Module) -> None:
    """The original `weight_init`; use with `module.apply`."""
    if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
        std = math.sqrt(1.0 / _fan_avg(module.weight)) / 0.87962566103423978
        nn.init.trunc_normal_(module.weight, 0.0, std, -2.0, 2.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def init_uniform(module: nn.Linear | nn.Conv2d | nn.ConvTranspose2d, outscale: float) -> None:
    """Uniform in +-sqrt(3 outscale / fan_avg) and zero bias; outscale 0 gives an all-zero layer."""
    limit = math.sqrt(3.0 * outscale / _fan_avg(module.weight))
    nn.init.uniform_(module.weight, -limit, limit)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def _act(name: str) -> nn.Module:
    return getattr(nn, name)()


class MLP(nn.Module):
    """`layers` x [Linear (no bias) -> LayerNorm(eps 1e-3) -> act], then an output Linear (bias, uniform init
    with `outscale`) if `out_dim` is given; without it the last hidden activation is the output."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int | None,
        layers: int,
        units: int,
        act: str = "SiLU",
        norm: bool = True,
        symlog_inputs: bool = False,
        outscale: float = 1.0,
    ):
        super().__init__()
        self.symlog_inputs = symlog_inputs
        hidden: list[nn.Module] = []
        for i in range(layers):
            hidden.append(nn.Linear(in_dim if i == 0 else units, units, bias=False))
            if norm:
                hidden.append(nn.LayerNorm(units, eps=1e-3))
            hidden.append(_act(act))
        self.hidden = nn.Sequential(*hidden)
        self.hidden.apply(init_weights)
        width = units if layers else in_dim
        self.out = None if out_dim is None else nn.Linear(width, out_dim)
        if self.out is not None:
            init_uniform(self.out, outscale)
        self.out_dim = width if out_dim is None else out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.symlog_inputs:
            x = symlog(x)
        x = self.hidden(x)
        return x if self.out is None else self.out(x)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (eps 1e-3); free of copies for channels-last tensors."""

    def __init__(self, channels: int, eps: float = 1e-3):
        super().__init__(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _tf_same_pad(size: int, kernel: int, stride: int, dilation: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding; an odd total puts the extra pixel at the bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h = _tf_same_pad(x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        pad_w = _tf_same_pad(x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        if pad_h % 2 or pad_w % 2:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
            padding: tuple[int, int] = (0, 0)
        else:  # symmetric: let the convolution pad, which saves a copy (k4 s2 on even sizes: 1 each side)
            padding = (pad_h // 2, pad_w // 2)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


def _stages(image_size: int, minres: int) -> int:
    stages = int(math.log2(image_size) - math.log2(minres))
    if stages < 1 or minres * 2**stages != image_size:
        raise ValueError(f"image size {image_size} must be minres {minres} times a power of two")
    return stages


class ConvEncoder(nn.Module):
    """(..., H, W, C) in [-0.5, 0.5] -> (..., out_dim): log2(H / minres) x [Conv2dSame k s2 (no bias) ->
    ChannelLayerNorm -> act] with depth * 2^i channels; the output is flattened in (C, H, W) order."""

    def __init__(
        self,
        in_channels: int = 3,
        depth: int = 24,
        kernel: int = 4,
        minres: int = 4,
        image_size: int = 64,
        act: str = "SiLU",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(_stages(image_size, minres)):
            layers += [
                Conv2dSame(channels, depth * 2**i, kernel, 2, bias=False),
                ChannelLayerNorm(depth * 2**i),
                _act(act),
            ]
            channels = depth * 2**i
        self.layers = nn.Sequential(*layers)
        self.layers.apply(init_weights)
        self.out_dim = channels * minres * minres

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        lead = image.shape[:-3]
        # the NHWC -> NCHW permute is a channels-last view: the convs and norms then run channels-last, no copies
        x = image.reshape(-1, *image.shape[-3:]).permute(0, 3, 1, 2)
        return self.layers(x).reshape(*lead, self.out_dim)


def _transpose_same_pad(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) so that a transposed conv multiplies the size by `stride` exactly."""
    val = kernel - stride
    pad = math.ceil(val / 2)
    return pad, 2 * pad - val


class ConvDecoder(nn.Module):
    """(..., feat) -> image mean (..., H, W, C) in [-0.5, 0.5] space: Linear to (minres, minres, depth * 2^(n-1)),
    then n - 1 x [ConvTranspose2d k s2 (no bias) -> ChannelLayerNorm -> act] halving the channels, and a last
    ConvTranspose2d (bias) to `out_channels`."""

    def __init__(
        self,
        feat_dim: int,
        out_channels: int = 3,
        depth: int = 24,
        kernel: int = 4,
        minres: int = 4,
        image_size: int = 64,
        act: str = "SiLU",
    ):
        super().__init__()
        stages = _stages(image_size, minres)
        self.minres, self.channels = minres, depth * 2 ** (stages - 1)
        self.linear = nn.Linear(feat_dim, minres * minres * self.channels)
        pad, out_pad = _transpose_same_pad(kernel, 2)
        layers: list[nn.Module] = []
        channels = self.channels
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, kernel, 2, pad, out_pad, bias=False),
                ChannelLayerNorm(channels // 2),
                _act(act),
            ]
            channels //= 2
        self.layers = nn.Sequential(*layers)
        self.layers.apply(init_weights)
        self.final = nn.ConvTranspose2d(channels, out_channels, kernel, 2, pad, out_pad)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.linear(feat).reshape(-1, self.minres, self.minres, self.channels).permute(0, 3, 1, 2)
        x = self.final(self.layers(x)).permute(0, 2, 3, 1)
        return x.reshape(*lead, *x.shape[1:])


_EXCLUDED = ("is_first", "is_last", "is_terminal", "reward")


def _select(shapes: dict[str, tuple[int, ...]], cnn_keys: str, mlp_keys: str) -> tuple[list[str], list[str]]:
    """Keys of images (3-D shapes) matching `cnn_keys` and of vectors (1-D) matching `mlp_keys` (re.match)."""
    shapes = {k: tuple(s) for k, s in shapes.items() if k not in _EXCLUDED}
    cnn = [k for k, s in shapes.items() if len(s) == 3 and re.match(cnn_keys, k)]
    mlp = [k for k, s in shapes.items() if len(s) == 1 and re.match(mlp_keys, k)]
    if not cnn and not mlp:
        raise ValueError(
            f"no observation key matches cnn_keys={cnn_keys!r} or mlp_keys={mlp_keys!r} among {sorted(shapes)}"
        )
    return cnn, mlp


class MultiEncoder(nn.Module):
    """{key: (..., *shape)} -> (..., out_dim): the images (`cnn_keys`, channels concatenated) through the conv
    encoder, the vectors (`mlp_keys`, concatenated) through an MLP; both embeddings concatenated."""

    def __init__(
        self,
        shapes: dict[str, tuple[int, ...]],
        cnn_keys: str,
        mlp_keys: str,
        depth: int,
        kernel: int,
        minres: int,
        mlp_layers: int,
        mlp_units: int,
        symlog_inputs: bool,
        act: str = "SiLU",
    ):
        super().__init__()
        self.cnn_keys, self.mlp_keys = _select(shapes, cnn_keys, mlp_keys)
        self.out_dim = 0
        if self.cnn_keys:
            channels = sum(shapes[k][-1] for k in self.cnn_keys)
            self.cnn = ConvEncoder(channels, depth, kernel, minres, shapes[self.cnn_keys[0]][0], act)
            self.out_dim += self.cnn.out_dim
        if self.mlp_keys:
            size = sum(shapes[k][0] for k in self.mlp_keys)
            self.mlp = MLP(size, None, mlp_layers, mlp_units, act, symlog_inputs=symlog_inputs)
            self.out_dim += self.mlp.out_dim

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        if self.cnn_keys:
            parts.append(self.cnn(torch.cat([obs[k] for k in self.cnn_keys], -1)))
        if self.mlp_keys:
            parts.append(self.mlp(torch.cat([obs[k] for k in self.mlp_keys], -1)))
        return torch.cat(parts, -1)


class MultiDecoder(nn.Module):
    """(..., feat) -> {key: distribution}: `MSE` summed over (H, W, C) for images, `SymlogMSE` summed over the
    vector for vectors; each vector key has its own output Linear (uniform init), as the original."""

    def __init__(
        self,
        shapes: dict[str, tuple[int, ...]],
        feat_dim: int,
        cnn_keys: str,
        mlp_keys: str,
        depth: int,
        kernel: int,
        minres: int,
        mlp_layers: int,
        mlp_units: int,
        act: str = "SiLU",
    ):
        super().__init__()
        self.cnn_keys, self.mlp_keys = _select(shapes, cnn_keys, mlp_keys)
        self.channels = [shapes[k][-1] for k in self.cnn_keys]
        if self.cnn_keys:
            self.cnn = ConvDecoder(
                feat_dim, sum(self.channels), depth, kernel, minres, shapes[self.cnn_keys[0]][0], act
            )
        if self.mlp_keys:
            self.mlp = MLP(feat_dim, None, mlp_layers, mlp_units, act)
            self.heads = nn.ModuleDict({k: nn.Linear(self.mlp.out_dim, shapes[k][0]) for k in self.mlp_keys})
            for head in self.heads.values():
                init_uniform(head, 1.0)

    def forward(self, feat: torch.Tensor) -> dict[str, MSE]:
        dists: dict[str, MSE] = {}
        if self.cnn_keys:
            images = self.cnn(feat).split(self.channels, -1)
            dists.update({k: MSE(x, 3) for k, x in zip(self.cnn_keys, images, strict=True)})
        if self.mlp_keys:
            hidden = self.mlp(feat)
            dists.update({k: SymlogMSE(head(hidden), 1) for k, head in self.heads.items()})
        return dists


class ActionHead(nn.Module):
    """The actor: `layers` x [Linear -> LN -> act], then a uniform-init output layer, to a distribution:
    "onehot" (`OneHotDist` over `action_dim`), "onehot_rows" (`OneHotRows`: `rows` categoricals of
    action_dim / rows classes, flat actions, row-mean log-prob/entropy) or "normal" (`BoundedNormal`)."""

    def __init__(
        self,
        in_dim: int,
        action_dim: int,
        layers: int,
        units: int,
        dist: str = "onehot",
        unimix: float = 0.01,
        min_std: float = 0.1,
        max_std: float = 1.0,
        rows: int = 1,
        act: str = "SiLU",
    ):
        super().__init__()
        if dist not in ("onehot", "onehot_rows", "normal"):
            raise ValueError(f"unknown action distribution {dist!r}")
        if dist == "onehot_rows" and action_dim % rows:
            raise ValueError(f"action_dim {action_dim} is not a multiple of rows {rows}")
        self.dist, self.unimix, self.rows = dist, unimix, rows
        self.min_std, self.max_std = min_std, max_std
        self.net = MLP(in_dim, 2 * action_dim if dist == "normal" else action_dim, layers, units, act)

    def forward(self, feat: torch.Tensor) -> OneHotDist | BoundedNormal:
        x = self.net(feat)
        if self.dist == "normal":
            mean, std = x.chunk(2, -1)
            return BoundedNormal(mean, std, self.min_std, self.max_std)
        if self.dist == "onehot_rows":
            return OneHotRows(x, self.rows, self.unimix)
        return OneHotDist(x, self.unimix)
