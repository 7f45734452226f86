"""The wall between the torch model and the rest: declared as import-linter contracts in pyproject.toml and checked
here with the real tool (and by `lint-imports` in .ci/run); one clean interpreter shows that importing every module
of bench/, analysis/ and the torch-free core really leaves torch unloaded."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    f"{p.parent.name}.{p.stem}"
    for folder in ("bench", "analysis")
    for p in (ROOT / folder).glob("*.py")
    if p.stem != "__init__"
)
CORE = [
    "hieros.config",
    "hieros.config_schema",
    "hieros.config_hash",
    "hieros.rundir",
    "hieros.run_search",
    "hieros.metrics_file",
    "hieros.runlock",
    "hieros.envs",
    "hieros.cli_errors",
    "hieros.checkpoint",
    "hieros.progress",
    "hieros.replay",
    "hieros.agent_api",
]


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "4 kept, 0 broken" in out.stdout


def test_bench_analysis_and_the_core_import_without_torch():
    code = f"import sys, {', '.join(MODULES + CORE)}; sys.exit('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr or "torch was imported"
