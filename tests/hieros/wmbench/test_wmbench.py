"""The world-model bench (hieros.wmbench): its datasets regenerate bit for bit, the held-out episodes never reach
training, every model of a seed sees the same batches, and a debug-size run end to end writes a run that
`hieros-bench report` reads."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from hieros import metrics_file, run_file, rundir
from hieros.config import build_config
from hieros.wmbench import datasets
from hieros.wmbench.batches import TrainBatches, heldout_windows
from hieros.wmbench.cli import main
from hieros.wmbench.methods import CPU_LEARNING_SET, MODEL_SIZE_KEYS, Settings, resolve

SMALL = (3, 3)  # random and controller episodes of the tests' datasets: one of each held out


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache with the small cartpole_state dataset of seed 0."""
    folder = tmp_path_factory.mktemp("wmbench-cache")
    datasets.make("cartpole_state", 0, *SMALL, cache=folder)
    return folder


@pytest.fixture(scope="module")
def small(cache):
    return datasets.load("cartpole_state", 0, *SMALL, cache=cache)


def test_a_dataset_regenerates_bit_for_bit_from_its_seed(tmp_path, small):
    again = datasets.collect("cartpole_state", 0, *SMALL)
    assert datasets.content_sha256(again) == small.sha256
    for key, value in small.arrays.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)
    # the same arrays give the same file (fixed entry timestamps), so the file's sha256 is the same too
    meta = datasets.save(tmp_path / "again.npz", again, {}, ("random", "controller"))
    assert meta["file_sha256"] == small.meta["file_sha256"]
    other = datasets.collect("cartpole_state", 1, *SMALL)
    assert datasets.content_sha256(other) != small.sha256


def test_the_dataset_holds_good_and_failing_episodes_in_the_agents_convention(small):
    arrays = small.arrays
    assert arrays["vector"].shape == (6 * 126, 5) and arrays["action"].shape == (6 * 126, 1)
    assert arrays["is_first"].sum() == arrays["is_last"].sum() == 6
    assert not arrays["action"][arrays["is_last"]].any()  # no action after the final observation
    assert small.meta["returns"]["controller"]["max"] > 2 * small.meta["returns"]["random"]["max"]
    for kind in (0, 1):  # 20% of each kind held out, at least one here
        assert arrays["episode_heldout"][arrays["episode_kind"] == kind].sum() == 1


def test_a_stored_dataset_that_changed_is_refused(tmp_path, small):
    path = datasets.dataset_path("cartpole_state", 0, *SMALL, tmp_path)
    arrays = dict(small.arrays)
    datasets.save(path, arrays, {}, ("random", "controller"))
    meta = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**meta, "sha256": "0" * 64}))
    with pytest.raises(datasets.DatasetError, match="does not match"):
        datasets.load("cartpole_state", 0, *SMALL, cache=tmp_path)


def test_no_heldout_step_reaches_a_training_batch(small):
    heldout = set(small.episodes(heldout=True).tolist())
    heldout_rows = {row.tobytes() for row in small.arrays["vector"][np.isin(small.arrays["episode"], list(heldout))]}
    sampler = TrainBatches(small, batch_size=16, length=16, seed=1, keep_terminal_reward=False)
    seen = set()
    for _ in range(200):
        batch = sampler.sample()
        assert not heldout & set(batch["episode"].ravel().tolist()), "a held-out episode's step in a training batch"
        assert not heldout_rows & {row.tobytes() for row in batch["vector"].reshape(-1, 5)}, "held-out content"
        seen |= set(batch["episode"].ravel().tolist())
    assert seen == set(small.episodes(heldout=False).tolist())  # and every training episode is drawn
    windows = heldout_windows(small, 112, 8, keep_terminal_reward=False)
    assert set(windows["episode"].ravel().tolist()) <= heldout
    assert (windows["episode"] == windows["episode"][:, :1]).all()  # each window inside one episode
    assert windows["is_first"][:, 0].all() and not windows["is_first"][:, 1:].any()


def test_every_model_of_a_seed_sees_the_same_batches(small):
    draws = [TrainBatches(small, 4, 16, seed, False) for seed in (1, 1, 2)]
    first, same, other = ([d.sample()["episode"] for _ in range(5)] for d in draws)
    assert all((a == b).all() for a, b in zip(first, same, strict=True))
    assert any((a != b).any() for a, b in zip(first, other, strict=True))


def test_the_bench_config_is_cpu_learnings_model(tmp_path):
    from bench import suites

    suite = suites.load().suites["cpu_learning"]
    assert {k: v for k, v in suite.overrides.items() if k in CPU_LEARNING_SET} == CPU_LEARNING_SET
    rssm = resolve("rssm", 1, Settings())
    s5 = resolve("s5wm", 1, Settings())
    assert (rssm.dynamics_model, s5.dynamics_model, rssm.max_hierarchy, s5.max_hierarchy) == ("rssm", "s5", 1, 1)
    assert rssm.dyn_deter == s5.dyn_deter == 64 and rssm.env.dmc.repeat == 8


