"""W&B logging with the real wandb package in offline mode: the offline run holds the resolved config and exactly
the metrics that metrics.jsonl holds; a resumed run continues the same W&B run; without wandb, one line."""

import json
import struct
import sys
from pathlib import Path

import pytest

from hieros import metrics_file, run_file
from hieros.train import main
from hieros.wandb_log import metric_names

wandb_pb2 = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is part of the test extra")
RANDOM = [
    "--configs",
    "dmc_proprio",
    "debug",
    "--task=dmc_cartpole_balance",
    "--model_name=random",
    "--steps=3000",
    "--eval_every=1500",
    "--eval_eps=1",
    "--save_every=1000",
    "--tensorboard=false",
    "--wandb.enabled=true",
    "--wandb.mode=offline",
    "--method=mine",
    "--suite=s",
]


def wandb_records(path: Path) -> list:
    """The protobuf records of a .wandb file (a LevelDB-style log: 32 KiB blocks of chunks with a 7-byte header:
    crc32, length, type 1 full / 2 first / 3 middle / 4 last), after its 7-byte file header."""
    data, out, pending, position = path.read_bytes(), [], b"", 7
    while position + 7 <= len(data):
        room = 32768 - position % 32768
        if room < 7:
            position += room
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def offline_run(run: Path) -> tuple[dict, dict[int, dict[str, float]], set[str]]:
    """(config, {step: {name: value}}, run ids) of every offline W&B run under the run directory."""
    config, history, ids = {}, {}, set()
    for file in sorted(run.glob("wandb/offline-run-*/run-*.wandb")):
        for record in wandb_records(file):
            kind = record.WhichOneof("record_type")
            if kind in ("run", "config"):
                updates = record.run.config.update if kind == "run" else record.config.update
                config.update({item.key: json.loads(item.value_json) for item in updates})
                if kind == "run":
                    ids.add(record.run.run_id)
            elif kind == "history":
                items = record.history.item
                row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}
                history.setdefault(int(row.pop("_step")), {}).update(
                    {k: v for k, v in row.items() if not k.startswith("_")}
                )
    return config, history, ids


def jsonl_history(run: Path) -> dict[int, dict[str, float]]:
    rows: dict[int, dict[str, float]] = {}
    for record in metrics_file.read_metrics(run):
        rows.setdefault(record["frames"], {}).update(metric_names(record))
    return {step: row for step, row in rows.items() if row}


def test_an_offline_run_holds_the_config_and_the_metrics_of_metrics_jsonl_and_resumes_as_one(tmp_path):
    run = tmp_path / "run"
    assert main([*RANDOM, "--stop_after=1400", f"--logdir={run}"]) == 130
    assert main([*RANDOM, f"--logdir={run}"]) == 0  # resumed from its checkpoint: the same W&B run goes on
    config, history, ids = offline_run(run)
    assert len(ids) == 1
    recorded = run_file.read_run(run).config  # the resolved config, whole (stop_after: the first attempt's)
    assert {k: v for k, v in config.items() if not k.startswith("_") and k != "stop_after"} == {
        k: v for k, v in recorded.items() if k != "stop_after"
    }
    expected = jsonl_history(run)
    assert {"train_episode/score", "eval_episode/score", "eval/score_mean"} <= {k for r in expected.values() for k in r}
    assert history == expected


def test_asking_for_wandb_without_the_package_is_one_line_and_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    assert main([*RANDOM, f"--logdir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'hieros-bench[wandb]'" in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_wandb_that_cannot_start_is_one_line_exit_2_so_the_runner_does_not_retry_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc with a key
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "home" / "wandb"))
    online = [arg if arg != "--wandb.mode=offline" else "--wandb.mode=online" for arg in RANDOM]
    assert main([*online, f"--logdir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: W&B could not start the run") and "wandb login" in err and "\n" not in err
    record = run_file.read_run(tmp_path / "run")  # the run says why it stopped, before its first step
    assert record.status == "failed" and "W&B could not start" in record.error
