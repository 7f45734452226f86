"""What a dry run says a sweep costs: from the store's finished runs of the same config, else from the measured
paper-size rows of docs/atari100k.md, else nothing; a warning past a day of CPU wall time."""

from pathlib import Path

import pytest

from bench import cost, plan, suites
from bench.cli import main


def specs(suite: str, methods: list[str], seeds: int = 1, tasks: list[str] | None = None) -> list[plan.RunSpec]:
    benchmark = suites.load()
    return plan.plan(benchmark, benchmark.suite(suite), methods, list(range(1, seeds + 1)), Path("r"), tasks)


def test_paper_size_runs_cost_what_docs_atari100k_measured():
    [run] = specs("atari100k", ["hieros"], tasks=["atari_alien"])
    # one training call per agent step (1024 / (16 x 64)): update + acting + the trainer's overhead
    assert cost.measured_seconds_per_step(run, gpu=True) == pytest.approx(0.163 + 0.012 + 0.05)
    assert cost.measured_seconds_per_step(run, gpu=False) == pytest.approx(8.1 + 0.012)
    found = cost.estimate([run], {}, gpu=True)
    assert found.hours == pytest.approx(100_000 * 0.225 / 3600) and found.unit == "GPU-hours"
    [small] = specs("smoke", ["hieros"], tasks=["atari_breakout"])
    assert cost.measured_seconds_per_step(small, gpu=True) is None  # the debug model was never measured


def test_finished_runs_of_the_same_config_are_the_estimate_and_unknown_runs_are_counted():
    todo = specs("smoke", ["hieros", "dreamer"], seeds=2, tasks=["dmc_cartpole_balance"])
    done = {
        ("hieros", todo[0].config_hash): [
            {"status": "done", "progress": {"wall_seconds": 40.0, "env_steps": 1000}},
            {"status": "done", "progress": {"wall_seconds": 60.0, "env_steps": 1000}},
            {"status": "running", "progress": {"wall_seconds": 1.0, "env_steps": 1000}},
        ]
    }
    found = cost.estimate(todo, done, gpu=False)
    steps = todo[0].budget_frames // 2  # DMC's action repeat in the debug smoke suite
    assert (found.known, found.unknown) == (2, 2)
    assert found.hours == pytest.approx(2 * 0.05 * steps / 3600)
    assert "2 more runs without a measurement" in found.line(2)


def test_the_dry_run_prints_the_cost_and_warns_past_a_day(capsys):
    assert main(["run", "atari100k", "--seeds", "5", "--dry-run", "--results", "/nonexistent"]) == 0
    err = capsys.readouterr().err
    assert "# cost: about 29,293.3 CPU-hours for 130 runs" in err and "# warning: more than a day" in err
    assert main(["run", "atari100k", "--seeds", "5", "--dry-run", "--backend", "slurm", "--results", "/x"]) == 0
    err = capsys.readouterr().err
    assert "one job array hieros-bench-atari100k of 130 tasks" in err and "gpus_per_node=1" in err
    assert "GPU-hours" in err and "warning" not in err
