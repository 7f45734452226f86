"""The wall between the torch model and the rest, and the one direction between the packages: declared as
import-linter contracts in pyproject.toml and checked here with the real tool (and by `lint-imports` in .ci/run);
one clean interpreter shows that importing every module the contracts keep from torch really leaves it unloaded.
The modules are read from the contracts themselves, so the list is written once."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
# The modules no contract can keep from torch: the random agent's, which imports the agent only when a learning
# agent is asked for (a lazy import, which import-linter counts like any other).
LAZY = ["hieros.agent_api"]


def _modules(name: str) -> list[str]:
    """`name` and, for a package, every module under it."""
    path = ROOT.joinpath(*name.split("."))
    if not path.is_dir():
        return [name]
    return [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted(path.rglob("*.py"))
    ]


TORCH_FREE = sorted(
    {
        module
        for contract in CONTRACTS
        if contract["type"] == "forbidden" and "torch" in contract["forbidden_modules"]
        for name in contract["source_modules"]
        for module in _modules(name)
    }
)


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert f"{len(CONTRACTS)} kept, 0 broken" in out.stdout


def test_the_contracts_name_the_packages_and_the_core():
    named = {"bench", "bench.cli", "analysis", "analysis.cli", "hieros.config", "hieros.rundir", "hieros.envs.atari"}
    assert named <= set(TORCH_FREE)
    assert any(c["type"] == "layers" and c["layers"][-1] == "hieros" and "containers" not in c for c in CONTRACTS)


def test_bench_analysis_and_the_core_import_without_torch():
    code = f"import sys, {', '.join(TORCH_FREE + LAZY)}; sys.exit('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr or "torch was imported"
