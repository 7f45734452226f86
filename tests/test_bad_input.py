"""The bad-input corpus: what a new user gets wrong, across every command.

Each case asserts the exit code (2: bad input, 1: the environment), a one-line message naming the problem, no
traceback, and that nothing under the working folder (the results store included) was created or changed.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import bench.cli
import hieros.train
from analysis import score_files
from hieros import rundir

GOOD_CURVES = [
    {"task": task, "method": "x", "seed": seed, "xs": [1000, 399_000], "ys": [1.0, 2.0]}
    for task in ("atari_pong", "atari_alien")
    for seed in (1, 2)
]
DMC = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance"]

# (argv, exit code, a piece of the message)
TRAIN = [
    ([*DMC, "--dynamics_model=gru"], 2, "--dynamics_model=gru is not valid: use one of s5 | rssm"),
    ([*DMC, "--imag_gradient=foo"], 2, "--imag_gradient=foo is not valid"),
    ([*DMC, "--steps=-5"], 2, "--steps=-5 is not valid"),
    ([*DMC, "--score.protocol=bogus"], 2, "--score.protocol=bogus is not valid"),
    ([*DMC, "--batch_size=0"], 2, "--batch_size=0 is not valid"),
    ([*DMC, "--batch_length=0"], 2, "--batch_length=0 is not valid"),
    ([*DMC, "--num_envs=0"], 2, "--num_envs=0 is not valid"),
    ([*DMC, "--device=tpu"], 2, "--device=tpu is not valid"),
    ([*DMC, "--device=cuda:7"], 2, "--device=cuda:7"),
    ([*DMC, "--task=atari_pongg"], 2, "closest: atari_pong"),
    ([*DMC, "--task=../../x"], 2, "unknown task '../../x'"),
    (["--configs", "nosuch"], 2, "unknown preset 'nosuch'"),
    ([*DMC, "--max_hierarchi=2"], 2, "did you mean max_hierarchy"),
    ([*DMC, "--s5=3"], 2, "it is a group"),
    ([*DMC, "--steps=abc"], 2, "--steps: expected an integer"),
    ([*DMC, "--compile=maybe"], 2, "--compile: expected true or false"),
    ([*DMC, "--precision=16"], 2, "is not built in this version"),
    ([*DMC, "--model_name=ppo"], 2, "--model_name=ppo is not valid"),
    ([*DMC, "--replay_temperature=2"], 2, "--replay_temperature=2.0 is not valid"),
    ([*DMC, "--discount=1.5"], 2, "--discount=1.5 is not valid"),
    ([*DMC, "--subgoal_shape=1,2,3"], 2, "give 2 values"),
    ([*DMC, "--encoder.cnn_keys=("], 2, "is not a regular expression"),
    ([*DMC, "--model_name=dreamer", "--max_hierarchy=3"], 2, "implies --max_hierarchy=1"),
    ([*DMC, "--actor_dist=onehot"], 2, "does not fit the continuous actions"),
    ([*DMC, "foo"], 2, "unexpected argument 'foo'"),
    ([*DMC, "--seed"], 2, "--seed needs a value"),
    ([*DMC, "--env.atari.actions=bogus"], 2, "--env.atari.actions=bogus is not valid"),
    ([*DMC, "--env.dmc.obs=depth"], 2, "--env.dmc.obs=depth is not valid"),
    ([*DMC, "--eval_eps=0"], 2, "--eval_eps=0 is not valid"),
    ([*DMC, "--threads=-1"], 2, "--threads=-1 is not valid"),
    ([*DMC, "--hierarchical_world_models=false"], 2, "not built in this version"),
    ([*DMC, "--seed=-1"], 2, "--seed=-1 is not valid"),
    ([*DMC, "--print_config", "--units=0"], 2, "--units=0 is not valid"),
    ([*DMC, "--logdir=afile/run"], 1, "afile/run"),
    (["--configs"], 2, "--configs needs at least one preset"),
    (["--configs=", "--task=dmc_cartpole_balance"], 2, "--configs needs at least one preset"),
    ([*DMC, "--seed=5000000000"], 2, "--seed=5000000000 is not valid: use a number in [0, 4294967295]"),
    ([*DMC, "--steps=1e12"], 2, "--steps=1000000000000 is not valid"),
]

BENCH = [
    (["run", "nosuch"], 2, "nosuch"),
    (["run", "smoke", "--method", "nosuch"], 2, "nosuch"),
    (["run", "smoke", "--tasks", "atari_pongg"], 2, "atari_pongg"),
    (["run", "smoke", "--set", "steps=-1"], 2, "--steps=-1 is not valid"),
    (["run", "smoke", "--set", "nokey=1"], 2, "unknown key --nokey"),
    (["run", "smoke", "--set", "steps"], 2, "write it as key=value"),
    (["run", "smoke", "--set", "dynamics_model=gru"], 2, "--dynamics_model=gru is not valid"),
    (["run", "smoke", "--jobs", "0"], 2, "--jobs must be at least 1"),
    (["run", "smoke", "--jobs", "x"], 2, "invalid int value: 'x'"),
    (["run", "smoke", "--threads", "0"], 2, "--threads must be at least 1"),
    (["run", "smoke", "--seeds", "0"], 2, "seeds"),
    (["run", "smoke", "--retries", "-1"], 2, "--retries must not be negative"),
    (["--suites", "missing.toml", "run", "smoke"], 2, "missing.toml: cannot read it"),
    (["--suites", "broken.toml", "run", "smoke"], 2, "not valid TOML"),
    (["--suites", "badname.toml", "run", "my/suite"], 2, "cannot name a folder of the results store"),
    (["status", "nosuch"], 2, "nosuch"),
    (["nosuch"], 2, "invalid choice: 'nosuch'"),
    ([], 2, "the following arguments are required: COMMAND"),
    (["report", "--results", "empty"], 2, "no runs under empty"),
    (["report", "--results", "nowhere"], 2, "no runs under nowhere"),
    (["report", "--suite", "nosuch"], 2, "nosuch"),
    (["report", "--methods", "nosuch"], 2, "nosuch"),
    (["report", "--tasks", "atari_pongg"], 2, "atari_pongg"),
    (["report", "--out", "afile"], 2, "afile: it exists and is not a folder"),
    (["report", "--out", "afile/report"], 2, "afile is a file"),
    (["report", "--reps", "0"], 2, "--reps"),
    (["report", "--expect-seeds", "0"], 2, "--expect-seeds"),
    (["report", "--baselines", "Dreamer"], 2, "unknown baseline 'Dreamer'; shipped: DreamerV3"),
    (["report", "--baselines", "none", "--results", "empty"], 2, "--baselines all for the published field alone"),
    (["report", "--results", "corrupt"], 2, "corrupt JSON"),
    (["status", "--results", "corrupt"], 2, "corrupt JSON"),
    (["export", "--results", "corrupt", "--out", "o.json.gz"], 2, "corrupt JSON"),
    (["import", "missing.json.gz", "--method", "m"], 2, "missing.json.gz"),
    (["import", "garbage.json.gz", "--method", "m"], 2, "cannot read it as JSON"),
    (["import", "evil.json.gz", "--method", "m"], 2, "unknown task '../../../../x'"),
    (["import", "good.json.gz", "--method", "../x"], 2, "cannot name a folder of the results store"),
    (
        ["import", "good.json.gz", "--method", "m", "--suite", "a/b", "--budget-frames", "9"],
        2,
        "cannot name a folder of the results store",
    ),
    (["import", "structure.json", "--method", "m"], 2, "neither a danijar score list"),
    (["import", "early.json", "--method", "m"], 2, "no point at the budget, 400000 frames"),
    (["import", "ragged.json", "--method", "m"], 2, "alien must map to one list of 1 values"),
    (["import", "xs.json.gz", "--method", "m"], 2, "xs must be a list of frame counts"),
    (["import", "other.json.gz", "--method", "x"], 2, "already holds runs from good.json.gz"),
    (["import", "logdir", "--method", "m"], 2, "give its --task"),
    (
        ["import", "logdir", "--method", "m", "--task", "dmc_cartpole_balance", "--budget-frames", "4000"],
        2,
        "cannot read it as JSON lines",
    ),
    (["import", "good.json.gz", "--method", "m", "--budget-frames", "0"], 2, "--budget-frames"),
    (["import", "good.json.gz", "--method", "m", "--suite", "dmc_proprio"], 2, "give --budget-frames"),
    (["export", "--out", "afile/o.json.gz"], 2, "afile is a file"),
    (["export", "--out", "."], 2, "it exists and is not a file"),
    (["export", "--results", "empty", "--out", "o.json.gz"], 2, "empty"),
    (["export", "--method", "nosuch", "--out", "o.json.gz"], 2, "no method 'nosuch'"),
    (["plot", "sampler", "--temperature", "2"], 2, "--temperature"),
    (["plot", "sampler", "--items", "0"], 2, "--items"),
    (["plot", "nosuch"], 2, "invalid choice: 'nosuch'"),
    (["plot", "sampler", "--out", "afile/x"], 2, "afile is a file"),
    (["run", "atari100k", "--seeds", "1000000000", "--dry-run"], 2, "at most 1000 seeds in one sweep"),
    (["run", "smoke", "--seed-list", "1,5000000000", "--dry-run"], 2, "each at most 4294967295"),
    (["report", "--results", "mixed"], 2, "env_step goes back from"),
    (["report", "--ladder", "x,nosuch"], 2, "--ladder: 'nosuch' is not a method of this report"),
    (["status", "--results", "textscore"], 2, "score.final is '12.5', not number or null"),
    (["report", "--results", "textscore"], 2, "score.final is '12.5', not number or null"),
    (["import", "nothing.json", "--method", "m"], 2, "nothing.json: it holds no runs"),
    (["import", "nogames.json", "--method", "m"], 2, "nogames.json: it holds no runs"),
    (["import", "norun.json", "--method", "m"], 2, "Alien must map to a list of finite numbers, one per run"),
    (["import", "nosteps.json", "--method", "m"], 2, "steps must be a list of frame counts"),
    (["import", "nopoints.json", "--method", "m"], 2, "record 1 has no points (empty xs and ys)"),
    (["import", "backwards.json", "--method", "m"], 2, "record 0: its frames go back, from 2000 to 1000 at point 1"),
    (["import", "infinite.json", "--method", "m"], 2, "record 0: xs must be a list of frame counts (finite"),
    (["import", "nanframe.json", "--method", "m"], 2, "record 0: xs must be a list of frame counts (finite"),
    (["import", "uneven.json", "--method", "m"], 2, "record 0 has 2 xs but 1 ys"),
    (["import", "budget.json", "--method", "m"], 2, "record 0: budget_frames must be a positive integer, not 0"),
    (["import", "suites.json", "--method", "m"], 2, "its runs are of several suites (a, b); import it with --suite"),
    # numbers and lists of the flags: bounded, and an empty list is not "all of them"
    (["run", "smoke", "--seed-list", ""], 2, "--seed-list '': give distinct non-negative integers"),
    (["run", "smoke", "--tasks", ""], 2, "--tasks '': name at least one, or leave --tasks out for all of them"),
    (["run", "smoke", "--method", ","], 2, "--method ',': name at least one, or leave --method out"),
    (["run", "smoke", "--seeds", "-3"], 2, "--seeds -3: give at least 1"),
    (["run", "smoke", "--jobs", "1000000000"], 2, "--jobs must be at most 4096, not 1000000000"),
    (["run", "smoke", "--threads", "100000"], 2, "--threads must be at most 1024, not 100000"),
    (["run", "smoke", "--retries", "1000000000"], 2, "--retries must be at most 100"),
    (["run", "smoke", "--runs-per-gpu", "100000"], 2, "--runs-per-gpu must be at most 64"),
    (["run", "smoke", "--runs-per-task", "2"], 2, "--runs-per-task packs runs into Slurm array tasks; on this"),
    (["run", "smoke", "--backend", "slurm", "--runs-per-gpu", "2"], 2, "with --backend slurm use --runs-per-task"),
    (["status", "smoke", "--seeds", "0"], 2, "--seeds 0: give at least 1"),
    (["status", "smoke", "--seed-list", ""], 2, "--seed-list '': give distinct non-negative integers"),
    (["status", "smoke", "--tasks", ""], 2, "--tasks '': name at least one"),
    (["status", "smoke", "--method", ""], 2, "--method '': name at least one"),
    (["report", "--jobs", "-1"], 2, "argument --jobs: must be positive, not -1"),
    (["report", "--jobs", "1000000"], 2, "--jobs must be at most 4096, not 1000000"),
    (["report", "--reps", "-5"], 2, "argument --reps: must be positive, not -5"),
    (["report", "--reps", str(10**9)], 2, "argument --reps: must be at most 1000000, not 1000000000"),
    (["report", "--calibrate", str(10**8)], 2, "argument --calibrate: must be at most 10000"),
    (["report", "--expect-seeds", str(10**8)], 2, "argument --expect-seeds: must be at most 1000"),
    (["report", "--seed", "-1"], 2, "argument --seed: must be from 0 to 4294967295, not -1"),
    (["report", "--tasks", ""], 2, "argument --tasks: name at least one, not ''"),
    (["report", "--tasks", ","], 2, "argument --tasks: name at least one, not ','"),
    (["report", "--methods", ""], 2, "argument --methods: name at least one"),
    (["report", "--ladder", ""], 2, "argument --ladder: name at least one"),
    (["report", "--baselines", ""], 2, "argument --baselines: name at least one"),
    (["export", "--method", "", "--out", "o.json.gz"], 2, "argument --method: name one, not ''"),
    (["plot", "sampler", "--items", str(10**9)], 2, "argument --items: must be at most 1000000"),
    (["plot", "sampler", "--capacity", str(10**10)], 2, "argument --capacity: must be at most 1000000000"),
    (["plot", "sampler", "--train-ratio", "1e12"], 2, "draws 6.25e+13 samples; choose them to draw from 1 to"),
    (["plot", "sampler", "--train-ratio", "inf"], 2, "argument --train-ratio: must be positive, not inf"),
    (["plot", "sampler", "--train-ratio", "nan"], 2, "argument --train-ratio: must be positive, not nan"),
    (["plot", "sampler", "--batch-length", str(10**9)], 2, "draws 0.0041 samples; choose them to draw from 1 to"),
    (["plot", "sampler", "--seed", "-1"], 2, "argument --seed: must be from 0 to 4294967295"),
    # run directories and folders of them in any layout (status, report), other agents' runs (import)
    (["status", "results", "nosuch"], 2, "nosuch: no such run directory or folder; give one suite, or run"),
    (["status", "results", "--tasks", "atari_pong"], 2, "--tasks picks runs of a suite's plan; give the suite"),
    (["status", "corrupt"], 2, "corrupt JSON"),
    (["report", "nowhere/run"], 2, "nowhere/run: no such run directory or folder of runs"),
    (["report", "results", "--results", "results"], 2, "give run directories or --results, not both"),
    (["report", "empty"], 2, "no runs under empty"),
    (["report", "corrupt"], 2, "corrupt JSON"),
    (["report", "results", "--out", "afile"], 2, "afile: it exists and is not a folder"),
    (["import", "tbruns", "--method", "m"], 2, "give --frames-per-step, the environment frames per agent step"),
    (
        ["import", "tbruns", "--method", "m", "--frames-per-step", "4", "--tag", "nosuch"],
        2,
        "no episode returns under the tag 'nosuch'; its tags: charts/episodic_return; choose one with --tag",
    ),
    (["import", "tbcut", "--method", "m", "--frames-per-step", "4"], 2, "cut short or corrupt after 3 records"),
    (["import", "tbruns", "--method", "m", "--frames-per-step", "4", "--budget-frames", "99999"], 2, "final window"),
    (["import", "tbruns", "--method", "m", "--frames-per-step", "4", "--task", "x"], 2, "unknown task 'x'"),
    (["import", "tbruns", "--method", "m", "--tag", ""], 2, "argument --tag: name one, not ''"),
    (["import", "tbruns", "--method", "m", "--x-axis", ""], 2, "argument --x-axis: name one, not ''"),
    (["import", "tbruns", "--method", "m", "--x-unit", "bogus"], 2, "argument --x-unit: invalid choice: 'bogus'"),
    (["import", "garbage.wandb", "--method", "m", "--frames-per-step", "4"], 2, "not a W&B run file"),
    (["import", "notag.csv", "--method", "m", "--frames-per-step", "4"], 2, "no episode returns under any of the"),
    (["import", "empty", "--method", "m"], 2, "empty: no TensorBoard event files, W&B offline runs"),
]

OPENLOOP = [
    (["run", "--batches", "0"], 2, "argument --batches: must be from 1 to 10000, not 0"),
    (["run", "--batches", "x"], 2, "argument --batches: not an integer: 'x'"),
    (["run", "--batch-size", str(10**9)], 2, "argument --batch-size: must be from 1 to 1024, not 1000000000"),
    (["run", "--context", "-1"], 2, "argument --context: must be from 1 to 10000, not -1"),
    (["run", "--context", "0"], 2, "argument --context: must be from 1 to 10000, not 0"),
    (["run", "--sequences", "0"], 2, "argument --sequences: must be from 1 to 64"),
    (["run", "--seed", "-1"], 2, "argument --seed: must be from 0 to 4294967295"),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working folder with a valid store (results/), a corrupt one, and the bad files the cases name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HIEROS_DEBUG", raising=False)
    good = tmp_path / "good.json.gz"
    good.write_bytes(gzip.compress(json.dumps(GOOD_CURVES).encode()))
    score_files.import_file(good, "x", tmp_path / "results")
    corrupt = rundir.run_path(tmp_path / "corrupt", "atari100k", "m", "atari_pong", 1)
    corrupt.mkdir(parents=True)
    (corrupt / rundir.RUN_FILE).write_text("{not json")
    (tmp_path / "empty").mkdir()
    for name in ("mixed", "textscore"):  # a run whose records hold two attempts; a score stored as text
        shutil.copytree(tmp_path / "results", tmp_path / name)
    mixed = rundir.find_runs(tmp_path / "mixed")[0] / rundir.METRICS_FILE
    mixed.write_bytes(mixed.read_bytes() + mixed.read_bytes().splitlines(keepends=True)[0])
    record = json.loads((rundir.find_runs(tmp_path / "textscore")[0] / rundir.RUN_FILE).read_text())
    record["score"] = {"final": "12.5"}
    (rundir.find_runs(tmp_path / "textscore")[0] / rundir.RUN_FILE).write_text(json.dumps(record))
    (tmp_path / "afile").write_text("")
    (tmp_path / "garbage.json.gz").write_bytes(b"\x1f\x8bnot gzip")
    evil = [{**GOOD_CURVES[0], "task": "../../../../x"}]
    (tmp_path / "evil.json.gz").write_bytes(gzip.compress(json.dumps(evil).encode()))
    (tmp_path / "xs.json.gz").write_bytes(gzip.compress(json.dumps([{**GOOD_CURVES[0], "xs": ["a", "b"]}]).encode()))
    (tmp_path / "other.json.gz").write_bytes(gzip.compress(json.dumps(GOOD_CURVES[:1]).encode()))
    (tmp_path / "structure.json").write_text(json.dumps({"rows": 3}))
    (tmp_path / "early.json").write_text(json.dumps({"steps": [20000], "score": {"alien": [[1.0]]}}))
    (tmp_path / "ragged.json").write_text(json.dumps({"steps": [400000], "score": {"alien": [[1.0, 2.0]]}}))
    curve = {"task": "atari_pong", "seed": 1, "xs": [1000, 2000], "ys": [1.0, 2.0]}
    bad_files = {
        "nothing.json": [],
        "nogames.json": {},
        "norun.json": {"Alien": []},
        "nosteps.json": {"steps": [], "score": {}},
        "nopoints.json": [curve, {**curve, "seed": 2, "xs": [], "ys": []}],
        "backwards.json": [{**curve, "xs": [2000, 1000]}],
        "uneven.json": [{**curve, "ys": [1.0]}],
        "budget.json": [{**curve, "budget_frames": 0}],
        "suites.json": [{**curve, "suite": "a"}, {**curve, "seed": 2, "suite": "b"}],
    }
    for name, content in bad_files.items():
        (tmp_path / name).write_text(json.dumps(content))
    (tmp_path / "infinite.json").write_text(json.dumps([{**curve, "xs": [1000, float("inf")]}]))  # Infinity
    (tmp_path / "nanframe.json").write_text(json.dumps([{**curve, "xs": [float("nan"), 1000]}]))  # NaN
    (tmp_path / "logdir").mkdir()
    (tmp_path / "logdir" / "scores.jsonl").write_text("{broken\n")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "tbruns" / "BreakoutNoFrameskip-v4__ppo_atari__1__1700000000"))
    for step in (100, 200, 300):
        writer.add_scalar("charts/episodic_return", 1.0, step)
    writer.close()
    events = next((tmp_path / "tbruns").rglob("events.out.tfevents.*"))
    (tmp_path / "tbcut").mkdir()
    (tmp_path / "tbcut" / events.name).write_bytes(events.read_bytes()[:-3])
    (tmp_path / "garbage.wandb").write_bytes(b"no header")
    (tmp_path / "notag.csv").write_text("_step,loss\n1,0.5\n")
    (tmp_path / "broken.toml").write_text("[suites.smoke\n")
    (tmp_path / "badname.toml").write_text(
        '[suites."my/suite"]\ntasks = ["dmc_cartpole_balance"]\n'
        'methods = ["random"]\npresets = ["dmc_proprio", "debug"]\n'
        '[methods.random]\nmodel_name = "random"\n'
    )
    return tmp_path


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _call(entry: Callable[[list[str]], int], argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = entry(argv)
    except SystemExit as done:  # argparse's own exits
        code = done.code
    return code, capsys.readouterr().err


def _check(workdir: Path, entry, argv: list[str], code: int, message: str, capsys) -> None:
    before = _tree(workdir)
    got, err = _call(entry, argv, capsys)
    assert (got, message in err) == (code, True), err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert _tree(workdir) == before


@pytest.mark.parametrize(("argv", "code", "message"), TRAIN, ids=[" ".join(a[4:]) or a[-1] for a, _, _ in TRAIN])
def test_train_refuses_bad_input_in_one_line(workdir, capsys, argv, code, message):
    _check(workdir, hieros.train.main, argv, code, message, capsys)


@pytest.mark.parametrize(("argv", "code", "message"), BENCH, ids=[" ".join(a) for a, _, _ in BENCH])
def test_bench_refuses_bad_input_in_one_line(workdir, capsys, argv, code, message):
    _check(workdir, bench.cli.main, argv, code, message, capsys)


@pytest.mark.parametrize(("argv", "code", "message"), OPENLOOP, ids=[" ".join(a[1:]) for a, _, _ in OPENLOOP])
def test_openloop_refuses_bad_flags_in_one_line(workdir, capsys, argv, code, message):
    import hieros.openloop

    _check(workdir, hieros.openloop.main, argv, code, message, capsys)


def test_the_corpus_is_large():
    assert len(TRAIN) + len(BENCH) + len(OPENLOOP) >= 60


def test_an_unexpected_error_is_one_line_with_its_traceback_in_a_file(workdir, capsys, monkeypatch):
    from hieros.cli_errors import guarded

    def broken() -> int:
        raise ZeroDivisionError("division by zero")

    assert guarded(broken, (ValueError,), "test") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected ZeroDivisionError: division by zero (traceback in ")
    assert err.count("\n") == 1
    saved = Path(err.split("traceback in ")[1].split(";")[0])
    assert "Traceback" in saved.read_text() and "broken" in saved.read_text()
    saved.unlink()
    monkeypatch.setenv("HIEROS_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        guarded(broken, (ValueError,), "test")
