"""Train one agent on one task and write one run directory.

    python -m hieros.train --configs atari100k --task=atari_alien --max_hierarchy=2
    python -m hieros.train --configs dmc_proprio debug --task=dmc_cartpole_balance --model_name=random

The loop, top to bottom: step the environments with the agent's policy (the agent records training steps in
its replay), run updates at `train_ratio`, evaluate on schedule in separate environments (no effect on
training state), log episodes and metrics to metrics.jsonl (and TensorBoard), and checkpoint on schedule,
at the end and on SIGINT/SIGTERM. Starting again with the same run directory resumes from the checkpoint.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

if __package__ in (None, ""):  # `python hieros/train.py ...`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hieros import checkpoint, metrics_file, rundir, video
from hieros.agent_api import Agent, check_run, make_agent
from hieros.cli_errors import EXIT_INTERRUPTED, EXIT_LOCKED, guarded
from hieros.config import Config, ConfigError, HelpRequested, dump, parse_args
from hieros.envs import EnvError, make_env
from hieros.envs.base import stack
from hieros.evaluation import EvalProgress, run_episodes
from hieros.logger import Logger
from hieros.progress import Clocks, Progress
from hieros.run_record import RunLocked, RunRecord, default_logdir, prepare_run_dir
from hieros.wandb_log import check_available
from hieros.when import Every, Ratio

__all__ = ["Trainer", "main"]

# Ctrl-C, kill and Slurm's warning before a preemption or the time limit (sbatch --signal=USR2@90)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)


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
    """One run: the loop (`_loop`) and what it schedules; the run's record, logging, evaluation and checkpoints
    each live in a unit of their own (hieros.run_record, hieros.logger, hieros.evaluation, hieros.checkpoint)."""

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
        self.envs = [make_env(config.task, config, seed=config.seed * 1000 + i) for i in range(config.num_envs)]
        self.frames_per_step = self.envs[0].protocol()["frames_per_step"]
        self.budget_steps = config.steps // self.frames_per_step
        self.agent: Agent = make_agent(config, self.envs[0].obs_space, self.envs[0].act_space)
        self.logger = Logger(run_dir)
        self.ratio = Ratio(config.train_ratio / (config.batch_size * config.batch_length))
        steps = {"eval": config.eval_every, "log": config.log_every, "save": config.save_every}
        self.every = {name: Every(frames // self.frames_per_step) for name, frames in steps.items()}
        self.counters = {"env_step": 0, "grad_steps": 0, "episodes": 0, "eval_index": 0, "wall_seconds": 0.0}
        self.returns = np.zeros(len(self.envs))
        self.lengths = np.zeros(len(self.envs), dtype=np.int64)
        self.pending: dict[str, list[float]] = defaultdict(list)
        self.eval_progress: EvalProgress | None = None  # an evaluation a stop cut short, continued on resume
        self.clock = time.perf_counter()  # wall_seconds counts the loop's time from here
        self.clocks = Clocks()
        self.record = RunRecord(run_dir, config, self.envs[0].protocol(), self.frames_per_step)

    @property
    def step(self) -> int:
        return self.counters["env_step"]

    @property
    def frames(self) -> int:
        return self.counters["env_step"] * self.frames_per_step

    def _stamp(self) -> dict[str, int]:
        """What every metrics record carries: the env step and its frames."""
        return {"env_step": self.step, "frames": self.frames}

    def write_record(self, status: str | None = None) -> None:
        self.record.write(self.counters, self.clocks.seconds, status)

    # --- the loop ---------------------------------------------------------------------------------
    def run(self) -> int:
        # a supervisor that ignores USR2 for us (bench.slurm: submitit acts on it and then sends SIGTERM) keeps that
        handled = [sig for sig in STOP_SIGNALS if sig != signal.SIGUSR2 or signal.getsignal(sig) != signal.SIG_IGN]
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            self._start()
            self.write_record("running")
            return self._loop()
        except BaseException as error:
            self.record.failed(error)
            self.write_record("failed")
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()

    def _start(self) -> None:
        """Reset the environments, or continue from the checkpoint if there is one; open TensorBoard and W&B
        (the W&B run of the checkpoint, if it has one)."""
        self.obs = stack([env.reset() for env in self.envs])
        self.agent_state = self.agent.initial_state(len(self.envs))
        wandb_id = None
        if self.resume_state is not None:
            self.restore(self.resume_state)
            wandb_id = self.resume_state.get("wandb_id")
            self.resume_state = None
        self.logger.open(self.config, self.frames, wandb_id)

    def _loop(self) -> int:
        config = self.config
        if self.step == 0 and config.eval_initial and not self.evaluate():
            return self._stop()
        description = f"{config.task} seed {config.seed}"
        with Progress(total=self.budget_steps, description=description, start=self.step) as bar:
            self.clock = time.perf_counter()
            if not self.after_step():  # resumed from a stop inside an evaluation: that step's schedule, again
                return self._stop()
            stop_at = config.stop_after // self.frames_per_step
            while self.step < self.budget_steps:
                self.step_envs()
                if self.agent.trains:
                    self.train()
                if not self.after_step():
                    return self._stop()
                bar.update(self.step, score=self.record.progress["last_score"])
                if self.stop_signal is not None or (stop_at and self.step >= stop_at):
                    return self._stop()
        if config.eval_final and not self.evaluate():
            return self._stop()
        self.flush_train_metrics()
        self.save()
        protocol = self.record.data["protocol"]["score"]
        self.record.finish(
            metrics_file.final_score(metrics_file.read_metrics(self.run_dir), protocol, config.steps),
            self.counters["episodes"],
        )
        self.write_record("done")
        return 0

    def step_envs(self) -> None:
        """One policy call and one step of every environment. As the original's driver, the agent sees the
        final observation of an episode (and records it); the environment resets on the following call, which
        is not counted as an environment step (it takes no frames)."""
        with self.clocks("policy"):
            actions, self.agent_state = self.agent.policy(self.obs, self.agent_state, mode="train")
        observations = []
        for i, env in enumerate(self.envs):
            if self.obs["is_last"][i]:  # the agent has seen (and recorded) the final step; this step resets
                with self.clocks("env"):
                    observations.append(env.reset())
                continue
            self.counters["env_step"] += 1  # counts environment transitions, so frames are emulator frames
            with self.clocks("env"):
                obs = env.step(actions[i])
            self.returns[i] += float(obs["reward"])
            self.lengths[i] += 1
            if obs["is_last"]:
                self.log_episode("train", float(self.returns[i]), int(self.lengths[i]))
                self.returns[i], self.lengths[i] = 0.0, 0
            observations.append(obs)
        self.obs = stack(observations)

    @clocked("train")
    def train(self) -> None:
        for _ in range(self.ratio(self.step)):
            metrics = self.agent.train_step()
            if not metrics:
                continue
            self.counters["grad_steps"] += 1
            for key, value in metrics.items():
                self.pending[key].append(value)

    def after_step(self) -> bool:
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

    def _stop(self) -> int:
        """Checkpoint and leave as interrupted (a stop signal or --stop_after); the run resumes from here."""
        self.save()
        self.write_record()
        return EXIT_INTERRUPTED

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop_signal = signum

    def close(self) -> None:
        self.logger.close()
        for env in self.envs:
            env.close()

    # --- evaluation -------------------------------------------------------------------------------
    @clocked("eval")
    def evaluate(self) -> bool:
        """Evaluation number `eval_index` (hieros.evaluation), its episodes logged and the first one filmed every
        `video_every` evaluations; False, with nothing written, if a stop signal came inside it: then the
        checkpoint holds where it stopped (`eval_progress`) and the resumed run goes on with it."""
        index, every = self.counters["eval_index"], self.config.video_every
        filmed = bool(every) and index % every == 0
        stopped = lambda: self.stop_signal is not None  # noqa: E731
        progress = self.eval_progress if self.eval_progress and self.eval_progress.index == index else None
        done = run_episodes(self.agent, self.config, index, make_env, stopped, filmed, progress)
        self.eval_progress = done if isinstance(done, EvalProgress) else None
        if self.eval_progress is not None:
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

    # --- logging ----------------------------------------------------------------------------------
    def log_episode(self, mode: str, score: float, length: int, **extra: Any) -> None:
        self.logger.write({"type": "episode", "mode": mode, **self._stamp(), "score": score, "length": length, **extra})
        if mode == "train":
            self.counters["episodes"] += 1
            self.record.progress["last_score"] = score
        self.logger.scalar(f"{mode}_episode/score", score, self.frames)

    @clocked("log")
    def flush_train_metrics(self) -> None:
        if self.pending:
            means = {k: float(np.mean(v)) for k, v in sorted(self.pending.items())}
            record = {"type": "train", **self._stamp(), "grad_steps": self.counters["grad_steps"], **means}
            self.logger.write(record)
            for key, value in means.items():
                self.logger.scalar(f"train/{key}", value, self.frames)
            self.pending.clear()
        self.every["log"].mark(self.step)
        self.write_record()

    # --- checkpoints ------------------------------------------------------------------------------
    @clocked("checkpoint")
    def save(self) -> None:
        self.logger.metrics.sync()
        state = {
            "counters": {**self.counters, **{f"last_{name}": every.last for name, every in self.every.items()}},
            "ratio_prev": self.ratio.prev,
            "returns": self.returns.copy(),
            "lengths": self.lengths.copy(),
            "obs": self.obs,
            "agent_state": self.agent_state,
            "agent": self.agent.state_dict(),
            "envs": [env.get_state() for env in self.envs],
            "rng": checkpoint.rng_state(),
            "metrics_offset": self.logger.metrics.offset,
            "pending": dict(self.pending),
            "progress": dict(self.record.progress),
            "clocks": dict(self.clocks.seconds),
            "wandb_id": self.logger.wandb_id,
            "eval_progress": None if self.eval_progress is None else self.eval_progress.to_state(),
        }
        checkpoint.save(self.run_dir, state)
        self.every["save"].mark(self.step)
        self.save_subgoal_image()

    def restore(self, state: dict[str, Any]) -> None:
        counters = state["counters"]
        for name, every in self.every.items():
            every.mark(counters[f"last_{name}"])
        self.counters.update({k: v for k, v in counters.items() if not k.startswith("last_")})
        self.ratio.prev = state["ratio_prev"]
        self.returns, self.lengths = state["returns"], state["lengths"]
        self.obs, self.agent_state = state["obs"], state["agent_state"]
        self.agent.load_state_dict(state["agent"])
        for env, env_state in zip(self.envs, state["envs"], strict=True):
            env.set_state(env_state)
        checkpoint.set_rng_state(state["rng"])
        self.logger.metrics.truncate(state["metrics_offset"])
        self.pending = defaultdict(list, state["pending"])
        self.clocks = Clocks(state.get("clocks"))  # checkpoints from before the clocks: they start at zero
        self.record.progress.update(state["progress"])
        progress = state.get("eval_progress")  # checkpoints from before resumable evaluations have none
        self.eval_progress = None if progress is None else EvalProgress.from_state(progress)

    def save_subgoal_image(self) -> None:
        """With a hierarchy and images: the current frame and each level's decoded subgoal, as
        subgoals/step_<env step>.png and in TensorBoard (`subgoals`)."""
        if not self.config.subgoal_visualization:
            return
        image = self.agent.subgoal_image(self.obs, self.agent_state)
        if image is None:
            return
        import cv2

        ok, png = cv2.imencode(".png", image[..., ::-1])
        if ok:
            rundir.atomic_write_bytes(self.run_dir / "subgoals" / f"step_{self.step:09d}.png", png.tobytes())
        self.logger.image("subgoals", image, self.frames)


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
        if (run_dir / rundir.RUN_FILE).exists() and rundir.read_run(run_dir)["status"] == "done":
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
    return trainer.run()


if __name__ == "__main__":
    sys.exit(main())
