"""benchmark.toml: the shipped file validates; broken files are rejected with one readable line; plans are exact."""

import numpy as np
import pytest

from bench.cli import main
from bench.plan import parse_list, parse_seeds, parse_sets, plan
from bench.resources import budget
from bench.suites import SuiteError, load
from hieros.config import build_config

GOOD = """
[suites.tiny]
tasks = ["atari_pong", "dmc_cartpole_balance"]
seeds = 2
methods = ["random", "flat"]
presets = { atari = ["atari100k", "debug"], dmc = ["dmc_proprio", "debug"] }
budget_frames = 400
score = { name = "final_train_window", window_frames = 100 }
set = { eval_eps = 2 }

[methods.random]
model_name = "random"

[methods.hieros]
model_name = "hieros"

[methods.flat]
base = "hieros"
set = { max_hierarchy = 1, s5 = { num_blocks = 2 } }

[slurm]
partition = "gpu"
"""


@pytest.fixture
def good(tmp_path):
    file = tmp_path / "b.toml"
    file.write_text(GOOD)
    return file


def test_shipped_benchmark_validates():
    benchmark = load()
    assert {"atari100k", "dmc_vision", "dmc_proprio", "smoke", "atari100k_ablations"} <= set(benchmark.suites)
    atari = benchmark.suite("atari100k")
    assert len(atari.tasks) == 26 and atari.seeds == 5 and atari.presets_for("atari_alien") == ["atari100k"]
    assert atari.overrides == {"steps": 400_000, "score.protocol": "final_train_window", "score.window_frames": 10_000}
    assert len(benchmark.suite("dmc_vision").tasks) == 20 and len(benchmark.suite("dmc_proprio").tasks) == 18
    ablations = benchmark.suite("atari100k_ablations")
    assert ablations.tasks == ["atari_krull", "atari_breakout", "atari_freeway", "atari_battle_zone"]
    expected = {
        "hieros_uniform": {"replay": "uniform"},
        "hieros_rssm": {"dynamics_model": "rssm"},
        "hieros_1level": {"max_hierarchy": 1},
        "hieros_2level": {"max_hierarchy": 2},
        "hieros_4level": {"max_hierarchy": 4},
        "hieros_no_intermediate": {"subactor_encode_intermediate": False},
    }
    for name, overrides in expected.items():
        assert benchmark.method(name).overrides == overrides and benchmark.method(name).model_name == "hieros"
    smoke = benchmark.suite("smoke")
    assert smoke.presets_for("atari_breakout") == ["atari100k", "debug"]
    assert smoke.presets_for("dmc_cartpole_balance") == ["dmc_proprio", "debug"]
    assert set(benchmark.slurm) >= {
        "partition",
        "gpus_per_node",
        "cpus_per_task",
        "mem_gb",
        "timeout_min",
        "array_parallelism",
    }


def test_plan_builds_exact_commands_with_precedence(good, tmp_path):
    benchmark = load(good)
    suite = benchmark.suite("tiny")
    specs = plan(benchmark, suite, suite.methods, [1, 2], tmp_path / "results", extra=parse_sets(["eval_eps=3"]))
    assert len(specs) == 2 * 2 * 2
    flat = next(s for s in specs if s.method == "flat" and s.task == "atari_pong" and s.seed == 2)
    assert flat.run_dir == tmp_path / "results" / "tiny" / "flat" / "atari_pong" / "seed_2"
    assert flat.command[3:7] == ("--configs", "atari100k", "debug", "--task=atari_pong")
    for flag in (
        "--max_hierarchy=1",
        "--s5.num_blocks=2",
        "--steps=400",
        "--score.window_frames=100",
        "--model_name=hieros",
        "--seed=2",
        "--suite=tiny",
        "--method=flat",
    ):
        assert flag in flat.command
    assert "--eval_eps=3" in flat.command and "--eval_eps=2" not in flat.command  # --set wins over the suite
    config = build_config(
        ["atari100k", "debug"],
        {
            "steps": 400,
            "score.protocol": "final_train_window",
            "score.window_frames": 100,
            "eval_eps": 3,
            "max_hierarchy": 1,
            "s5.num_blocks": 2,
            "model_name": "hieros",
        },
    )
    assert flat.config_hash == config.hash() and flat.budget_frames == 400
    same = {s.config_hash for s in specs if s.method == "flat" and s.task == "atari_pong"}
    assert len(same) == 1  # seeds share the config hash


