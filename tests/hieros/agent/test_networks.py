import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hieros.agent.distributions import MSE, BoundedNormal, OneHotDist, OneHotRows, SymlogMSE, symlog
from hieros.agent.networks import (
    MLP,
    ActionHead,
    ChannelLayerNorm,
    Conv2dSame,
    ConvDecoder,
    ConvEncoder,
    MultiDecoder,
    MultiEncoder,
    init_uniform,
    init_weights,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_init_weights_statistics():
    linear = nn.Linear(1024, 512)
    init_weights(linear)
    # the original's bounds are absolute (+-2), so the 1/0.8796 correction is not undone by truncation
    expected = math.sqrt(1 / ((1024 + 512) / 2)) / 0.87962566103423978
    assert abs(linear.weight.std().item() / expected - 1) < 0.01
    assert linear.bias.abs().max() == 0
    conv = nn.Conv2d(48, 96, 4, bias=False)
    init_weights(conv)
    expected = math.sqrt(1 / (16 * (48 + 96) / 2)) / 0.87962566103423978
    assert abs(conv.weight.std().item() / expected - 1) < 0.02
    norm = nn.LayerNorm(8)
    nn.init.normal_(norm.weight)
    init_weights(norm)
    assert (norm.weight == 1).all() and (norm.bias == 0).all()


def test_init_uniform_limit_and_zero_scale():
    linear = nn.Linear(256, 255)
    init_uniform(linear, 1.0)
    limit = math.sqrt(3 / ((256 + 255) / 2))
    assert linear.weight.abs().max() <= limit and linear.weight.abs().max() > 0.95 * limit
    assert linear.bias.abs().max() == 0
    init_uniform(linear, 0.0)
    assert linear.weight.abs().max() == 0


def test_mlp_structure_and_shapes():
    mlp = MLP(10, 3, layers=2, units=16, symlog_inputs=True, outscale=0.0)
    linears = [m for m in mlp.hidden if isinstance(m, nn.Linear)]
    assert len(linears) == 2 and all(m.bias is None for m in linears)
    assert all(m.eps == 1e-3 for m in mlp.hidden if isinstance(m, nn.LayerNorm))
    assert mlp(torch.randn(4, 5, 10)).shape == (4, 5, 3)
    assert mlp(torch.randn(4, 10)).abs().max() == 0  # zero-initialised output layer
    features = MLP(10, None, layers=3, units=16, act="GELU")
    assert features.out_dim == 16 and features(torch.randn(2, 10)).shape == (2, 16)
    assert isinstance(features.hidden[-1], nn.GELU)
    assert not any(isinstance(m, nn.LayerNorm) for m in MLP(10, 2, 2, 16, norm=False).modules())


def test_mlp_symlog_inputs():
    mlp = MLP(4, 2, layers=1, units=8, symlog_inputs=True)
    plain = MLP(4, 2, layers=1, units=8)
    plain.load_state_dict(mlp.state_dict())
    x = torch.randn(3, 4) * 100
    torch.testing.assert_close(mlp(x), plain(symlog(x)))


def test_channel_layer_norm_normalises_channels():
    x = torch.randn(2, 6, 5, 5) * 3 + 1
    y = ChannelLayerNorm(6)(x)
    torch.testing.assert_close(y.mean(1), torch.zeros(2, 5, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(y, F.layer_norm(x.permute(0, 2, 3, 1), (6,), eps=1e-3).permute(0, 3, 1, 2))


@pytest.mark.parametrize(("size", "kernel"), [(64, 4), (9, 4), (8, 5), (7, 3)])
def test_conv2d_same_is_tensorflow_same(size, kernel):
    conv = Conv2dSame(2, 3, kernel, 2, bias=False)
    x = torch.randn(1, 2, size, size)
    total = max((math.ceil(size / 2) - 1) * 2 + kernel - size, 0)
    padded = F.pad(x, [total // 2, total - total // 2] * 2)
    torch.testing.assert_close(conv(x), F.conv2d(padded, conv.weight, stride=2))
    assert conv(x).shape[-1] == math.ceil(size / 2)


@pytest.mark.parametrize(("depth", "embed"), [(24, 3072), (4, 512)])
def test_conv_encoder_shapes(depth, embed):
    encoder = ConvEncoder(3, depth, 4, 4, 64)
    channels = [m.out_channels for m in encoder.modules() if isinstance(m, Conv2dSame)]
    assert channels == [depth, 2 * depth, 4 * depth, 8 * depth]
    assert encoder.out_dim == embed
    assert encoder(torch.rand(2, 3, 64, 64, 3) - 0.5).shape == (2, 3, embed)


def test_conv_encoder_flattens_in_channel_height_width_order():
    encoder = ConvEncoder(3, 4, 4, 4, 32)
    image = torch.rand(5, 32, 32, 3) - 0.5
    x = image.permute(0, 3, 1, 2).contiguous()
    for layer in encoder.layers:
        x = layer(x).contiguous()
    torch.testing.assert_close(encoder(image), x.reshape(5, -1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("depth", [24, 4])
def test_conv_decoder_shapes(depth):
    decoder = ConvDecoder(1280, 3, depth, 4, 4, 64)
    assert decoder.linear.out_features == 4 * 4 * 8 * depth
    channels = [m.out_channels for m in decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert channels == [4 * depth, 2 * depth, depth, 3]
    assert decoder.final.bias is not None
    assert all(m.bias is None for m in decoder.layers if isinstance(m, nn.ConvTranspose2d))
    assert decoder(torch.randn(2, 3, 1280)).shape == (2, 3, 64, 64, 3)
    assert ConvDecoder(32, 1, depth, 4, 8, 32)(torch.randn(5, 32)).shape == (5, 32, 32, 1)


def test_conv_decoder_init_follows_hieros():
    decoder = ConvDecoder(64, 3, 4, 4, 4, 32)
    hidden = decoder.layers[0]
    expected = math.sqrt(1 / (16 * (16 + 8) / 2)) / 0.87962566103423978
    assert abs(hidden.weight.std().item() / expected - 1) < 0.1
    # HIEROS's uniform_weight_init only handles Linear, so the last transposed conv keeps PyTorch's default
    # (kaiming-uniform weights, nonzero bias), as does the input Linear
    bound = 1 / math.sqrt(3 * 16)
    assert decoder.final.bias.abs().max() > 0 and decoder.final.weight.abs().max() <= bound
    assert decoder.linear.bias.abs().max() > 0


def test_encoder_decoder_round_trip_with_leading_dims():
    encoder, decoder = ConvEncoder(3, 4, 4, 4, 64), ConvDecoder(512, 3, 4, 4, 4, 64)
    image = torch.rand(2, 3, 64, 64, 3) - 0.5
    recon = decoder(encoder(image))
    assert recon.shape == image.shape
    loss = -MSE(recon, 3).log_prob(image).mean()
    loss.backward()
    assert all(p.grad is not None for p in [*encoder.parameters(), *decoder.parameters()])


SHAPES = {"image": (64, 64, 3), "depth": (64, 64, 1), "vector": (5,), "extra": (2,), "reward": (), "is_first": ()}


def test_multi_encoder_key_selection_and_out_dim():
    both = MultiEncoder(SHAPES, "image|depth", "vector|extra", 4, 4, 4, 2, 32, True)
    assert both.cnn_keys == ["image", "depth"] and both.mlp_keys == ["vector", "extra"]
    assert both.cnn.layers[0].in_channels == 4 and both.mlp.symlog_inputs
    obs = {k: torch.randn(2, 3, *s) for k, s in SHAPES.items()}
    assert both.out_dim == 512 + 32 and both(obs).shape == (2, 3, 544)
    images = MultiEncoder(SHAPES, "image", "$^", 24, 4, 4, 2, 32, True)
    assert images.mlp_keys == [] and images.out_dim == 3072
    vectors = MultiEncoder(SHAPES, "$^", ".*", 4, 4, 4, 2, 32, True)
    assert vectors.cnn_keys == [] and vectors.mlp_keys == ["vector", "extra"] and vectors(obs).shape == (2, 3, 32)
    with pytest.raises(ValueError, match="no observation key"):
        MultiEncoder(SHAPES, "$^", "$^", 4, 4, 4, 2, 32, True)


def test_multi_decoder_distributions():
    decoder = MultiDecoder(SHAPES, 40, "image|depth", "vector|extra", 4, 4, 4, 2, 32)
    obs = {k: torch.randn(2, 3, *s) for k, s in SHAPES.items()}
    dists = decoder(torch.randn(2, 3, 40))
    assert set(dists) == {"image", "depth", "vector", "extra"}
    assert isinstance(dists["image"], MSE) and not isinstance(dists["image"], SymlogMSE)
    assert isinstance(dists["vector"], SymlogMSE)
    assert dists["image"].mode().shape == (2, 3, 64, 64, 3) and dists["depth"].mode().shape == (2, 3, 64, 64, 1)
    for key, dist in dists.items():
        assert dist.log_prob(obs[key]).shape == (2, 3)
    limit = math.sqrt(3 / ((32 + 2) / 2))  # one output layer per vector key, each with its own fan
    assert decoder.heads["extra"].weight.abs().max() <= limit


def test_action_head_onehot():
    head = ActionHead(20, 6, 2, 32, "onehot", unimix=0.01)
    out = head.net.out
    assert out.weight.abs().max() <= math.sqrt(3 / ((32 + 6) / 2)) and out.bias.abs().max() == 0
    dist = head(torch.randn(4, 5, 20))
    assert isinstance(dist, OneHotDist) and dist.sample().shape == (4, 5, 6)
    assert dist.probs.min() >= 0.01 / 6 - 1e-7 and dist.log_prob(dist.sample()).shape == (4, 5)


def test_action_head_normal():
    dist = ActionHead(20, 3, 2, 32, "normal", min_std=0.1, max_std=1.0)(torch.randn(7, 20) * 100)
    assert isinstance(dist, BoundedNormal)
    assert dist.sample().shape == (7, 3) and dist.log_prob(dist.sample()).shape == (7,)
    assert dist.std.min() >= 0.1 and dist.std.max() <= 1.0


def test_action_head_onehot_rows_mean_reduction():
    head = ActionHead(20, 64, 2, 32, "onehot_rows", unimix=0.01, rows=8)
    feat = torch.randn(4, 20)
    dist = head(feat)
    assert isinstance(dist, OneHotRows)
    action = dist.sample()
    assert action.shape == (4, 64)
    rows = OneHotDist(head.net(feat).reshape(4, 8, 8), unimix=0.01)
    torch.testing.assert_close(dist.log_prob(action), rows.log_prob(action.reshape(4, 8, 8)).mean(-1))
    torch.testing.assert_close(dist.entropy(), rows.entropy().mean(-1))
    with pytest.raises(ValueError):
        ActionHead(20, 60, 2, 32, "onehot_rows", rows=8)
