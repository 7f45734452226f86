"""Train one agent on one task and write one run directory.

    python -m hieros.train --configs atari100k --task=atari_alien --max_hierarchy=2
    python -m hieros.train --configs dmc_proprio debug --task=dmc_cartpole_balance --model_name=random

The loop (`train`, as danijar/embodied's), top to bottom: the driver steps the environments with the agent's
policy (the agent records training steps in its replay), updates run at `train_ratio`, then the schedule
(`Trainer.scheduled`): evaluate in separate environments (no effect on training state), log the updates' metrics
to metrics.jsonl (and TensorBoard), checkpoint; at the end and on SIGINT/SIGTERM a checkpoint too. Each phase
runs on its named clock (hieros.progress.Clocks). Starting again with the same run directory resumes from the
checkpoint, on which every part of the loop's state is registered once (`Trainer.register`).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

if __package__ in (None, ""):  # `python hieros/train.py ...`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hieros import checkpoint, metrics_file, run_file, rundir, video
from hieros.agent_api import Agent, check_run, make_agent
from hieros.cli_errors import EXIT_INTERRUPTED, EXIT_LOCKED, guarded
from hieros.config import Config, ConfigError
from hieros.config_cli import HelpRequested, dump, parse_args
from hieros.driver import Driver
from hieros.envs import EnvError, make_env
from hieros.evaluation import Evaluations
from hieros.logger import Averages, Logger
from hieros.progress import Clocks, Progress
from hieros.run_record import RunLocked, RunRecord, default_logdir, prepare_run_dir
from hieros.wandb_log import check_available
from hieros.when import Counters, Every, Ratio

__all__ = ["Trainer", "main", "train"]

# Ctrl-C, kill and Slurm's warning before a preemption or the time limit (sbatch --signal=USR2@90)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)


def train(run: Trainer) -> int:
    """The loop: 0 when the budget is spent (and the final evaluation done), EXIT_INTERRUPTED after a stop signal
    or --stop_after (checkpointed: the run resumes from there)."""
    config, clocks = run.config, run.clocks
    stop_at = config.stop_after // run.frames_per_step
    if run.step == 0 and config.eval_initial and not run.evaluate():
        return run.interrupted()
    with Progress(total=run.budget_steps, description=f"{config.task} seed {config.seed}", start=run.step) as bar:
        run.clock = time.perf_counter()
        if not run.scheduled():  # resumed from a stop inside an evaluation: that step's schedule, again
            return run.interrupted()
        while run.step < run.budget_steps:
            run.driver()  # clocks policy and env
            if run.agent.trains:
                with clocks("train"):
                    run.update()
            if not run.scheduled():  # clocks eval, log and checkpoint
                return run.interrupted()
            bar.update(run.step, score=run.record.progress.last_score)
            if run.stop_signal is not None or (stop_at and run.step >= stop_at):
                return run.interrupted()
    if config.eval_final and not run.evaluate():
        return run.interrupted()
    return run.finish()


def run_with_signals(run: Trainer) -> int:
    """`train(run)` with the stop signals taken, the run started (or resumed) first and closed after; run.json says
    running, then done, failed (with the error) or, after a stop, running still."""
    # a supervisor that ignores USR2 for us (bench.slurm: submitit acts on it and then sends SIGTERM) keeps that
    handled = [sig for sig in STOP_SIGNALS if sig != signal.SIGUSR2 or signal.getsignal(sig) != signal.SIG_IGN]
    previous = {sig: signal.signal(sig, run.on_signal) for sig in handled}
    try:
        run.start()
        run.write_record("running")
        return train(run)
    except BaseException as error:
        run.record.failed(error)
        run.write_record("failed")
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        run.close()


Method = TypeVar("Method", bound=Callable[..., Any])


def clocked(phase: str) -> Callable[[Method], Method]:
    """A Trainer method whose time goes to the named clock `phase` (hieros.progress.Clocks)."""

    def wrap(method: Method) -> Method:
        @functools.wraps(method)
        def timed(self: Trainer, *args: Any, **kwargs: Any) -> Any:
            with self.clocks(phase):
                return method(self, *args, **kwargs)

        return timed  # type: ignore[return-value]

    return wrap


class Trainer:
    """One run's parts, built once (the driver, the agent, the logger, run.json's record, the schedules and
    counters, the evaluations), each part of its state registered once on the checkpoint; and the steps the loop
    takes with them (`train`: update, evaluate, log, checkpoint, finish)."""

    def __init__(self, config: Config, run_dir: Path, trust_pickle: bool = False):
        self.config = config
        self.run_dir = run_dir
        self.stop_signal: int | None = None
        # first: an unreadable one (or an untrusted pickle) stops the run before any write
        self.resume_state = checkpoint.load(run_dir, trust_pickle, device=_device_name(config))
        if self.resume_state is None:
            rundir.set_aside_records(run_dir)  # an attempt that died before its first checkpoint: start clean
        else:
            metrics_file.check_metrics_reach(run_dir, self.resume_state["metrics_offset"])
        checkpoint.seed_everything(config.seed)
        envs = [make_env(config.task, config, seed=config.seed * 1000 + i) for i in range(config.num_envs)]
        self.frames_per_step = envs[0].protocol()["frames_per_step"]
        self.budget_steps = config.steps // self.frames_per_step
        self.agent: Agent = make_agent(config, envs[0].obs_space, envs[0].act_space)
        self.clocks = Clocks()
        self.driver = Driver(envs, self.agent, self.clocks)
        self.driver.on_step(self._count_step)
        self.driver.on_episode(lambda score, length: self.log_episode("train", score, length))
        self.logger = Logger(run_dir)
        self.ratio = Ratio(config.train_ratio / (config.batch_size * config.batch_length))
        steps = {"eval": config.eval_every, "log": config.log_every, "save": config.save_every}
        self.every = {name: Every(frames // self.frames_per_step) for name, frames in steps.items()}
        self.counters = Counters(self.every)
        self.train_metrics = Averages()
        self.evaluations = Evaluations(config, make_env)  # make_env as it is now (tests replace it)
        self.clock = time.perf_counter()  # wall_seconds counts the loop's time from here
        self.record = RunRecord(run_dir, config, self.driver.protocol, self.frames_per_step)
        self.checkpoint = self.register(checkpoint.Checkpoint(run_dir))

    def register(self, ckpt: checkpoint.Checkpoint) -> checkpoint.Checkpoint:
        """Every part of the loop's state on `ckpt`, once, in the order a resume restores them (the agent and the
        environments before the RNGs), under the keys checkpoints have always had."""
        ckpt.register("counters", self.counters)
        ckpt.register("ratio_prev", self.ratio)
        ckpt.register("agent", self.agent)
        ckpt.register(Driver.KEYS, self.driver)
        ckpt.register("rng", checkpoint.Rngs())
        ckpt.register("metrics_offset", self.logger.metrics)
        ckpt.register("pending", self.train_metrics)
        ckpt.register("progress", self.record)
        ckpt.register("clocks", self.clocks, optional=True)  # checkpoints from before the clocks: from zero
        ckpt.register("wandb_id", self.logger, optional=True)
        ckpt.register("eval_progress", self.evaluations, optional=True)  # from before resumable evaluations
        return ckpt

    @property
    def step(self) -> int:
        return self.counters["env_step"]

    @property
    def frames(self) -> int:
        return self.counters["env_step"] * self.frames_per_step

    def _stamp(self) -> dict[str, int]:
        """What every metrics record carries: the env step and its frames."""
        return {"env_step": self.step, "frames": self.frames}

    def _count_step(self) -> None:
        self.counters["env_step"] += 1

    def write_record(self, status: str | None = None) -> None:
        self.record.write(self.counters.values, self.clocks.seconds, status)

    def start(self) -> None:
        """Reset the environments, or continue from the checkpoint if there is one; open TensorBoard and W&B
        (the W&B run of the checkpoint, if it has one)."""
        self.driver.reset()
        if self.resume_state is not None:
            self.checkpoint.restore(self.resume_state)
            self.resume_state = None
        self.logger.open(self.config, self.frames)

    def update(self) -> None:
        """The updates due at this step (`train_ratio`), their metrics kept until logged."""
        for _ in range(self.ratio(self.step)):
            metrics = self.agent.train_step()
            if not metrics:
                continue
            self.counters["grad_steps"] += 1
            self.train_metrics.add(metrics)

    def scheduled(self) -> bool:
        """The schedule after a step: evaluate, log and checkpoint where due. Evaluations are as the original's
        loop (`while step < steps: if should_eval(step)`): none once the budget is spent. False if a stop signal
        came inside the evaluation; then nothing after it ran, and the resumed run calls this again first."""
        if self.step < self.budget_steps and self.every["eval"].due(self.step) and not self.evaluate():
            return False
        if self.every["log"].due(self.step):
            self.flush_train_metrics()
        now = time.perf_counter()
        self.counters["wall_seconds"] += now - self.clock
        self.clock = now
        if self.every["save"].due(self.step):
            self.save()
        return True

    @clocked("eval")
    def evaluate(self) -> bool:
        """Evaluation number `eval_index` (hieros.evaluation), its episodes logged and the first one filmed every
        `video_every` evaluations; False, with nothing written, if a stop signal came inside it: then the
        checkpoint holds where it stopped (`eval_progress`) and the resumed run goes on with it."""
        index, every = self.counters["eval_index"], self.config.video_every
        done = self.evaluations.run(
            self.agent, index, lambda: self.stop_signal is not None, bool(every) and index % every == 0
        )
        if done is None:
            return False
        if done.frames:
            self.logger.video(video.write_episode(self.run_dir, done.frames, self.frames), self.frames)
        for score, length in done.episodes:
            self.log_episode("eval", score, length, eval_index=index)
        mean = float(np.mean([score for score, _ in done.episodes]))
        self.logger.write(
            {"type": "eval", **self._stamp(), "eval_index": index, "score_mean": mean, "episodes": len(done.episodes)}
        )
        self.counters["eval_index"] += 1
        self.every["eval"].mark(self.step)
        return True

    def log_episode(self, mode: str, score: float, length: int, **extra: Any) -> None:
        self.logger.write({"type": "episode", "mode": mode, **self._stamp(), "score": score, "length": length, **extra})
        if mode == "train":
            self.counters["episodes"] += 1
            self.record.scored(score)
        self.logger.scalar(f"{mode}_episode/score", score, self.frames)

    @clocked("log")
    def flush_train_metrics(self) -> None:
        if self.train_metrics.values:
            means = self.train_metrics.means()
            record = {"type": "train", **self._stamp(), "grad_steps": self.counters["grad_steps"], **means}
            self.logger.write(record)
            for key, value in means.items():
                self.logger.scalar(f"train/{key}", value, self.frames)
        self.every["log"].mark(self.step)
        self.write_record()

    @clocked("checkpoint")
    def save(self) -> None:
        """The checkpoint (every registered part), then the subgoal picture of this step where there is one."""
        self.checkpoint.save()
        self.every["save"].mark(self.step)
        image = self.driver.subgoal_image() if self.config.subgoal_visualization else None
        if image is not None:
            self.logger.subgoals(image, self.step, self.frames)

    def interrupted(self) -> int:
        """Checkpoint and leave as interrupted (a stop signal or --stop_after); the run resumes from here."""
        self.save()
        self.write_record()
        return EXIT_INTERRUPTED

    def finish(self) -> int:
        """The last metrics and checkpoint, the final score by the run's protocol, run.json done."""
        self.flush_train_metrics()
        self.save()
        protocol = self.record.record.protocol.score
        final = metrics_file.final_score(metrics_file.read_metrics(self.run_dir), protocol, self.config.steps)
        self.record.finish(final, self.counters["episodes"])
        self.write_record("done")
        return 0

    def on_signal(self, signum: int, frame: Any) -> None:
        self.stop_signal = signum

    def close(self) -> None:
        self.logger.close()
        self.driver.close()


