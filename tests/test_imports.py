"""bench/ and analysis/ (the runner and the reports) never import torch, and their modules import in any order."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(f"{p.parent.name}.{p.stem}" for folder in ("bench", "analysis") for p in (ROOT / folder).glob("*.py")
                 if p.stem != "__init__")
LIGHT_HIEROS = ["hieros.config", "hieros.config_schema", "hieros.rundir", "hieros.envs", "hieros.cli_errors",
                "hieros.agent_api"]


@pytest.mark.parametrize("module", MODULES + LIGHT_HIEROS)
def test_imports_alone_and_without_torch(module):
    """Each module imported first in a fresh interpreter (a circular import fails there) pulls in no torch."""
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr or f"{module} imports torch"
