"""Atari through the ALE with the Atari100k protocol of the original HIEROS config.

One agent step = `repeat` emulator frames with the action held and the rewards summed; the observation is
the pixel-wise max of the step's last two frames (against flicker), resized with OpenCV's INTER_AREA and,
with `gray`, reduced to luminance as the original does. Resets take a uniformly random number of no-ops in
[0, noops). Game over ends an episode as terminal; the `length` frame limit ends it without a terminal. In
training, a lost life can count as terminal (`lives: discount`) or end the episode (`lives: reset`);
evaluation ignores lives. A step cut short by the episode's end or a lost life shows its final frame unpooled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hieros.envs.base import FLAG_SPACES, ActSpace, EnvError, observation
from hieros.envs.settings import BOOLEAN, SIZE, integer, one_of, read_settings

ATARI100K_GAMES = (
    "alien",
    "amidar",
    "assault",
    "asterix",
    "bank_heist",
    "battle_zone",
    "boxing",
    "breakout",
    "chopper_command",
    "crazy_climber",
    "demon_attack",
    "freeway",
    "frostbite",
    "gopher",
    "hero",
    "jamesbond",
    "kangaroo",
    "krull",
    "kung_fu_master",
    "ms_pacman",
    "pong",
    "private_eye",
    "qbert",
    "road_runner",
    "seaquest",
    "up_n_down",
)
DEFAULTS = {
    "size": [64, 64],
    "repeat": 4,
    "gray": False,
    "noops": 30,
    "sticky": False,
    "actions": "needed",
    "lives": "unused",
    "length": 108000,
    "resize": "opencv",
}
CHECKS = {
    "size": SIZE,
    "repeat": integer(1),
    "gray": BOOLEAN,
    "noops": integer(0),
    "sticky": BOOLEAN,
    "actions": one_of("needed", "all"),
    "lives": one_of("unused", "discount", "reset"),
    "length": integer(1),
    "resize": one_of("opencv"),
}
STICKY_PROBABILITY = 0.25
LUMINANCE = np.array([0.299, 0.587, 1 - (0.299 + 0.587)])
SCREEN = (210, 160, 3)


class Atari:
    """One of the Atari100k games (`game` as in ATARI100K_GAMES), seeded; `mode` is "train" or "eval"."""

    def __init__(self, game: str, config: Mapping[str, Any] | None, seed: int, mode: str = "train"):
        self.settings = read_settings(config, "atari", DEFAULTS, CHECKS)
        try:
            import cv2
            from ale_py import ALEInterface, LoggerMode, roms
        except ImportError as error:
            raise EnvError(
                f"Atari needs ale-py and opencv ({error.name} is missing): pip install ale-py opencv-python-headless"
            ) from None
        self.cv2 = cv2
        self.game, self.mode = game, mode
        self.lives_mode = self.settings["lives"] if mode == "train" else "unused"
        self.rng = np.random.default_rng(seed)
        ALEInterface.setLoggerMode(LoggerMode.Error)
        self.ale = ALEInterface()
        self.ale.setInt("random_seed", int(self.rng.integers(2**31)))
        self.ale.setFloat("repeat_action_probability", self._sticky_probability())
        self.ale.loadROM(roms.get_rom_path(game))
        minimal = self.settings["actions"] == "needed"
        self.actions = list(self.ale.getMinimalActionSet() if minimal else self.ale.getLegalActionSet())
        height, width = self.settings["size"]
        channels = 1 if self.settings["gray"] else 3
        self.obs_space = {"image": ((height, width, channels), np.dtype(np.uint8)), **FLAG_SPACES}
        self.act_space = ActSpace(discrete=True, n=len(self.actions))
        self.frames = [np.zeros(SCREEN, np.uint8) for _ in range(2)]  # the newest last
        self.lives = 0
        self.frame = 0  # emulator frames since the episode's first agent step

    def _sticky_probability(self) -> float:
        return STICKY_PROBABILITY if self.settings["sticky"] else 0.0

    def _grab(self) -> None:
        self.frames.reverse()
        self.ale.getScreenRGB(self.frames[1])

    def _image(self) -> np.ndarray:
        height, width = self.settings["size"]
        frame = np.maximum(self.frames[0], self.frames[1])
        image = self.cv2.resize(frame, (width, height), interpolation=self.cv2.INTER_AREA)
        if self.settings["gray"]:
            image = (image @ LUMINANCE).astype(np.uint8)[..., None]
        return image

    def reset(self) -> dict[str, Any]:
        """Restart the game, take the random no-ops, and return the first observation."""
        self.ale.reset_game()
        noops = self.settings["noops"]
        for _ in range(int(self.rng.integers(noops)) if noops else 0):
            self.ale.act(self.actions[0])
            if self.ale.game_over():
                self.ale.reset_game()
        self._grab()
        self.frames[0][:] = self.frames[1]
        self.lives = self.ale.lives()
        self.frame = 0
        return observation(0.0, True, False, False, image=self._image())

    def step(self, action: int) -> dict[str, Any]:
        """Hold action index `action` for `repeat` frames (fewer if the episode ends or a life counts)."""
        index = int(action)
        if not 0 <= index < len(self.actions):
            raise ValueError(f"action {index} is outside [0, {len(self.actions)})")
        repeat, length = self.settings["repeat"], self.settings["length"]
        reward, over, life_lost, truncated = 0.0, False, False, False
        for k in range(repeat):
            reward += self.ale.act(self.actions[index])
            self.frame += 1
            over = self.ale.game_over()
            lives = self.ale.lives()
            life_lost = self.lives_mode != "unused" and 0 < lives < self.lives
            self.lives = lives
            truncated = self.frame >= length
            ended = over or life_lost or truncated
            if k >= repeat - 2 or ended:
                self._grab()
            if ended:
                if k < repeat - 1:
                    self.frames[0][:] = self.frames[1]
                break
        is_last = over or truncated or (life_lost and self.lives_mode == "reset")
        return observation(reward, False, is_last, over or life_lost, image=self._image())

    def protocol(self) -> dict[str, Any]:
        """The evaluation protocol of this environment, as stored with each run."""
        return {
            "suite": "atari",
            "game": self.game,
            "mode": self.mode,
            **self.settings,
            "lives": self.lives_mode,
            "frames_per_step": self.settings["repeat"],
            "pooling": "max of the last 2 frames",
            "noop_range": [0, max(self.settings["noops"] - 1, 0)],
            "repeat_action_probability": self._sticky_probability(),
            "num_actions": len(self.actions),
            "length_unit": "emulator frames",
        }

    def get_state(self) -> dict[str, Any]:
        """A snapshot of the emulator (with its RNG), the no-op RNG, the counters and the pooled frames."""
        return {
            "ale": np.frombuffer(self.ale.cloneState(include_rng=True).__getstate__(), np.uint8).copy(),
            "rng": self.rng.bit_generator.state,
            "lives": self.lives,
            "frame": self.frame,
            "frames": [f.copy() for f in self.frames],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue exactly where `get_state` was taken."""
        ale = state["ale"]  # the emulator state's bytes (an ALEState object in pickled checkpoints of old)
        if isinstance(ale, np.ndarray):
            from ale_py import ALEState

            ale = ALEState(ale.tobytes())
        self.ale.restoreState(ale)
        self.rng.bit_generator.state = state["rng"]
        self.lives, self.frame = state["lives"], state["frame"]
        self.frames = [f.copy() for f in state["frames"]]

    def close(self) -> None:
        """Release the emulator."""
        self.ale = None