def _device_name(config: Config) -> str:
    """Where the run's tensors live (its checkpoint is read onto it, wherever it was saved): the CPU for the
    random agent, which needs no torch."""
    if config.model_name == "random":
        return "cpu"
    from hieros.agent.device import resolve_device

    return str(resolve_device(config.device))


def main(argv: list[str] | None = None) -> int:
    """The command line: every error is one line with an exit code (hieros.cli_errors), 75 if the run is busy."""
    return guarded(
        lambda: _start_and_run(sys.argv[1:] if argv is None else argv),
        (ConfigError, EnvError, rundir.RunFileError),
        "hieros-train",
    )


def _start_and_run(argv: list[str]) -> int:
    run_dir: Path | None = None
    created = False
    try:
        trust_pickle = checkpoint.TRUST_FLAG in argv
        config, print_config = parse_args([arg for arg in argv if arg != checkpoint.TRUST_FLAG])
        check_run(config)
        check_available(config)
        if print_config:
            print(dump(config), end="")
            print(f"# config hash: {config.hash()}")
            return 0
        if not config.logdir:
            config = Config({**config, "logdir": default_logdir(config)})
        created = not Path(config.logdir).exists()
        run_dir = prepare_run_dir(config)
        if (run_dir / rundir.RUN_FILE).exists() and run_file.read_run(run_dir).status == "done":
            print(f"{run_dir}: already done")
            return 0
        trainer = Trainer(config, run_dir, trust_pickle)
    except HelpRequested as text:
        try:
            print(text, flush=True)
        except BrokenPipeError:  # `--help | head`: the reader left; keep Python quiet at exit too
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except RunLocked as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except BaseException:  # a start that failed or was interrupted (Ctrl-C while importing torch) leaves nothing
        if created and run_dir is not None:
            rundir.discard_new_run(run_dir)
        raise
    return run_with_signals(trainer)


if __name__ == "__main__":
    sys.exit(main())
