"""run.json's types (hieros.run_file): every committed run.json loads and keeps every key and value it holds, a
record's JSON reads back to the same record, the shapes earlier writers left load, and a key missing, unknown or of
the wrong kind is a one-line RunFileError naming the key and the file."""

import dataclasses
import json
from pathlib import Path

import pytest

from hieros import code_version, run_file
from hieros.rundir import RunFileError

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = [
    p for place in ("results", "docs/runs", "tests/hieros/data") for p in sorted(ROOT.glob(f"{place}/**/run.json"))
]


def _kept(data: dict, written: dict) -> bool:
    """Whether `written` holds every key of `data` (one level into the records' objects) with its value."""
    for key, value in data.items():
        if isinstance(value, dict) and key in ("protocol", "provenance", "progress", "score"):
            if not _kept(value, written[key]):
                return False
        elif written.get(key, object()) != value:
            return False
    return True


def _record() -> run_file.Record:
    protocol = run_file.RunProtocol.of({"game": "pong"}, 4, 400_000, run_file.ScoreProtocol("final_train_window", 10))
    return run_file.Record(
        suite="atari100k",
        method="m",
        task="atari_pong",
        seed=1,
        status="done",
        config={"seed": 1},
        config_hash="abc",
        protocol=protocol,
        provenance=run_file.Provenance.here("cpu", 2),
        progress=run_file.Progress(env_steps=100_000, frames=400_000, phase_seconds={"env": 1.5}),
        score=run_file.Score(3.5, train_episodes=7),
    )


def test_the_committed_stores_hold_runs():
    assert len(COMMITTED) > 100  # results/, docs/runs/ and tests/hieros/data/


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_run_json_loads_and_keeps_its_keys_and_values(path):
    data = json.loads(path.read_text())
    record = run_file.read_run(path)
    written = record.to_json()
    assert _kept(data, written)
    assert run_file.Record.from_json(written, path) == record


def test_a_record_reads_back_the_same_and_is_written_as_json(tmp_path):
    record = _record()
    assert run_file.Record.from_json(record.to_json(), "x") == record
    run_file.write_run(tmp_path, record)
    assert run_file.read_run(tmp_path) == record
    text = json.loads((tmp_path / "run.json").read_text())
    assert next(iter(text)) == "schema" and text["schema"] == run_file.SCHEMA
    assert "window_frames" in text["protocol"]["score"] and "step" not in text["protocol"]  # omitted when None
    assert text["score"] == {"final": 3.5, "train_episodes": 7}


def test_an_imported_runs_provenance_keeps_its_formats_own_keys():
    source = run_file.ImportProvenance(
        "a.json.gz", "f" * 64, "danijar-json.gz", {"source_seed": None, "source_index": 2}
    )
    record = dataclasses.replace(_record(), provenance=source, config={})
    data = record.to_json()
    assert data["provenance"] == {
        "imported": True,
        "source_file": "a.json.gz",
        "sha256": "f" * 64,
        "format": "danijar-json.gz",
        "source_seed": None,
        "source_index": 2,
    }
    assert run_file.Record.from_json(data, "x") == record and record.imported
    assert source.source_name("m", 5) == ("m", None, 2)  # an export's own seed, even null, and its order


def test_the_shapes_earlier_writers_left_load():
    """Imports before the record was built in one place (no attempts, no episodes or last score), runs before the
    thread and CPU counts (no threads, cpus), runs before phase clocks and train_episodes."""
    data = _record().to_json()
    del data["attempts"], data["progress"]["episodes"], data["progress"]["last_score"]
    del data["provenance"]["threads"], data["provenance"]["cpus"], data["progress"]["phase_seconds"]
    del data["score"]["train_episodes"]
    record = run_file.Record.from_json(data, "old/run.json")
    assert record.attempts == 1 and record.progress.episodes == 0 and record.progress.last_score is None
    assert record.provenance.threads is None and record.progress.phase_seconds is None
    assert record.score == run_file.Score(3.5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("task"), "key task missing"),
        (lambda d: d["progress"].pop("frames"), "key progress.frames missing"),
        (lambda d: d["protocol"]["score"].pop("name"), "key protocol.score.name missing"),
        (lambda d: d.update(colour="red"), "unknown key colour"),
        (lambda d: d["provenance"].update(gpu="x"), "unknown key provenance.gpu"),
        (lambda d: d["score"].update(final="12.5"), "score.final is '12.5', not number or null"),
        (lambda d: d.update(seed=True), "seed is True, not int"),
        (lambda d: d.update(status="lost"), "status 'lost' is not one of running, done, failed"),
        (lambda d: d.update(schema="hieros-bench/run/9"), "written by a newer hieros-bench"),
        (lambda d: d.update(protocol=[]), "protocol is [], not object"),
    ],
)
def test_a_bad_key_is_one_line_naming_the_key_and_the_file(tmp_path, change, message):
    data = _record().to_json()
    change(data)
    (tmp_path / "run.json").write_text(json.dumps(data))
    with pytest.raises(RunFileError) as error:
        run_file.read_run(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'run.json'}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_record_of_the_wrong_kind_is_not_written(tmp_path):
    with pytest.raises(RunFileError, match="status 'lost'"):
        run_file.write_run(tmp_path, dataclasses.replace(_record(), status="lost"))
    assert not (tmp_path / "run.json").exists()


def test_records_are_frozen():
    record = _record()
    for part, field in ((record, "status"), (record.progress, "env_steps"), (record.protocol.score, "name")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, field, None)


def test_provenance_records_the_code_the_process_started_with(monkeypatch):
    """A runner that trains run after run keeps the code it imported: a commit made meanwhile is not theirs."""
    answers = {"rev-parse": "a" * 40, "status": ""}
    monkeypatch.setattr(code_version, "_git", lambda *args: answers[args[0]])
    code_version.code_state.cache_clear()
    try:
        first = run_file.Provenance.here("cpu")
        answers.update({"rev-parse": "b" * 40, "status": " M hieros/train.py"})
        later = run_file.Provenance.here("cpu")
    finally:
        code_version.code_state.cache_clear()
    assert (first.git_commit, first.git_dirty) == (later.git_commit, later.git_dirty) == ("a" * 40, False)
