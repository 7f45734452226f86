"""`python -m parity --original PATH [--original-head PATH]`: our agent against the original HIEROS code, same
weights, same inputs, same random draws.

`--original` (or $HIEROS_ORIGINAL) is a checkout of the paper-era commit 72567d3: every module check runs against
it. `--original-head` (or $HIEROS_ORIGINAL_HEAD) is a checkout of HEAD: whole training calls run against it (the
paper-era commit cannot train), in a second process, since both trees name their modules alike. Everything runs
on CPU in fp32 (and fp64 where said) with deterministic algorithms; the table is printed and, with --write, put
into docs/parity.md. Exit status: 0 every row within tolerance, 1 some row is not, 2 no usable checkout (the
message says how to get one).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from parity import acting, actor_critic, agent_call, level, rssm, s5, subgoal, training, world_model
from parity.compare import Row, expected_difference, markdown
from parity.original import ENV_VAR, CheckoutError, Original, checkout_path, load

HEAD_ENV_VAR = "HIEROS_ORIGINAL_HEAD"
DOC = Path(__file__).resolve().parents[1] / "docs" / "parity.md"
BEGIN, END = "<!-- parity table: begin -->", "<!-- parity table: end -->"
# (label, S5 model_dim, state_dim, init_blocks): the paper preset and the debug preset
S5_SIZES = [("paper", 256, 128, 4), ("debug", 32, 16, 2)]
S5WM_PRESETS = [
    (["atari100k"], {}, "atari100k"),
    (["atari100k", "debug"], {}, "atari100k debug"),
    (["atari100k", "debug"], {"dyn_hidden": "48"}, "debug, dyn_hidden 48 != units 32"),
]
IMAGE, VECTOR = {"image": ((64, 64, 3), np.uint8)}, {"vector": ((5,), np.float32)}
WM_PRESETS = [
    (["atari100k"], IMAGE, "atari100k"),
    (["atari100k", "debug"], IMAGE, "atari100k debug"),
    (["dmc_proprio"], VECTOR, "dmc_proprio"),
    (["dmc_proprio", "debug"], VECTOR, "dmc_proprio debug"),
]
REINFORCE = {"imag_gradient": "reinforce"}
# the original's dreamer mode: RSSM, one level, and an actor and critic on [z, deter] alone (its models_dreamer reads
# none of the *_actor_input keys; our dreamer keeps HIEROS's inputs by default, docs/deviations.md)
DREAMER_MODE = {"model_name": "dreamer", **{f"{k}_actor_input": "false" for k in ("reward", "cont", "stochasticity")}}
AC_PRESETS = [
    (["atari100k"], IMAGE, "atari100k", {}),
    (["atari100k", "debug"], IMAGE, "atari100k debug", {}),
    (["dmc_proprio"], VECTOR, "dmc_proprio, reinforce", REINFORCE),
    (["dmc_proprio", "debug"], VECTOR, "dmc_proprio debug, reinforce", REINFORCE),
]


def module_checks(original: Original) -> list[Row]:
    rows: list[Row] = []
    for label, model_dim, state_dim, init_blocks in S5_SIZES:
        rows += s5.check(original, model_dim, state_dim, init_blocks, label)
    rows += s5.init_scale(original, 256, 128, 4)
    for presets, overrides, label in S5WM_PRESETS:
        rows += world_model.check(original, presets, overrides, label)
    for presets, space, label in WM_PRESETS:
        rows += training.check(original, presets, space, label)
    for presets, label in [(["atari100k"], "dreamer mode, atari100k"), (["atari100k", "debug"], "dreamer mode, debug")]:
        rows += training.check(original, presets, IMAGE, label, {"model_name": "dreamer"})
    rows += actor_critic.returns(original)
    for presets, space, label, overrides in AC_PRESETS:
        rows += actor_critic.check(original, presets, space, label, overrides)
    rows.append(actor_critic.dynamics_gradient_fails_in_the_original(original))
    for presets, space, label, overrides in AC_PRESETS:
        rows += actor_critic.check(original, presets, space, f"dreamer mode, {label}", {**DREAMER_MODE, **overrides})
    corrected = {**DREAMER_MODE, **REINFORCE, "reinforce_original_logprob": "false"}
    rows.append(
        expected_difference(
            actor_critic.GROUP,
            "dreamer mode, dmc_proprio debug, reinforce_original_logprob false: the actor's loss, gradients and step",
            actor_critic.check(original, ["dmc_proprio", "debug"], VECTOR, "dreamer mode, corrected", corrected),
            "D17 is in the dreamer mode too; the rows above equal it with the switch at the original's value",
        )
    )
    for presets, label in [(["atari100k"], "atari100k"), (["atari100k", "debug"], "atari100k debug")]:
        rows += subgoal.check(original, presets, label)
    return rows + _rssm_rows(original) + acting.checks(original)


def _rssm_rows(original: Original) -> list[Row]:
    rows: list[Row] = []
    for module, label in (("networks_dreamer", "dreamer mode"), ("networks", "rssm ablation")):
        for presets, size in ((["atari100k"], ""), (["atari100k", "debug"], " debug")):
            rows += rssm.check(original, presets, module, label + size, resets=False)
            resets = rssm.check(original, presets, module, label + size, resets=True)
            if module == "networks_dreamer":  # its obs_step assigns the reset state to a local variable
                resets = [
                    expected_difference(
                        rssm.GROUP,
                        f"{label}{size}, resets inside the sequences: every quantity above",
                        resets,
                        "D18, the original's dreamer mode never resets its latent at is_first; fixed outright",
                    )
                ]
            rows += resets
        rows += rssm.init_spread(original, module, label)
    return rows


def call_checks(original: Original) -> list[Row]:
    """Whole training calls of each level of the 3-level agent, then of the agent (needs a HEAD checkout)."""
    rows: list[Row] = []
    for presets, space, label, overrides in [
        (["atari100k"], IMAGE, "atari100k", {}),
        (["atari100k", "debug"], IMAGE, "atari100k debug", {}),
        (["dmc_proprio"], VECTOR, "dmc_proprio, reinforce", REINFORCE),
        (["dmc_proprio", "debug"], VECTOR, "dmc_proprio debug, reinforce", REINFORCE),
    ]:
        levels = (0, 1, 2) if presets[0] == "atari100k" else (0,)  # above level 0 the domain no longer matters
        for index in levels:
            rows += level.check(original, presets, space, label, overrides, index=index)
    return rows + agent_call.checks(original)


def _calls_in_subprocess(head: str) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        done = subprocess.run(
            [sys.executable, "-m", "parity", "--original", head, "--only", "calls", "--json", str(out)],
            cwd=Path(__file__).resolve().parents[1],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if not out.exists():
            raise CheckoutError(f"the training-call checks against {head} failed (exit {done.returncode})")
        return [Row(**item) for item in json.loads(out.read_text())]


def write_doc(table: str) -> None:
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + table + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m parity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--original", metavar="PATH", help=f"checkout of Snagnar/Hieros at 72567d3 (${ENV_VAR})")
    parser.add_argument(
        "--original-head",
        metavar="PATH",
        help=f"checkout of Snagnar/Hieros at HEAD, for whole training calls (${HEAD_ENV_VAR})",
    )
    parser.add_argument("--only", choices=["modules", "calls"], help="run one part against --original")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--write", action="store_true", help="write the table into docs/parity.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        original = load(args.original)
        if args.only:
            rows = module_checks(original) if args.only == "modules" else call_checks(original)
        else:
            rows = module_checks(original)
            head = args.original_head or os.environ.get(HEAD_ENV_VAR)
            if head:
                rows += _calls_in_subprocess(str(checkout_path(head)))
            else:
                rows.append(
                    Row(
                        level.GROUP,
                        "whole training calls",
                        0.0,
                        0.0,
                        note=f"give --original-head or ${HEAD_ENV_VAR}, a HEAD checkout",
                        outcome="not run",
                    )
                )
    except CheckoutError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows]))
    table = markdown(rows)
    print(table, end="")
    failed = [r for r in rows if not r.passed]
    print(f"{len(rows) - len(failed)} of {len(rows)} rows within tolerance or explained")
    if args.write:
        write_doc(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
