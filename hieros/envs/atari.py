"""Atari through the ALE with the Atari100k protocol of the original HIEROS config (reference §6).

One agent step = `repeat` emulator frames with the action held, rewards summed, the observation the pixel-wise
max of the last two frames, resized with OpenCV's INTER_AREA. Resets take a random number of no-ops in
[0, noops). Game over ends an episode as terminal; the `length` frame limit ends it without a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hieros.envs.base import FLAG_SPACES, ActSpace, EnvError, observation, settings

ATARI100K_GAMES = (
    "alien", "amidar", "assault", "asterix", "bank_heist", "battle_zone", "boxing", "breakout", "chopper_command",
    "crazy_climber", "demon_attack", "freeway", "frostbite", "gopher", "hero", "jamesbond", "kangaroo", "krull",
    "kung_fu_master", "ms_pacman", "pong", "private_eye", "qbert", "road_runner", "seaquest", "up_n_down",
)
DEFAULTS = {"size": [64, 64], "repeat": 4, "gray": False, "noops": 30, "sticky": False, "actions": "needed",
            "lives": "unused", "length": 108000, "resize": "opencv"}
CHOICES = {"actions": ("needed", "all"), "lives": ("unused", "discount", "reset"), "resize": ("opencv",),
           "gray": (True, False), "sticky": (True, False)}


class Atari:
    def __init__(self, game: str, config: Mapping[str, Any], seed: int, mode: str = "train"):
        try:
            import cv2
            from ale_py import ALEInterface, LoggerMode, roms
        except ImportError as error:
            raise EnvError(f"Atari needs ale-py and opencv ({error.name} is missing): "
                           "pip install ale-py opencv-python-headless") from None
        self.cv2 = cv2
        self.game, self.mode = game, mode
        self.settings = settings(config, "atari", DEFAULTS, CHOICES)
        self.lives_mode = self.settings["lives"] if mode == "train" else "unused"
        ALEInterface.setLoggerMode(LoggerMode.Error)
        self.ale = ALEInterface()
        self.ale.setInt("random_seed", int(seed) % 2**31)
        self.ale.setFloat("repeat_action_probability", 0.25 if self.settings["sticky"] else 0.0)
        self.ale.loadROM(roms.get_rom_path(game))
        minimal = self.settings["actions"] == "needed"
        self.actions = self.ale.getMinimalActionSet() if minimal else self.ale.getLegalActionSet()
        self.rng = np.random.default_rng(seed)
        height, width = self.settings["size"]
        channels = 1 if self.settings["gray"] else 3
        self.obs_space = {"image": ((height, width, channels), np.dtype(np.uint8)), **FLAG_SPACES}
        self.act_space = ActSpace(discrete=True, n=len(self.actions))
        self.frames = [np.zeros((210, 160, 3), np.uint8) for _ in range(2)]
        self.lives = 0

    def _grab(self) -> None:
        self.frames.reverse()
        self.ale.getScreenRGB(self.frames[1])

    def _image(self) -> np.ndarray:
        frame = np.maximum(self.frames[0], self.frames[1])
        height, width = self.settings["size"]
        image = self.cv2.resize(frame, (width, height), interpolation=self.cv2.INTER_AREA)
        if self.settings["gray"]:
            image = self.cv2.cvtColor(image, self.cv2.COLOR_RGB2GRAY)[..., None]
        return image

    def reset(self) -> dict[str, Any]:
        self.ale.reset_game()
        noops = self.settings["noops"]
        for _ in range(int(self.rng.integers(0, noops)) if noops else 0):
            self.ale.act(self.actions[0])
            if self.ale.game_over():
                self.ale.reset_game()
        self._grab()
        self._grab()
        self.lives = self.ale.lives()
        return observation(0.0, True, False, False, image=self._image())

    def step(self, action: int) -> dict[str, Any]:
        reward = 0.0
        for _ in range(self.settings["repeat"]):
            reward += self.ale.act(self.actions[int(action)])
            self._grab()
            if self.ale.game_over():
                break
        over = self.ale.game_over()
        lives = self.ale.lives()
        life_lost = lives < self.lives and self.lives_mode != "unused"
        self.lives = lives
        truncated = self.ale.getEpisodeFrameNumber() >= self.settings["length"]
        is_last = over or truncated or (life_lost and self.lives_mode == "reset")
        return observation(reward, False, is_last, over or life_lost, image=self._image())

    def protocol(self) -> dict[str, Any]:
        return {"suite": "atari", "game": self.game, "mode": self.mode, **self.settings,
                "lives": self.lives_mode, "frames_per_step": self.settings["repeat"],
                "repeat_action_probability": 0.25 if self.settings["sticky"] else 0.0,
                "num_actions": len(self.actions)}

    def get_state(self) -> dict[str, Any]:
        return {"ale": self.ale.cloneState(include_rng=True), "rng": self.rng.bit_generator.state,
                "lives": self.lives, "frames": [f.copy() for f in self.frames]}

    def set_state(self, state: dict[str, Any]) -> None:
        self.ale.restoreState(state["ale"])
        self.rng.bit_generator.state = state["rng"]
        self.lives = state["lives"]
        self.frames = [f.copy() for f in state["frames"]]

    def close(self) -> None:
        self.ale = None
