"""Faults done to real runs: kill -9 before the first checkpoint, unreadable checkpoints, records that contradict
themselves. Nothing finished is lost, records of two attempts never mix, and each refusal is one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hieros import checkpoint, metrics_file, run_file, rundir, state_file
from hieros.train import main

ROOT = Path(__file__).resolve().parents[2]
RANDOM = [
    "--configs",
    "dmc_proprio",
    "debug",
    "--task=dmc_cartpole_balance",
    "--model_name=random",
    "--log_every=100",
    "--eval_every=1e9",
    "--tensorboard=false",
]


def files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_run_killed_before_its_first_checkpoint_restarts_clean_with_its_records_kept_aside(tmp_path):
    run = tmp_path / "run"
    args = [*RANDOM, "--steps=400000", "--save_every=1e9", f"--logdir={run}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hieros.train", *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while len(metrics_file.read_metrics(run)) < 3 if (run / rundir.METRICS_FILE).exists() else True:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    dead = (run / rundir.METRICS_FILE).read_bytes()
    assert not checkpoint.checkpoint_file(run).exists()
    assert main([*RANDOM, "--steps=2000", "--save_every=1e9", f"--logdir={run}"]) == 2  # another budget: refused
    assert main([*args[:-2], "--stop_after=1000", "--save_every=1e9", f"--logdir={run}"]) == 130
    [aside] = (run / rundir.ASIDE_DIR).iterdir()
    assert (aside / rundir.METRICS_FILE).read_bytes() == dead and (aside / rundir.RUN_FILE).exists()
    steps = [r["env_step"] for r in metrics_file.read_metrics(run)]
    assert steps == sorted(steps) and steps[-1] == 500  # one attempt's records, from step 0


def test_an_unreadable_latest_checkpoint_resumes_from_the_previous_one(tmp_path, capsys):
    run = tmp_path / "run"
    args = [*RANDOM, "--steps=2000", "--save_every=400", f"--logdir={run}"]
    whole = tmp_path / "whole"
    assert main([*args[:-1], f"--logdir={whole}"]) == 0
    assert main([*args, "--stop_after=1000"]) == 130
    previous = checkpoint.checkpoint_file(run, checkpoint.PREVIOUS_FILE)
    assert checkpoint_step(previous) < checkpoint_step(checkpoint.checkpoint_file(run))
    checkpoint.checkpoint_file(run).write_bytes(checkpoint.checkpoint_file(run).read_bytes()[:100])  # torn
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "latest.safetensors is unreadable" in err and "resuming from the older checkpoint" in err
    assert list((run / "ckpt").glob("latest.safetensors.corrupt-*"))
    assert metrics_file.read_metrics(run) == metrics_file.read_metrics(whole)  # the same run as one never interrupted
    assert run_file.read_run(run).score == run_file.read_run(whole).score


def checkpoint_step(file: Path) -> int:
    return state_file.load(file)["counters"]["env_step"]


@pytest.mark.parametrize("damage", [b"", b"not a checkpoint", None], ids=["empty", "garbage", "truncated"])
def test_no_readable_checkpoint_is_one_line_and_leaves_run_json_as_it_was(tmp_path, capsys, damage):
    run = tmp_path / "run"
    args = [*RANDOM, "--steps=2000", "--save_every=400", f"--logdir={run}"]
    assert main([*args, "--stop_after=1000"]) == 130
    for name in (checkpoint.CKPT_FILE, checkpoint.PREVIOUS_FILE):
        file = checkpoint.checkpoint_file(run, name)
        file.write_bytes(file.read_bytes()[:50] if damage is None else damage)
    record = (run / rundir.RUN_FILE).read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no readable checkpoint") and "run again" in err[-1]
    assert (run / rundir.RUN_FILE).read_bytes() == record  # progress not reset by the failed resume
    assert main(args) == 0  # as the message says: runs again from step 0, the earlier records kept aside
    assert (run / rundir.ASIDE_DIR).exists() and run_file.read_run(run).status == "done"


def test_mixed_records_and_mistyped_scores_are_refused_with_their_file(tmp_path):
    run = tmp_path / "run"
    assert main([*RANDOM, "--steps=2000", f"--logdir={run}"]) == 0
    lines = (run / rundir.METRICS_FILE).read_bytes().splitlines(keepends=True)
    (run / rundir.METRICS_FILE).write_bytes(b"".join(lines + lines[:1]))  # a second attempt appended
    with pytest.raises(rundir.RunFileError, match=r"env_step goes back .* two attempts' records are mixed"):
        metrics_file.read_metrics(run)
    record = json.loads((run / rundir.RUN_FILE).read_text())
    record["score"]["final"] = "12.5"
    (run / rundir.RUN_FILE).write_text(json.dumps(record))
    with pytest.raises(rundir.RunFileError, match=r"run.json: score.final is '12.5', not number or null"):
        run_file.read_run(run)


@pytest.mark.parametrize("fault", [KeyboardInterrupt, OSError], ids=["ctrl-c", "full-disk"])
def test_a_report_that_fails_midway_leaves_the_previous_report_as_it_was(tmp_path, monkeypatch, capsys, fault, stores):

    from analysis import figures

    stores.small_store(tmp_path / "results")
    out = tmp_path / "report"
    (out / "other_suite").mkdir(parents=True)  # a report of another suite inside: kept by any re-report
    assert stores.run_report(tmp_path / "results", "--out", str(out), "--reps", "200", "--no-sampler") == 0
    before = files(out)
    real_save = figures.save

    def save_then_fail(*args, **kwargs):
        real_save(*args, **kwargs)  # the first figure is written in full, then the disk fills up
        raise fault() if fault is KeyboardInterrupt else OSError(28, "No space left on device")

    monkeypatch.setattr(figures, "save", save_then_fail)
    capsys.readouterr()
    code = stores.run_report(tmp_path / "results", "--out", str(out), "--reps", "300", "--no-sampler", "--jobs", "1")
    assert code == (130 if fault is KeyboardInterrupt else 1)
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and (fault is KeyboardInterrupt or f"{out}: No space left on device" in err)
    assert files(out) == before and (out / "other_suite").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "results"]  # no staging folder left
    monkeypatch.setattr(figures, "save", real_save)
    assert stores.run_report(tmp_path / "results", "--out", str(out), "--reps", "300", "--no-sampler") == 0
    assert files(out)["report.md"] != before["report.md"] and (out / "other_suite").is_dir()


def test_a_checkpoint_is_a_safetensors_file_of_plain_data_that_runs_no_code_when_read(tmp_path):
    """Checkpoints hold tensors, arrays and plain containers only, as safetensors and JSON: reading one runs no code
    (a store from someone else is safe to resume, #35) and names no module, so moving one never breaks loading."""
    from safetensors import safe_open

    run = tmp_path / "run"
    args = [
        "--configs",
        "dmc_proprio",
        "debug",
        "--task=dmc_cartpole_balance",
        "--max_hierarchy=3",
        "--batch_length=8",
        "--steps=1000",
        "--tensorboard=false",
        f"--logdir={run}",
    ]
    assert main([*args, "--stop_after=200"]) == 130
    with safe_open(str(checkpoint.checkpoint_file(run)), framework="numpy") as f:
        tree = json.loads(f.metadata()["tree"])
        tensors = len(f.keys())
    kinds: set[str] = set()

    def walk(node):
        if isinstance(node, dict):  # a tagged node: its kind, then what it holds
            kind, value = next(iter(node.items()))
            kinds.add(kind)
            for child in value.values() if kind == "dict" else value if kind in ("items", "list", "tuple") else ():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(tree)
    assert kinds <= {"dict", "items", "list", "tuple", "bytes", "array", "scalar", "tensor"}, kinds
    assert {"tensor", "array"} <= kinds and tensors > 100
    assert "hieros." not in json.dumps(tree)


def test_metrics_cut_below_the_checkpoint_are_refused_in_one_line_and_nothing_changes(tmp_path, capsys):
    run = tmp_path / "run"
    args = [*RANDOM, "--steps=2000", "--save_every=400", f"--logdir={run}"]
    assert main([*args, "--stop_after=1000"]) == 130
    metrics = run / rundir.METRICS_FILE
    metrics.write_bytes(metrics.read_bytes()[:40])  # cut inside the first record
    before = files(run)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "shorter than the" in err and "records were lost" in err and "\n" not in err
    assert files(run) == before
