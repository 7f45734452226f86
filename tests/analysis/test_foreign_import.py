"""Other agents' runs imported from their trackers' files, each file written by the library itself inside the test:
TensorBoard event files by torch's SummaryWriter (what CleanRL and sheeprl log with) under CleanRL's and sheeprl's
tags and folder layouts and by our own training, and W&B offline runs by the wandb package (WANDB_MODE=offline),
plus W&B's export formats. Each run becomes a method's run of the store, scored like ours at the suite's budget;
bad files are refused in one line that names the file and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from analysis.store import load_store
from analysis.summary_file import read_summary
from bench.cli import main
from hieros import metrics_file, run_file

pytest.importorskip("torch.utils.tensorboard")
SummaryWriter = __import__("torch.utils.tensorboard", fromlist=["SummaryWriter"]).SummaryWriter

STEPS = range(1000, 110_001, 1000)  # CleanRL's global_step: 4 frames each, past atari100k's 400k frames


def episode_return(seed: int, step: int) -> float:
    return round(seed * 10 + step / 1000 + 0.25 * np.sin(step), 4)


def cleanrl_runs(root: Path, env_id: str = "BreakoutNoFrameskip-v4", seeds: tuple[int, ...] = (1, 2, 3)) -> Path:
    """CleanRL's runs/ folder: runs/{env_id}__{exp_name}__{seed}__{time}/, the returns at global_step."""
    for seed in seeds:
        writer = SummaryWriter(str(root / "runs" / f"{env_id}__ppo_atari__{seed}__{1700000000 + seed}"))
        writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n|env_id|{env_id}|\n|seed|{seed}|")
        for step in STEPS:
            writer.add_scalar("charts/episodic_return", episode_return(seed, step), step)
            writer.add_scalar("charts/episodic_length", 500, step)
        writer.close()
    return root / "runs"


def expected_final(seed: int, budget: int = 400_000, window: int = 10_000, per_step: int = 4) -> float:
    return float(np.mean([episode_return(seed, s) for s in STEPS if budget - window < s * per_step <= budget]))


def bench(*argv: str) -> int:
    return main(list(argv))


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_cleanrl_tensorboard_runs_become_runs_of_a_method_scored_at_the_budget(tmp_path, capsys):
    runs, store = cleanrl_runs(tmp_path), tmp_path / "store"
    assert bench("import", str(runs), "--method", "ppo", "--results", str(store), "--frames-per-step", "4") == 0
    assert "imported 3 runs of ppo from runs" in capsys.readouterr().out
    method = load_store(store)["ppo"]
    assert sorted(method.runs["atari_breakout"]) == [1, 2, 3]
    for seed, run in method.runs["atari_breakout"].items():
        assert run.final == pytest.approx(expected_final(seed), abs=1e-4)
        episodes = metrics_file.episodes(run.metrics, "train")
        assert [e["frames"] for e in episodes] == [4 * s for s in STEPS] and episodes[0]["env_step"] == 1000
        provenance = run.record.provenance
        assert provenance.format == "tensorboard" and provenance.details["writer"] == "CleanRL"
        assert provenance.details["tag"] == "charts/episodic_return" and provenance.details["x_unit"] == "steps"
        assert provenance.details["source_run"] == f"BreakoutNoFrameskip-v4__ppo_atari__{seed}__{1700000000 + seed}"
        assert run.record.protocol.frames_per_step == 4 and run.record.protocol.budget_frames == 400_000
    assert bench("import", str(runs), "--method", "ppo", "--results", str(store), "--frames-per-step", "4") == 0
    assert "(3 already there from this file, left as they were)" in capsys.readouterr().out
    report = tmp_path / "report"
    flags = ["--reps", "200", "--jobs", "1", "--no-sampler", "--out", str(report)]
    assert bench("report", "--results", str(store), "--baselines", "IRIS", *flags) == 0  # beside the field
    summary = read_summary(report)
    assert set(summary.methods) == {"ppo", "IRIS"} and summary.tasks == ["atari_breakout"]
    assert summary.methods["ppo"].games["atari_breakout"].mean == pytest.approx(
        np.mean([expected_final(s) for s in (1, 2, 3)]), abs=1e-4
    )


