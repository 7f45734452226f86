"""What a dry run says a sweep costs: from the store's finished runs of the same config, else from the measured
paper-size rows of docs/atari100k.md, else nothing; a warning past a day of CPU wall time."""

import dataclasses
from pathlib import Path

import pytest

from bench import cost, plan, suites
from bench.cli import main
from hieros.run_file import ImportProvenance, Progress, Provenance, Record, RunProtocol, ScoreProtocol


def specs(suite: str, methods: list[str], seeds: int = 1, tasks: list[str] | None = None) -> list[plan.RunSpec]:
    benchmark = suites.load()
    return plan.plan(benchmark, benchmark.suite(suite), methods, list(range(1, seeds + 1)), Path("r"), tasks)


def test_paper_size_runs_cost_what_docs_atari100k_measured():
    [run] = specs("atari100k", ["hieros"], tasks=["atari_alien"])
    # one training call per agent step (1024 / (16 x 64)): update + acting + the trainer's overhead
    assert cost.measured_seconds_per_step(run, gpu=True) == pytest.approx(0.163 + 0.012 + 0.05)
    assert cost.measured_seconds_per_step(run, gpu=False) == pytest.approx(8.1 + 0.012)
    found = cost.estimate([run], {}, gpu=True)
    # plus one evaluation (at 200k of 400k frames) of 100 greedy episodes, each at most 108k frames / 4 steps long
    evaluation = 1 * 100 * 27_000 * 0.012 / 3600
    assert found.hours == pytest.approx(100_000 * 0.225 / 3600 + evaluation) and found.unit == "GPU-hours"
    assert found.costs[0].eval_hours == pytest.approx(evaluation) and "at most as long" in found.source
    shorter = cost.estimate([run], {}, gpu=True, eval_lengths={"atari_alien": 800.0})  # as the store's evaluations
    assert shorter.costs[0].eval_hours == pytest.approx(100 * 800 * 0.012 / 3600) and "store's" in shorter.source
    [small] = specs("smoke", ["hieros"], tasks=["atari_breakout"])
    assert cost.measured_seconds_per_step(small, gpu=True) is None  # the debug model was never measured


HERE = Provenance(None, None, "3", {}, "h", "p", "NVIDIA H100 80GB HBM3", 2, 2, [], "2026-12-06T00:00:00+0000")


def _run(
    wall_seconds: float, env_steps: int, provenance: Provenance | ImportProvenance = HERE, status: str = "done"
) -> Record:
    """A run's record with its wall clock and steps."""
    protocol = RunProtocol.of(None, 1, env_steps, ScoreProtocol("final_eval"))
    progress = Progress(env_steps=env_steps, wall_seconds=wall_seconds)
    return Record("s", "m", "t", 1, status, {}, "h", protocol, provenance, progress)


def test_finished_runs_of_the_same_config_are_the_estimate_and_unknown_runs_are_counted():
    todo = specs("smoke", ["hieros", "dreamer"], seeds=2, tasks=["dmc_cartpole_balance"])
    done = {
        ("hieros", todo[0].config_hash): [
            _run(40.0, 1000),
            _run(60.0, 1000),
            _run(1.0, 1000, status="running"),
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
    # 2 runs of 1 thread each: the 2-thread measurement scaled linearly (x2), evaluation at the acting cost
    per_run = 100_000 * (8.1 + 0.012) * 2 / 3600 + 100 * 27_000 * 0.012 / 3600
    assert f"# cost: about {130 * per_run:,.1f} CPU-hours for 130 runs" in err and "2 threads" in err
    assert "65 waves" in err and "# warning: more than a day" in err
    assert main(["run", "atari100k", "--seeds", "5", "--dry-run", "--backend", "slurm", "--results", "/x"]) == 0
    out, err = capsys.readouterr()
    assert "one job array hieros-bench-atari100k of 130 tasks" in err and "gpus_per_node=1" in err
    assert "GPU-hours" in err and "warning" not in err
    # 130 runs on 64 slots are 3 waves of the longest run, not 130 / 64 runs' worth
    per_run = 100_000 * 0.225 / 3600 + 100 * 27_000 * 0.012 / 3600
    assert "3 waves" in err and f"about {3 * per_run:.1f} h of wall time with 64 at a time" in err
    assert "/bin/python" not in out and " python -m hieros.train " in out and "HIEROS_EXPECT_GPU=1" in out


def test_waves_are_the_schedule_of_the_longest_runs_first():
    assert cost.makespan([6.0] * 130, 64) == pytest.approx(18.0)  # ceil(130 / 64) = 3 waves
    assert cost.makespan([6.0] * 128, 64) == pytest.approx(12.0)
    # the next run on the first free slot, not the best packing (9 h: 5+4 | 3+3+3): 5+3 | 4+3+3
    assert cost.makespan([5.0, 4.0, 3.0, 3.0, 3.0], 2) == pytest.approx(10.0)
    assert cost.makespan([], 4) == 0.0 and cost.makespan([2.0], 8) == pytest.approx(2.0)


def test_store_rates_are_taken_at_the_planned_thread_count_else_scaled_and_said():
    runs = [_run(10.0, 10), _run(30.0, 10, dataclasses.replace(HERE, threads=1))]
    assert cost.seconds_per_step_from_store(runs, threads=1) == (
        3.0,
        "from the store's finished runs of the same config, on NVIDIA H100 80GB HBM3",  # the card it came from
    )
    rate, how = cost.seconds_per_step_from_store(runs[:1], threads=1)
    assert rate == pytest.approx(2.0) and "at 2 threads, scaled to 1 (at most)" in how
    old = [_run(5.0, 10, ImportProvenance("f", "sha", "per-game-lists"))]
    assert cost.seconds_per_step_from_store(old, threads=4) == (
        0.5,
        "from the store's finished runs (thread count not recorded), on an unrecorded device",
    )


def test_evaluations_are_counted_as_the_trainer_schedules_them():
    [atari] = specs("atari100k", ["hieros"], tasks=["atari_alien"])
    assert cost.evaluations(atari) == 1  # every 200k frames, none once 400k are spent
    [small] = specs("smoke", ["hieros"], tasks=["dmc_cartpole_balance"])
    config = small.config
    steps = small.budget_frames // config.env.dmc.repeat
    every = max(1, config.eval_every // config.env.dmc.repeat)
    assert cost.evaluations(small) == (steps - 1) // every + config.eval_initial + config.eval_final


def test_slurm_tasks_start_with_a_portable_interpreter():
    from bench.slurm import task_command

    command = ("/home/me/.venv/bin/python3.11", "-m", "hieros.train", "--seed=1")
    assert task_command(command, {"python": "python"}) == ("python", "-m", "hieros.train", "--seed=1")
    assert task_command(command, {"python": "/opt/env/bin/python"})[0] == "/opt/env/bin/python"
    assert task_command(command, {"python": ""})[0] == "python"
