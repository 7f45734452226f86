"""The checkpoint as parts registered once (hieros.checkpoint.Checkpoint) and the training loop's layout on disk:
the same top-level keys as before the registry, so checkpoints written by earlier versions resume exactly."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hieros import checkpoint, metrics_file, run_file, rundir, state_file
from hieros.train import main

DATA = Path(__file__).resolve().parent / "data" / "checkpoint_before_registry"
# the top-level keys of a checkpoint of hieros.train, in the layout of every version so far
LAYOUT = {
    "counters", "ratio_prev", "returns", "lengths", "obs", "agent_state", "agent", "envs", "rng",
    "metrics_offset", "pending", "progress", "clocks", "wandb_id", "eval_progress",
}  # fmt: skip
# the run DATA holds was written by the loop before the registry and the driver, stopped at env step 650:
COMMON = [
    "--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance", "--model_name=random",
    "--steps=2000", "--eval_every=500", "--eval_eps=2",
]  # fmt: skip


class Box:
    def __init__(self, value=None):
        self.value = value

    def state_dict(self):
        return self.value

    def load_state_dict(self, state):
        self.value = state


class Pair:
    KEYS = ("a", "b")

    def __init__(self, a=None, b=None):
        self.a, self.b = a, b

    def state_dict(self):
        return {"a": self.a, "b": self.b}

    def load_state_dict(self, state):
        self.a, self.b = state["a"], state["b"]


def test_save_and_restore_walk_the_same_registrations(tmp_path):
    ckpt = checkpoint.Checkpoint(tmp_path)
    ckpt.register("counters", Box({"env_step": 3}))  # what checkpoint.load looks for
    ckpt.register("x", Box(np.arange(3)))
    ckpt.register(Pair.KEYS, Pair(1, "two"))
    ckpt.register("late", Box(5), optional=True)
    assert ckpt.keys == ["counters", "x", "a", "b", "late"]
    ckpt.save()
    state = checkpoint.load(tmp_path)
    assert set(state) == {"counters", "x", "a", "b", "late"}  # the pair's keys at the top level

    back = checkpoint.Checkpoint(tmp_path)
    box, pair, late = Box(), Pair(), Box("kept?")
    back.register("x", box)
    back.register(Pair.KEYS, pair)
    back.register("late", late, optional=True)
    back.restore({k: v for k, v in state.items() if k != "late"})  # a checkpoint from before `late`
    assert box.value.tolist() == [0, 1, 2] and (pair.a, pair.b) == (1, "two") and late.value is None
    with pytest.raises(KeyError):
        back.restore({"x": 1, "a": 1})  # a key that is not optional must be there


def test_a_key_registered_twice_or_a_part_that_gives_other_keys_is_refused(tmp_path):
    ckpt = checkpoint.Checkpoint(tmp_path)
    ckpt.register("a", Box())
    with pytest.raises(ValueError, match="registered twice"):
        ckpt.register(Pair.KEYS, Pair())
    other = checkpoint.Checkpoint(tmp_path)
    other.register(("a", "c"), Pair())
    with pytest.raises(ValueError, match="registered as"):
        other.state()


def _copy_run(tmp_path: Path, drop: tuple[str, ...] = ()) -> Path:
    """DATA's run at tmp_path/half, its run.json pointed there, `drop`ped keys left out of its checkpoint."""
    run = tmp_path / "half"
    shutil.copytree(DATA, run)
    record = json.loads((run / rundir.RUN_FILE).read_text())
    record["config"]["logdir"] = str(run)
    (run / rundir.RUN_FILE).write_text(json.dumps(record))
    if drop:
        file = checkpoint.checkpoint_file(run)
        state = {k: v for k, v in state_file.load(file).items() if k not in drop}
        file.write_bytes(state_file.dumps(state))
    return run


def test_the_loop_writes_the_layout_of_earlier_versions(tmp_path):
    run = tmp_path / "run"
    assert main([*COMMON, "--stop_after=1300", f"--logdir={run}"]) == 130
    assert set(checkpoint.load(run)) == LAYOUT == set(checkpoint.load(DATA))


@pytest.mark.parametrize("drop", [(), ("clocks", "eval_progress", "wandb_id")])
def test_a_checkpoint_written_before_the_registry_resumes_exactly(tmp_path, drop):
    """DATA (written by the loop before the driver and the registry; also without the keys of still earlier
    versions) resumed to the end == a run never stopped."""
    whole = tmp_path / "whole"
    assert main([*COMMON, f"--logdir={whole}"]) == 0
    half = _copy_run(tmp_path, drop)
    assert main([*COMMON, f"--logdir={half}"]) == 0
    strip = lambda run: [json.dumps(m) for m in metrics_file.read_metrics(run)]  # noqa: E731
    assert strip(half) == strip(whole)
    record = run_file.read_run(half)
    assert record.status == "done" and record.progress.env_steps == 1000
    assert set(record.progress.phase_seconds) == {"policy", "env", "train", "eval", "log", "checkpoint"}
