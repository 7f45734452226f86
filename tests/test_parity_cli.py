"""The parity harness (python -m parity, nox -s parity) without a checkout of the original: one line that says
how to get one, exit status 2. The checks themselves need the original code and run in `nox -s parity`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _parity(*args: str, env_path: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HIEROS_ORIGINAL"}
    if env_path is not None:
        env["HIEROS_ORIGINAL"] = env_path
    return subprocess.run(
        [sys.executable, "-m", "parity", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "env_path", "message"),
    [
        ((), None, "no checkout of the original code"),
        (("--original", "/nonexistent/Hieros"), None, "is not a checkout of Snagnar/Hieros"),
        ((), str(ROOT), "is not a checkout of Snagnar/Hieros"),
    ],
)
def test_without_a_checkout_it_says_how_to_get_one(args, env_path, message):
    out = _parity(*args, env_path=env_path)
    assert out.returncode == 2 and out.stdout == ""
    assert message in out.stderr and "git -C Hieros archive 72567d3" in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
