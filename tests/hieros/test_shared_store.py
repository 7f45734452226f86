"""A store from someone else is safe to resume (#35): checkpoints are safetensors that cannot run code when read, a
pickled checkpoint of an earlier version is read only with --trust-pickle, and no `set` can make two seeds one run.
Each case with a crafted file and the real commands."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench import plan
from bench.cli import main as bench_main
from bench.suites import IDENTITY_KEYS, SuiteError, load
from hieros import checkpoint, metrics_file, run_file, rundir, state_file
from hieros.train import main as train_main

RANDOM = [
    "--configs",
    "dmc_proprio",
    "debug",
    "--task=dmc_cartpole_balance",
    "--model_name=random",
    "--steps=2000",
    "--save_every=400",
    "--eval_every=1e9",
    "--tensorboard=false",
]


class Payload:
    """A pickle that, when read, creates the file `marker`: what a crafted checkpoint in a shared store can do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def plant_pickle(run: Path, marker: Path) -> None:
    """The run's checkpoints replaced by an old-style pickle that runs code when it is read."""
    for name in checkpoint.FILES:
        checkpoint.checkpoint_file(run, name).unlink(missing_ok=True)
    checkpoint.checkpoint_file(run, "latest.pkl").write_bytes(pickle.dumps({"counters": Payload(marker)}))


def stopped_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    assert train_main([*RANDOM, f"--logdir={run}", "--stop_after=1000"]) == 130
    return run


def test_the_state_file_keeps_every_kind_a_checkpoint_holds():
    torch = pytest.importorskip("torch")
    shared = np.arange(6, dtype=np.uint32).reshape(2, 3)
    tree = {
        "ints": {1: "a", 2: (3, 4.5, None, True)},
        "shared": [shared, shared],
        "bytes": b"\x00\x01ale",
        "scalar": np.float32(1.5),
        "zero_d": np.array(7, np.int64),
        "empty": np.zeros((0, 4), np.float32),
        "nan": float("nan"),
        "big": 2**100,
        "bf16": torch.arange(4, dtype=torch.bfloat16) / 3,
        "rng": np.random.default_rng(3).bit_generator.state,
        "numpy_rng": np.random.RandomState(5).get_state(),
    }
    back = state_file.load_bytes(state_file.dumps(tree))
    assert back["ints"] == {1: "a", 2: (3, 4.5, None, True)} and back["bytes"] == b"\x00\x01ale"
    assert back["shared"][0] is back["shared"][1] and np.array_equal(back["shared"][0], shared)
    assert type(back["scalar"]) is np.float32 and back["scalar"] == 1.5
    assert back["zero_d"].shape == () and back["empty"].shape == (0, 4) and np.isnan(back["nan"])
    assert back["big"] == 2**100 and back["rng"] == tree["rng"]
    assert back["bf16"].dtype == torch.bfloat16 and torch.equal(back["bf16"], tree["bf16"])
    restored = np.random.RandomState()
    restored.set_state(back["numpy_rng"])
    assert restored.randint(1 << 30) == np.random.RandomState(5).randint(1 << 30)


def test_the_state_file_refuses_what_is_not_plain_data_and_names_where_it_sits():
    with pytest.raises(state_file.StateFileError, match=r"state\.agent\[0\]: a .*Payload cannot be saved"):
        state_file.dumps({"agent": [Payload(Path("x"))]})
    with pytest.raises(state_file.StateFileError, match="array of Python objects"):
        state_file.dumps({"a": np.array([object()])})


@pytest.mark.parametrize(
    "tree",
    ['{"exec": "print(1)"}', '{"array": "99"}', '{"dict": {"a": {"tuple": [1], "extra": 2}}}'],
    ids=["unknown-node", "missing-tensor", "malformed-node"],
)
def test_a_crafted_state_file_is_refused_not_interpreted(tree):
    from safetensors.numpy import save

    data = save({"0": np.zeros(1)}, metadata={"format": state_file.FORMAT, "tree": tree})
    with pytest.raises(state_file.StateFileError):
        state_file.load_bytes(data)


