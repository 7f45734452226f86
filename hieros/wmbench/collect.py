"""What the world-model bench's datasets are and how their episodes are collected (hieros.wmbench.datasets stores
and loads them).

Each dataset mixes two kinds of episode (`episode_kind` 0 and 1), from two policies, so that good and failing
states both occur:
- `cartpole_state`: DMC cartpole balance from proprioceptive state through the project's own environment
  (`make_env("dmc_cartpole_balance")` with the `dmc_proprio` preset and cpu_learning's action repeat 8: 125 steps
  an episode): a uniformly random policy, and a noisy PD controller on the pole's angle and angular velocity and
  the cart's position and velocity, with Gaussian action noise whose scale is drawn per episode (0.1 to 0.7: from
  near-perfect balancing to a pole that falls).
- `cartpole_pixels`: the same episodes from 64x64 pixels (`dmc_vision`): a proprioceptive twin of the environment,
  seeded alike and stepped with the same actions, gives the controller its state (the rewards are checked equal),
  so seed s holds cartpole_state seed s's episodes, rendered.
- `cartpole_replay`: the data agents actually saw, the level-0 replay of finished cpu_learning runs (dreamer and
  hieros, seed 6) pooled, one kind per run (hieros.wmbench.replay_pool).
- `atari_pong`, `atari_boxing`: Atari100k games at 64x64 RGB (the `atari100k` preset: 4 frames a step, up to 30
  no-ops at the start, no sticky actions), a uniformly random policy and a sticky-random one that keeps its last
  action with a probability drawn per episode (0.5 to 0.95: long runs of one action, as a player holds a button).
The episodes are a function of (name, seed, episode counts) only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hieros.config import Config, build_config
from hieros.envs import make_env
from hieros.envs.base import ActSpace

STEP_KEYS = ("action", "reward", "is_first", "is_last", "is_terminal")  # beside the observation key, per step
Action = np.ndarray  # float32: a continuous action, or a one-hot row of a discrete one (as the replay records it)
Policy = Callable[[Mapping[str, np.ndarray]], Action]  # the step's observation (the twin's state as `vector`) -> action


class DatasetError(Exception):
    """A dataset is missing, unknown or does not match its recorded sha256; one line that says what to do."""


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is collected."""

    name: str
    task: str  # the environment task (hieros.envs.make_env)
    presets: tuple[str, ...]  # config presets of the environment
    env_set: Mapping[str, Any]  # config overrides of the environment (flat keys)
    obs_key: str = "vector"  # the observation key the episodes hold: "vector" or "image"
    kinds: tuple[str, str] = ("random", "controller")  # the policies of episode_kind 0 and 1 (POLICIES)
    random_episodes: int = 40  # episodes of the first kind (`--episodes R,C`: R)
    controller_episodes: int = 40  # episodes of the second kind (C; the controller, or sticky random)
    heldout_fraction: float = 0.2  # of each kind's episodes, held out (chosen by the seed)
    state_twin: Mapping[str, Any] | None = None  # env overrides of a twin giving the policy its state (pixels)
    replay_of: tuple[str, ...] = ()  # a pooled replay: these runs of the results store, one kind each
    description: str = ""

    def env_config(self) -> Config:
        """The environment's config, as the agent of cpu_learning sees the task."""
        return build_config(list(self.presets), {"task": self.task, **self.env_set})

    def twin_config(self) -> Config:
        """The state twin's config: the environment's, with `state_twin` over it."""
        return build_config(list(self.presets), {"task": self.task, **self.env_set, **(self.state_twin or {})})


CARTPOLE_GAINS = np.array([3.0, 1.0, 0.5, 0.5])  # on (pole angle, angular velocity, cart position, cart velocity)
NOISE_RANGE = (0.1, 0.7)  # the controller's action noise std, drawn per episode
STICK_RANGE = (0.5, 0.95)  # the sticky-random policy's probability of keeping its action, drawn per episode


