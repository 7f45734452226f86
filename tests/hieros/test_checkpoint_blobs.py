"""Checkpoints share the replay: large arrays are stored once, by the hash of their content, named by both the
latest and the previous checkpoint; what neither names is removed; a damaged or crafted blob is refused."""

import json

import numpy as np
import pytest

from hieros import checkpoint, state_file
from hieros.rundir import CKPT_DIR

CHUNK = 300_000  # bytes: above state_file.BLOB_BYTES, as a replay chunk of Atari frames is


def _state(chunks: list[np.ndarray], step: int) -> dict:
    """A checkpoint-like state: full chunks that never change, one being filled, small counters."""
    filling = np.full(CHUNK, step % 251, np.uint8)
    return {"counters": {"env_step": step}, "replay": {"chunks": list(chunks), "filling": filling}}


def _disk_bytes(run) -> int:
    return sum(f.stat().st_size for f in (run / CKPT_DIR).rglob("*") if f.is_file())


def test_the_replay_is_on_disk_once_and_only_new_chunks_are_written(tmp_path):
    rng = np.random.default_rng(0)
    chunks = []
    for step in range(1, 6):  # five checkpoints, a new full chunk before each
        chunks.append(rng.integers(0, 255, CHUNK, dtype=np.uint8))
        checkpoint.save(tmp_path, _state(chunks, step))
    blobs = sorted((tmp_path / CKPT_DIR / checkpoint.BLOB_DIR).glob("*.safetensors"))
    # 5 full chunks (shared by latest and previous) and the two filling chunks the two checkpoints hold
    assert len(blobs) == 5 + 2
    assert _disk_bytes(tmp_path) < 8 * CHUNK  # two whole copies would be 2 x 6 chunks
    back = checkpoint.load(tmp_path)
    assert back["counters"]["env_step"] == 5
    assert all(np.array_equal(a, b) for a, b in zip(back["replay"]["chunks"], chunks, strict=True))
    assert np.array_equal(back["replay"]["filling"], _state(chunks, 5)["replay"]["filling"])
    previous = state_file.load(
        checkpoint.checkpoint_file(tmp_path, checkpoint.PREVIOUS_FILE), blobs=checkpoint.blob_store(tmp_path)
    )
    assert previous["counters"]["env_step"] == 4 and len(previous["replay"]["chunks"]) == 4


def test_a_damaged_blob_costs_one_checkpoint_not_the_run(tmp_path, capsys):
    chunks = [np.arange(CHUNK, dtype=np.uint32).astype(np.uint8)]
    checkpoint.save(tmp_path, _state(chunks, 1))
    checkpoint.save(tmp_path, _state(chunks, 2))
    latest_only = state_file.blob_names(checkpoint.checkpoint_file(tmp_path)) - state_file.blob_names(
        checkpoint.checkpoint_file(tmp_path, checkpoint.PREVIOUS_FILE)
    )
    [name] = latest_only  # the filling chunk of step 2
    blob = tmp_path / CKPT_DIR / checkpoint.BLOB_DIR / f"{name}.safetensors"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    state = checkpoint.load(tmp_path)
    assert state["counters"]["env_step"] == 1  # the previous checkpoint, which does not name the damaged blob
    assert "is unreadable (StateFileError)" in capsys.readouterr().err
    shared = tmp_path / CKPT_DIR / checkpoint.BLOB_DIR
    for file in shared.glob("*.safetensors"):
        file.unlink()
    with pytest.raises(checkpoint.CheckpointError, match="no readable checkpoint"):
        checkpoint.load(tmp_path)


@pytest.mark.parametrize("name", ["../../../etc/passwd", "A" * 64, 7, "0" * 63])
def test_a_blob_name_is_a_hash_never_a_path(tmp_path, name):
    tree = json.dumps({"dict": {"counters": {"dict": {}}, "x": {"blob": name}}}, separators=(",", ":"))
    from safetensors.numpy import save

    file = tmp_path / "latest.safetensors"
    file.write_bytes(save({"0": np.zeros(1)}, metadata={"format": state_file.FORMAT, "tree": tree}))
    with pytest.raises(state_file.StateFileError, match="malformed blob name"):
        state_file.load(file, blobs=state_file.BlobStore(tmp_path / "blobs"))
