"""One bench run, (method, seed): train the world model offline, measure it on held-out sequences, learn a policy in
its imagination and score that policy in the real environment; written as a run directory of the results store.

    results/wm_bench/<method>/<task>/seed_<n>/run.json, metrics.jsonl

A step of this suite is one world-model update: `env_step` and `frames` in metrics.jsonl count updates (the
protocol's frames_per_step is 1 and its budget the N updates), so `hieros-bench report --metric heldout/obs_loss`
draws the held-out curves over updates. Records: `train` every K updates (the training batches' loss terms
averaged since the last one, `heldout/<term>`, the open-loop errors at k = 1, 4, 16 as `ol<context>/<measure>/k<k>`
and `sec_per_update`); `openloop` at the same points (every k, for the figure); `policy` during the imagination
phase; the evaluation's `episode` records (mode eval) and its `eval` record. The score protocol is final_eval: the
learned policy's mean return. A finished run is skipped; one that did not finish starts again from the beginning
(its records set aside, hieros.rundir.set_aside_records).
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hieros import checkpoint, run_file, rundir, runlock
from hieros.agent.build import make_learning_agent
from hieros.agent.optim import floats
from hieros.agent.precision import updates
from hieros.agent.world_model import preprocess
from hieros.config import Config, ConfigError
from hieros.envs import make_env
from hieros.metrics_file import MetricsWriter
from hieros.run_record import device_name, prepare_run_dir
from hieros.wmbench import measures, policy
from hieros.wmbench.batches import TrainBatches, heldout_windows, model_inputs
from hieros.wmbench.datasets import Dataset, spec
from hieros.wmbench.methods import Settings, resolve, suite_of

SHOWN_STEPS = (1, 4, 16)  # the open-loop steps in the `train` records (all of them in `openloop`)
Report = Callable[[str, int, int], None]  # (phase, done, total): the progress display


def run_dir_of(results: Path, method: str, seed: int, settings: Settings) -> Path:
    return rundir.run_path(results, suite_of(settings.dataset), method, spec(settings.dataset).task, seed)


def is_done(results: Path, method: str, seed: int, settings: Settings) -> bool:
    """Whether the run finished with these settings; a finished run with other settings is refused in one line."""
    path = run_dir_of(results, method, seed, settings) / rundir.RUN_FILE
    if not path.exists():
        return False
    record = run_file.read_run(path)
    if record.status != "done":
        return False
    recorded = record.protocol.wmbench
    if recorded != settings.protocol():
        changed = sorted(k for k in settings.protocol() if (recorded or {}).get(k) != settings.protocol()[k])
        raise ConfigError(
            f"{path.parent} holds a finished run with other settings ({', '.join(changed)}); delete it or give "
            "another --results"
        )
    return True


def protocol(settings: Settings, dataset: Dataset, env_protocol: dict[str, Any]) -> run_file.RunProtocol:
    """run.json's protocol: the environment of the evaluation, N updates as the budget, final_eval, the bench."""
    out = run_file.RunProtocol.of(env_protocol, 1, settings.updates, run_file.ScoreProtocol("final_eval"))
    return dataclasses.replace(out, step="world-model update", wmbench=settings.protocol(), dataset=dataset.identity())