def test_the_paper_size_is_the_defaults_model_with_cpu_small_training():
    defaults = build_config([], {}).flat()
    small = resolve("s5wm", 1, Settings()).flat()
    paper = resolve("s5wm", 1, Settings(size="paper")).flat()
    assert all(paper[key] == defaults[key] for key in MODEL_SIZE_KEYS)
    assert sum(small[key] != defaults[key] for key in MODEL_SIZE_KEYS) >= 10  # cpu_small cuts the model
    training = ("batch_size", "batch_length", "model_lr", "warmup_steps", "actor_lr", "s5.legacy_init_scale")
    assert all(paper[key] == small[key] for key in training)
    assert (paper["dyn_stoch"], paper["dyn_discrete"], paper["s5.num_blocks"]) == (32, 32, 4)


def test_a_debug_run_end_to_end_is_read_by_the_report(tmp_path, cache, capsys):
    """Two of the methods, one seed, a few updates: the run, its skip and resume rules, the report, table, plot."""
    results = tmp_path / "results"
    argv = ["run", "--size", "debug", "--seeds", "1", "--method", "rssm,s5wm", "--results", str(results)]
    argv += ["--cache", str(cache)]
    argv += ["--episodes", "3,3", "--updates", "6", "--eval-every", "3", "--policy-updates", "3"]
    argv += ["--eval-episodes", "1", "--heldout-sequences", "4", "--openloop-sequences", "2", "--contexts", "4,96"]
    assert main(argv) == 0
    run = rundir.run_path(results, "wm_bench", "s5wm", "dmc_cartpole_balance", 1)
    record = run_file.read_run(run)
    assert record.status == "done" and record.protocol.score.to_json() == {"name": "final_eval"}
    records = metrics_file.read_metrics(run)
    train = [r for r in records if r["type"] == "train"]
    assert [r["env_step"] for r in train] == [3, 6]
    for key in ("heldout/obs_loss", "heldout/reward_loss", "heldout/kl", "ol96/reward_mse/k16", "sec_per_update"):
        assert np.isfinite(train[-1][key]), key
    assert {r["context"] for r in records if r["type"] == "openloop"} == {4, 96}
    final = metrics_file.final_score(records, record.protocol.score, record.protocol.budget_frames)
    assert final == pytest.approx(record.score.final)

    # a finished run is skipped; one that did not finish starts again
    before = (run / rundir.RUN_FILE).read_text()
    assert main(argv) == 0 and (run / rundir.RUN_FILE).read_text() == before
    # one finished by another process after this one planned is kept: skipped, and never set aside if reached
    import hieros.wmbench.progress as progress

    real, asked = progress.is_done, set()

    def stale(results, method, seed, settings):  # the plan's view, taken before the other process finished
        first = (method, seed) not in asked
        asked.add((method, seed))
        return False if first else real(results, method, seed, settings)

    progress.is_done = stale
    try:
        assert main(argv) == 0 and "done meanwhile by another process, skipped" in capsys.readouterr().out
        progress.is_done = lambda *a: False
        assert main(argv) == 2 and "is a finished run; it is kept" in capsys.readouterr().err
    finally:
        progress.is_done = real
    assert (run / rundir.RUN_FILE).read_text() == before and not (run / rundir.ASIDE_DIR).exists()
    # a run another process holds is left to it: skipped, the others go on
    progress.is_done = lambda results, method, seed, settings: method == "rssm"
    code = f"from hieros import runlock; runlock.lock_run({str(run)!r}); print('held', flush=True); input()"
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert main(argv) == 0 and "s5wm seed 1: being run by another process, skipped" in capsys.readouterr().out
    finally:
        holder.communicate("")
        progress.is_done = real
    other = rundir.run_path(results, "wm_bench", "rssm", "dmc_cartpole_balance", 1)
    run_file.write_run(other, dataclasses.replace(run_file.read_run(other), status="failed"))
    assert main(argv) == 0 and run_file.read_run(other).status == "done"
    assert list((other / rundir.ASIDE_DIR).glob("attempt_*"))

    from bench.cli import main as bench_main

    out = tmp_path / "report"
    args = ["report", "--baselines", "none", "--reps", "200", "--results", str(results), "--suite", "wm_bench"]
    args += ["--out", str(out)]
    assert bench_main([*args, "--metric", "heldout/obs_loss"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {"rssm", "s5wm"} <= set(summary["methods"]) and summary["suite"] == "wm_bench"
    assert (out / "metric_heldout_obs_loss.png").exists()  # the held-out curve over updates

    capsys.readouterr()
    assert main(["table", "--results", str(results)]) == 0
    assert "| s5wm | 1 |" in capsys.readouterr().out
    assert main(["plot", "--results", str(results), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "openloop.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--data-seed", "7"], "python -m hieros.wmbench data cartpole_state --seed 7"),
        (["run", "--set", "no_such_key=1"], "unknown key --no_such_key"),
        (["run", "--set", "seed=3"], "the bench sets seed itself"),
        (["run", "--method", "gru"], "unknown 'gru'"),
        (["run", "--contexts", "120"], "exceed the shortest held-out episode"),
    ],
)
def test_bad_input_is_one_line(tmp_path, cache, capsys, argv, message):
    flags = ["--cache", str(cache), "--episodes", "3,3", "--results", str(tmp_path)]
    code = main([*argv, *flags]) if argv[0] == "run" else main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
