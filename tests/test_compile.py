"""--compile=true: torch.compile (inductor, here on CPU) of the world-model loss, the imagination, the actor-critic
losses and the acting step computes what eager computes, to float rounding, after one update and after 100, with no
graph breaks and no recompilation after the first update."""

import numpy as np
import pytest
import torch
import torch._dynamo.utils
from test_update_digest import filled_agent

UPDATES = 100


def train(compile_: bool) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, float]]:
    """The debug agent (one level) on Pong: parameters after 1 and after UPDATES updates, and the last metrics."""
    agent = filled_agent(max_hierarchy="1", compile=str(compile_).lower())
    (level,) = agent.levels

    def weights() -> list[torch.Tensor]:
        return [p.detach().clone() for m in (level.world_model, level.actor_critic) for p in m.state_dict().values()]

    metrics = level.train_step()
    first = weights()
    for _ in range(UPDATES - 1):
        metrics = level.train_step()
    return first, weights(), metrics


@pytest.mark.slow
def test_compiled_updates_equal_eager_ones_without_graph_breaks():
    eager_first, eager_last, eager_metrics = train(False)
    counters = torch._dynamo.utils.counters
    counters.clear()
    compiled_first, compiled_last, compiled_metrics = train(True)
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] == 4  # acting, world-model loss, imagination, actor-critic losses
    for eager, compiled in ((eager_first, compiled_first), (eager_last, compiled_last)):
        assert max((e - c).abs().max().item() for e, c in zip(eager, compiled, strict=True)) < 1e-5
    assert compiled_metrics.keys() == eager_metrics.keys()
    assert np.allclose(list(compiled_metrics.values()), list(eager_metrics.values()), rtol=1e-3, atol=1e-4)
