"""Episode videos: the frames an evaluation episode showed the agent, as an animated GIF (Pillow, which matplotlib
already brings), written atomically into the run directory's videos/ folder.

Tasks whose observation has an image (Atari, DMC from pixels) get videos; proprioceptive DMC has no frames to show.
Frames are the agent's own 64x64 observations, scaled up by whole pixels so they stay sharp.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hieros.rundir import atomic_write_bytes

VIDEO_DIR = "videos"
MAX_FRAMES = 2000  # a longer episode's video keeps its first 2000 frames
SCALE = 2
FRAME_MS = 50  # 20 frames per second


def frame(obs: Mapping[str, Any]) -> np.ndarray | None:
    """The observation's image (H, W, 3) uint8, or None where it has none."""
    image = obs.get("image")
    if image is None:
        return None
    image = np.asarray(image, np.uint8)
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def gif_bytes(frames: Sequence[np.ndarray], scale: int = SCALE) -> bytes:
    """An animated GIF of `frames` (each H, W, 3 uint8), every frame shown FRAME_MS, looping."""
    from PIL import Image

    images = [Image.fromarray(np.kron(f, np.ones((scale, scale, 1), np.uint8))) for f in frames[:MAX_FRAMES]]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0)
    return buffer.getvalue()


def write_episode(run_dir: Path, frames: Sequence[np.ndarray], frames_done: int) -> Path:
    """videos/eval_<env frames>.gif of one evaluation episode; its path."""
    path = Path(run_dir) / VIDEO_DIR / f"eval_{frames_done:09d}.gif"
    atomic_write_bytes(path, gif_bytes(frames))
    return path
