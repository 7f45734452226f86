"""What a first GPU run depends on, checked on the CPU: `auto` never falls back silently, a checkpoint written
on one device is read on another, the CUDA switches of deterministic mode, and the run lock on a filesystem
without flock (and a requeued Slurm task that meets a held lock)."""

import errno
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save

from bench import slurm
from bench.plan import worker_env
from hieros import checkpoint, runlock, state_file
from hieros.agent import device
from hieros.config_schema import EXPECT_GPU_ENV, ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_gpu_here(monkeypatch):
    """A machine where torch sees no CUDA and nothing shows a GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_DRIVER_FILES", ())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(EXPECT_GPU_ENV, raising=False)


def test_auto_is_the_cpu_where_nothing_shows_a_gpu(no_gpu_here):
    assert device.gpu_evidence() is None
    assert device.resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        ({"CUDA_VISIBLE_DEVICES": "0"}, "CUDA_VISIBLE_DEVICES=0"),
        ({EXPECT_GPU_ENV: "1"}, "the runner gave this run a GPU"),
        ({"driver": True}, "exists"),
    ],
)
def test_auto_fails_in_one_line_where_a_gpu_is_shown_but_torch_cannot_use_it(
    no_gpu_here, monkeypatch, tmp_path, setting, shown
):
    if setting.pop("driver", False):
        (tmp_path / "version").write_text("NVRM version: 470.00")
        monkeypatch.setattr(device, "_DRIVER_FILES", (str(tmp_path / "version"),))
    for key, value in setting.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="--device=auto: this machine shows a GPU") as caught:
        device.resolve_device("auto")
    assert shown in str(caught.value) and "--device=cpu" in str(caught.value) and "\n" not in str(caught.value)
    assert device.resolve_device("cpu") == torch.device("cpu")  # asking for the CPU is always allowed


@pytest.mark.parametrize("visible", ["", "-1"])
def test_an_empty_or_hidden_device_list_shows_no_gpu(no_gpu_here, monkeypatch, visible):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert device.gpu_evidence() is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_a_run_given_a_gpu_it_cannot_use_stops_before_its_directory_is_made(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, EXPECT_GPU_ENV: "1"}
    env.pop("HIEROS_DEBUG", None)
    out = subprocess.run(
        [sys.executable, "-m", "hieros.train", "--configs", "dmc_proprio", "debug",
         "--task=dmc_cartpole_balance", f"--logdir={run}"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "this machine shows a GPU" in out.stderr and not run.exists()


def test_the_runners_tell_a_run_it_was_given_a_gpu():
    assert worker_env(1, "0")[EXPECT_GPU_ENV] == "1" and worker_env(1, None, expect_gpu=True)[EXPECT_GPU_ENV] == "1"
    assert EXPECT_GPU_ENV not in worker_env(1, None)
    assert slurm.TrainTask(None, 0, gpus=1).gpus == 1


def test_a_runs_compile_cache_lives_in_the_store_so_requeues_find_it(monkeypatch, tmp_path):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    cache = worker_env(1, None, results=tmp_path)["TORCHINDUCTOR_CACHE_DIR"]
    assert cache == str(tmp_path.resolve() / ".cache" / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/mine")  # the user's own choice wins
    assert "TORCHINDUCTOR_CACHE_DIR" not in worker_env(1, None, results=tmp_path)


def test_deterministic_mode_sets_cublas_workspace_and_turns_autotuning_off(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
              torch.backends.cuda.matmul.allow_tf32)  # fmt: skip
    try:
        device.configure_backend(torch.device("cpu"), deterministic=True, tf32=False)
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == device.CUBLAS_WORKSPACE
        assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
        assert not torch.backends.cuda.matmul.allow_tf32
        device.configure_backend(torch.device("cpu"), deterministic=False, tf32=True)
        assert not torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.benchmark
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32 = before[1], before[2]


def _as_if_saved_on(data: bytes, where: str) -> bytes:
    """The state file `data` with each tensor recorded as saved from device `where`."""
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    meta = header.pop("__metadata__")
    tree = json.loads(meta["tree"])

    def move(node):
        if isinstance(node, dict):
            return {k: (where if k == "device" else move(v)) for k, v in node.items()}
        return [move(v) for v in node] if isinstance(node, list) else node

    arrays = load_arrays(data)
    return save(arrays, metadata={**meta, "tree": json.dumps(move(tree), separators=(",", ":"))})


def test_a_checkpoint_saved_on_a_gpu_is_read_onto_the_device_the_reader_names(tmp_path):
    tree = {"latent": torch.arange(6.0).reshape(2, 3), "half": torch.ones(2, dtype=torch.bfloat16), "n": 3}
    data = _as_if_saved_on(state_file.dumps(tree), "cuda:1")
    assert '"device":"cuda:1"' in json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]["tree"]
    file = tmp_path / "latest.safetensors"
    file.write_bytes(data)
    back = state_file.load(file)  # a CPU machine: no CUDA needed to open it
    assert back["latent"].device.type == "cpu" and torch.equal(back["latent"], tree["latent"])
    assert back["half"].dtype == torch.bfloat16
    elsewhere = state_file.load(file, device="meta")  # and onto whatever device the reader runs on
    assert elsewhere["latent"].device.type == "meta" and elsewhere["half"].device.type == "meta"


def test_cuda_generator_states_are_optional_on_resume(monkeypatch):
    state = checkpoint.rng_state()
    assert "cuda" not in state  # no CUDA work was done: no GPU stream to carry
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    checkpoint.set_rng_state({**state, "cuda": [torch.zeros(16, dtype=torch.uint8)] * 3})  # an 8-GPU pickle, say
    checkpoint.set_rng_state({**state, "cuda": torch.zeros(16, dtype=torch.uint8)})


def _without_flock(monkeypatch):
    def refuse(fd, operation):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", refuse)


CHILD = """
import errno, fcntl, sys
def refuse(fd, op):
    raise OSError(errno.ENOSYS, "Function not implemented")