def cartpole_controller(vector: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A PD controller on cartpole's state [cart x, cos, sin, cart velocity, angular velocity], plus noise."""
    x, cos, sin, velocity, angular = vector
    angle = np.arctan2(sin, cos)
    action = CARTPOLE_GAINS @ np.array([angle, angular, x, velocity]) + noise * rng.normal()
    return np.clip(np.array([action], np.float32), -1.0, 1.0)


CARTPOLE = {"task": "dmc_cartpole_balance", "env_set": {"env.dmc.repeat": 8}}


def atari(game: str, episodes: int, steps: int) -> DatasetSpec:
    """An Atari100k game at 64x64 RGB, `episodes` of the random and of the sticky-random policy each."""
    return DatasetSpec(
        name=f"atari_{game}",
        task=f"atari_{game}",
        presets=("atari100k",),
        env_set={},
        obs_key="image",
        kinds=("random", "sticky"),
        random_episodes=episodes,
        controller_episodes=episodes,
        description=f"Atari {game.title()} at 64x64: random and sticky-random policy episodes (about {steps} steps)",
    )


SPECS = (
    DatasetSpec(
        name="cartpole_state",
        presets=("dmc_proprio",),
        description="DMC cartpole balance from state (repeat 8): random policy and noisy PD controller episodes",
        **CARTPOLE,
    ),
    DatasetSpec(
        name="cartpole_pixels",
        presets=("dmc_vision",),
        obs_key="image",
        state_twin={"env.dmc.obs": "proprio"},
        description="cartpole_state's episodes from 64x64 pixels (a state twin drives the controller)",
        **CARTPOLE,
    ),
    DatasetSpec(
        name="cartpole_replay",
        presets=("dmc_proprio",),
        kinds=("dreamer", "hieros"),
        random_episodes=0,
        controller_episodes=0,
        replay_of=tuple(f"cpu_learning/{method}/dmc_cartpole_balance/seed_6" for method in ("dreamer", "hieros")),
        description="the level-0 replay of cpu_learning's dreamer and hieros runs of seed 6: the data they saw",
        **CARTPOLE,
    ),
    atari("pong", 10, 900),
    atari("boxing", 6, 1780),
)
DATASETS = {spec.name: spec for spec in SPECS}


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


# --- policies -------------------------------------------------------------------------------------------
def random_action(act_space: ActSpace, rng: np.random.Generator) -> Action:
    """A uniformly random action: in [-1, 1] per dimension, or a one-hot row of a uniform index."""
    if act_space.discrete:
        return np.eye(act_space.n, dtype=np.float32)[rng.integers(act_space.n)]
    return rng.uniform(-1.0, 1.0, act_space.shape).astype(np.float32)


def episode_policy(kind: str, act_space: ActSpace, rng: np.random.Generator) -> tuple[Policy, float]:
    """One episode's policy of `kind` and its per-episode parameter (the controller's noise std, the sticky
    policy's probability of keeping its action; 1.0 for the random policy), drawn from `rng` now."""
    if kind == "random":
        return (lambda obs: random_action(act_space, rng)), 1.0
    if kind == "controller":
        noise = float(rng.uniform(*NOISE_RANGE))
        return (lambda obs: cartpole_controller(obs["vector"], noise, rng)), noise
    if kind == "sticky":
        keep = float(rng.uniform(*STICK_RANGE))
        held: list[Action] = []

        def sticky(obs: Mapping[str, np.ndarray]) -> Action:
            if not held or rng.random() >= keep:
                held[:] = [random_action(act_space, rng)]
            return held[0]

        return sticky, keep
    raise DatasetError(f"unknown policy {kind!r}; known: random, controller, sticky")


def env_action(action: Action, act_space: ActSpace) -> Any:
    """What the environment takes: the index of a one-hot row, or the continuous action."""
    return int(action.argmax()) if act_space.discrete else action


# --- collecting -------------------------------------------------------------------------------------------
class Recorder:
    """The episodes' steps in the replay convention, each tagged with its episode, and per-episode bookkeeping."""

    def __init__(self, obs_key: str):
        self.obs_key = obs_key
        self.steps: dict[str, list[Any]] = {key: [] for key in (obs_key, *STEP_KEYS, "episode")}
        self.starts: list[int] = []
        self.lengths: list[int] = []

    def begin(self) -> None:
        self.starts.append(len(self.steps["reward"]))

    def add(self, obs: Mapping[str, Any], action: Action, episode: int) -> None:
        for key in (self.obs_key, *STEP_KEYS):
            self.steps[key].append(action if key == "action" else obs[key])
        self.steps["episode"].append(episode)

    def end(self) -> None:
        self.lengths.append(len(self.steps["reward"]) - self.starts[-1])

    def arrays(self, obs_dtype: np.dtype) -> dict[str, np.ndarray]:
        return {
            self.obs_key: np.asarray(self.steps[self.obs_key], obs_dtype),
            "action": np.asarray(self.steps["action"], np.float32),
            "reward": np.asarray(self.steps["reward"], np.float32),
            **{key: np.asarray(self.steps[key], bool) for key in ("is_first", "is_last", "is_terminal")},
            "episode": np.asarray(self.steps["episode"], np.int32),
            "episode_start": np.asarray(self.starts, np.int64),
            "episode_length": np.asarray(self.lengths, np.int64),
        }


class Twin:
    """The environment, and where the dataset needs it, a state twin seeded alike and stepped with the same
    actions: `view` is the observation the policy sees (the twin's `vector` beside the pixels)."""

    def __init__(self, base: DatasetSpec, seed: int):
        self.env = make_env(base.task, base.env_config(), seed=seed)
        self.twin = make_env(base.task, base.twin_config(), seed=seed) if base.state_twin is not None else None
        self.view: dict[str, Any] = {}

    def reset(self) -> dict[str, Any]:
        return self._seen(self.env.reset(), self.twin.reset() if self.twin else None)

    def step(self, action: Any) -> dict[str, Any]:
        obs = self.env.step(action)
        state = self.twin.step(action) if self.twin else None
        if state is not None and (state["reward"], state["is_last"]) != (obs["reward"], obs["is_last"]):
            raise DatasetError("the state twin left the environment's trajectory; its rendering is not deterministic")
        return self._seen(obs, state)

    def _seen(self, obs: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
        self.view = obs if state is None else {**obs, "vector": state["vector"]}
        return obs

    def close(self) -> None:
        self.env.close()
        if self.twin:
            self.twin.close()


def collect(
    name: str,
    seed: int,
    random_episodes: int | None = None,
    controller_episodes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """The dataset's arrays, a function of (name, seed, episode counts) only."""
    base = spec(name)
    counts = (
        base.random_episodes if random_episodes is None else random_episodes,
        base.controller_episodes if controller_episodes is None else controller_episodes,
    )
    rng = np.random.default_rng([seed, 1])  # the policies' draws
    envs = Twin(base, seed)
    act_space = envs.env.act_space
    rest = np.zeros(act_space.n if act_space.discrete else act_space.shape, np.float32)  # after the final step
    kinds = [0] * counts[0] + [1] * counts[1]
    recorder, parameters = Recorder(base.obs_key), []
    try:
        for episode, kind in enumerate(kinds):
            policy, parameter = episode_policy(base.kinds[kind], act_space, rng)
            recorder.begin()
            obs = envs.reset()
            while True:
                action = rest if obs["is_last"] else policy(envs.view)
                recorder.add(obs, action, episode)
                if obs["is_last"]:
                    break
                obs = envs.step(env_action(action, act_space))
            recorder.end()
            parameters.append(parameter)
            if progress is not None:
                progress(episode + 1, len(kinds))
    finally:
        envs.close()
    arrays = recorder.arrays(envs.env.obs_space[base.obs_key][1])
    arrays.update(episode_kind=np.asarray(kinds, np.int8), episode_noise=np.asarray(parameters, np.float32))
    arrays["episode_heldout"] = heldout_split(arrays["episode_kind"], base.heldout_fraction, seed)
    return arrays


def heldout_split(kinds: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Per episode, whether it is held out: round(fraction x count) episodes of each kind, chosen by the seed."""
    rng = np.random.default_rng([seed, 2])
    heldout = np.zeros(len(kinds), bool)
    for kind in np.unique(kinds):
        members = np.flatnonzero(kinds == kind)
        heldout[rng.permutation(members)[: round(fraction * len(members))]] = True
    return heldout
