"""hieros.openloop: open-loop imagination starts where training's prior is, and the CLI measures a real run."""

import numpy as np
import pytest
import torch

from hieros import video
from hieros.agent.world_model import WorldModel, preprocess
from hieros.config import build_config
from hieros.openloop import ROWS, imagine_open_loop, main, reward_errors
from hieros.train import main as train_main

VECTOR_SPACE = {
    "vector": ((5,), np.float32),
    "reward": ((), np.float32),
    "is_first": ((), bool),
    "is_last": ((), bool),
    "is_terminal": ((), bool),
}
DMC = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance"]


def _batch(batch: int, length: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    is_first = np.zeros((batch, length), bool)
    is_first[:, 0] = True
    is_first[1, length - 2] = True  # one sequence crosses an episode start after the context
    return {
        "vector": rng.normal(size=(batch, length, 5)).astype(np.float32),
        "reward": rng.normal(size=(batch, length)).astype(np.float32),
        "is_first": is_first,
        "is_last": np.zeros((batch, length), bool),
        "is_terminal": np.zeros((batch, length), bool),
        "action": rng.uniform(-1, 1, (batch, length, 1)).astype(np.float32),
    }


@pytest.mark.parametrize("dynamics", ["s5", "rssm"])
@pytest.mark.parametrize("shift", ["true", "false"])
def test_first_imagined_step_is_the_training_prior(dynamics, shift):
    """Fed the action that training pairs with step `context`, the first imagined prior equals observe's."""
    torch.manual_seed(0)
    config = build_config(
        ["dmc_proprio", "debug"], {"dynamics_model": dynamics, "action_shift": shift, "s5.dropout": "0"}
    )
    model = WorldModel(config, VECTOR_SPACE, action_dim=1).eval()
    data = preprocess(_batch(4, config.batch_length), torch.device("cpu"))
    context = 3
    with torch.no_grad():
        post, prior = model.dynamics.observe(model.encoder(data), data["action"], data["is_first"])
        imagined = imagine_open_loop(model, post, data["action"], context, sample=False)
        errors = reward_errors(model, data, context)
    assert imagined["logit"].shape[1] == config.batch_length - context
    assert torch.allclose(imagined["logit"][:, 0], prior["logit"][:, context], atol=1e-5)
    assert errors["count"] == 3 and errors["open_loop"].shape == (config.batch_length - context,)


def test_cli_measures_a_trained_run_and_refuses_a_random_one(tmp_path, capsys):
    run = tmp_path / "hieros"
    assert train_main([*DMC, "--max_hierarchy=1", "--steps=600", "--eval_every=100000", f"--logdir={run}"]) == 0
    assert main([str(run), "--batches=2", "--batch-size=4", "--context=2"]) == 0
    assert main([str(run), "--context=10000"]) == 2  # past the run's sequences: one line, before any batch
    with pytest.raises(SystemExit, match="sees no images"):  # the open-loop video needs image observations
        main([str(run), "--video", str(tmp_path / "no.gif")])
    out = capsys.readouterr().out
    assert "open loop" in out and "teacher forced" in out and "k=8" in out
    random = tmp_path / "random"
    assert train_main([*DMC, "--model_name=random", "--steps=400", f"--logdir={random}"]) == 0
    with pytest.raises(SystemExit, match="no checkpoint of a learning agent"):
        main([str(random)])
    assert main([str(tmp_path / "missing")]) == 2
    assert "run.json: missing" in capsys.readouterr().err


def test_video_shows_real_model_and_difference_for_an_atari_run(tmp_path):
    """DreamerV3's open-loop video of an Atari run (barely trained: the layout is what is checked): one frame per
    replayed step, sequences side by side, each a column [real; model; |difference|] of 64x64 images (GIF x2)."""
    from PIL import Image

    run = tmp_path / "pong"
    atari = ["--configs", "atari100k", "debug", "--task=atari_pong", "--max_hierarchy=1", "--train_ratio=8"]
    assert train_main([*atari, "--steps=400", "--eval_every=100000", f"--logdir={run}"]) == 0
    out = tmp_path / "openloop.gif"
    assert main([str(run), "--video", str(out), "--sequences=3", "--context=3"]) == 0
    gif = Image.open(out)
    steps = build_config(["atari100k", "debug"]).batch_length
    blank = np.zeros((3 * 64, 3 * 64, 3), np.uint8)  # the grid: 3 rows of 3 sequences, labelled around it
    height, width = video.labelled([blank], ROWS, 3, 3)[0].shape[:2]
    assert gif.size == (width, height) and width > 3 * 64 * 2 and gif.n_frames == steps
    headers = []
    for index in (0, steps - 1):  # the first step observed (green header), the last imagined (red)
        gif.seek(index)
        headers.append(np.asarray(gif.convert("RGB"))[2, -2].astype(int))
    assert np.abs(headers[0] - video.OBSERVED).max() < 30 and np.abs(headers[1] - video.IMAGINED).max() < 30
