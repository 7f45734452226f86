"""The ablation ladder: rungs and references parsed, probabilities read from the report's pairs in either order."""

import json

import pytest

from analysis import ladder
from analysis.store import StoreError


def summary(pairs: dict[str, dict[str, float]]) -> dict:
    methods = {
        name: {"runs_per_task": 3, "aggregates": {"Mean": {"value": v, "low": v - 0.1, "high": v + 0.1}}}
        for name, v in (("dreamer", 0.8), ("hieros", 0.4), ("random", 0.3), ("hieros_rssm", 0.5))
    }
    return {"tasks": ["dmc_cartpole_balance"], "methods": methods, "improvement": pairs}


def test_each_rung_is_compared_with_the_one_before_or_the_one_named():
    assert ladder.parse(["dreamer", "hieros", "hieros_rssm:dreamer", "random"]) == [
        ("dreamer", None),
        ("hieros", "dreamer"),
        ("hieros_rssm", "dreamer"),
        ("random", "hieros_rssm"),
    ]
    with pytest.raises(StoreError, match="empty rung"):
        ladder.parse(["dreamer", ":hieros"])


def test_probabilities_come_from_the_pair_in_either_order_with_the_interval_mirrored():
    pairs = {
        "dreamer vs hieros": {"value": 0.9, "low": 0.7, "high": 1.0},
        "hieros vs random": {"value": 0.6, "low": 0.4, "high": 0.8},
        "dreamer vs random": {"value": 1.0, "low": 1.0, "high": 1.0},
        "hieros_rssm vs hieros": {"value": 0.2, "low": 0.0, "high": 0.45},
    }
    rows = ladder.rows(summary(pairs), ladder.parse(["dreamer", "hieros", "hieros_rssm:hieros"]))
    assert [r["method"] for r in rows] == ["dreamer", "hieros", "hieros_rssm"]
    assert rows[0]["vs_reference"] is None and rows[0]["vs_floor"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert rows[1]["vs_reference"] == pytest.approx({"value": 0.1, "low": 0.0, "high": 0.3})  # 1 - P(dreamer > hieros)
    assert rows[1]["score"] == {"value": 0.4, "low": 0.30000000000000004, "high": 0.5}
    tests = {
        "pairs": {
            "dreamer vs hieros": {
                "x": "dreamer",
                "y": "hieros",
                "verdict": "better",
                "improvement": 0.9,
                "runs": [5, 3],
            },
            "hieros vs random": {
                "x": "hieros",
                "y": "random",
                "verdict": "inconclusive",
                "improvement": 0.6,
                "runs": [3, 5],
            },
        }
    }
    tested = ladder.with_tests(rows, tests)
    assert [ladder.verdict(r["test_reference"]) for r in tested] == ["", "worse", ""]  # turned round; untested
    assert tested[1]["test_reference"]["improvement"] == pytest.approx(0.1)
    assert tested[1]["test_reference"]["runs"] == [3, 5]
    assert ladder.verdict(tested[1]["test_floor"]) == "inconclusive"
    assert rows[2]["vs_floor"] is None  # no hieros_rssm/random pair in this report
    with pytest.raises(StoreError, match="'nosuch' is not a method of this report"):
        ladder.rows(summary(pairs), ladder.parse(["dreamer", "nosuch"]))


def test_the_report_writes_the_ladder_table_and_figure(tmp_path, stores):
    stores.small_store(tmp_path, methods=("alpha", "beta", "random"))
    out = tmp_path / "report"
    assert (
        stores.run_report(tmp_path, "--out", str(out), "--reps", "300", "--no-sampler", "--ladder", "alpha,beta") == 0
    )
    rungs = json.loads((out / "summary.json").read_text())["ladder"]["rungs"]
    assert [(r["method"], r["reference"]) for r in rungs] == [("alpha", None), ("beta", "alpha")]
    assert rungs[1]["test_reference"]["verdict"] in ("better", "worse", "level", "inconclusive")
    tests = json.loads((out / "summary.json").read_text())["tests"]
    assert tests["size"] == 3 and tests["family"].startswith("each ladder rung")  # beta vs alpha, each vs random
    assert "## Ablation ladder" in (out / "report.md").read_text()
    assert (out / "ladder.png").stat().st_size > 0 and (out / "ladder.csv").read_text().startswith("method,reference")
