"""summary.json as the types of analysis/summary_file.py: every committed summary loads and is written back to the
same text, a report's summary reads back equal, and a key missing, unknown or of the wrong kind is one line naming
the key and the file."""

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from analysis.report import Options, compute
from analysis.summary_file import Summary, SummaryFileError, read_summary, schema_table

ROOT = Path(__file__).parents[2]
COMMITTED = sorted((ROOT / "results" / "report").glob("**/summary.json"))


def test_the_committed_reports_are_there():
    assert len(COMMITTED) >= 3


@pytest.mark.parametrize("file", COMMITTED, ids=lambda f: f.parent.name)
def test_every_committed_summary_loads_and_is_written_back_to_the_same_text(file):
    summary = read_summary(file)
    assert summary.text() == file.read_text()
    assert Summary.from_json(summary.to_json(), file) == summary


def test_a_report_with_every_section_reads_back_equal(tmp_path, stores):
    stores.small_store(tmp_path, methods=("alpha", "beta", "random"))
    options = Options(
        tmp_path, tmp_path / "out", baselines=["none"], reps=100, sampler=False, calibrate=5, metrics=["model_loss"]
    )
    options.ladder = ["random", "alpha", "beta:random"]
    summary = compute(options).summary
    assert summary.ladder and summary.calibration and summary.train_metrics and summary.efficiency
    assert Summary.from_json(summary.to_json(), "here") == summary
    assert Summary.from_json(json.loads(summary.text()), "here") == summary


def _error(data: dict, file: Path) -> str:
    with pytest.raises(SummaryFileError) as error:
        Summary.from_json(data, file)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{file}: ")
    return message


def test_a_key_missing_unknown_or_of_the_wrong_kind_is_one_line_naming_it_and_the_file():
    file = next(f for f in COMMITTED if "ladder" in json.loads(f.read_text()))
    data = json.loads(file.read_text())
    method, task = next(iter(data["methods"])), data["tasks"][0]
    pair = next(iter(data["tests"]["pairs"]))

    missing = copy.deepcopy(data)
    del missing["methods"][method]["games"][task]["runs"]
    assert _error(missing, file).endswith(f"key methods.{method}.games.{task}.runs missing")

    unknown = copy.deepcopy(data)
    unknown["ladder"]["rungs"][0]["extra"] = 1
    assert "unknown key ladder.rungs[0].extra (known: method, reference," in _error(unknown, file)

    wrong = copy.deepcopy(data)
    wrong["tests"]["pairs"][pair]["runs"][0] = "3"
    assert _error(wrong, file).endswith(f"tests.pairs.{pair}.runs[0] is '3', not int")

    flag = copy.deepcopy(data)
    flag["methods"][method]["imported"] = 0
    assert _error(flag, file).endswith(f"methods.{method}.imported is 0, not bool")

    no_tests = {k: v for k, v in data.items() if k != "tests"}
    assert _error(no_tests, file).endswith("key tests missing")

    other = {**data, "schema": "hieros-bench/run/1"}
    assert "not a hieros-bench/report/1 summary" in _error(other, file)


def test_a_summary_is_frozen_and_a_missing_file_is_one_line(tmp_path):
    summary = read_summary(COMMITTED[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.suite = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        next(iter(summary.methods.values())).runs_per_task = 0
    with pytest.raises(SummaryFileError, match=r"summary\.json: missing"):
        read_summary(tmp_path)
    (tmp_path / "summary.json").write_text("{")
    with pytest.raises(SummaryFileError, match="corrupt JSON"):
        read_summary(tmp_path)


def test_the_docs_show_the_schema_of_the_types():
    assert schema_table() in (ROOT / "docs" / "architecture.md").read_text()
