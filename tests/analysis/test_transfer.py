"""Import and export of published per-seed results, on the published files themselves (read in place from
../shared/data/atari100k_raw, beside the checkout) and on small files written here in the same formats."""

import dataclasses
import gzip
import json
import math
from pathlib import Path

import pytest

from analysis import export, score_files, transfer
from analysis.store import StoreError, load_store
from bench.cli import main
from hieros import metrics_file, run_file, rundir
from hieros.run_file import ScoreProtocol


def _records(path: Path) -> list[dict]:
    return json.loads(gzip.decompress(path.read_bytes()))


def _danijar_keys(records: list[dict]) -> list[dict]:
    """An export's records without what it adds to danijar's keys (transfer.EXPORTED)."""
    return [{k: v for k, v in record.items() if k not in transfer.EXPORTED} for record in records]


ATARI100K = {"suite": "atari100k", "budget_frames": 400_000, "frames_per_step": 4, "window_frames": 10_000}


@pytest.mark.published
@pytest.mark.parametrize(
    "source", ["atari100k-dreamerv3.json.gz", "v1_2023/atari100k_dreamerv3.json.gz", "atari100k-ppo_fixhp.json.gz"]
)
def test_import_then_export_gives_back_the_danijar_file(published, tmp_path, source):
    """Same records in the same order with the same values and types (int/float, string seeds, NaN bins), and
    the protocol they were imported with."""
    path = published / "dreamerv3" / source
    assert score_files.import_file(path, "published", tmp_path).written == 130
    out = tmp_path / "out.json.gz"
    assert export.export_runs(tmp_path, out) == 130
    assert json.dumps(_danijar_keys(_records(out))) == json.dumps(_records(path))
    assert all({k: r[k] for k in transfer.EXPORTED} == ATARI100K for r in _records(out))


@pytest.mark.published
def test_imported_runs_are_marked_and_reproduce_the_final_window_score(published, tmp_path):
    dreamer = published / "dreamerv3" / "atari100k-dreamerv3.json.gz"
    score_files.import_file(dreamer, "dreamerv3", tmp_path)
    run = load_store(tmp_path)["dreamerv3"].runs["atari_alien"][0]
    provenance = run.record.provenance
    assert run.imported and run.record.status == "done"
    assert provenance.source_file == dreamer.name and len(provenance.sha256) == 64
    assert run.record.protocol.score == ScoreProtocol("final_train_window", 10_000)
    item = _records(dreamer)[0]  # atari_alien seed 0: mean of the episodes in (390k, 400k]
    window = [y for x, y in zip(item["xs"], item["ys"], strict=True) if 390_000 < x <= 400_000]
    assert run.final == pytest.approx(sum(window) / len(window)) == run.recorded_final


@pytest.mark.published
@pytest.mark.parametrize(
    "file, runs", [("iris/IRIS.json", 5), ("twm/scores.json", 5), ("storm/storm.json", 5), ("iris/SPR.json", 100)]
)
def test_import_per_game_lists(published, tmp_path, file, runs):
    assert score_files.import_file(published / file, "baseline", tmp_path).written == 26 * runs
    method = load_store(tmp_path)["baseline"]
    scores = json.loads((published / file).read_text())
    assert len(method.tasks) == 26 and method.scores(method.tasks).shape == (runs, 26)
    assert method.finals("atari_ms_pacman").tolist() == scores["MsPacman"]
    assert method.runs["atari_up_n_down"][1].record.protocol.score == ScoreProtocol("published_final")


def _danijar(path: Path, items: list[dict]) -> Path:
    path.write_bytes(gzip.compress(json.dumps(items).encode()))
    return path


def test_a_small_curve_file_round_trips_with_nan_and_string_seeds(tmp_path):
    items = [
        {
            "task": "atari_pong",
            "method": "x",
            "seed": "3",
            "xs": [1000.0, 395_000.0, 420_000.0],
            "ys": [-21.0, math.nan, -19.0],
        },
        {"task": "atari_alien", "method": "x", "seed": "1", "xs": [5, 399_000], "ys": [100, 300]},
    ]
    source = _danijar(tmp_path / "x.json.gz", items)
    score_files.import_file(source, "x", tmp_path / "store")
    method = load_store(tmp_path / "store")["x"]
    # pong: the only episode in the window is NaN and 420k lies past the budget -> no score (danijar's protocol)
    assert method.runs["atari_pong"][3].final is None and method.runs["atari_alien"][1].final == 300
    export.export_runs(tmp_path / "store", tmp_path / "back.json.gz")
    assert json.dumps(_danijar_keys(_records(tmp_path / "back.json.gz"))) == json.dumps(items)


