"""Update time, peak memory, acting speed and achieved FLOP/s of the agent, per preset and method, side by side.

    python benchmarks/train_step.py                       # paper size and debug, hieros and dreamer, eager
    python benchmarks/train_step.py --presets debug --updates 20
    python benchmarks/train_step.py --presets cpu_small --methods hieros --modes eager compiled

Each (preset, method) runs in its own subprocess so its peak memory (max RSS) is its own. The replay is filled
with real environment steps (random actions) before the timed updates; the first update is a warm-up and not
timed. With --modes compiled the agent runs with --compile=true (torch.compile of the world-model loss, the
imagination with its scoring, the actor-critic and autoencoder losses and the acting step); its warm-up update
includes the compilation, reported apart. --modes bf16 runs the updates in bfloat16 autocast (--precision=bf16).
Each row also gives the FLOPs of an update, their share of the fp32 peak measured in the same process, and the
tensor operations an eager update dispatches (beside the FLOPs: whether operations or arithmetic set the time). Results
are printed as a table and appended to docs/benchmarks.md with the date and the hardware.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # name: (presets, overrides, task)
    "paper": (["atari100k"], {}, "atari_pong"),
    "paper_b4": (["atari100k"], {"batch_size": "4"}, "atari_pong"),  # where the original fits in 24 GiB here
    "debug": (["atari100k", "debug"], {}, "atari_pong"),
    "cpu_small": (["dmc_proprio", "cpu_small"], {}, "dmc_cartpole_balance"),  # the cpu_learning suite's model
}
MODES = {
    "eager": {},
    "compiled": {"compile": "true"},
    "bf16": {"precision": "bf16"},  # flags of each mode
    "compiled_bf16": {"compile": "true", "precision": "bf16"},
}


METHODS = {  # name: (model_name, max_hierarchy)
    "hieros": ("hieros", 3),
    "hieros_1level": ("hieros", 1),
    "dreamer": ("dreamer", 1),
}


def measure(case: str, method: str, mode: str, updates: int, act_steps: int) -> dict:
    """Runs inside the child process.

    Acting fills every level's replay with real environment steps (random-ish actions from the untrained
    policy), then `act_steps` more policy steps are timed; each level's update is then warmed up once and
    timed `updates` times (median). Level i trains every 4^i calls, so one training call of the agent costs
    sum_i t_i / 4^i on average ("per call")."""
    import torch

    from hieros.rundir import peak_rss_mb

    agent, config, act_seconds = _acting_agent(case, method, mode, act_steps)
    cuda = torch.cuda.is_available() and config.device != "cpu"
    level_seconds, warmup = _update_seconds(agent, updates, cuda)
    shares = [1 / config.subactor_train_every**i for i in range(len(agent.levels))]  # of a call, each level
    per_call = sum(t * w for t, w in zip(level_seconds, shares, strict=True))
    flops = (
        None if config.compile else sum(update_flops(level) * w for level, w in zip(agent.levels, shares, strict=True))
    )
    ops = None if config.compile else sum(update_ops(level) * w for level, w in zip(agent.levels, shares, strict=True))
    return {
        "presets": case,
        "method": method,
        "mode": mode,
        "warmup_s": warmup,
        "batch": f"{config.batch_size}x{config.batch_length}",
        "levels": level_seconds,
        "update_s": per_call,
        "act_ms": 1000 * act_seconds,
        "peak_rss_gb": peak_rss_mb() / 1024,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "threads": torch.get_num_threads(),
        "updates": updates,
        "flops": flops,
        "ops": ops,
        "peak_flops": peak_flops("cuda" if cuda else "cpu"),
        "compiled": _compile_counters() if config.compile else {},
    }


def _acting_agent(case: str, method: str, mode: str, act_steps: int) -> tuple[Any, Any, float]:
    """The agent of `case`, `method` and `mode` with every level's replay filled by acting, its config, and the
    seconds per policy step of `act_steps` steps timed after the fill (every level has acted, and compiled)."""
    import numpy as np

    from hieros.agent_api import make_agent
    from hieros.config import build_config
    from hieros.envs import make_env
    from hieros.envs.base import stack

    model, levels = METHODS[method]
    presets, overrides, task = CASES[case]
    config = build_config(
        presets, {**overrides, "task": task, "model_name": model, "max_hierarchy": str(levels), **MODES[mode]}
    )
    discrete = task.startswith("atari")
    env = make_env(config.task, config, seed=0)
    agent = make_agent(config, env.obs_space, env.act_space)
    obs, state = stack([env.reset()]), agent.initial_state(1)
    top_period = config.subactor_update_every ** (len(agent.levels) - 1)
    fill = (config.batch_length + config.batch_size) * top_period + top_period
    for step in range(fill + act_steps):
        if step == fill:
            start = time.perf_counter()
        action, state = agent.policy(obs, state, mode="train")
        obs = stack(
            [env.reset() if obs["is_last"][0] else env.step(int(action[0]) if discrete else np.asarray(action[0]))]
        )
    return agent, config, (time.perf_counter() - start) / act_steps


def _update_seconds(agent: Any, updates: int, cuda: bool) -> tuple[list[float], float]:
    """Each level's median update seconds over `updates` timed updates, and the seconds of the warm-up updates
    (one a level, compilation included) before them."""
    import numpy as np
    import torch

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    level_seconds, warmup = [], 0.0
    for level in agent.levels:
        start = time.perf_counter()
        level.train_step()
        warmup += time.perf_counter() - start
        times = []
        for _ in range(updates):
            sync()
            start = time.perf_counter()
            level.train_step()
            sync()
            times.append(time.perf_counter() - start)
        level_seconds.append(float(np.median(times)))
    return level_seconds, warmup


def _compile_counters() -> dict[str, int]:
    """How much torch.compile built: graphs, frames traced (recompiles among them), graph breaks."""
    from torch._dynamo.utils import counters

    return {
        "graphs": counters["stats"]["unique_graphs"],
        "frames": counters["frames"]["total"],
        "graph_breaks": sum(counters["graph_break"].values()),
    }


def peak_flops(device: str) -> float:
    """The machine's own fp32 peak as this process sees it (same threads): the faster of a 4096^2 matmul and a
    batch-64 convolution, FLOPs counted by torch.utils.flop_counter, best of 5 timings."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    a, b = torch.randn(4096, 4096, device=device), torch.randn(4096, 4096, device=device)
    image, kernel = torch.randn(64, 64, 32, 32, device=device), torch.randn(128, 64, 3, 3, device=device)
    best = 0.0
    for work in (lambda: a @ b, lambda: torch.nn.functional.conv2d(image, kernel, padding=1)):
        with FlopCounterMode(display=False) as counter:
            work()
        seconds = []
        for _ in range(6):
            start = time.perf_counter()
            work()
            if device != "cpu":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
        best = max(best, counter.get_total_flops() / min(seconds[1:]))
    return best