def test_sheeprl_runs_are_found_by_their_layout_and_config(tmp_path, capsys):
    """sheeprl: logs/runs/<algo>/<env id>/<time>_<exp>_<seed>/version_0/events..., its config.yaml in the run's
    folder (env.id, seed), Rewards/rew_avg at policy_step."""
    run = tmp_path / "logs" / "runs" / "dreamer_v3" / "PongNoFrameskip-v4" / "2024-05-01_10-00-00_dv3_pong_5"
    (run / "version_0").mkdir(parents=True)
    (run / "config.yaml").write_text("env:\n  id: PongNoFrameskip-v4\n  action_repeat: 4\nseed: 5\nalgo: {name: dv3}\n")
    writer = SummaryWriter(str(run / "version_0"))
    for step in range(4000, 104_001, 4000):
        writer.add_scalar("Rewards/rew_avg", -21 + step / 5000, step)
        writer.add_scalar("Loss/policy_loss", 0.1, step)
    writer.close()
    store = tmp_path / "store"
    argv = ["import", str(tmp_path / "logs"), "--method", "dv3", "--results", str(store), "--frames-per-step", "4"]
    assert bench(*argv) == 0
    pong = load_store(store)["dv3"].runs["atari_pong"]
    assert list(pong) == [5]
    assert pong[5].final == pytest.approx(-21 + 100_000 / 5000)  # the one log in (390k, 400k] frames: step 100000
    assert pong[5].record.provenance.details["writer"] == "sheeprl"


def test_our_own_runs_tensorboard_and_wandb_files_give_back_their_score(tmp_path, capsys):
    """A real training run writing TensorBoard events and an offline W&B run: both import to its own final score
    (our tag, train_episode/score, is stepped by frames)."""
    run = tmp_path / "ours"
    flags = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance", "--model_name=random"]
    flags += ["--steps=4000", "--eval_every=2000", "--eval_eps=1", "--tensorboard=true", f"--logdir={run}", "--seed=3"]
    if _has_wandb():
        flags += ["--wandb.enabled=true", "--wandb.mode=offline"]
    env = {**os.environ, "WANDB_SILENT": "true"}
    subprocess.run([sys.executable, "-m", "hieros.train", *flags], check=True, capture_output=True, env=env)
    record = run_file.read_run(run)
    store = tmp_path / "store"
    common = ["--results", str(store), "--suite", "dmc", "--budget-frames", "4000", "--window-frames", "10000"]
    assert bench("import", str(run / "tensorboard"), "--method", "mine_tb", *common) == 0
    imported = load_store(store, "dmc")["mine_tb"].runs["dmc_cartpole_balance"][3]
    assert imported.final == pytest.approx(record.score.final, rel=1e-6)  # event values are float32
    assert imported.record.protocol.frames_per_step == record.protocol.frames_per_step  # its run.json
    if _has_wandb():
        argv = ["import", str(run / "wandb"), "--method", "mine_wb", *common, "--frames-per-step", "2"]
        assert bench(*argv) == 0
        from_wandb = load_store(store, "dmc")["mine_wb"].runs["dmc_cartpole_balance"][3]  # task, seed: its config
        assert from_wandb.final == pytest.approx(record.score.final, rel=1e-9)
        assert from_wandb.record.provenance.details["x_axis"] == "_step"


def _has_wandb() -> bool:
    import importlib.util

    return importlib.util.find_spec("wandb") is not None


OFFLINE_CLEANRL = """
import wandb
for seed in (1, 2):
    run = wandb.init(project="p", name=f"BreakoutNoFrameskip-v4__ppo_atari__{seed}__1700000000",
                     config={"env_id": "BreakoutNoFrameskip-v4", "seed": seed, "exp_name": "ppo_atari"},
                     dir=".", settings=wandb.Settings(console="off", x_disable_stats=True))
    for step in range(1000, 110_001, 1000):
        run.log({"charts/episodic_return": seed * 10 + step / 1000, "global_step": step})
    run.finish()
wandb.teardown()
"""


