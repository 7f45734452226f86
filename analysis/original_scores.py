"""The original HIEROS code's scores.jsonl (Snagnar/Hieros `train.py --logdir`) as our episode records: one
{"step", "episode/score"} (or "eval_episode/score") line per episode, its `step` counting the reset step of every
episode too (STEP_CONVENTION). analysis.transfer imports a log directory through `read`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from analysis.store import StoreError
from hieros.json_values import is_number

STEP_CONVENTION = (  # with one environment the k-th training episode ends at frames = step - k x frames_per_step
    "step = (agent steps + episodes begun) x frames_per_step; "
    "frames = step - frames_per_step x training episodes so far (one env)"
)


def read(path: Path, frames_per_step: int) -> tuple[bytes, list[dict[str, Any]]]:
    """A scores.jsonl's bytes and its train and eval episode records, every line checked (one-line StoreError)."""
    try:
        data = path.read_bytes()
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise StoreError(f"{path}: cannot read it as JSON lines ({error})") from None
    episodes, begun = [], 0
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict) or not isinstance(line.get("step"), int):
            raise StoreError(f'{path}:{number}: not a {{"step": N, "episode/score": X}} record')
        for key, mode in (("episode/score", "train"), ("eval_episode/score", "eval")):
            if key not in line:
                continue
            score = line[key]
            if not is_number(score) or not math.isfinite(score):
                raise StoreError(f"{path}:{number}: {key} is not a finite number")
            begun += mode == "train"  # an evaluation episode is stamped where training stood
            frames = line["step"] - begun * frames_per_step
            episodes.append(
                {
                    "type": "episode",
                    "mode": mode,
                    "env_step": frames // frames_per_step,
                    "frames": frames,
                    "score": float(score),
                    **({"eval_index": 0} if mode == "eval" else {}),
                }
            )
    if not any(e["mode"] == "train" for e in episodes):
        raise StoreError(f"{path}: no training episode (episode/score) in it")
    return data, episodes
