"""A run's identity (task, seed, method, config) is checked on every resume and sweep, by meaning not spelling."""

import dataclasses
from pathlib import Path

import pytest

from bench import plan, state, suites
from hieros import config_hash, run_file
from hieros.config import build_config, config_mismatch, recorded_hash, run_config_hash
from hieros.train import main

ROOT = Path(__file__).resolve().parents[2]
DMC = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance", "--model_name=random", "--steps=200"]


def test_canonical_values_ignore_a_types_spelling():
    assert config_hash.canonical(32) == config_hash.canonical("32") == config_hash.canonical(32.0) == "32"
    assert config_hash.canonical(1e-4) == config_hash.canonical("1.0e-4")
    assert config_hash.canonical(True) == config_hash.canonical("True") == "true"
    assert config_hash.canonical([64, "64.0"]) == ["64", "64"]
    assert config_hash.canonical("bf16") == "bf16" and config_hash.canonical("$^") == "$^"
    assert config_hash.canonical(0.1) != config_hash.canonical(0.10000001)


def test_a_record_with_an_older_spelling_or_without_a_newer_key_is_the_same_config():
    config = build_config(["dmc_proprio", "cpu_small"])
    old = config.to_dict()
    old["precision"] = 32  # written when precision was an int key
    del old["compile"]  # written before the key existed (today's default keeps the earlier behaviour)
    old["save_every"] = 5  # checkpoint spacing does not change what a run computes
    assert recorded_hash(old) == config.hash()
    assert config_mismatch(old, config) is None
    old["replay"] = "uniform"
    old["compile"] = True
    why = config_mismatch(old, config)
    assert why == "compile: true -> false, replay: uniform -> timebalanced"


def test_the_committed_store_is_accepted_by_todays_sweep():
    """Every run of the committed cpu_learning store made by a method of today's suite continues as the same
    config (it was refused as 'another config' after precision became a string key)."""
    benchmark = suites.load()
    suite = benchmark.suite("cpu_learning")
    store = ROOT / "results"
    records = [run_file.read_run(p) for p in sorted((store / "cpu_learning").glob("*/*/seed_*/run.json"))]
    ours = [r for r in records if r.method in suite.methods]
    assert len(ours) >= 12
    for record in ours:
        [spec] = plan.plan(benchmark, suite, [record.method], [record.seed], store, [record.task])
        assert state.config_conflict(spec, record) is None, record.method
        assert run_config_hash(record) == spec.config_hash


def test_a_sweep_refuses_a_run_directory_of_another_seed_and_names_the_keys_that_differ():
    benchmark = suites.load()
    suite = benchmark.suite("cpu_learning")
    [spec] = plan.plan(benchmark, suite, ["hieros"], [2], Path("r"))
    protocol = run_file.RunProtocol.of(None, 2, 36_000, run_file.ScoreProtocol("final_train_window", 4000))
    made = run_file.Provenance.here("cpu")
    record = run_file.Record(
        "cpu_learning", "hieros", "dmc_cartpole_balance", 2, "done", spec.config.to_dict(), "0", protocol, made
    )
    assert state.config_conflict(spec, record) is None
    assert "seed 7" in state.config_conflict(spec, dataclasses.replace(record, seed=7)).replace("'", "")
    changed = dataclasses.replace(record, config={**record.config, "discount": 0.9})
    assert "discount: 0.9 -> 0.99" in state.config_conflict(spec, changed)


@pytest.mark.parametrize(
    "flag, shown",
    [
        ("--seed=7", "seed 1"),
        ("--task=dmc_pendulum_swingup", "task"),
        ("--method=other", "method"),
        ("--discount=0.5", "discount"),
    ],
)
def test_resuming_with_another_identity_is_refused_and_changes_nothing(tmp_path, capsys, flag, shown):
    run = tmp_path / "run"
    assert main([*DMC, "--stop_after=100", "--method=mine", f"--logdir={run}"]) == 130
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != "lock"}
    capsys.readouterr()
    assert main([*DMC, "--method=mine", flag, f"--logdir={run}"]) == 2
    err = capsys.readouterr().err.strip()
    assert shown in err.replace("'", "") and "\n" not in err
    after = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != "lock"}
    assert after == before
    assert main([*DMC, "--method=mine", f"--logdir={run}"]) == 0
    assert run_file.read_run(run).status == "done"


def test_configs_without_a_preset_is_refused(capsys):
    assert main(["--configs"]) == 2
    assert "--configs needs at least one preset" in capsys.readouterr().err