fcntl.flock = refuse
from hieros import runlock
fd = runlock.hold_lock(sys.argv[1])
print(fd is None, runlock.is_locked(sys.argv[1]))
"""


def test_without_flock_the_lock_is_a_posix_lock_that_other_processes_see(monkeypatch, tmp_path):
    _without_flock(monkeypatch)
    run = tmp_path / "run"
    fd = runlock.hold_lock(run)
    assert fd is not None and runlock.is_locked(run)
    assert f"pid {os.getpid()}" in runlock.holder(run)
    other = subprocess.run([sys.executable, "-c", CHILD, str(run)], cwd=ROOT, capture_output=True, text=True)
    assert other.stdout.split() == ["True", "True"], other.stderr  # taken, and seen as taken
    runlock.let_go(fd)
    free = subprocess.run([sys.executable, "-c", CHILD, str(run)], cwd=ROOT, capture_output=True, text=True)
    assert free.stdout.split() == ["False", "True"], free.stderr  # free again: the other process takes it


def test_a_filesystem_with_no_lock_at_all_is_one_line(monkeypatch, tmp_path):
    _without_flock(monkeypatch)

    def refuse(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "lockf", refuse)
    with pytest.raises(runlock.LockUnsupported, match="supports neither flock nor POSIX locks") as caught:
        runlock.hold_lock(tmp_path / "run")
    assert "--results" in caught.value.strerror and "\n" not in caught.value.strerror


def test_a_requeued_task_waits_for_its_lock_then_fails_naming_the_holder(monkeypatch, tmp_path):
    run = tmp_path / "run"
    held = runlock.hold_lock(run)  # the task it replaces, still saving (or a dead node's lease)
    try:
        assert slurm.TrainTask(None, 0)(("true",), str(run)) == "elsewhere"  # a first start: another runner's run
        monkeypatch.setattr(slurm, "REQUEUE_LOCK_WAIT", 0.2)
        with pytest.raises(slurm.RunFailed, match=rf"still held after 0.2 s by \S+ pid {os.getpid()}"):
            slurm.TrainTask(None, 0, requeues=1)(("true",), str(run))
    finally:
        runlock.let_go(held)
    assert not runlock.is_locked(run)


def test_a_requeued_task_takes_the_lock_once_it_is_free(monkeypatch, tmp_path):
    run = tmp_path / "run"
    monkeypatch.setattr(slurm, "REQUEUE_LOCK_WAIT", 5)
    task = slurm.TrainTask(None, 0, requeues=1)
    fd = task._take_lock(run)
    assert fd is not None and runlock.is_locked(run)
    runlock.let_go(fd)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_the_gpu_check_stops_at_once_without_cuda(tmp_path):
    out = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable},
    )  # fmt: skip
    assert out.returncode == 3 and "torch sees no CUDA device here" in out.stdout, out.stdout + out.stderr
    assert not (tmp_path / "gpu_check.json").exists() and not (tmp_path / "run").exists()