def test_reimport_keeps_the_same_file_and_never_overwrites_other_runs(tmp_path):
    first = _danijar(
        tmp_path / "a.json.gz",
        [{"task": "atari_pong", "method": "a", "seed": s, "xs": [400_000], "ys": [float(s)]} for s in (1, 2, 3)],
    )
    score_files.import_file(first, "a", tmp_path / "store")
    (tmp_path / "new").mkdir()
    fewer = _danijar(
        tmp_path / "new" / "a.json.gz", [{"task": "atari_pong", "method": "a", "seed": 1, "xs": [400_000], "ys": [5.0]}]
    )
    with pytest.raises(StoreError, match=r"already holds runs from a\.json\.gz"):
        score_files.import_file(fewer, "a", tmp_path / "store")  # same name, other bytes: another file
    kept = transfer.Imported(0, 3, tmp_path / "store" / "atari100k" / "a")
    assert score_files.import_file(first, "a", tmp_path / "store") == kept  # the same file: kept
    ours = rundir.run_path(tmp_path / "store", "atari100k", "ours", "atari_pong", 1)
    record = run_file.read_run(rundir.run_path(tmp_path / "store", "atari100k", "a", "atari_pong", 1))
    made_here = run_file.Provenance.here("cpu")
    run_file.write_run(ours, dataclasses.replace(record, method="ours", provenance=made_here))
    with pytest.raises(StoreError, match="already holds runs of ours"):
        score_files.import_file(first, "ours", tmp_path / "store")
    assert score_files.import_file(fewer, "b", tmp_path / "store").written == 1
    assert sorted(load_store(tmp_path / "store")["a"].runs["atari_pong"]) == [1, 2, 3]


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "hns.json").write_text(json.dumps([{"game": "Alien", "seed": 1.0, "HNS": 0.05}]))
    (tmp_path / "game.json").write_text(json.dumps({"Zaxxon": [1.0]}))
    (tmp_path / "text.json").write_text("not json")
    for name, message in (
        ("hns.json", "neither a danijar score list"),
        ("game.json", "unknown game 'Zaxxon'"),
        ("text.json", "cannot read it as JSON"),
    ):
        assert main(["import", str(tmp_path / name), "--method", "m", "--results", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert (
        main(
            [
                "import",
                str(tmp_path / "game.json"),
                "--method",
                "m",
                "--suite",
                "dmc_proprio",
                "--results",
                str(tmp_path / "s"),
            ]
        )
        == 2
    )
    assert "--budget-frames" in capsys.readouterr().err
    assert main(["export", "--results", str(tmp_path / "s"), "--out", str(tmp_path / "o.json.gz")]) == 2


def _original_logdir(tmp_path: Path, lines: list[str]) -> Path:
    logdir = tmp_path / "orig_run"
    logdir.mkdir(parents=True)
    (logdir / "scores.jsonl").write_text("".join(line + "\n" for line in lines))
    return logdir


def test_original_logdir_import_undoes_the_reset_step_count(tmp_path, capsys):
    """The original's scores.jsonl counts one reset step per episode: with action repeat 8 and 125-step
    (1000-frame) episodes, episode k is logged at step 1008 k, which is 1000 k frames."""
    scores = [162.3, 139.7, 137.8, 150.0]
    lines = [json.dumps({"step": 1008 * k, "episode/score": s}) for k, s in enumerate(scores, start=1)]
    lines.insert(2, json.dumps({"step": 2016, "eval_episode/score": 99.0}))
    logdir = _original_logdir(tmp_path, lines)
    store = tmp_path / "store"
    args = [
        "import",
        str(logdir),
        "--method",
        "hieros_original",
        "--suite",
        "cpu_learning",
        "--results",
        str(store),
        "--task",
        "dmc_cartpole_balance",
        "--seed",
        "2",
        "--budget-frames",
        "4000",
        "--frames-per-step",
        "8",
        "--window-frames",
        "2000",
    ]
    assert main(args) == 0
    run = rundir.run_path(store, "cpu_learning", "hieros_original", "dmc_cartpole_balance", 2)
    metrics = metrics_file.read_metrics(run)
    train = metrics_file.episodes(metrics, "train")
    assert [(e["frames"], e["env_step"], e["score"]) for e in train] == [
        (1000, 125, 162.3),
        (2000, 250, 139.7),
        (3000, 375, 137.8),
        (4000, 500, 150.0),
    ]
    assert [e["frames"] for e in metrics_file.episodes(metrics, "eval")] == [2000]
    record = run_file.read_run(run)
    # episodes ending in (2000, 4000]: the last two
    assert record.score.final == pytest.approx((137.8 + 150.0) / 2)
    assert record.provenance.format == "hieros-original-logdir"
    assert record.config_hash == "imported-hieros-original-logdir"  # the same for every run of the method
    assert main(args) == 0  # the same directory again: left as it is
    assert "imported 0 runs" in capsys.readouterr().out
    other = _original_logdir(tmp_path / "b", lines[:2])
    assert main([*args[:1], str(other), *args[2:]]) == 2  # another log dir onto the same run is refused
    assert "already holds" in capsys.readouterr().err
    assert main([*args[:1], str(other), *args[2:-8], "--seed", "3", *args[-6:]]) == 0  # as another run it is fine


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], "cannot read"),
        ([json.dumps({"step": "x", "episode/score": 1.0})], "not a"),
        ([json.dumps({"step": 8, "episode/score": "high"})], "not a finite number"),
        ([json.dumps({"step": 8, "eval_episode/score": 1.0})], "no training episode"),
    ],
)
def test_original_logdir_import_refuses_bad_files_in_one_line(tmp_path, capsys, lines, message):
    logdir = _original_logdir(tmp_path, lines)
    store = tmp_path / "store"
    assert (
        main(
            [
                "import",
                str(logdir),
                "--method",
                "m",
                "--suite",
                "cpu_learning",
                "--results",
                str(store),
                "--task",
                "dmc_cartpole_balance",
                "--budget-frames",
                "4000",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0 and "Traceback" not in err
    assert not store.exists()


def test_original_logdir_import_needs_a_known_task(tmp_path, capsys):
    logdir = _original_logdir(tmp_path, [json.dumps({"step": 1008, "episode/score": 1.0})])
    base = [
        "import",
        str(logdir),
        "--method",
        "m",
        "--suite",
        "s",
        "--results",
        str(tmp_path / "r"),
        "--budget-frames",
        "4000",
    ]
    assert main(base) == 2
    assert "give its --task" in capsys.readouterr().err
    assert main([*base, "--task", "dmc_cartpole_balanse"]) == 2
    assert "closest: dmc_cartpole_balance" in capsys.readouterr().err


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_import_never_writes_outside_the_store_nor_deletes(tmp_path, capsys):
    """A task named ../../../../x once wrote outside --results and deleted a folder there (issue 15)."""
    victim = tmp_path / "x" / "seed_1"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    store = tmp_path / "a" / "b" / "store"
    evil = [{"task": "../../../../x", "method": "m", "seed": 1, "xs": [400_000], "ys": [1.0]}]
    bad = {"evil.json.gz": _danijar(tmp_path / "evil.json.gz", evil)}
    for name, text in (("garbage.json.gz", b"\x1f\x8bnot gzip at all"), ("short.json.gz", gzip.compress(b"[")[:-6])):
        (tmp_path / name).write_bytes(text)
        bad[name] = tmp_path / name
    bad["xs.json.gz"] = _danijar(tmp_path / "xs.json.gz", [{"task": "atari_pong", "seed": 1, "xs": ["a"], "ys": [1]}])
    bad["seed.json.gz"] = _danijar(
        tmp_path / "seed.json.gz", [{"task": "atari_pong", "seed": -1, "xs": [1], "ys": [1]}]
    )
    before = _tree(tmp_path)
    for name, path in bad.items():
        assert main(["import", str(path), "--method", "m", "--results", str(store)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    good = _danijar(tmp_path / "good.json.gz", [{"task": "atari_pong", "seed": 1, "xs": [400_000], "ys": [1.0]}])
    for method in ("../m", "a/b", ".hidden"):
        assert main(["import", str(good), "--method", method, "--results", str(store)]) == 2
        assert "cannot name a folder of the results store" in capsys.readouterr().err
    assert _tree(tmp_path) == {**before, "good.json.gz": good.read_bytes()}


def test_force_moves_runs_aside_and_deletes_nothing(tmp_path):
    store = tmp_path / "store"
    first = _danijar(tmp_path / "a.json.gz", [{"task": "atari_pong", "seed": 1, "xs": [400_000], "ys": [1.0]}])
    (tmp_path / "b").mkdir()
    second = _danijar(tmp_path / "b" / "a.json.gz", [{"task": "atari_pong", "seed": 1, "xs": [400_000], "ys": [2.0]}])
    assert score_files.import_file(first, "m", store).written == 1
    with pytest.raises(StoreError, match="give --force"):
        score_files.import_file(second, "m", store)
    assert score_files.import_file(second, "m", store, force=True) == transfer.Imported(1, 0, store / "atari100k" / "m")
    assert load_store(store)["m"].runs["atari_pong"][1].final == 2.0
    kept = list((store / "atari100k" / "m" / "atari_pong").glob("seed_1.old-*"))
    assert len(kept) == 1 and run_file.read_run(kept[0]).score.final == 1.0


def test_outputs_that_cannot_be_written_are_refused_before_the_work(tmp_path, capsys):
    store = tmp_path / "store"
    score_files.import_file(
        _danijar(tmp_path / "a.json.gz", [{"task": "atari_pong", "seed": 1, "xs": [400_000], "ys": [1.0]}]), "m", store
    )
    (tmp_path / "file").write_text("")
    for args in (
        ["export", "--results", str(store), "--out", str(tmp_path / "file" / "o.json.gz")],
        ["export", "--results", str(store), "--out", str(tmp_path)],
        ["report", "--results", str(store), "--out", str(tmp_path / "file")],
        ["plot", "sampler", "--out", str(tmp_path / "file" / "x")],
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err


def _dmc_run(stores, results: Path, method: str, seed: int, scores: list[float]) -> None:
    """A DMC run of a 36k-frame suite with a 4000-frame window at 2 frames a step (cpu_learning's protocol)."""
    run = stores.write_run(
        results, method, "dmc_cartpole_balance", seed, scores, window=4000, budget=36_000, suite="cpu_learning"
    )
    record = run_file.read_run(run)
    protocol = dataclasses.replace(record.protocol, frames_per_step=2, budget_steps=18_000)
    run_file.write_run(run, dataclasses.replace(record, protocol=protocol))


def test_an_export_reimports_into_the_same_scores(tmp_path, stores, capsys):
    """Each suite and method exported and imported into a fresh store: the same runs, protocols and scores (a
    DMC suite came back as atari100k runs without a score, at 4 frames a step and a 10k-frame window)."""
    store = tmp_path / "store"
    for method in ("alpha", "beta"):
        for seed in (1, 2):
            _dmc_run(stores, store, method, seed, [100.0, 200.0 + seed, 300.0 * seed + len(method)])
            stores.write_run(store, method, "atari_pong", seed, [-21.0, -5.0 + seed + len(method)])
    fresh = tmp_path / "fresh"
    for suite in ("cpu_learning", "atari100k"):
        for method in ("alpha", "beta"):
            out = tmp_path / f"{suite}-{method}.json.gz"
            assert (
                main(["export", "--results", str(store), "--suite", suite, "--method", method, "--out", str(out)]) == 0
            )
            assert main(["import", str(out), "--method", method, "--results", str(fresh)]) == 0
            assert f"imported 2 runs of {method} from {out.name} into {fresh / suite}" in capsys.readouterr().out
            before, after = load_store(store, suite)[method], load_store(fresh, suite)[method]
            assert before.tasks == after.tasks
            for task in before.tasks:
                assert after.finals(task).tolist() == before.finals(task).tolist() and len(after.finals(task)) == 2
                for seed, run in before.runs[task].items():
                    protocol = after.runs[task][seed].record.protocol
                    assert dataclasses.replace(protocol, env=None) == dataclasses.replace(run.record.protocol, env=None)
    assert (
        main(["export", "--results", str(store), "--suite", "cpu_learning", "--out", str(tmp_path / "all.json.gz")])
        == 0
    )
    assert main(["import", str(tmp_path / "all.json.gz"), "--method", "x", "--results", str(tmp_path / "s")]) == 2
    assert "appears twice; it holds several methods: import one method's export" in capsys.readouterr().err


def test_an_import_flag_that_contradicts_an_export_is_refused(tmp_path, stores, capsys):
    _dmc_run(stores, tmp_path / "store", "alpha", 1, [100.0, 200.0])
    out = tmp_path / "a.json.gz"
    export.export_runs(tmp_path / "store", out)
    assert main(["import", str(out), "--method", "a", "--results", str(tmp_path / "s"), "--frames-per-step", "4"]) == 2
    assert capsys.readouterr().err == (
        "error: a.json.gz: record 0 was made with frames_per_step 2, not --frames-per-step 4; "
        "leave --frames-per-step out\n"
    )
    assert main(["import", str(out), "--method", "a", "--results", str(tmp_path / "s"), "--suite", "other"]) == 0
    assert load_store(tmp_path / "s", "other")["a"].runs["dmc_cartpole_balance"][1].final == 200.0


def test_a_run_scored_by_its_evaluations_is_not_exported_as_a_curve(tmp_path, stores):
    run = stores.write_run(tmp_path, "alpha", "atari_pong", 1, [1.0, 2.0])
    record = run_file.read_run(run)
    protocol = dataclasses.replace(record.protocol, score=ScoreProtocol("final_eval", 10_000))
    run_file.write_run(run, dataclasses.replace(record, protocol=protocol))
    with pytest.raises(StoreError, match="its score is by the final_eval protocol"):
        export.export_runs(tmp_path, tmp_path / "o.json.gz")
    assert not (tmp_path / "o.json.gz").exists()


def test_a_gzip_that_unpacks_past_the_limit_is_refused_in_one_line_before_it_is_held(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * 100_000 + b"[]"))  # 100 KB of JSON whitespace from a few hundred bytes
    monkeypatch.setattr(score_files, "MAX_UNPACKED", 10_000)
    with pytest.raises(StoreError, match=r"bomb.json.gz: unpacks to more than"):
        score_files.import_file(bomb, "x", tmp_path / "results")
    assert not (tmp_path / "results").exists()
    two = tmp_path / "two.json.gz"  # a file of two gzip members (cat a.gz b.gz) reads as their concatenation
    two.write_bytes(gzip.compress(b"[") + gzip.compress(b"]"))
    with pytest.raises(StoreError, match="no runs"):
        score_files.import_file(two, "x", tmp_path / "results")


def test_export_of_our_runs(tmp_path, stores):
    stores.small_store(tmp_path, methods=("alpha",), seeds=2)
    stores.write_run(tmp_path, "alpha", "atari_pong", 3, [1.0], status="running")
    assert export.export_runs(tmp_path, tmp_path / "out.json.gz", method="alpha") == 6  # finished runs only
    items = json.loads(gzip.decompress((tmp_path / "out.json.gz").read_bytes()))
    assert [(i["task"], i["seed"]) for i in items][:3] == [
        ("atari_breakout", 1),
        ("atari_breakout", 2),
        ("atari_frostbite", 1),
    ]
    assert items[0] == {
        "task": "atari_breakout",
        "method": "alpha",
        "seed": 1,
        "xs": [133333, 266666, 400000],
        "ys": [0.0, 1.0, 11.0],
        "suite": "atari100k",  # what an import needs to give the same score (transfer.EXPORTED)
        "budget_frames": 400_000,
        "frames_per_step": 4,
        "window_frames": 10_000,
    }