@pytest.fixture(scope="module")
def offline_wandb(tmp_path_factory) -> Path:
    """Two CleanRL-like runs logged by the wandb package in offline mode: wandb/offline-run-*/run-*.wandb."""
    pytest.importorskip("wandb")
    folder = tmp_path_factory.mktemp("wandb_runs")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    subprocess.run([sys.executable, "-c", textwrap.dedent(OFFLINE_CLEANRL)], cwd=folder, env=env, check=True)
    return folder / "wandb"


def test_a_wandb_offline_folder_imports_each_run_with_its_config(offline_wandb, tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["import", str(offline_wandb), "--method", "ppo", "--results", str(store), "--frames-per-step", "4"]
    assert bench(*argv) == 0
    runs = load_store(store)["ppo"].runs["atari_breakout"]
    assert sorted(runs) == [1, 2]
    for seed, run in runs.items():
        assert run.final == pytest.approx(np.mean([seed * 10 + s / 1000 for s in (98_000, 99_000, 100_000)]))
        assert run.record.provenance.details["x_axis"] == "global_step"  # CleanRL's x axis, beside W&B's _step


def test_wandb_exports_a_panels_csv_and_the_apis_runs(tmp_path, capsys):
    names = [f"BreakoutNoFrameskip-v4__ppo_atari__{seed}__1700000000" for seed in (1, 2)]
    header = ["global_step"] + [f"{n} - charts/episodic_return{s}" for n in names for s in ("", "__MIN", "__MAX")]
    lines = [",".join(header)]
    for step in STEPS:
        cells = [str(step)] + [str(episode_return(seed, step)) for seed in (1, 2) for _ in range(3)]
        lines.append(",".join(cells))
    (tmp_path / "panel.csv").write_text("\n".join(lines) + "\n")
    store = tmp_path / "store"
    common = ["--results", str(store), "--frames-per-step", "4"]
    assert bench("import", str(tmp_path / "panel.csv"), "--method", "panel", *common) == 0
    for seed, run in load_store(store)["panel"].runs["atari_breakout"].items():
        assert run.final == pytest.approx(expected_final(seed), abs=1e-4)
    history = [
        {"_step": i, "global_step": step, "charts/episodic_return": episode_return(7, step)}
        for i, step in enumerate(STEPS)
    ]
    runs = [{"name": "pong-seed-7", "config": {"env_id": "ALE/Pong-v5", "seed": 7}, "history": history}]
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    assert bench("import", str(tmp_path / "runs.json"), "--method", "api", *common) == 0
    assert load_store(store)["api"].runs["atari_pong"][7].final == pytest.approx(expected_final(7), abs=1e-4)


@pytest.fixture
def bad(tmp_path, monkeypatch) -> Path:
    """A working folder with a good CleanRL run, and bad files made from it."""
    monkeypatch.chdir(tmp_path)
    good = cleanrl_runs(tmp_path, seeds=(1,))
    events = next(good.rglob("events.out.tfevents.*"))
    for name, data in (("cut", events.read_bytes()[:-5]), ("empty", b"")):
        (tmp_path / name).mkdir()
        (tmp_path / name / events.name).write_bytes(data)
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "both" / "wandb" / "offline-run-1-x").mkdir(parents=True)
    (tmp_path / "both" / "wandb" / "offline-run-1-x" / "run-x.wandb").write_bytes(b"")
    (tmp_path / "both" / events.name).write_bytes(events.read_bytes())
    cartpole = tmp_path / "cartpole" / "CartPole-v1__ppo__1__1700000000"
    cartpole.mkdir(parents=True)
    (cartpole / events.name).write_bytes(events.read_bytes())
    (tmp_path / "garbage.wandb").write_bytes(b"not a wandb file")
    (tmp_path / "notag.csv").write_text("_step,loss\n1,0.5\n")
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs"], "give --frames-per-step, the environment frames per agent step"),
        (["runs", "--frames-per-step", "4", "--tag", "charts/sps"], "its tags: charts/episodic_length, charts/"),
        (["runs", "--frames-per-step", "4", "--budget-frames", "800000"], "no episode ends in the final window"),
        (["runs", "--frames-per-step", "4", "--task", "atari_pongg"], "closest: atari_pong"),
        (["cut", "--frames-per-step", "4"], "cut short or corrupt after 221 records"),
        (["empty", "--frames-per-step", "4"], "empty, no events in it"),
        (["nowhere", "--frames-per-step", "4"], "no TensorBoard event files, W&B offline runs"),
        (["garbage.wandb", "--frames-per-step", "4"], "not a W&B run file (no :W&B header)"),
        (["both", "--frames-per-step", "4"], "holds both TensorBoard event files and W&B offline runs"),
        (["cartpole", "--frames-per-step", "4"], "cannot tell which task 'CartPole-v1' is; give it with --task"),
        (["notag.csv", "--frames-per-step", "4"], "notag.csv (run notag): no episode returns under any of the tags"),
    ],
)
def test_bad_files_are_refused_in_one_line_and_nothing_is_written(bad, capsys, argv, message):
    assert bench("import", argv[0], "--method", "m", "--results", "store", *argv[1:]) == 2
    err = one_line(capsys)
    assert message in err and (argv[0] in err or "runs/" in err)
    assert not (bad / "store").exists()