def test_a_pickled_checkpoint_is_not_read_without_trust_and_the_error_names_the_flag(tmp_path, capsys):
    run = stopped_run(tmp_path)
    marker = tmp_path / "code-ran"
    plant_pickle(run, marker)
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert train_main([*RANDOM, f"--logdir={run}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "latest.pkl is a pickled checkpoint" in err and checkpoint.TRUST_FLAG in err
    assert not marker.exists()
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # nothing renamed or written
    assert train_main([*RANDOM, f"--logdir={run}", checkpoint.TRUST_FLAG]) != 0  # trusted: read, and it is no state
    assert marker.exists()  # but its code ran: which is what trusting a pickle means


def test_a_trusted_pickled_checkpoint_resumes_the_same_run_and_is_replaced_by_a_safe_one(tmp_path):
    whole = tmp_path / "whole"
    assert train_main([*RANDOM, f"--logdir={whole}"]) == 0
    run = stopped_run(tmp_path)
    for name, old in zip(checkpoint.FILES, checkpoint.PICKLED_FILES, strict=True):  # as an earlier version wrote
        file = checkpoint.checkpoint_file(run, name)
        checkpoint.checkpoint_file(run, old).write_bytes(pickle.dumps(state_file.load(file)))
        file.unlink()
    assert train_main([*RANDOM, f"--logdir={run}", checkpoint.TRUST_FLAG]) == 0
    assert metrics_file.read_metrics(run) == metrics_file.read_metrics(whole)
    assert run_file.read_run(run).score == run_file.read_run(whole).score
    assert sorted(p.name for p in (run / rundir.CKPT_DIR).iterdir()) == sorted(checkpoint.FILES)


def test_openloop_does_not_read_a_pickled_checkpoint_without_trust(tmp_path, capsys):
    from hieros.openloop import main as openloop_main

    run = stopped_run(tmp_path)
    marker = tmp_path / "code-ran"
    plant_pickle(run, marker)
    capsys.readouterr()
    assert openloop_main([str(run)]) == 2
    assert checkpoint.TRUST_FLAG in capsys.readouterr().err and not marker.exists()


SUITES = """
[suites.quick]
tasks = ["dmc_cartpole_balance"]
seeds = 2
methods = ["random"]
presets = ["dmc_proprio", "debug"]
budget_frames = 2000
set = { save_every = 400 }

[methods.random]
model_name = "random"
"""


def stopped_suite_run(tmp_path: Path) -> tuple[Path, list[str], Path]:
    """A one-run suite stopped at a checkpoint by `hieros-bench run`: (suite file, the run command's args, run)."""
    suites = tmp_path / "benchmark.toml"
    suites.write_text(SUITES)
    results = tmp_path / "results"
    args = ["--suites", str(suites), "run", "quick", "--seeds", "1", "--results", str(results)]
    assert bench_main([*args, "--set", "stop_after=400"]) == 130
    return suites, args, rundir.run_path(results, "quick", "random", "dmc_cartpole_balance", 1)


def test_the_runner_never_resumes_a_crafted_pickle_and_passes_trust_on_only_when_asked(tmp_path, capsys):
    suites, args, run = stopped_suite_run(tmp_path)
    marker = tmp_path / "code-ran"
    plant_pickle(run, marker)
    capsys.readouterr()
    assert bench_main(args) == 1
    assert checkpoint.TRUST_FLAG in capsys.readouterr().out and not marker.exists()
    benchmark = load(suites)
    suite = benchmark.suite("quick")
    [trusted] = plan.plan(benchmark, suite, ["random"], [1], tmp_path / "results", trust_pickle=True)
    [plain] = plan.plan(benchmark, suite, ["random"], [1], tmp_path / "results")
    assert trusted.command[-1] == checkpoint.TRUST_FLAG and checkpoint.TRUST_FLAG not in plain.command


@pytest.mark.parametrize("key", IDENTITY_KEYS)
def test_no_set_can_change_which_run_a_run_is(tmp_path, key):
    suites = tmp_path / "benchmark.toml"
    suites.write_text(SUITES)
    benchmark = load(suites)
    with pytest.raises(SuiteError, match=f"--set sets {key}, which says which run"):
        plan.plan(benchmark, benchmark.suite("quick"), ["random"], [1, 2], tmp_path, extra={key: "5"})
    suites.write_text(SUITES.replace("save_every = 400", f'save_every = 400, {key} = "7"'))
    with pytest.raises(SuiteError, match=rf"\[suites.quick\] set sets {key}, which says which run"):
        load(suites)
    suites.write_text(SUITES + f'set = {{ {key} = "7" }}\n')
    with pytest.raises(SuiteError, match=rf"\[methods.random\] set sets {key}, which says which run"):
        load(suites)


@pytest.mark.parametrize("name", [rundir.METRICS_FILE, "runner.log"])
def test_no_write_follows_a_link_out_of_a_run_directory(tmp_path, capsys, name):
    _, args, run = stopped_suite_run(tmp_path)
    outside = tmp_path / "someone_elses_file"
    outside.write_bytes(b"not yours\n")
    (run / name).unlink()
    (run / name).symlink_to(outside)
    capsys.readouterr()
    assert bench_main(args) != 0
    output = capsys.readouterr()
    assert "a symbolic link, and a run writes only its own files" in output.out + output.err
    assert outside.read_bytes() == b"not yours\n"


def test_files_a_run_writes_follow_the_umask_not_owner_only(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    rundir.atomic_write_json(tmp_path / "run.json", {"a": 1})
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_openloop_only_reads_a_run_even_one_with_damaged_checkpoints(tmp_path, capsys):
    from hieros.openloop import main as openloop_main

    run = stopped_run(tmp_path)
    for name in checkpoint.FILES:
        checkpoint.checkpoint_file(run, name).write_bytes(b"damaged")
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert openloop_main([str(run)]) == 2
    assert "no readable checkpoint" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # nothing renamed aside
