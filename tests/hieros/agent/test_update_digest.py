"""Speed work must not change what the agent computes: the weights of the 3-level debug agent after a few eager
fp32 updates, hashed bit for bit, equal those that the reference commit's own code computes on this machine
(issue #16; #27: float kernels differ between machines in ways a recorded constant cannot follow).

The reference is the code of REFERENCE_COMMIT, taken from the repository's history and run in a fresh
interpreter here. Move it forward only for a change meant to alter the numbers, and say so in that commit.
"""

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
UPDATES = 5
REFERENCE_COMMIT = "ee9191974479f65e6eafd54ab63dd8eb0f605d6a"  # eager updates as before #16 (weights recorded then)


def updated_weights_digest(filled_agent, updates: int = UPDATES) -> str:
    """Train every level of the 3-level debug agent `updates` times and hash its weights."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: reductions in one order
    try:
        agent = filled_agent()
        for _ in range(updates):
            for level in agent.levels:
                level.train_step()
        digest = hashlib.sha256()
        for level in agent.levels:
            for module in (level.world_model, level.actor_critic, level.autoencoder):
                for name, value in ({} if module is None else module.state_dict()).items():
                    digest.update(name.encode() + np.ascontiguousarray(value.detach().cpu().numpy()).tobytes())
        return digest.hexdigest()
    finally:
        torch.set_num_threads(threads)


def reference_digest(where: Path) -> str:
    """updated_weights_digest() by the code of REFERENCE_COMMIT (its hieros/ and this test file, from git)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", REFERENCE_COMMIT, "hieros", "tests/test_update_digest.py"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    code = (
        "import hieros, test_update_digest as t; "
        f"assert hieros.__file__.startswith({str(where)!r}), hieros.__file__; print(t.updated_weights_digest())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(where), str(where / "tests")])}
    done = subprocess.run([sys.executable, "-c", code], cwd=where, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="the reference commit's code comes from the git history")
def test_eager_fp32_updates_give_the_reference_commits_weights_bit_for_bit(tmp_path, filled_agent):
    assert updated_weights_digest(filled_agent) == reference_digest(tmp_path)
