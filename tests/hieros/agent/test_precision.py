"""--precision=bf16: the updates run under bfloat16 autocast with fp32 master weights and fp32 heads, KL and
losses, and they learn what fp32 learns: the losses of 200 updates of the debug agent stay within a stated
tolerance of fp32's. CPU autocast runs the same code path as CUDA's, so this holds for both."""

import math

import numpy as np
import pytest
import torch

from hieros import checkpoint
from hieros.agent.precision import updates
from hieros.agent.world_model import preprocess

UPDATES = 200
TAIL = 50  # the losses compared: the mean of the last TAIL updates, and the first update
RTOL = 0.02  # measured on this CPU: 0.6% at most for the losses (1.5% for the model's gradient norm)
LOSSES = (
    "model_loss",
    "image_loss",
    "reward_loss",
    "cont_loss",
    "dyn_loss",
    "rep_loss",
    "actor_entropy",
    "value_extrinsic_loss",
)


def losses(filled_agent, precision: str) -> list[dict[str, float]]:
    """The metrics of each of UPDATES updates of the one-level debug agent on Pong (same weights, same replay)."""
    agent = filled_agent(max_hierarchy="1", precision=precision)
    checkpoint.seed_everything(5)
    return [agent.levels[0].train_step() for _ in range(UPDATES)]


@pytest.mark.slow
def test_bf16_updates_learn_like_fp32_over_200_updates(filled_agent):
    full, mixed = losses(filled_agent, "32"), losses(filled_agent, "bf16")
    for key in LOSSES:
        first = full[0][key], mixed[0][key]
        tail = np.mean([m[key] for m in full[-TAIL:]]), np.mean([m[key] for m in mixed[-TAIL:]])
        assert math.isclose(*first, rel_tol=RTOL, abs_tol=1e-3), (key, first)
        assert math.isclose(*tail, rel_tol=RTOL, abs_tol=1e-3), (key, tail)
    assert all(math.isfinite(value) for metrics in mixed for value in metrics.values())


def test_bf16_computes_layers_in_bf16_and_keeps_weights_state_heads_and_losses_fp32(filled_agent):
    agent = filled_agent(precision="bf16")  # three levels: subgoal and novelty rewards, the autoencoder
    level = agent.levels[1]
    seen: dict[str, torch.dtype] = {}
    layers = {
        "encoder": level.world_model.encoder.mlp.hidden[0],
        "reward_head": level.world_model.reward,
        "critic": level.actor_critic.critics["extrinsic"],
        "autoencoder": level.autoencoder.decoder.hidden[0],
    }
    hooks = [
        layer.register_forward_hook(lambda m, i, out, name=name: seen.__setitem__(name, out.dtype))
        for name, layer in layers.items()
    ]
    metrics = level.train_step()
    for hook in hooks:
        hook.remove()
    assert seen == dict.fromkeys(layers, torch.bfloat16)
    assert all(math.isfinite(value) for value in metrics.values())
    data = preprocess(level.replay.sample(2), level.device)
    with updates(level.config, level.device):
        loss, post, aux = level.world_model.loss(data)
    assert {loss.dtype, post["deter"].dtype, *(v.dtype for v in aux.values())} == {torch.float32}
    assert post["state"].dtype == torch.complex64
    for module in (level.world_model, level.actor_critic, level.autoencoder):
        assert {p.dtype for p in module.parameters()} == {torch.float32}
    optimizers = (level.world_model.optimizer, level.actor_critic.actor_opt, level.autoencoder.optimizer)
    moments = [v for opt in optimizers for s in opt.opt.state.values() for v in s.values() if v.dim()]
    assert moments and {v.dtype for v in moments} == {torch.float32}