@pytest.mark.parametrize("kept", [0.25, 0.5, 0.9, 0.99])
def test_a_wandb_run_file_cut_short_is_refused_in_one_line(offline_wandb, tmp_path, capsys, kept):
    """Cut inside a record (its chunk's length or checksum tells) or between two (only the missing exit record
    tells): refused either way, wherever the cut lands."""
    whole = sorted(offline_wandb.rglob("run-*.wandb"))[0]
    cut = tmp_path / "offline-run-1-cut" / whole.name
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * kept)])
    store = tmp_path / "store"
    argv = ["import", str(cut.parent), "--method", "m", "--results", str(store), "--frames-per-step", "4"]
    assert bench(*argv) == 2
    assert f"{cut}: cut short or corrupt after " in one_line(capsys) and not store.exists()


class FakeRun:
    """What a run of wandb's public API gives: its name, id, config, summary and scan_history."""

    def __init__(self, seed: int):
        self.name, self.id = f"BreakoutNoFrameskip-v4__ppo_atari__{seed}__1700000000", f"id{seed}"
        self.config = {"env_id": "BreakoutNoFrameskip-v4", "exp_name": "ppo_atari", "seed": seed}
        self.summary = {"charts/episodic_return": 1.0, "global_step": STEPS[-1], "_step": 9}
        self.rows = [{"charts/episodic_return": episode_return(seed, s), "global_step": s} for s in STEPS]

    def scan_history(self, keys: list[str]) -> list[dict]:
        return [{k: row[k] for k in keys} for row in self.rows]


def test_wandb_online_reads_a_projects_runs_through_the_api(tmp_path, capsys, monkeypatch):
    """wandb://ENTITY/PROJECT?KEY=VALUE through wandb.Api (a stand-in here: the tests never go online)."""
    wandb = pytest.importorskip("wandb")
    asked = []

    class FakeApi:
        def __init__(self, timeout: int):
            pass

        def runs(self, path: str, filters: dict) -> list[FakeRun]:
            asked.append((path, filters))
            return [FakeRun(1), FakeRun(2)]

    monkeypatch.setattr(wandb, "Api", FakeApi)
    store = tmp_path / "store"
    source = "wandb://openrlbenchmark/cleanrl?exp_name=ppo_atari"
    assert bench("import", source, "--method", "ppo", "--results", str(store), "--frames-per-step", "4") == 0
    assert asked == [("openrlbenchmark/cleanrl", {"config.exp_name": "ppo_atari"})]
    runs = load_store(store)["ppo"].runs["atari_breakout"]
    assert {seed: run.final for seed, run in runs.items()} == pytest.approx({s: expected_final(s) for s in (1, 2)})
    assert runs[1].record.provenance.format == "wandb-online"
    assert bench("import", "wandb://only-entity", "--method", "m", "--results", str(store)) == 2
    assert "give wandb://ENTITY/PROJECT" in one_line(capsys)
