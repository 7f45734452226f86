"""Everything only a GPU can show, in one call of at most 9 minutes: run it whenever a GPU machine is lent.

    python benchmarks/gpu_check.py                  # on a CUDA machine; writes gpu_check_out/gpu_check.{json,md}
    python benchmarks/gpu_check.py --rehearse       # the same steps on the CPU at debug size: proves the script

Without CUDA (and without --rehearse) it stops at once with exit 3. Each step runs in its own process with its own
time limit, so a crash or hang is one failed row; the steps are ordered by what matters most and a step that no
longer fits the remaining budget is skipped and said so. The parent never touches CUDA. Steps:
1. cuda: torch, CUDA and driver versions, the card;
2. run: a 3-level Atari run (debug size) on the GPU that trains level 2 and runs one evaluation episode, stopped
   half way (--stop_after) and resumed to the end;
3. cpu_read: its checkpoint read on the CPU (CUDA hidden), every tensor on the CPU; hieros.openloop on the CPU
   and on the GPU;
4. deterministic: two short runs with --deterministic=true give identical metrics;
5. timing: benchmarks/train_step.py's measure at paper size, 3 levels: per-level update, acting, first update,
   peak memory, for eager and bf16;
6. sharing: 1, 2 and 4 paper-size training runs on the one GPU at once, their summed agent steps per second;
7. compiled: the same measure with --compile=true: compile seconds, graphs, frames traced, graph breaks.
The JSON holds every number; the Markdown table is what docs/benchmarks.md takes whole.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_CUDA = 3
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}
REHEARSAL_SLOWER = 5  # --rehearse: every step's time limit times this


class Check:
    """The steps' shared state: where to write, the budget left, and the rows gathered."""

    def __init__(self, out: Path, budget: float, rehearse: bool):
        self.out, self.deadline, self.rehearse = out, time.monotonic() + budget, rehearse
        self.rows: list[dict] = []
        self.paper = "debug" if rehearse else "paper"  # train_step.py's case
        self.run_presets = ["atari100k", "debug"]

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def python(self, args: list[str], env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )

    def call(self, args: list[str], limit: float, env: dict | None = None) -> tuple[int, str]:
        """Run `python args...` for at most `limit` seconds: (exit code, output); 124 on the time limit."""
        process = self.python(args, env)
        try:
            output, _ = process.communicate(timeout=limit)
            return process.returncode, output
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return 124, process.communicate()[0]

    def step(self, name: str, need: float, limit: float, work) -> None:
        """Run one step, for at most `limit` seconds, if `need` seconds are left of the budget; record its row
        (ok, seconds, numbers or error)."""
        if self.rehearse:  # the CPU is far slower than the GPU these limits are sized for
            need, limit = need * REHEARSAL_SLOWER, limit * REHEARSAL_SLOWER
        limit = min(limit, self.left())
        if limit < need:
            self.rows.append({"step": name, "ok": None, "note": f"skipped: {self.left():.0f} s left of the budget"})
            print(f"== {name}: skipped", flush=True)
            return
        start = time.monotonic()
        print(f"== {name} (at most {limit:.0f} s)", flush=True)
        try:
            numbers = work(limit)
            row = {"step": name, "ok": True, **numbers}
        except Exception as error:  # a failed step is a row, and the next step runs
            row = {"step": name, "ok": False, "error": str(error)[-1500:]}
        row["seconds"] = round(time.monotonic() - start, 1)
        self.rows.append(row)
        print(json.dumps(row)[:2000], flush=True)


def cuda_info(check: Check, limit: float) -> dict:
    code = (
        "import json, torch; c = torch.cuda.is_available(); print(json.dumps({'torch': torch.__version__, "
        "'cuda_build': torch.version.cuda, 'cuda': c, 'card': torch.cuda.get_device_name() if c else None, "
        "'capability': list(torch.cuda.get_device_capability()) if c else None, "
        "'memory_gib': torch.cuda.get_device_properties(0).total_memory / 2**30 if c else None}))"
    )
    status, output = check.call(["-c", code], limit)
    if status:
        raise RuntimeError(output)
    return json.loads(output.strip().splitlines()[-1])


