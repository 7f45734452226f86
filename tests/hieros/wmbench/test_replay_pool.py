"""The pooled-replay dataset: the complete episodes of real runs' level-0 replay, one kind per run, held out by
episode, refused for a run of another environment or without a checkpoint; and a bench run on it."""

import dataclasses

import numpy as np
import pytest

from hieros import metrics_file, run_file
from hieros.train import main as train_main
from hieros.wmbench import datasets
from hieros.wmbench.cli import main
from hieros.wmbench.replay_pool import complete_episodes


def test_complete_episodes_are_those_with_a_start_and_an_end():
    #                 cut | episode 1     | episode 2  | cut by the run's end
    first = np.array([0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0], bool)
    last = np.array([0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0], bool)
    assert complete_episodes({"is_first": first, "is_last": last}) == [slice(2, 6), slice(6, 9)]


def _train(results, method, *flags):
    run = results / "cpu_learning" / method / "dmc_cartpole_balance" / "seed_6"
    argv = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance", "--env.dmc.repeat=8", "--seed=6"]
    argv += ["--steps=3100", "--train_ratio=1", "--eval_every=100000", f"--model_name={method}", f"--logdir={run}"]
    assert train_main([*argv, *flags]) == 0
    return run


@pytest.mark.slow
def test_a_pool_of_two_real_runs_replays_what_they_saw(tmp_path, capsys):
    results, cache = tmp_path / "results", tmp_path / "cache"
    runs = [_train(results, "dreamer"), _train(results, "hieros", "--max_hierarchy=2")]
    assert main(["data", "cartpole_replay", "--results", str(results), "--cache", str(cache)]) == 0
    pool = datasets.load("cartpole_replay", 0, cache=cache)
    arrays = pool.arrays
    assert list(np.bincount(arrays["episode_kind"])) == [3, 3]  # 3100 frames: 3 whole episodes of 1000 each
    assert (arrays["episode_length"] == 126).all() and arrays["vector"].shape == (6 * 126, 5)
    assert arrays["is_first"][arrays["episode_start"]].all() and arrays["is_last"].sum() == 6
    for kind in (0, 1):  # one episode of each run held out
        assert arrays["episode_heldout"][arrays["episode_kind"] == kind].sum() == 1
    assert [s["method"] for s in pool.meta["sources"]] == ["dreamer", "hieros"]
    # the steps are the run's own: its first episode's rewards are those its metrics recorded
    first = arrays["reward"][: arrays["episode_length"][0]]
    episodes = [r for r in metrics_file.read_metrics(runs[0]) if r["type"] == "episode"]
    scores = [r["score"] for r in episodes if r.get("mode", "train") == "train"]
    assert 0 <= scores[0] - first.sum() <= 8  # all but the final step's reward (D16; 8 control steps of at most 1)

    argv = ["run", "--dataset", "cartpole_replay", "--size", "debug", "--seeds", "1", "--method", "rssm"]
    argv += ["--results", str(tmp_path / "bench"), "--cache", str(cache), "--updates", "2", "--eval-every", "2"]
    argv += ["--policy-updates", "1", "--eval-episodes", "1", "--heldout-sequences", "2", "--openloop-sequences", "2"]
    assert main(argv) == 0

    other = dataclasses.replace(run_file.read_run(runs[1]), config={**run_file.read_run(runs[1]).config, "env": {}})
    run_file.write_run(runs[1], other)
    capsys.readouterr()
    assert main(["data", "cartpole_replay", "--results", str(results), "--cache", str(cache), "--force"]) == 2
    assert "did not run cartpole_replay's task and environment" in capsys.readouterr().err


def test_a_pool_without_its_runs_names_how_to_make_them(tmp_path, capsys):
    assert main(["data", "cartpole_replay", "--results", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 2
    error = capsys.readouterr().err
    assert "no run at" in error and "`hieros-bench run cpu_learning --methods dreamer --seeds 6`" in error