def update_flops(level) -> int:
    """FLOPs of one update of `level` (forward and backward matmuls and convolutions), counted by
    torch.utils.flop_counter; eager only (compiled graphs are not seen by the counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        level.train_step()
    return counter.get_total_flops()


def update_ops(level) -> int:
    """Tensor operations one update of `level` dispatches to torch's kernels (forward, backward and optimiser,
    views included; each counted once where it enters the dispatcher, as a TorchDispatchMode sees it); eager only.
    Two updates with the same count and different times differ by their arithmetic, not by per-operation overhead."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    with Count():
        level.train_step()
    return Count.calls


def append_result(script: str, details: str, table: str) -> None:
    """Append a dated section `### <script>, <date>, <hardware>, <details>` with `table` to docs/benchmarks.md."""
    with open(ROOT / "docs" / "benchmarks.md", "a") as f:
        f.write(
            f"\n### {script}, {time.strftime('%Y-%m-%d')}, {hardware()}{', ' + details if details else ''}\n\n{table}\n"
        )


def hardware() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU only"
    return f"{platform.processor() or platform.machine()}, {cores} cores, {memory:.0f} GiB, {gpu}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--presets",
        nargs="+",
        default=["paper", "debug"],
        choices=list(CASES),
        help="cases: paper (atari100k), paper_b4 (batch 4x64), debug (atari100k debug), cpu_small "
        "(dmc_proprio cpu_small on cartpole balance)",
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["eager"],
        choices=list(MODES),
        help="eager, compiled (--compile=true), bf16 (--precision=bf16), compiled_bf16; each in its own process",
    )
    parser.add_argument("--updates", type=int, default=3, help="timed updates per case (median reported)")
    parser.add_argument("--act-steps", type=int, default=200, help="policy steps timed for acting speed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    return parser


def _child_row(case: str, method: str, mode: str, updates: int, act_steps: int) -> dict | None:
    """measure() of one case in a process of its own (its peak memory its own); None if it failed (said)."""
    child = json.dumps({"case": case, "method": method, "mode": mode})
    command = [sys.executable, __file__, "--child", child, "--updates", str(updates), "--act-steps", str(act_steps)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table_line(r: dict, rows: list[dict]) -> str:
    """One row of the table, with its ratios against hieros_1level and against its eager row."""
    base = next(
        (b for b in rows if b["presets"] == r["presets"] and b["method"] == "hieros_1level" and b["mode"] == r["mode"]),
        None,
    )
    ratio = f"{r['update_s'] / base['update_s']:.2f}x" if base else "-"
    eager = next(
        (b for b in rows if b["presets"] == r["presets"] and b["method"] == r["method"] and b["mode"] == "eager"),
        None,
    )
    speedup = f"{eager['update_s'] / r['update_s']:.2f}x" if eager and eager is not r else "-"
    levels = " / ".join(f"{t:.3f}" for t in r["levels"])
    gpu_memory = "-" if r["peak_gpu_gb"] is None else f"{r['peak_gpu_gb']:.2f}"
    flops = r["flops"] if r["flops"] is not None else eager["flops"] if eager else None  # same computation
    ops = r.get("ops")
    dispatch = f"{ops:.0f} | {1e6 * r['update_s'] / ops:.1f}" if ops else "- | -"
    achieved = flops / r["update_s"] if flops else None
    compute = (
        f"{flops / 1e9:.2f} | {achieved / 1e9:.1f} | {r['peak_flops'] / 1e9:.0f} | {achieved / r['peak_flops']:.1%}"
        if achieved
        else f"- | - | {r['peak_flops'] / 1e9:.0f} | -"
    )
    return (
        f"| {r['presets']} | {r['method']} | {r['mode']} | {r['batch']} | {levels} | "
        f"{r['update_s']:.3f} | {ratio} | {speedup} | {r['act_ms']:.2f} | {r['warmup_s']:.1f} | "
        f"{r['peak_rss_gb']:.2f} | {gpu_memory} | {compute} | {dispatch} |"
    )


TABLE_HEADER = [
    "| case | method | mode | batch | level updates (s) | update per call (s) | vs hieros_1level | "
    "vs eager | acting (ms/step) | first update (s) | peak RSS (GiB) | peak GPU (GiB) | GFLOP per call | "
    "achieved GFLOP/s | fp32 peak GFLOP/s | of peak | ops per call | us per op |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]
TABLE_NOTE = (
    "Level i trains every 4^i calls, so an agent's update per call is sum_i t_i / 4^i. "
    "hieros = the paper's 3 levels. vs eager: eager update / this update (speed-up). GFLOP per call: "
    "matmul and convolution FLOPs of the updates (forward and backward, torch.utils.flop_counter; a "
    "compiled row uses its eager row's count); of peak: achieved / the fastest of a 4096^2 matmul and a "
    "convolution timed in the same process. ops per call: tensor operations an eager call dispatches (forward, "
    "backward, optimiser, views; a TorchDispatchMode's count); us per op: the update per call over them."
)


def main() -> int:
    args = _parser().parse_args()
    if args.child:
        case = json.loads(args.child)
        print(json.dumps(measure(case["case"], case["method"], case["mode"], args.updates, args.act_steps)))
        return 0
    rows = []
    for name in args.presets:
        for method, mode in [(m, mode) for m in args.methods for mode in args.modes]:
            row = _child_row(name, method, mode, args.updates, args.act_steps)
            if row is None:
                return 1
            rows.append(row)
            print(rows[-1], flush=True)
    table = "\n".join([*TABLE_HEADER, *(_table_line(r, rows) for r in rows)])
    print(table)
    if not args.no_append:
        append_result(
            "train_step.py",
            f"torch threads {rows[0]['threads']}, median of {args.updates} updates per level",
            f"{TABLE_NOTE}\n\n{table}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