def _train(check: Check, run: Path, limit: float, *flags: str, env: dict | None = None) -> tuple[int, str]:
    args = ["-m", "hieros.train", "--configs", *check.run_presets, "--task=atari_pong", f"--logdir={run}", *flags]
    return check.call(args, limit, env)


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


RUN_FLAGS = ("--max_hierarchy=3", "--steps=3200", "--eval_every=1600", "--eval_eps=1", "--seed=1")


def run_and_resume(check: Check, limit: float) -> dict:
    run = check.out / "run"
    status, output = _train(check, run, limit / 2, *RUN_FLAGS, "--stop_after=1600")
    if status != 130:
        raise RuntimeError(f"the first half exited {status} (130 expected): {output[-800:]}")
    status, output = _train(check, run, limit / 2, *RUN_FLAGS)
    if status:
        raise RuntimeError(f"the resumed half exited {status}: {output[-800:]}")
    record = json.loads((run / "run.json").read_text())
    metrics = _metrics(run)
    level_2 = [r for r in metrics if r.get("type") == "train" and "level_2/model_loss" in r]
    evaluations = [r for r in metrics if r.get("type") == "episode" and r.get("mode") == "eval"]
    if not level_2 or not evaluations or record["status"] != "done" or record["attempts"] != 2:
        raise RuntimeError(f"level 2 trained {len(level_2)}x, {len(evaluations)} eval episodes, {record['status']}")
    return {"device": record["provenance"]["device"], "level_2_records": len(level_2), "eval_episodes":
            len(evaluations), "attempts": record["attempts"], "wall_s": record["progress"]["wall_seconds"]}  # fmt: skip


CPU_READ = """
import sys
from hieros import checkpoint
state = checkpoint.load(sys.argv[1], read_only=True)
import torch
devices = set()
def walk(node):
    if isinstance(node, torch.Tensor): devices.add(node.device.type)
    elif isinstance(node, dict): [walk(v) for v in node.values()]
    elif isinstance(node, (list, tuple)): [walk(v) for v in node]
walk(state)
assert not torch.cuda.is_available() and devices == {"cpu"}, devices
print(sorted(devices))
"""


def cpu_read(check: Check, limit: float) -> dict:
    run = check.out / "run"
    status, output = check.call(["-c", CPU_READ, str(run)], limit / 3, CPU_ONLY)
    if status:
        raise RuntimeError(f"reading the checkpoint on the CPU: {output[-800:]}")
    numbers = {}
    for where, env in (("cpu", CPU_ONLY), ("gpu", None)):
        args = ["-m", "hieros.openloop", str(run), "--batches", "2", "--batch-size", "4"]
        status, output = check.call(args, limit / 3, env)
        if status:
            raise RuntimeError(f"openloop on the {where}: {output[-800:]}")
        rows = [line for line in output.splitlines() if any(c.isdigit() for c in line) and "│" in line]
        numbers[f"openloop_{where}"] = " ".join(rows[-1].replace("│", " ").split())[:200] if rows else "no table"
    return numbers


def deterministic(check: Check, limit: float) -> dict:
    digests = []
    for copy in (1, 2):
        run = check.out / f"deterministic_{copy}"
        flags = ("--deterministic=true", "--steps=800", "--seed=3", "--max_hierarchy=1", "--eval_every=100000")
        status, output = _train(check, run, limit / 2, *flags)
        if status:
            raise RuntimeError(f"--deterministic=true exited {status}: {output[-800:]}")
        train = [{k: v for k, v in r.items() if "seconds" not in k} for r in _metrics(run) if r.get("type") == "train"]
        digests.append(json.dumps(train, sort_keys=True))
    if digests[0] != digests[1]:
        raise RuntimeError("two --deterministic=true runs of one seed differ")
    return {"identical_train_records": len(json.loads(digests[0]))}


def timing(check: Check, limit: float, modes: tuple[str, ...]) -> dict:
    rows = {}
    for mode in modes:
        case = json.dumps({"case": check.paper, "method": "hieros", "mode": mode})
        args = ["benchmarks/train_step.py", "--child", case, "--updates", "5", "--act-steps", "100"]
        status, output = check.call(args, limit / len(modes))
        if status:
            raise RuntimeError(f"{mode}: exit {status}: {output[-800:]}")
        rows[mode] = json.loads(output.strip().splitlines()[-1])
    return {"cases": rows}


