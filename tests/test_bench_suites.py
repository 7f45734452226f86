"""benchmark.toml: the shipped file validates; broken files are rejected with one readable line."""

import pytest

from bench.plan import parse_sets, plan
from bench.suites import SuiteError, load

GOOD = """
[suites.tiny]
tasks = ["atari_pong", "dmc_cartpole_balance"]
seeds = 2
methods = ["random", "flat"]
presets = { atari = ["atari100k", "debug"], dmc = ["dmc_proprio", "debug"] }
set = { steps = 400, score = { window_frames = 100 } }

[methods.random]
model_name = "random"

[methods.hieros]
model_name = "hieros"

[methods.flat]
base = "hieros"
set = { max_hierarchy = 1 }
"""


def test_shipped_benchmark_validates():
    benchmark = load()
    assert {"atari100k", "dmc_vision", "dmc_proprio", "smoke", "atari100k_ablations"} <= set(benchmark.suites)
    atari = benchmark.suite("atari100k")
    assert len(atari.tasks) == 26 and atari.seeds == 5 and atari.presets_for("atari_alien") == ["atari100k"]
    assert atari.overrides["score.window_frames"] == 10000
    assert len(benchmark.suite("dmc_vision").tasks) == 20 and len(benchmark.suite("dmc_proprio").tasks) == 18
    assert benchmark.method("hieros_uniform").overrides == {"replay": "uniform"}
    assert benchmark.method("hieros_uniform").model_name == "hieros"


def test_plan_builds_exact_commands(tmp_path):
    file = tmp_path / "b.toml"
    file.write_text(GOOD)
    benchmark = load(file)
    suite = benchmark.suite("tiny")
    specs = plan(benchmark, suite, suite.methods, [1, 2], tmp_path / "results", extra=parse_sets(["eval_eps=2"]))
    assert len(specs) == 2 * 2 * 2
    flat = next(s for s in specs if s.method == "flat" and s.task == "atari_pong" and s.seed == 2)
    assert flat.run_dir == tmp_path / "results" / "tiny" / "flat" / "atari_pong" / "seed_2"
    assert flat.command[3:7] == ("--configs", "atari100k", "debug", "--task=atari_pong")
    assert "--max_hierarchy=1" in flat.command and "--score.window_frames=100" in flat.command
    assert "--eval_eps=2" in flat.command and "--model_name=hieros" in flat.command
    same = [s.config_hash for s in specs if s.method == "flat" and s.task == "atari_pong"]
    assert len(set(same)) == 1  # seeds share the config hash


@pytest.mark.parametrize("edit, message", [
    (('seeds = 2', 'seeds = "two"'), "'seeds' must be a int"),
    (('"atari_pong", ', '"atari_pongg", '), "unknown task 'atari_pongg'"),
    (('methods = ["random", "flat"]', 'methods = ["random", "flatt"]'), "unknown method 'flatt'"),
    (('max_hierarchy = 1', 'max_hierarchi = 1'), "did you mean max_hierarchy"),
    (('steps = 400', 'steps = "many"'), "expected an integer"),
    ((', dmc = ["dmc_proprio", "debug"]', ''), "no entry for the dmc_* tasks"),
    (('base = "hieros"', 'base = "flat"'), "goes round in a circle"),
    (('model_name = "random"', 'model_name = "ppo"'), "model_name 'ppo'"),
    (('seeds = 2', 'seedz = 2'), "unknown key 'seedz'"),
    (('[suites.tiny]', '[suites.tiny'), "not valid TOML"),
])
def test_broken_files_are_rejected_in_one_line(tmp_path, edit, message):
    file = tmp_path / "b.toml"
    file.write_text(GOOD.replace(*edit))
    with pytest.raises(SuiteError) as info:
        load(file)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(file) in str(info.value)


def test_bad_set_is_rejected():
    with pytest.raises(SuiteError, match="key=value"):
        parse_sets(["steps"])
