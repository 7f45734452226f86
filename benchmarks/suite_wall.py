"""What the README's test command costs a newcomer, and what each tier of the suite covers, side by side in one run
from a fresh clone of a commit (empty caches, a new venv):

- install: `python3.11 -m venv .venv && pip install -e ".[test]"`;
- the fast tier (`pytest -q`, the README's command) and the slow tier (`pytest -q -m slow`), wall seconds;
- line coverage (pytest-cov, over hieros, bench, analysis and parity) of the fast tier alone and of both tiers;
- with --baseline COMMIT, the install and `pytest -q` of another commit (e.g. the one before the tiers, whose
  `pytest -q` ran everything: its coverage is that of this commit's two tiers together, the same tests).

    python benchmarks/suite_wall.py --baseline ce032ec      # prints a table, appends it to docs/benchmarks.md

Coverage is measured in separate runs after the timed ones (coverage slows a run down), in the same clone, with
pytest-cov installed then if the commit's extras lack it; it counts the lines run inside pytest's workers, not those
of the training processes some tests start (the same rule for every row).
Run it with the machine otherwise idle: the walls are what a newcomer on these cores waits.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_step import append_result  # noqa: E402

PACKAGES = ("hieros", "bench", "analysis", "parity")


def _run(command: str, cwd: Path) -> float:
    """Seconds `command` takes in bash at `cwd`; exits with its output if it fails (pytest's 5 included)."""
    start = time.perf_counter()
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        output = f"{done.stdout[-3000:]}{done.stderr[-2000:]}"
        raise SystemExit(f"`{command}` failed in {cwd} ({done.returncode}):\n{output}")
    return time.perf_counter() - start


def _short(ref: str) -> str:
    """`ref` as its short commit hash, fixed before anything is measured (HEAD may move meanwhile)."""
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{ref}: not a commit of {ROOT}")
    return done.stdout.strip()


def _clone(commit: str, where: Path) -> Path:
    """A fresh clone of this repository at `commit`, beside nothing (its own temporary folder)."""
    _run(f"git clone -q {ROOT} {where} && git -C {where} checkout -q {commit}", ROOT)
    return where


def _coverage(checkout: Path, tier: str, report: Path) -> float:
    """Percent of lines of PACKAGES that `pytest -q` plus `tier` (extra pytest arguments) executes; the lines in
    `report` (coverage.py's JSON)."""
    cov = " ".join(f"--cov={p}" for p in PACKAGES)
    _run(f". .venv/bin/activate && pytest -q -p no:cacheprovider {tier} {cov} --cov-report=json:{report}", checkout)
    return json.loads(report.read_text())["totals"]["percent_covered"]


def measure(commit: str, work: Path, tiers: bool, reports: Path) -> dict[str, float]:
    """Install and `pytest -q` wall for `commit`; where `tiers`, the slow tier's wall and both coverages too."""
    checkout = _clone(commit, work / commit)
    row = {"install": _run('python3.11 -m venv .venv && . .venv/bin/activate && pip install -q -e ".[test]"', checkout)}
    row["fast"] = _run(". .venv/bin/activate && pytest -q -p no:cacheprovider", checkout)
    if tiers:
        _run(". .venv/bin/activate && pip install -q pytest-cov", checkout)
        row["slow"] = _run(". .venv/bin/activate && pytest -q -p no:cacheprovider -m slow", checkout)
        row["cov_fast"] = _coverage(checkout, "", reports / "coverage_fast.json")
        row["cov_all"] = _coverage(checkout, "-m 'slow or not slow'", reports / "coverage_all.json")
    return row


def _percent(row: dict[str, float], key: str) -> str:
    return f"{row[key]:.2f}%" if key in row else ""


def table(rows: dict[str, dict[str, float]]) -> str:
    lines = [
        "| commit | install (s) | `pytest -q` (s) | README command, install included (s) | slow tier (s) | "
        "coverage of `pytest -q` | coverage of both tiers |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        slow = f"{r['slow']:.0f}" if "slow" in r else "(in `pytest -q`)"
        lines.append(
            f"| {name} | {r['install']:.0f} | {r['fast']:.0f} | {r['install'] + r['fast']:.0f} | {slow} | "
            f"{_percent(r, 'cov_fast')} | {_percent(r, 'cov_all')} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", default="HEAD", help="the commit to measure (default HEAD; commit your work first)")
    parser.add_argument("--baseline", help="another commit, measured the same way, whose `pytest -q` ran everything")
    parser.add_argument("--reports", type=Path, default=Path("."), help="where the two coverage JSONs go (default .)")
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    args.commit, args.baseline = _short(args.commit), args.baseline and _short(args.baseline)
    with tempfile.TemporaryDirectory() as work:
        if args.baseline:
            rows[args.baseline] = measure(args.baseline, Path(work), tiers=False, reports=args.reports.resolve())
        rows[args.commit] = measure(args.commit, Path(work), tiers=True, reports=args.reports.resolve())
    text = table(rows)
    print(text)
    if not args.no_append:
        append_result("suite_wall.py", "the README's test command from a fresh clone, and each tier's coverage", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
