"""How fast a trained run's imagination drifts: the open-loop reward error of its level-0 world model.

    python -m hieros.openloop RUN_DIR [RUN_DIR ...] [--data RUN_DIR] [--context 4] [--batches 20]
    python -m hieros.openloop RUN_DIR --video openloop.gif [--context 5]    # runs that see images

From replayed sequences (B, T) the world model observes the first `context` steps, then imagines the remaining
K = T - context steps with the replayed actions and no further observation, as the actor's imagination does.
Per imagined step k it reports the mean squared error of the reward head's prediction against the real reward,
beside the reward's variance over the batch (the error of always predicting the mean: a ratio near 1 means the
model has lost track) and the teacher-forced error (the same head on the posterior). `--data` draws the
sequences from another run's replay, so several models are compared on the same data. Sequences that cross an
episode start after the context are left out. docs/results.md uses it to compare S5WM and the RSSM.

`--video PATH` writes DreamerV3's open-loop video instead, for a run that sees images (Atari, DMC from pixels): for
a few replayed sequences side by side, the real frames (top), the model's (middle: its reconstruction of the
observed `context` steps, then its imagination with the replayed actions) and their difference (bottom), as an
animated GIF; each row named on the left, each frame headed "observed" (green) or "imagined" (red) with its step,
and a timeline of the steps along the bottom that marks where imagination starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from hieros import checkpoint, run_file, rundir
from hieros.agent.latents import State
from hieros.agent.world_model import IMAGE_OFFSET, WorldModel, preprocess
from hieros.cli_errors import OneLineParser, int_in
from hieros.config import Config, ConfigError, build_config

ROWS = ("real", "model", "difference")  # the open-loop video's rows, top to bottom (open_loop_frames)

# The most the flags may ask for: the memory of one batch (sequences x steps of observations), the time of the
# batches, the width of the video.
MOST_STEPS = 10_000
MOST_BATCHES = 10_000
MOST_SEQUENCES = 1024
MOST_VIDEO = 64


def imagine_open_loop(
    world_model: WorldModel, post: State, action: torch.Tensor, context: int, sample: bool = True
) -> State:
    """Roll the dynamics from the posterior at step context - 1 with the replayed actions: states (B, K, ...)
    for steps context..T-1, each fed the action the training pass pairs with it (`shift_actions`, D2)."""
    dynamics = world_model.dynamics
    paired = dynamics.shift_actions(action)
    state = {k: v[:, context - 1] for k, v in post.items()}
    states = []
    for t in range(context, action.shape[1]):
        state = dynamics.img_step(state, paired[:, t], sample=sample)
        states.append(state)
    return {k: torch.stack([s[k] for s in states], 1) for k in states[0]}


@torch.no_grad()
def reward_errors(world_model: WorldModel, data: dict[str, torch.Tensor], context: int) -> dict[str, np.ndarray]:
    """Squared reward errors (K,) summed over the valid sequences, their count, and the reward's sum of squared
    deviations; `data` is a preprocessed (B, T) batch."""
    embed = world_model.encoder(data)
    post, _ = world_model.dynamics.observe(embed, data["action"], data["is_first"])
    imagined = imagine_open_loop(world_model, post, data["action"], context)
    real = data["reward"][:, context:]
    valid = ~data["is_first"][:, context:].any(1)
    predict = lambda states: world_model.reward_dist(world_model.dynamics.feat(states)).mode()  # noqa: E731
    open_loop = (predict(imagined) - real) ** 2
    forced = (predict(post)[:, context:] - real) ** 2
    return {
        "open_loop": open_loop[valid].sum(0).cpu().numpy(),
        "teacher_forced": forced[valid].sum(0).cpu().numpy(),
        "deviation": ((real[valid] - real[valid].mean(0)) ** 2).sum(0).cpu().numpy(),
        "count": int(valid.sum()),
    }


@torch.no_grad()
def open_loop_frames(
    world_model: WorldModel, data: dict[str, torch.Tensor], context: int, image_range: str
) -> list[np.ndarray]:
    """One uint8 frame per time step of a preprocessed (B, T) batch with images: for each sequence a column of
    [real; model; |real - model|], the model's image the reconstruction of the posterior for the first `context`
    steps and the decoding of the open-loop imagination after."""
    embed = world_model.encoder(data)
    post, _ = world_model.dynamics.observe(embed, data["action"], data["is_first"])
    imagined = imagine_open_loop(world_model, post, data["action"], context)
    states = {k: torch.cat([post[k][:, :context], imagined[k]], 1) for k in imagined}
    offset = IMAGE_OFFSET[image_range]
    model = world_model.decoder(world_model.dynamics.feat(states))["image"].mode() + offset
    real = data["image"] + offset
    error = (model - real).abs()
    rows = [x.clamp(0, 1) for x in (real, model, error)]
    column = torch.cat(rows, dim=2)  # (B, T, 3H, W, C): stacked vertically
    grid = torch.cat(list(column), dim=2)  # (T, 3H, B*W, C): sequences side by side
    return [(frame * 255).round().to(torch.uint8).cpu().numpy() for frame in grid]


def write_video(run_dir: Path, out: Path, context: int, sequences: int, seed: int, trust_pickle: bool = False) -> Path:
    """The open-loop GIF of `sequences` sequences of the run's own replay, at `out`."""
    from hieros.video import gif_bytes, labelled

    config, agent = load_run(run_dir, trust_pickle)
    level = agent.levels[0]
    if "image" not in level.obs_keys:
        raise SystemExit(
            f"error: {run_dir} sees no images ({', '.join(level.obs_keys)}); --video needs Atari or DMC vision"
        )
    if not context < config.batch_length:
        raise ConfigError(f"--context={context} must be below the run's batch_length {config.batch_length}")
    level.world_model.eval()
    torch.manual_seed(seed)
    batch = preprocess(level.replay.sample(sequences), level.device, config.image_range)
    frames = open_loop_frames(level.world_model, batch, context, config.image_range)
    rundir.atomic_write_bytes(out, gif_bytes(labelled(frames, ROWS, context, sequences), scale=1))
    return out