@pytest.mark.parametrize(
    "edit, message",
    [
        (("seeds = 2", 'seeds = "two"'), "'seeds' must be an integer"),
        (("seeds = 2", "seeds = 0"), "'seeds' must be at least 1"),
        (('"atari_pong", ', '"atari_pongg", '), "unknown task 'atari_pongg'; closest: atari_pong"),
        (('methods = ["random", "flat"]', 'methods = ["random", "flatt"]'), "unknown method 'flatt'"),
        (("max_hierarchy = 1", "max_hierarchi = 1"), "[methods.flat] set: unknown key --max_hierarchi"),
        (("max_hierarchy = 1", 'max_hierarchy = "two"'), "--max_hierarchy: expected an integer, got 'two'"),
        (("budget_frames = 400", "budget_frames = -5"), "'budget_frames' must be positive"),
        (("eval_eps = 2", "steps = 9"), "'steps' is given twice"),
        (('name = "final_train_window"', 'name = "best_ever"'), "--score.protocol=best_ever is not valid: use one of"),
        (("window_frames = 100", "window = 100"), "unknown key 'window'"),
        (("set = { eval_eps = 2 }", 'normalization = { name = "human" }'), "'normalization' is no longer read"),
        ((', dmc = ["dmc_proprio", "debug"]', ""), "'presets' has no entry for the dmc_* tasks"),
        (('"debug"]', '"debugg"]'), "unknown preset 'debugg'"),
        (('base = "hieros"', 'base = "flat"'), "goes round in a circle"),
        (('model_name = "random"', 'model_name = "ppo"'), "--model_name=ppo is not valid: use one of hieros"),
        (("seeds = 2", "seedz = 2"), "unknown key 'seedz' (did you mean seeds or seeds_of?)"),
        (('partition = "gpu"', "partition = 3"), "[slurm]: 'partition' must be a string"),
        (('partition = "gpu"', 'partitions = "gpu"'), "[slurm]: unknown key 'partitions'"),
        (("[suites.tiny]", "[suites.tiny"), "not valid TOML"),
    ],
)
def test_broken_files_are_rejected_in_one_line(good, edit, message):
    good.write_text(GOOD.replace(*edit))
    with pytest.raises(SuiteError) as info:
        load(good)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(good) in str(info.value)


def test_command_line_selections_are_checked():
    with pytest.raises(SuiteError, match="key=value"):
        parse_sets(["steps"])
    with pytest.raises(SuiteError, match="integers"):
        parse_seeds(None, "1,x", 3)
    assert parse_seeds(None, "4,2", 3) == [4, 2] and parse_seeds(2, None, 5) == [1, 2]
    assert parse_seeds(None, None, 3) == [1, 2, 3]  # CleanRL's convention: seeds start at 1
    with pytest.raises(SuiteError, match="did you mean atari_pong"):
        parse_list("atari_pongg", "--tasks", ["atari_pong", "atari_alien"])


def test_cli_user_errors_are_one_line(good, tmp_path, capsys):
    cases = [
        (["run", "tinyy"], "unknown suite 'tinyy' (did you mean tiny?)"),
        (["run", "tiny", "--set", "stepz=3"], "unknown key --stepz (did you mean steps"),
        (["run", "tiny", "--set", "steps=many"], "expected an integer"),
        (["run", "tiny", "--method", "nope"], "--method: 'nope' is not in this suite"),
        (["run", "tiny", "--jobs", "0"], "--jobs must be at least 1"),
        (["status", "--results", str(tmp_path / "none")], "no runs under"),
    ]
    for args, message in cases:
        assert (
            main(["--suites", str(good), *args, "--dry-run"] if args[0] == "run" else ["--suites", str(good), *args])
            == 2
        )
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err


def test_budget_defaults():
    cpu = budget(None, None, 1, gpus=[], cpus=8)
    assert (cpu.jobs, cpu.threads, cpu.slots) == (8, 1, [None] * 8)
    assert (budget(None, 4, 1, gpus=[], cpus=8).jobs, budget(2, None, 1, gpus=[], cpus=8).threads) == (2, 4)
    gpu = budget(None, None, 2, gpus=["0", "1"], cpus=16)
    assert gpu.jobs == 4 and gpu.threads == 4 and sorted(gpu.slots) == ["0", "0", "1", "1"]
    capped = budget(8, None, 1, gpus=["0"], cpus=16)
    assert capped.jobs == 1 and "--runs-per-gpu" in capped.note


def test_runs_of_another_runner_take_their_cores():
    """Two runners side by side on 2 cores: the second sees the first's 2 runs and gives its own one thread
    (before, each gave its runs all the cores, and OpenMP threads on the oversubscribed CPU ran ~10x slower)."""
    assert (budget(None, None, 1, gpus=[], cpus=2).jobs, budget(1, None, 1, gpus=[], cpus=2).threads) == (2, 2)
    shared = budget(None, None, 1, gpus=[], cpus=2, others=2)
    assert (shared.jobs, shared.threads) == (1, 1) and "2 runs of another runner" in shared.note
    assert budget(1, None, 1, gpus=[], cpus=16, others=3).threads == 4
    assert budget(2, 3, 1, gpus=[], cpus=2, others=2).threads == 3  # what is asked for is kept


