"""The training loop end to end on real tasks: random and learning agents, evaluation, exact resume."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hieros import checkpoint, metrics_file, run_file, rundir
from hieros.train import main
from hieros.when import Ratio

ROOT = Path(__file__).resolve().parents[2]
ATARI = ["--configs", "atari100k", "debug", "--task=atari_pong"]
DMC = ["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance"]


def train(tmp_path: Path, *args: str, name: str = "run") -> Path:
    logdir = tmp_path / name
    assert main([*args, f"--logdir={logdir}"]) == 0
    return logdir


def test_ratio_matches_the_original_semantics():
    ratio = Ratio(0.5)
    assert [ratio(step) for step in range(0, 10)] == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert sum(Ratio(1.0)(step) for step in range(5)) == 5
    assert Ratio(0)(3) == 0


def test_random_agent_writes_a_complete_run(tmp_path):
    args = [*DMC, "--model_name=random", "--steps=3000", "--eval_every=1500", "--eval_eps=1"]
    run = train(tmp_path, *args)
    record = run_file.read_run(run)
    assert record.status == "done"
    assert record.progress.env_steps == 1500 and record.progress.frames == 3000
    assert record.protocol.env["frames_per_step"] == 2
    assert record.protocol.score.to_json() == {"name": "final_train_window", "window_frames": 10000}
    phases = record.progress.phase_seconds  # the loop's named clocks account for its time
    assert phases["train"] == 0 and min(phases["policy"], phases["env"], phases["eval"]) > 0
    assert sum(phases.values()) == pytest.approx(record.progress.wall_seconds, rel=0.2)
    metrics = metrics_file.read_metrics(run)
    train_eps = metrics_file.episodes(metrics, "train")
    assert [(e["env_step"], e["frames"], e["length"]) for e in train_eps] == [
        (500, 1000, 500),
        (1000, 2000, 500),
        (1500, 3000, 500),
    ]
    assert record.score.final == pytest.approx(sum(e["score"] for e in train_eps) / len(train_eps))
    evals = [m for m in metrics if m["type"] == "eval"]
    assert [e["env_step"] for e in evals] == [750]  # not at the end of the budget, as the original
    assert checkpoint.checkpoint_file(run).exists()
    assert main([*args, f"--logdir={run}"]) == 0  # a done run is left alone
    assert metrics_file.read_metrics(run) == metrics


def test_changed_config_is_refused(tmp_path, capsys):
    run = train(tmp_path, *DMC, "--model_name=random", "--steps=200")
    assert main([*DMC, "--model_name=random", "--steps=400", f"--logdir={run}"]) == 2
    assert "another config" in capsys.readouterr().err


def test_unknown_task_is_a_one_line_error(tmp_path, capsys):
    assert main(["--task=atari_pongg", f"--logdir={tmp_path / 'x'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "atari_pong" in err and "\n" not in err


@pytest.mark.parametrize("args", [ATARI, DMC], ids=["atari", "dmc"])
@pytest.mark.parametrize("model", ["hieros", "dreamer"])
def test_learning_agents_train_end_to_end(tmp_path, args, model):
    run = train(
        tmp_path,
        *args,
        f"--model_name={model}",
        "--max_hierarchy=1",
        "--steps=600",
        "--log_every=200",
        "--eval_every=100000",
    )
    record = run_file.read_run(run)
    assert record.status == "done" and record.progress.grad_steps > 0
    assert record.progress.phase_seconds["train"] > 0
    losses = [m for m in metrics_file.read_metrics(run) if m["type"] == "train"]
    keys = ("model_loss", "actor_loss", "value_extrinsic_loss")
    assert losses and all(f"level_0/{key}" in losses[-1] for key in keys)


@pytest.mark.slow
def test_three_levels_train_end_to_end(tmp_path):
    """The 3-level debug agent on a real Atari game: every level trains, and subgoal pictures are saved."""
    run = train(
        tmp_path,
        *ATARI,
        "--max_hierarchy=3",
        "--batch_length=8",
        "--steps=2400",
        "--log_every=400",
        "--save_every=1200",
        "--eval_every=100000",
        "--tensorboard=true",
    )
    assert run_file.read_run(run).status == "done"
    metrics = [m for m in metrics_file.read_metrics(run) if m["type"] == "train"]
    for level in range(3):
        assert any(f"level_{level}/model_loss" in m for m in metrics), f"level {level} never trained"
    assert any("level_1/imag_novelty_reward_mean" in m and "level_1/imag_subgoal_reward_mean" in m for m in metrics)
    pictures = sorted((run / "subgoals").glob("step_*.png"))
    assert len(pictures) == 2 and pictures[-1].stat().st_size > 0


def _final_state(run: Path) -> dict:
    state = checkpoint.load(run)
    counters = {k: v for k, v in state["counters"].items() if k != "wall_seconds"}
    return {
        "agent": state["agent"],
        "agent_state": state["agent_state"],
        "counters": counters,
        "envs": state["envs"],
        "obs": state["obs"],
    }


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([*ATARI, "--max_hierarchy=1", "--steps=800"], marks=pytest.mark.slow),
        [*DMC, "--max_hierarchy=1", "--steps=800"],
        pytest.param([*DMC, "--max_hierarchy=3", "--batch_length=8", "--steps=1000"], marks=pytest.mark.slow),
    ],
    ids=["atari", "dmc", "dmc-3-levels"],
)
def test_resume_equals_an_uninterrupted_run(tmp_path, args, assert_same):
    """N steps in one go == N/2, a stop, then resume to N: same weights, replays, acting state (every level's
    latent, history and clock), RNGs and metrics. With 3 levels, all of them have trained before the stop."""
    steps = int(args[-1].split("=")[1])
    common = [
        *args,
        "--model_name=hieros",
        "--deterministic=true",
        "--threads=1",
        "--log_every=100",
        f"--eval_every={steps // 2}",
        "--eval_eps=1",
        "--save_every=100000",
    ]
    whole = train(tmp_path, *common, name="whole")
    half = tmp_path / "half"
    assert main([*common, f"--logdir={half}", f"--stop_after={steps // 2}"]) == 130
    if "--max_hierarchy=3" in args:
        trained = [m for m in metrics_file.read_metrics(half) if m["type"] == "train"]
        assert any("level_2/model_loss" in m for m in trained)
    at_stop = checkpoint.load(half)["clocks"]
    assert main([*common, f"--logdir={half}"]) == 0
    assert_same(_final_state(whole), _final_state(half))
    # the named clocks continue: the one evaluation ran before the stop, and its seconds are still counted
    resumed = run_file.read_run(half).progress.phase_seconds
    assert resumed["eval"] == round(at_stop["eval"], 3) > 0 and resumed["train"] > at_stop["train"] > 0
    strip = lambda run: [json.dumps(m) for m in metrics_file.read_metrics(run)]  # noqa: E731
    assert strip(whole) == strip(half)


def test_sigterm_leaves_a_resumable_run(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "hieros.train", *DMC, "--model_name=random", "--steps=200000", f"--logdir={run}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(600):
        if (run / rundir.RUN_FILE).exists():
            break
        proc.poll()
        import time

        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    record = run_file.read_run(run)
    assert record.status == "running"
    assert checkpoint.load(run)["counters"]["env_step"] > 0


def test_tensorboard_events_are_written(tmp_path):
    run = train(tmp_path, *DMC, "--model_name=random", "--steps=1000", "--tensorboard=true")
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def _stop_latency():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import stop_latency

    return stop_latency


@pytest.mark.parametrize("phase", ["train", "eval", "eval_initial", "eval_final"])
def test_a_stop_is_prompt_in_every_phase(tmp_path, phase):
    """SIGTERM in each phase of the loop: a checkpoint and exit 130 within seconds, the signal taken inside the
    phase (the checkpoint's step says where), as measured by benchmarks/stop_latency.py."""
    bench = _stop_latency()
    stop = bench.measure(bench.PHASES[phase], tmp_path / "run", wait=1.0)
    assert stop.exit_code == 130 and stop.seconds < 5.0
    assert bench.inside(bench.PHASES[phase], stop), stop
    assert run_file.read_run(tmp_path / "run").status == "running"  # resumable


@pytest.mark.slow
def test_a_stop_inside_an_evaluation_resumes_exactly(tmp_path, monkeypatch, assert_same):
    """SIGTERM halfway through an evaluation, then resume == the run never stopped: the checkpoint holds the
    evaluation where it stopped (one episode done, the second under way) and the resumed run goes on with it."""
    import hieros.train as train_module

    common = [
        *DMC,
        "--model_name=hieros",
        "--deterministic=true",
        "--threads=1",
        "--log_every=100",
        "--steps=600",
        "--eval_every=300",
        "--eval_eps=2",
        "--save_every=100000",
        "--max_hierarchy=2",
    ]
    whole = train(tmp_path, *common, name="whole")
    real_make_env, sent = train_module.make_env, []

    def make_env(task, config, seed, mode="train"):
        env = real_make_env(task, config, seed, mode)
        if mode == "eval" and not sent:
            step, steps_taken = env.step, [0]

            def step_then_signal(action):
                steps_taken[0] += 1
                if steps_taken[0] == 700:  # in the second of the two 500-step episodes
                    os.kill(os.getpid(), signal.SIGTERM)
                    sent.append(True)
                return step(action)

            env.step = step_then_signal
        return env

    monkeypatch.setattr(train_module, "make_env", make_env)
    half = tmp_path / "half"
    assert main([*common, f"--logdir={half}"]) == 130 and sent
    assert not [m for m in metrics_file.read_metrics(half) if m.get("mode") == "eval" or m["type"] == "eval"]
    progress = checkpoint.load(half)["eval_progress"]
    assert len(progress["episodes"]) == 1 and progress["running"][0][0] == 1 and progress["running"][0][2] > 0
    monkeypatch.setattr(train_module, "make_env", real_make_env)
    assert main([*common, f"--logdir={half}"]) == 0
    assert_same(_final_state(whole), _final_state(half))
    strip = lambda run: [json.dumps(m) for m in metrics_file.read_metrics(run)]  # noqa: E731
    assert strip(whole) == strip(half)


@pytest.mark.parametrize("envs", [1, 3])
def test_an_evaluation_over_several_envs_plays_eval_eps_episodes_and_resumes_exactly(tmp_path, monkeypatch, envs):
    """`eval_envs` environments play the evaluation's episodes at once, exactly `eval_eps` of them; a stop in
    the middle and a resume give the same records as a run never stopped (random agent: its generator is in the
    checkpoint)."""
    import hieros.train as train_module

    common = [*DMC, "--model_name=random", "--steps=1000", "--eval_every=500", "--eval_eps=4", f"--eval_envs={envs}"]
    whole = train(tmp_path, *common, name="whole")
    evaluated = [m for m in metrics_file.read_metrics(whole) if m.get("mode") == "eval"]
    assert len(evaluated) == 4 and {m["length"] for m in evaluated} == {500}  # cartpole: 1000 frames, repeat 2
    real_make_env, calls = train_module.make_env, []

    def make_env(task, config, seed, mode="train"):
        env = real_make_env(task, config, seed, mode)
        if mode == "eval" and not calls:
            step = env.step

            def step_then_signal(action):
                calls.append(1)
                if len(calls) == 600:  # with 1 env in the second episode; with 3, in their first
                    os.kill(os.getpid(), signal.SIGTERM)
                return step(action)

            env.step = step_then_signal
        return env

    monkeypatch.setattr(train_module, "make_env", make_env)
    half = tmp_path / "half"
    assert main([*common, f"--logdir={half}"]) == 130 and len(calls) >= 600
    monkeypatch.setattr(train_module, "make_env", real_make_env)
    assert main([*common, f"--logdir={half}"]) == 0
    strip = lambda run: [json.dumps(m) for m in metrics_file.read_metrics(run)]  # noqa: E731
    assert strip(whole) == strip(half)


@pytest.mark.slow
def test_sigkill_between_checkpoints_then_resume_in_a_fresh_process_equals_an_uninterrupted_run(tmp_path, assert_same):
    """A learning run killed (SIGKILL: no handler, no last checkpoint) after a checkpoint, resumed by a new
    process from that checkpoint: metrics rolled back to it, and the end is the same as a run never killed."""
    import time

    common = [
        *DMC,
        "--model_name=hieros",
        "--max_hierarchy=2",
        "--deterministic=true",
        "--threads=1",
        "--log_every=100",
        "--eval_every=1e9",
        "--save_every=200",
        "--steps=1000",
    ]
    whole = train(tmp_path, *common, name="whole")
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hieros.train", *common, f"--logdir={killed}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while not checkpoint.checkpoint_file(killed).exists() or checkpoint.load(killed)["counters"]["env_step"] < 100:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    at_kill = run_file.read_run(killed).progress.env_steps
    assert run_file.read_run(killed).status == "running" and at_kill < 500
    resumed = subprocess.run(
        [sys.executable, "-m", "hieros.train", *common, f"--logdir={killed}"], cwd=ROOT, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert_same(_final_state(whole), _final_state(killed))
    strip = lambda run: [json.dumps(m) for m in metrics_file.read_metrics(run)]  # noqa: E731
    assert strip(whole) == strip(killed)
