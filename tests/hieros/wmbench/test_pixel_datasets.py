"""The bench's pixel datasets: cartpole_pixels is cartpole_state's episodes rendered, the Atari datasets regenerate
bit for bit with their two policies in the replay's convention, and a debug run on pixels goes end to end into a
suite of its own."""

import numpy as np
import pytest

from hieros import metrics_file, run_file, rundir
from hieros.wmbench import datasets
from hieros.wmbench.cli import main


def test_cartpole_pixels_is_cartpole_states_episodes_rendered():
    state = datasets.collect("cartpole_state", 0, 2, 2)
    pixels = datasets.collect("cartpole_pixels", 0, 2, 2)
    assert set(pixels) == set(state) - {"vector"} | {"image"}
    assert pixels["image"].shape == (4 * 126, 64, 64, 3) and pixels["image"].dtype == np.uint8
    for key in set(state) - {"vector"}:  # the same actions, rewards, flags and split: the twin drove them
        np.testing.assert_array_equal(pixels[key], state[key], err_msg=key)
    moved = np.abs(np.diff(pixels["image"][:126].astype(np.int16), axis=0)).sum((1, 2, 3))
    assert (moved > 0).mean() > 0.9  # the picture follows the cart and the pole
    again = datasets.collect("cartpole_pixels", 0, 2, 2)
    assert datasets.content_sha256(again) == datasets.content_sha256(pixels)


def test_an_atari_dataset_regenerates_with_random_and_sticky_episodes():
    first = datasets.collect("atari_pong", 0, 1, 1)
    assert datasets.content_sha256(datasets.collect("atari_pong", 0, 1, 1)) == datasets.content_sha256(first)
    assert datasets.content_sha256(datasets.collect("atari_pong", 1, 1, 1)) != datasets.content_sha256(first)
    image, action, last = first["image"], first["action"], first["is_last"]
    assert image.shape[1:] == (64, 64, 3) and image.dtype == np.uint8 and first["is_first"].sum() == 2
    assert (action[~last].sum(1) == 1).all() and set(np.unique(action)) == {0.0, 1.0}  # one-hot rows
    assert not action[last].any()  # no action after the final observation
    assert set(np.unique(first["reward"])) <= {-1.0, 0.0, 1.0} and (first["reward"] == -1).sum() >= 15
    kept = []
    for episode in (0, 1):  # how often the action repeats: 1/6 for the random policy, at least keep for sticky
        rows = action[(first["episode"] == episode) & ~last].argmax(1)
        kept.append(float((rows[1:] == rows[:-1]).mean()))
    assert kept[0] < 0.3 and kept[1] > max(0.45, first["episode_noise"][1] - 0.1)
    assert 0.5 <= first["episode_noise"][1] <= 0.95 and first["episode_noise"][0] == 1.0


@pytest.mark.parametrize("name, task", [("cartpole_pixels", "dmc_cartpole_balance"), ("atari_pong", "atari_pong")])
def test_a_debug_run_on_pixels_lands_in_its_datasets_suite(tmp_path, capsys, name, task):
    cache = tmp_path / "cache"
    assert main(["data", name, "--seed", "0", "--episodes", "3,3", "--cache", str(cache)]) == 0
    results = tmp_path / "results"
    argv = ["run", "--dataset", name, "--size", "debug", "--seeds", "1", "--method", "s5wm", "--results", str(results)]
    argv += ["--cache", str(cache), "--episodes", "3,3", "--updates", "4", "--eval-every", "2", "--policy-updates", "2"]
    argv += ["--eval-episodes", "1", "--heldout-sequences", "4", "--openloop-sequences", "2", "--contexts", "4,96"]
    assert main(argv) == 0
    run = rundir.run_path(results, f"wm_bench_{name}", "s5wm", task, 1)
    record = run_file.read_run(run)
    assert record.status == "done" and record.suite == f"wm_bench_{name}" and record.config["encoder"]["cnn_keys"]
    assert record.protocol.dataset["name"] == name
    train = [r for r in metrics_file.read_metrics(run) if r["type"] == "train"][-1]
    assert train["heldout/obs_loss"] == pytest.approx(train["heldout/image_loss"])  # the decoder's pixels
    assert np.isfinite(train["ol96/obs_mse/k16"]) and np.isfinite(record.score.final)
    capsys.readouterr()
    assert main(["table", "--results", str(results), "--dataset", name]) == 0
    assert "| s5wm | 1 |" in capsys.readouterr().out
    assert main(["table", "--results", str(results)]) == 2  # cartpole_state's suite: none there
    assert "run `python -m hieros.wmbench run --dataset cartpole_state`" in capsys.readouterr().err
