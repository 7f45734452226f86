"""Batches of a dataset: seeded training batches from the training episodes, fixed windows of the held-out ones.

Training batches are drawn as the agent's replay draws them (hieros.replay: windows of `batch_length` consecutive
steps, uniform over the window starts, a window may run into the next episode, `is_first` forced at its start)
from the training episodes laid end to end, by a generator seeded with the run's seed alone: every model of the
same seed sees the same batches. Held-out windows lie inside one held-out episode each and are fixed by the
dataset's seed, so every run is measured on the same sequences. Every batch carries `episode` (B, T), the
episode of each step, which the models never see (`model_inputs` leaves it out); the tests use it to show that no
held-out step reaches training.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hieros.wmbench.datasets import Dataset


def agent_rows(dataset: Dataset, keep_terminal_reward: bool) -> dict[str, np.ndarray]:
    """The steps as the agent records them in its replay, each with its `episode`: with keep_terminal_reward
    false (D16, the original) the reward of an episode's final step is dropped."""
    arrays = dataset.arrays
    rows = {key: arrays[key] for key in (*dataset.step_keys, "episode")}
    if not keep_terminal_reward:
        ended = arrays["is_last"] | arrays["is_terminal"]
        rows["reward"] = np.where(ended, np.float32(0.0), arrays["reward"]).astype(np.float32)
    return rows


def select(rows: Mapping[str, np.ndarray], episodes: np.ndarray) -> dict[str, np.ndarray]:
    """The steps of `episodes`, in episode order, laid end to end."""
    keep = np.isin(rows["episode"], episodes)
    return {key: value[keep] for key, value in rows.items()}


def model_inputs(batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A batch without its bookkeeping (`episode`): what the world model is given."""
    return {key: value for key, value in batch.items() if key != "episode"}


class TrainBatches:
    """Uniform windows of the training episodes' steps, from a generator seeded by `seed` only."""

    def __init__(self, dataset: Dataset, batch_size: int, length: int, seed: int, keep_terminal_reward: bool):
        rows = agent_rows(dataset, keep_terminal_reward)
        self.steps = select(rows, dataset.episodes(heldout=False))
        self.batch_size, self.length = batch_size, length
        self.count = len(self.steps["reward"]) - length + 1
        if self.count < 1:
            raise ValueError(f"the training episodes hold {len(self.steps['reward'])} steps, fewer than {length}")
        self.rng = np.random.default_rng([seed, 3])

    def sample(self) -> dict[str, np.ndarray]:
        """One (batch_size, length) batch; `is_first[:, 0]` True as the replay gives it."""
        starts = self.rng.integers(0, self.count, size=self.batch_size)
        index = starts[:, None] + np.arange(self.length)
        batch = {key: value[index] for key, value in self.steps.items()}
        batch["is_first"] = batch["is_first"].copy()
        batch["is_first"][:, 0] = True
        return batch


def heldout_windows(
    dataset: Dataset, length: int, count: int, keep_terminal_reward: bool, salt: int = 0
) -> dict[str, np.ndarray]:
    """`count` windows of `length` steps, each inside one held-out episode long enough for it, the episodes taken
    in turn and the starts uniform, by a generator seeded with the dataset's seed (and `salt`)."""
    rows = agent_rows(dataset, keep_terminal_reward)
    ids = dataset.episodes(heldout=True)
    lengths = dataset.arrays["episode_length"][ids]
    ids = ids[lengths >= length]
    if not len(ids):
        longest = int(lengths.max()) if len(lengths) else 0
        raise ValueError(f"no held-out episode has {length} steps (the longest has {longest})")
    rng = np.random.default_rng([dataset.seed, 4, length, salt])
    chosen = ids[rng.permutation(np.arange(count) % len(ids))]
    starts = dataset.arrays["episode_start"][chosen]
    offsets = rng.integers(0, dataset.arrays["episode_length"][chosen] - length + 1)
    index = (starts + offsets)[:, None] + np.arange(length)
    batch = {key: value[index] for key, value in rows.items()}
    batch["is_first"] = batch["is_first"].copy()
    batch["is_first"][:, 0] = True
    return batch


def split_batches(batch: Mapping[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    """A large batch in pieces of at most `size` sequences."""
    total = len(batch["reward"])
    return [{key: value[i : i + size] for key, value in batch.items()} for i in range(0, total, size)]
