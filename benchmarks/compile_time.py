"""How long --compile=true takes before its first update, from an empty and from a warm inductor cache, and
what a compiled update then costs; this tree beside another checkout, in one run.

    git worktree add /tmp/before <commit>
    python benchmarks/compile_time.py --baseline /tmp/before     # prints a table, appends it to docs/benchmarks.md

Each row is a fresh process of the 3-level agent (cpu_small, cartpole balance, --compile=true): it acts until
every level's replay holds a batch (acting compiles per level), then updates each level once (every training
graph compiles) and then `--updates` more times. "First update done" counts from the process's start (the
parent's clock, so the interpreter's start and the imports are in it) to the end of the first update of the
top level. "cold": the inductor cache is a new empty directory; "warm": the same directory again, as the next
run of a campaign finds it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_step import _acting_agent, _compile_counters, _update_seconds, append_result  # noqa: E402


def measure(case: str, method: str, updates: int) -> dict:
    """Runs inside the child: the seconds of acting (compilation included), of each level's first update and
    the median of `updates` more per level (after one more untimed, train_step.py's timing), and what dynamo
    built."""
    import torch

    start = time.perf_counter()
    agent, config, _ = _acting_agent(case, method, "compiled", 1)
    acting = time.perf_counter() - start
    first = []
    for level in agent.levels:
        begin = time.perf_counter()
        level.train_step()
        first.append(time.perf_counter() - begin)
    done = time.time()
    steady, _ = _update_seconds(agent, updates, cuda=torch.cuda.is_available() and config.device != "cpu")
    per_call = sum(t / config.subactor_train_every**i for i, t in enumerate(steady))
    return {"acting_s": acting, "first_s": first, "done_at": done, "update_s": per_call, **_compile_counters()}


def run_child(source: Path, cache: str, case: str, method: str, updates: int) -> dict:
    """measure() in a new process on the code at `source` with the inductor cache `cache`; the seconds from the
    process's start to its first update are added as `first_update_at_s`."""
    child = json.dumps({"case": case, "method": method, "updates": updates})
    env = {**os.environ, "PYTHONPATH": str(source), "TORCHINDUCTOR_CACHE_DIR": cache}
    started = time.time()
    out = subprocess.run(
        [sys.executable, __file__, "--child", child], cwd=source, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"compile timing of {source} failed:\n{out.stderr[-3000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    return {**row, "first_update_at_s": row.pop("done_at") - started}


def table(rows: list[tuple[str, str, dict]]) -> str:
    lines = [
        "| code | inductor cache | first update done (s from start) | acting, compiled (s) | "
        "first update per level (s) | update per call (s) | graphs |",
        "|---|---|---|---|---|---|---|",
    ]
    for code, cache, r in rows:
        firsts = " / ".join(f"{t:.1f}" for t in r["first_s"])
        lines.append(
            f"| {code} | {cache} | {r['first_update_at_s']:.1f} | {r['acting_s']:.1f} | {firsts} | "
            f"{r['update_s']:.3f} | {r['graphs']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout of the project, timed the same way first")
    parser.add_argument("--case", default="cpu_small", help="a case of train_step.py (default: cpu_small)")
    parser.add_argument("--method", default="hieros", help="a method of train_step.py (default: hieros, 3 levels)")
    parser.add_argument("--updates", type=int, default=5, help="updates per level timed after the first")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(measure(spec["case"], spec["method"], spec["updates"])))
        return 0
    sources = [("baseline", args.baseline.resolve())] if args.baseline else []
    rows = []
    for code, source in [*sources, ("this tree", ROOT)]:
        with tempfile.TemporaryDirectory() as cache:
            for state in ("cold", "warm"):
                rows.append((code, state, run_child(source, cache, args.case, args.method, args.updates)))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    print(text)
    if not args.no_append:
        baseline = f", baseline {args.baseline}" if args.baseline else ""
        details = f"{args.case}, {args.method}, --compile=true{baseline}"
        append_result("compile_time.py", details, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