def test_status_shows_each_atari100k_run_against_the_shipped_field(tmp_path, stores, capsys):
    """`status` puts an Atari100k run's score as a percentile of the 13 shipped baselines' final runs on its game
    (ties half); runs of other budgets or domains get '-'."""
    from analysis import baselines
    from bench.cli import main

    pong = baselines.field("atari_pong")
    assert len(pong) > 100  # every shipped method's runs on Pong
    middle = float(np.median(pong))
    stores.write_run(tmp_path, "alpha", "atari_pong", 1, [0.0, middle])
    stores.write_run(tmp_path, "alpha", "atari_pong", 2, [0.0, 30.0])  # above every possible Pong score
    stores.write_run(tmp_path, "alpha", "atari_pong", 3, [0.0, 5.0], budget=4_000, window=2_000)  # not Atari100k
    capsys.readouterr()
    assert main(["status", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    share, size = baselines.percentile(middle, "atari_pong")
    assert 0.4 <= share <= 0.6 and f"p{100 * share:.0f} of {size}" in out
    assert f"p100 of {size}" in out and "vs field" in out
    assert baselines.percentile(0.0, "atari_no_such_game") is None


def test_a_running_atari100k_run_meets_the_baselines_curves_at_its_frames(tmp_path, stores):
    """Before the budget the field is the runs with training curves (DreamerV3's), each at the 10k-frame bin that
    holds the run's frames, read here from the shipped CSV by hand."""
    import csv

    from analysis import baselines
    from bench.tables import _against_field
    from hieros import run_file

    with open(baselines.CURVES_TABLE) as f:
        rows = [r for r in csv.DictReader(f) if r["game"] == "Pong" and r["frames"] == "20000"]
    at_20k = sorted(float(r["score"]) for r in rows if r["score"])
    assert 0 < len(at_20k) <= 10 and sorted(baselines.field("atari_pong", 15_000)) == at_20k
    assert baselines.field("atari_pong", 400_000) == baselines.field("atari_pong")  # the budget: final scores
    run = stores.write_run(tmp_path, "alpha", "atari_pong", 1, [0.0, 1.0], status="running")
    record = run_file.read_run(run)
    assert record.protocol.budget_frames == baselines.BUDGET_FRAMES
    assert _against_field(record, max(at_20k) + 1, 15_000) == f"p100 of {len(at_20k)} at 15k"
    assert _against_field(record, min(at_20k) - 1, 15_000) == f"p0 of {len(at_20k)} at 15k"


def test_status_says_whether_an_interrupted_run_resumes_or_starts_again(tmp_path, stores):
    """A run left 'running' with no process says it resumes only where a checkpoint is there to resume from (a
    store copied without its checkpoints, which stay local, starts such runs again)."""
    from bench.tables import status_row
    from hieros import checkpoint

    run = stores.write_run(tmp_path, "alpha", "atari_pong", 1, [0.0, 1.0], status="running")
    state, cells, _ = status_row("run", run)
    assert state == "interrupted" and cells[-1] == "no checkpoint: the next run starts it again, its records set aside"
    checkpoint.save(run, {"counters": {"env_step": 10}})
    assert status_row("run", run)[1][-1] == "resumes from its checkpoint on the next run"


def test_a_method_can_plan_its_own_seed_count(tmp_path):
    """`seeds_of`: a rung added with the seeds its power calculation asked; `run` without --seeds gives each
    method its own count, and a name outside the suite or a count below 1 is refused in one line."""
    text = GOOD.replace("seeds = 2\n", "seeds = 2\nseeds_of = { random = 3 }\n", 1)
    file = tmp_path / "benchmark.toml"
    file.write_text(text)
    suite = load(file).suite("tiny")
    assert suite.seeds_for("random") == 3 and suite.seeds_for("flat") == 2
    specs = plan(load(file), suite, ["random", "flat"], {"random": [1, 2, 3], "flat": [1, 2]}, tmp_path / "r")
    assert sorted((s.method, s.seed) for s in specs if s.task == "atari_pong") == [
        ("flat", 1), ("flat", 2), ("random", 1), ("random", 2), ("random", 3)
    ]  # fmt: skip
    assert main(["--suites", str(file), "run", "tiny", "--dry-run", "--results", str(tmp_path / "r")]) == 0
    for bad, said in (("{ nobody = 3 }", "not one of the suite's methods"), ("{ random = 0 }", "at least 1")):
        file.write_text(text.replace("{ random = 3 }", bad))
        with pytest.raises(SuiteError, match=said):
            load(file)
