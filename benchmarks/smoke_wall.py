"""Wall time of the README's main sweep (`hieros-bench run smoke`: 2 tasks x 3 methods x 3 seeds, debug model),
side by side in one run:

- this tree, eager (the default);
- this tree with --compile=true, inductor's cache empty (every graph compiled), then warm (compiled graphs
  loaded from the cache this row's cold run left);
- with --baseline DIR, another checkout of the project (e.g. `git worktree add /tmp/before <commit>`), eager.

    python benchmarks/smoke_wall.py --baseline /tmp/before      # prints a table, appends it to docs/benchmarks.md

Each sweep runs in a fresh results directory with the runner's defaults (one run per core).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_step import append_result  # noqa: E402


def sweep(source: Path, flags: list[str], env: dict[str, str]) -> float:
    """Seconds for `hieros-bench run smoke` of the project at `source` (its code and its suite file)."""
    with tempfile.TemporaryDirectory() as results:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "bench.cli", "run", "smoke", "--results", results, *flags],
            cwd=source,
            env={**os.environ, "PYTHONPATH": str(source), **env},
            capture_output=True,
            text=True,
        )
        if out.returncode:
            what = f"{source} {' '.join(flags)}"
            raise SystemExit(f"smoke sweep of {what} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to time eager beside this one")
    parser.add_argument("--no-compile", action="store_true", help="skip the two --compile=true rows")
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    if args.baseline:
        rows.append((f"baseline ({args.baseline}), eager", sweep(args.baseline.resolve(), [], {})))
    rows.append(("this tree, eager", sweep(ROOT, [], {})))
    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            compile_flags, env = ["--set", "compile=true"], {"TORCHINDUCTOR_CACHE_DIR": cache}
            rows.append(("this tree, --compile=true, cold cache", sweep(ROOT, compile_flags, env)))
            rows.append(("this tree, --compile=true, warm cache", sweep(ROOT, compile_flags, env)))
    base = rows[0][1]
    table = "\n".join(
        [
            "| sweep | wall (s) | vs first row |",
            "|---|---|---|",
            *(f"| {name} | {wall:.0f} | {wall / base:.2f}x |" for name, wall in rows),
        ]
    )
    print(table)
    if not args.no_append:
        append_result("smoke_wall.py", "hieros-bench run smoke (18 runs, debug model)", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
