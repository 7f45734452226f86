"""Episode videos: the frames an evaluation episode showed the agent, as an animated GIF (Pillow, which matplotlib
already brings), written atomically into the run directory's videos/ folder; pictures as PNG (`write_picture`:
the agent's subgoal pictures in subgoals/); and the labels of the open-loop video (`labelled`, for
hieros.openloop), drawn with OpenCV.

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
SUBGOAL_DIR = "subgoals"  # the subgoal pictures, step_<env step>.png
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


# The open-loop video's labels: colours (RGB) of observed and imagined steps, and the text's look.
OBSERVED = (40, 150, 60)
IMAGINED = (200, 50, 40)
TEXT = (255, 255, 255)
SEPARATOR = (30, 30, 30)
FONT_SCALE = 0.45
HEADER = 22  # pixels: the band above the rows that says whether this step is observed or imagined
TIMELINE = 10  # pixels: the band below them, one cell per step, where imagination starts marked
PAD = 6


def upscaled(frame: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """A frame scaled up by whole pixels (each pixel a scale x scale block)."""
    return np.kron(frame, np.ones((scale, scale, 1), np.uint8))


def labelled(
    frames: Sequence[np.ndarray], rows: Sequence[str], context: int, columns: int = 1, scale: int = SCALE
) -> list[np.ndarray]:
    """The open-loop video's frames (one per step, each a grid of len(rows) rows by `columns` sequences of equal
    images; the second row the model's) scaled up and labelled: each row's name in a margin on the left, the
    sequences parted by dark lines; above, which step it is and whether it is observed (the model reconstructs it:
    green) or imagined (open loop after the first `context` steps: red), the model's row framed in that colour;
    below, a timeline of every step, observed cells green and imagined ones red, a white mark where imagination
    starts and this step's cell outlined."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    margin = max(cv2.getTextSize(row, font, FONT_SCALE, 1)[0][0] for row in rows) + 2 * PAD
    steps = len(frames)
    out = []
    for step, frame in enumerate(frames):
        grid = upscaled(frame, scale)
        height, width = grid.shape[:2]
        row_height = height // len(rows)
        canvas = np.zeros((HEADER + height + TIMELINE, margin + width, 3), np.uint8)
        canvas[HEADER : HEADER + height, margin:] = grid
        for column in range(1, columns):
            x = margin + column * width // columns
            canvas[HEADER : HEADER + height, x - 1 : x + 1] = SEPARATOR
        for index, row in enumerate(rows):
            (_, text_height), _ = cv2.getTextSize(row, font, FONT_SCALE, 1)
            baseline = HEADER + index * row_height + (row_height + text_height) // 2
            cv2.putText(canvas, row, (PAD, baseline), font, FONT_SCALE, TEXT, 1, cv2.LINE_AA)
        observed = step < context
        colour = OBSERVED if observed else IMAGINED
        canvas[:HEADER] = colour
        what = "observed (reconstructed)" if observed else f"imagined ({step - context + 1} after the last observed)"
        header = f"step {step + 1}/{steps}: {what}"
        cv2.putText(canvas, header, (PAD, HEADER - 7), font, FONT_SCALE, TEXT, 1, cv2.LINE_AA)
        top = HEADER + min(1, len(rows) - 1) * row_height
        cv2.rectangle(canvas, (margin, top), (margin + width - 1, top + row_height - 1), colour, 2)
        _timeline(canvas, margin, HEADER + height, step, steps, context)
        out.append(canvas)
    return out


def _timeline(canvas: np.ndarray, left: int, top: int, step: int, steps: int, context: int) -> None:
    """One cell per step along the bottom band: observed green, imagined red; the start of imagination marked
    white; this step's cell outlined."""
    import cv2

    width = canvas.shape[1] - left
    edges = [left + round(i * width / steps) for i in range(steps + 1)]
    for i in range(steps):
        canvas[top + 2 : top + TIMELINE - 2, edges[i] + 1 : edges[i + 1]] = OBSERVED if i < context else IMAGINED
    if 0 < context < steps:
        canvas[top:, edges[context] - 1 : edges[context] + 1] = TEXT
    cv2.rectangle(canvas, (edges[step], top), (edges[step + 1] - 1, top + TIMELINE - 1), TEXT, 1)


def write_episode(run_dir: Path, frames: Sequence[np.ndarray], frames_done: int) -> Path:
    """videos/eval_<env frames>.gif of one evaluation episode; its path."""
    path = Path(run_dir) / VIDEO_DIR / f"eval_{frames_done:09d}.gif"
    atomic_write_bytes(path, gif_bytes(frames))
    return path


def write_picture(path: Path, image: np.ndarray) -> None:
    """`image` (H, W, 3) uint8 RGB as a PNG file at `path`, written atomically (OpenCV; nothing if it cannot
    encode it)."""
    import cv2

    ok, png = cv2.imencode(".png", image[..., ::-1])
    if ok:
        atomic_write_bytes(path, png.tobytes())