def sharing(check: Check, limit: float) -> dict:
    """Summed agent steps per second of 1, 2 and 4 concurrent training runs, each stopped after a fixed time."""
    seconds = 20 if check.rehearse else 30
    presets = check.run_presets if check.rehearse else ["atari100k"]
    found = {}
    for count in (1, 2, 4):
        processes = []
        for index in range(count):
            run = check.out / f"share_{count}_{index}"
            args = ["-m", "hieros.train", "--configs", *presets, "--task=atari_pong", f"--seed={index + 1}",
                    f"--logdir={run}", "--eval_every=100000000", "--save_every=100000000"]  # fmt: skip
            processes.append((run, check.python(args)))
        time.sleep(seconds)
        for _, process in processes:
            os.killpg(process.pid, signal.SIGINT)  # the run checkpoints and records its progress
        rates = []
        for run, process in processes:
            process.communicate(timeout=120)
            progress = json.loads((run / "run.json").read_text())["progress"]
            rates.append(progress["env_steps"] / max(progress["wall_seconds"], 1e-9))
        found[str(count)] = {"steps_per_s": round(sum(rates), 2), "per_run": [round(r, 2) for r in rates]}
    return {"runs": found, "note": f"each run stopped after {seconds} s; the loop's steps over its own wall time"}


def table(check: Check) -> str:
    lines = ["| step | ok | seconds | result |", "|---|---|---|---|"]
    for row in check.rows:
        ok = {True: "yes", False: "**no**", None: "skipped"}[row["ok"]]
        shown = {k: v for k, v in row.items() if k not in ("step", "ok", "seconds", "cases")}
        result = json.dumps(shown, ensure_ascii=False)[:300]
        lines.append(f"| {row['step']} | {ok} | {row.get('seconds', '-')} | {result} |")
    cases = [(mode, r) for row in check.rows for mode, r in row.get("cases", {}).items()]
    if cases:
        header = (
            "| mode | level updates (s) | per call (s) | acting (ms) | first update (s) | peak GPU (GiB) | compiled |"
        )
        lines += ["", header, "|---|---|---|---|---|---|---|"]
        for mode, r in cases:
            levels = " / ".join(f"{t:.3f}" for t in r["levels"])
            memory = "-" if r["peak_gpu_gb"] is None else f"{r['peak_gpu_gb']:.2f}"
            lines.append(f"| {mode} | {levels} | {r['update_s']:.3f} | {r['act_ms']:.1f} | {r['warmup_s']:.1f} | "
                         f"{memory} | {json.dumps(r.get('compiled') or {})} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_check_out", help="where the JSON, table and runs go")
    parser.add_argument("--budget", type=float, default=510.0, help="seconds for all steps (default 510: 8.5 min)")
    parser.add_argument("--rehearse", action="store_true", help="run every step on the CPU at debug size")
    args = parser.parse_args()
    check = Check(args.out, args.budget, args.rehearse)
    args.out.mkdir(parents=True, exist_ok=True)
    check.step("cuda", 10, 60, lambda limit: cuda_info(check, limit))
    if not check.rehearse and not check.rows[-1].get("cuda"):
        print("error: torch sees no CUDA device here; run this on a GPU machine, or --rehearse on the CPU")
        return NO_CUDA
    if check.rehearse:
        os.environ.update(CPU_ONLY)
    check.step("run", 60, 150, lambda limit: run_and_resume(check, limit))
    check.step("cpu_read", 30, 90, lambda limit: cpu_read(check, limit))
    check.step("deterministic", 30, 90, lambda limit: deterministic(check, limit))
    check.step("timing", 60, 150, lambda limit: timing(check, limit, ("eager", "bf16")))
    check.step("sharing", 120, 200, lambda limit: sharing(check, limit))
    check.step("compiled", 90, 240, lambda limit: timing(check, limit, ("compiled",)))
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "rehearsal": check.rehearse, "steps": check.rows}
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    text = table(check)
    (args.out / "gpu_check.md").write_text(text + "\n")
    print(text)
    return 0 if all(row["ok"] is not False for row in check.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