class BenchRun:
    """One (method, seed): `run()` does both phases and writes the record."""

    def __init__(self, results: Path, method: str, seed: int, settings: Settings, dataset: Dataset):
        self.settings, self.dataset = settings, dataset
        self.run_dir = run_dir_of(results, method, seed, settings)
        config = resolve(method, seed, settings)
        self.config = Config({**config, "logdir": str(self.run_dir)})
        env = make_env(self.config.task, self.config, seed=0)
        self.obs_space, self.act_space, env_protocol = env.obs_space, env.act_space, env.protocol()
        env.close()
        created = not self.run_dir.exists()
        prepare_run_dir(self.config)  # locked; a record of another task, seed, method or config refused
        try:
            if (self.run_dir / rundir.RUN_FILE).exists() and run_file.read_run(self.run_dir).status == "done":
                runlock.release(self.run_dir)
                raise rundir.RunFileError(f"{self.run_dir} is a finished run; it is kept, not run again")
            rundir.set_aside_records(self.run_dir)  # an attempt that did not finish: start clean
        except BaseException:
            if created:
                rundir.discard_new_run(self.run_dir)
            raise
        self.record = run_file.Record(
            suite=self.config.suite,
            method=method,
            task=self.config.task,
            seed=seed,
            status="running",
            config=self.config.to_dict(),
            config_hash=self.config.hash(),
            protocol=protocol(settings, dataset, env_protocol),
            provenance=run_file.Provenance.here(device_name()),
        )
        self.started = time.perf_counter()

    def run(self, report: Report) -> float:
        """Both phases; the score (the imagination policy's mean return). The run's lock is let go after."""
        self.started = time.perf_counter()
        self.metrics = MetricsWriter(self.run_dir)
        self._write("running")
        try:
            checkpoint.seed_everything(self.config.seed)
            self.agent = make_learning_agent(self.config, self.obs_space, self.act_space)
            self.level = self.agent.levels[0]
            self.batches = TrainBatches(
                self.dataset,
                self.config.batch_size,
                self.config.batch_length,
                self.config.seed,
                self.config.keep_terminal_reward,
            )
            self._windows()
            self._world_model_phase(report)
            score = self._policy_phase(report)
        except BaseException as error:
            self.record = dataclasses.replace(self.record, error=f"{type(error).__name__}: {error}"[-4000:])
            self._write("failed")
            raise
        finally:
            self.metrics.close()
            runlock.release(self.run_dir)
        return score

    def _windows(self) -> None:
        """The held-out windows: batch_length steps for the losses, context + horizon for the open loop."""
        s, keep = self.settings, self.config.keep_terminal_reward
        self.loss_windows = heldout_windows(self.dataset, self.config.batch_length, s.heldout_sequences, keep)
        self.open_windows = {
            c: heldout_windows(self.dataset, c + s.horizon, s.openloop_sequences, keep, salt=c) for c in s.contexts
        }

    def _world_model_phase(self, report: Report) -> None:
        s, config, world_model = self.settings, self.config, self.level.world_model
        pending: dict[str, list[float]] = defaultdict(list)
        seconds = 0.0
        for update in range(1, s.updates + 1):
            data = preprocess(model_inputs(self.batches.sample()), self.level.device, config.image_range)
            start = time.perf_counter()
            with updates(config, self.level.device):
                _, metrics = world_model.train_step(data)
            values = floats(metrics)
            values["obs_loss"] = measures.obs_loss(values, data)
            seconds += time.perf_counter() - start
            for key, value in values.items():
                pending[key].append(value)
            if update % s.eval_every == 0 or update == s.updates:
                record = {key: float(np.mean(v)) for key, v in sorted(pending.items())}
                record["sec_per_update"] = seconds / len(pending["model_loss"])
                self._measure(update, record)
                pending.clear()
                seconds = 0.0
            report("world model", update, s.updates)

    def _measure(self, update: int, train: dict[str, float]) -> None:
        """The held-out measures after `update` updates, as a `train` record and `openloop` records."""
        s, config, world_model = self.settings, self.config, self.level.world_model
        stamp = {"env_step": update, "frames": update, "grad_steps": update}
        chunk = max(config.batch_size, 16)
        losses = measures.heldout_losses(world_model, self.loss_windows, chunk, config.image_range)
        record = {"type": "train", **stamp, **train, **{f"heldout/{k}": v for k, v in losses.items()}}
        for context, windows in self.open_windows.items():
            steps = measures.open_loop(world_model, windows, context, s.horizon, chunk, config.image_range)
            self.metrics.write({"type": "openloop", **stamp, "context": context, **steps})
            for name in measures.OPEN_LOOP:
                for k in SHOWN_STEPS:
                    if k <= s.horizon:
                        record[f"ol{context}/{name}/k{k}"] = steps[name][k - 1]
                record[f"ol{context}/{name}_forced"] = float(np.mean(steps[f"{name}_forced"]))
        self.metrics.write(record)
        self._write(
            progress=dataclasses.replace(self.record.progress, env_steps=update, frames=update, grad_steps=update)
        )

    def _policy_phase(self, report: Report) -> float:
        s = self.settings
        stamp = {"env_step": s.updates, "frames": s.updates}
        pending: dict[str, list[float]] = defaultdict(list)
        every = max(1, s.policy_updates // 10)
        for update in range(1, s.policy_updates + 1):
            for key, value in policy.imagination_update(self.level, self.batches).items():
                pending[key].append(value)
            if update % every == 0 or update == s.policy_updates:
                means = {key: float(np.mean(v)) for key, v in sorted(pending.items())}
                self.metrics.write({"type": "policy", **stamp, "policy_update": update, **means})
                pending.clear()
            report("policy in imagination", update, s.policy_updates)
        report("evaluation", 0, 1)
        with torch.no_grad():
            done = policy.evaluate(self.agent, self.config)
        assert done is not None  # never stopped
        for score, length in done.episodes:
            self.metrics.write(
                {"type": "episode", "mode": "eval", **stamp, "score": score, "length": length, "eval_index": 0}
            )
        final = float(np.mean([score for score, _ in done.episodes]))
        self.metrics.write(
            {"type": "eval", **stamp, "eval_index": 0, "score_mean": final, "episodes": len(done.episodes)}
        )
        report("evaluation", 1, 1)
        self._write(
            "done",
            score=run_file.Score(final, eval_episodes=len(done.episodes)),
            progress=dataclasses.replace(
                self.record.progress,
                episodes=len(done.episodes),
                last_score=final,
                grad_steps=s.updates + s.policy_updates,
            ),
            provenance=dataclasses.replace(self.record.provenance, ended=time.strftime("%Y-%m-%dT%H:%M:%S%z")),
        )
        return final

    def _write(self, status: str | None = None, **changes: Any) -> None:
        """The record with `changes`, the wall clock and peak memory now, and the status if given, written."""
        record = dataclasses.replace(self.record, **changes)
        progress = dataclasses.replace(
            record.progress,
            wall_seconds=round(time.perf_counter() - self.started, 3),
            peak_rss_mb=round(max(record.progress.peak_rss_mb, rundir.peak_rss_mb()), 1),
        )
        self.record = dataclasses.replace(record, progress=progress, status=status or record.status)
        self.metrics.sync()
        run_file.write_run(self.run_dir, self.record)