def load_run(run_dir: Path, trust_pickle: bool = False) -> tuple[Any, Any]:
    """The config and the agent of a run directory, restored from its latest checkpoint."""
    from hieros.agent_api import make_agent
    from hieros.envs import make_env

    here = "cuda" if torch.cuda.is_available() else "cpu"  # where the run trained does not matter for reading it
    config = build_config([], {**Config(run_file.read_run(run_dir).config).flat(), "device": here})
    state = checkpoint.load(run_dir, trust_pickle, read_only=True, device=here)
    if state is None or config.model_name == "random":
        raise SystemExit(f"error: {run_dir} has no checkpoint of a learning agent; train one first")
    env = make_env(config.task, config, seed=0)
    agent = make_agent(config, env.obs_space, env.act_space)
    agent.load_state_dict(state["agent"])
    return config, agent


def load_replay(data_dir: Path, trust_pickle: bool = False) -> dict[str, Any]:
    """The level-0 replay state in a run's checkpoint (`--data`)."""
    data_state = checkpoint.load(data_dir, trust_pickle, read_only=True)
    if data_state is None or "levels" not in data_state["agent"]:
        raise SystemExit(f"error: --data {data_dir} has no checkpoint of a learning agent's replay")
    return data_state["agent"]["levels"][0]["replay"]


def measure(
    run_dir: Path,
    replay: dict[str, Any] | None,
    context: int,
    batches: int,
    batch_size: int,
    seed: int,
    trust_pickle: bool = False,
) -> dict[str, np.ndarray]:
    """Mean squared errors (K,) of one run's level-0 model over `batches` replay batches, drawn from `replay`
    (a level-0 replay state) if given, else from the run's own."""
    config, agent = load_run(run_dir, trust_pickle)
    level = agent.levels[0]
    if replay is not None:
        level.replay.load_state_dict(replay)
    level.world_model.eval()  # no dropout in the S5 blocks: the model's own prediction
    if not context < config.batch_length:
        raise ConfigError(f"--context={context} must be below the run's batch_length {config.batch_length}")
    torch.manual_seed(seed)
    total: dict[str, Any] = {}
    for _ in range(batches):
        batch = preprocess(level.replay.sample(batch_size), level.device, config.image_range)
        for key, value in reward_errors(level.world_model, batch, context).items():
            total[key] = total.get(key, 0) + value
    count = max(total.pop("count"), 1)
    return {key: value / count for key, value in total.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m hieros.openloop",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories with a checkpoint")
    parser.add_argument("--data", type=Path, help="draw the sequences from this run's replay (default: each run's)")
    parser.add_argument(
        "--context", type=int_in(1, MOST_STEPS), default=4, help="observed steps before imagining (default 4)"
    )
    parser.add_argument(
        "--batches", type=int_in(1, MOST_BATCHES), default=20, help="replay batches to average over (default 20)"
    )
    parser.add_argument(
        "--batch-size", type=int_in(1, MOST_SEQUENCES), default=64, help="sequences per batch (default 64)"
    )
    parser.add_argument(
        "--seed",
        type=int_in(0, 2**32 - 1),
        default=0,
        help="seeds the sampled latents (the replay sampler continues from the checkpoint)",
    )
    parser.add_argument("--video", type=Path, metavar="PATH", help="write the open-loop video of the first run (GIF)")
    parser.add_argument(
        "--sequences", type=int_in(1, MOST_VIDEO), default=4, help="sequences side by side in the video (default 4)"
    )
    parser.add_argument(
        checkpoint.TRUST_FLAG,
        action="store_true",
        help="read pickled checkpoints of an earlier version (a pickle can run code: only runs you trust)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    if args.video:
        try:
            path = write_video(args.runs[0], args.video, args.context, args.sequences, args.seed, args.trust_pickle)
        except (rundir.RunFileError, ConfigError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"wrote {path}: real, model and difference, {args.context} observed steps then imagined")
        return 0
    try:
        replay = load_replay(args.data, args.trust_pickle) if args.data else None  # read once, shared by every run
        results = {
            run: measure(run, replay, args.context, args.batches, args.batch_size, args.seed, args.trust_pickle)
            for run in args.runs
        }
    except (rundir.RunFileError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_errors(results, args.data, args.context)
    return 0


def print_errors(results: dict[Path, dict[str, np.ndarray]], data: Path | None, context: int) -> None:
    """The table of reward errors k steps after the last observation, each run's three rows."""
    steps = len(next(iter(results.values()))["open_loop"])
    shown = [k for k in (1, 2, 4, 8, 12, 16, 32, 64) if k <= steps]
    console = Console()
    for index, run in enumerate(results, 1):
        console.print(f"run {index}: {run}")
    if data:
        console.print(f"sequences from the replay of {data}")
    table = Table(title=f"reward MSE k steps after the last observation (context {context})")
    table.add_column("run")
    table.add_column("error")
    for k in shown:
        table.add_column(f"k={k}", justify="right")
    for index, errors in enumerate(results.values(), 1):
        for name, key in (("open loop", "open_loop"), ("teacher forced", "teacher_forced"), ("variance", "deviation")):
            table.add_row(str(index) if key == "open_loop" else "", name, *(f"{errors[key][k - 1]:.3f}" for k in shown))
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
