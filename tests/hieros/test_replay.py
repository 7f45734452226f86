"""Sequence replay (windows, FIFO eviction, memory, checkpoint round-trip) and the Uniform/ETBS selectors."""

import math
import pickle

import numpy as np
import pytest
from scipy import stats

from hieros.replay import Replay, TimeBalanced, Uniform

FRAME = (64, 64, 3)


class InOrder:
    """Test selector: positions 0, 1, 2, ... (wrapping), to read out the stored items oldest first."""

    def sample(self, n_items: int, count: int) -> np.ndarray:
        return np.arange(count) % n_items

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _step(t: int, episode_len: int = 10, worker: int = 0) -> dict:
    return {
        "t": np.int64(t),
        "worker": np.int64(worker),
        "obs": np.full(3, t, dtype=np.float32),
        "is_first": t % episode_len == 0,
    }


def _atari_step(t: int) -> dict:
    return {
        "image": np.full(FRAME, t % 256, dtype=np.uint8),
        "action": np.eye(18, dtype=np.float32)[t % 18],
        "reward": np.float32(t),
        "is_first": t % 100 == 0,
        "is_last": False,
        "is_terminal": False,
    }


def _step_bytes(step: dict) -> int:
    return sum(np.asarray(v).nbytes for v in step.values())


# Replay


def test_windows_are_consecutive_and_keep_episode_flags():
    replay = Replay(capacity=1000, seq_len=16, selector=Uniform(seed=1), chunk_size=8)
    for t in range(200):
        replay.add(_step(t))
    assert len(replay) == 200 - 16 + 1
    batch = replay.sample(64)
    assert batch["t"].shape == (64, 16) and batch["obs"].shape == (64, 16, 3)
    assert batch["obs"].dtype == np.float32 and batch["is_first"].dtype == bool
    np.testing.assert_array_equal(np.diff(batch["t"], axis=1), 1)
    np.testing.assert_array_equal(batch["obs"][..., 0], batch["t"])
    assert batch["is_first"][:, 0].all()
    np.testing.assert_array_equal(batch["is_first"][:, 1:], batch["t"][:, 1:] % 10 == 0)
    assert batch["is_first"][:, 1:].any()


def test_fifo_eviction_keeps_the_newest_items_in_time_order():
    replay = Replay(capacity=5, seq_len=4, selector=InOrder(), chunk_size=3)
    for t in range(20):
        replay.add(_step(t))
    assert len(replay) == 5
    batch = replay.sample(5)
    np.testing.assert_array_equal(batch["t"][:, 0], [12, 13, 14, 15, 16])
    np.testing.assert_array_equal(batch["t"][-1], [16, 17, 18, 19])


def test_multiple_workers_never_mix_streams():
    replay = Replay(capacity=50, seq_len=5, selector=InOrder(), num_workers=3, chunk_size=4)
    counts = [0, 0, 0]
    rng = np.random.default_rng(0)
    for _ in range(300):
        worker = int(rng.integers(3))
        replay.add(_step(counts[worker], worker=worker), worker=worker)
        counts[worker] += 1
    assert len(replay) == 50
    batch = replay.sample(50)
    assert (batch["worker"] == batch["worker"][:, :1]).all()
    np.testing.assert_array_equal(np.diff(batch["t"], axis=1), 1)
    assert set(batch["worker"][:, 0]) == {0, 1, 2}
    # Each worker's newest window is stored.
    for worker in range(3):
        newest = batch["t"][batch["worker"][:, 0] == worker, 0].max()
        assert newest == counts[worker] - 5
    with pytest.raises(ValueError, match="worker"):
        replay.add(_step(0), worker=3)


def test_step_validation():
    replay = Replay(capacity=10, seq_len=2)
    with pytest.raises(ValueError, match="is_first"):
        replay.add({"obs": np.zeros(3)})
    with pytest.raises(ValueError, match="empty"):
        replay.sample(1)
    replay.add(_step(0))
    with pytest.raises(ValueError, match="keys"):
        replay.add({"is_first": False})
    with pytest.raises(ValueError, match="shape"):
        replay.add({**_step(1), "obs": np.zeros(4, dtype=np.float32)})
    with pytest.raises(ValueError, match="capacity"):
        Replay(capacity=0)


def test_memory_stores_each_frame_once():
    replay = Replay(capacity=1_000_000, seq_len=64)
    steps = 5000
    for t in range(steps):
        replay.add(_atari_step(t))
    assert len(replay) == steps - 63
    frame_bytes = steps * math.prod(FRAME)
    assert replay.nbytes() <= 1.1 * steps * _step_bytes(_atari_step(0))
    assert replay.nbytes() <= 1.1 * frame_bytes
    assert replay.sample(4)["image"].dtype == np.uint8


def test_memory_is_freed_at_steady_state():
    capacity, seq_len = 2000, 64
    replay = Replay(capacity=capacity, seq_len=seq_len)
    sizes = []
    for t in range(6000):
        replay.add(_atari_step(t))
        if t in (3999, 5999):
            sizes.append(replay.nbytes())
    assert len(replay) == capacity
    live_steps = capacity + seq_len - 1
    assert sizes[1] <= 1.1 * live_steps * _step_bytes(_atari_step(0))
    assert abs(sizes[1] - sizes[0]) <= 2 * 64 * _step_bytes(_atari_step(0))
    batch = replay.sample(256)
    assert batch["reward"].min() >= 6000 - live_steps
    np.testing.assert_array_equal(np.diff(batch["reward"], axis=1), 1)
    np.testing.assert_array_equal(batch["image"][:, :, 0, 0, 0], batch["reward"] % 256)


def test_state_round_trip_resumes_identically():
    replay = Replay(capacity=60, seq_len=8, selector=TimeBalanced(0.3, seed=3, capacity=60), chunk_size=5)
    for t in range(100):
        replay.add(_step(t))
    replay.sample(7)
    restored = Replay(capacity=60, seq_len=8, selector=TimeBalanced(0.3, seed=99, capacity=60), chunk_size=5)
    restored.load_state_dict(pickle.loads(pickle.dumps(replay.state_dict())))
    assert len(restored) == len(replay)
    for first, second in zip(replay.sample(16).values(), restored.sample(16).values(), strict=True):
        np.testing.assert_array_equal(first, second)
    # Both go on independently and stay in step (the partly filled chunk is not shared).
    shared = Replay(capacity=60, seq_len=8, selector=TimeBalanced(0.3, seed=0, capacity=60), chunk_size=5)
    shared.load_state_dict(replay.state_dict())
    for t in range(100, 130):
        replay.add(_step(t))
        restored.add(_step(t))
        shared.add({**_step(t), "obs": np.full(3, -1, dtype=np.float32)})
    for first, second in zip(replay.sample(16).values(), restored.sample(16).values(), strict=True):
        np.testing.assert_array_equal(first, second)
    assert replay.sample(60)["obs"].min() >= 0
    with pytest.raises(ValueError, match="config"):
        Replay(capacity=61, seq_len=8, chunk_size=5).load_state_dict(replay.state_dict())


# Selectors


def _etbs_index(x: np.ndarray, n_items: int, temperature: float, scale: float) -> np.ndarray:
    """The reference formula (§5.3) as a real-valued function of x, before truncation to an integer."""
    n = n_items + 2
    g = (x * (np.log(x) - np.log(n) - 1) - 2 * (np.log(2) - np.log(n) - 1)) / (2 * np.log(n) - n - 2 * np.log(2) + 2)
    return temperature * np.minimum(g * scale, n_items - 1) + (1 - temperature) * (x - 2)


def _etbs_probabilities(n_items: int, temperature: float, scale: float) -> np.ndarray:
    """P(index = k) for x ~ U[2, N+2). The index map f is non-decreasing in x, so P(index ≤ k) = (x_k − 2)/N
    with x_k = sup{x : f(x) < k + 1}, found by bisection for all k at once."""
    target = np.arange(1, n_items + 1, dtype=np.float64)
    low = np.full(n_items, 2.0)
    high = np.full(n_items, n_items + 2.0)
    for _ in range(80):
        mid = (low + high) / 2
        below = _etbs_index(mid, n_items, temperature, scale) < target
        low = np.where(below, mid, low)
        high = np.where(below, high, mid)
    cdf = (high - 2) / n_items
    return np.diff(cdf, prepend=0.0)


def _chi_square_p(counts: np.ndarray, probabilities: np.ndarray) -> float:
    """Chi-square goodness of fit, pooling bins with fewer than 5 expected samples into one."""
    expected = probabilities * counts.sum()
    assert counts[expected == 0].sum() == 0, "samples fell where the formula gives probability 0"
    small = expected < 5
    observed = np.append(counts[~small], counts[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    keep = expected > 0
    return stats.chisquare(observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()).pvalue


@pytest.mark.parametrize(
    ("temperature", "capacity"), [(0.3, None), (0.3, 4000), (0.3, 1_000_000), (1.0, None), (0.7, 2500)]
)
def test_time_balanced_matches_its_formula(temperature, capacity):
    n_items, draws = 1000, 200_000
    selector = TimeBalanced(temperature, seed=11, capacity=capacity)
    samples = selector.sample(n_items, draws)
    assert samples.dtype == np.int64 and samples.min() >= 0 and samples.max() < n_items
    counts = np.bincount(samples, minlength=n_items)
    probabilities = _etbs_probabilities(n_items, temperature, n_items if capacity is None else capacity)
    assert probabilities.sum() == pytest.approx(1.0)
    assert _chi_square_p(counts, probabilities) > 1e-4
    assert np.abs(np.cumsum(counts) / draws - np.cumsum(probabilities)).max() < 0.006


def test_time_balanced_capacity_scaling_acts_like_a_recent_window():
    """Defect D4: with S = capacity ≫ N almost every sample clips, leaving uniform over the newest 70%."""
    samples = TimeBalanced(0.3, seed=0, capacity=1_000_000).sample(1000, 50_000)
    assert (samples < 299).mean() < 1e-3
    newest = np.bincount(samples[samples >= 300] - 300, minlength=700)
    assert stats.chisquare(newest).pvalue > 1e-4
    corrected = TimeBalanced(0.3, seed=0).sample(1000, 50_000)
    assert (corrected < 299).mean() > 0.1


def test_time_balanced_equals_the_original_scalar_code():
    """A literal port of the original `EfficientTimeBalanced.__call__` gives the same indices for one seed."""
    n_items, capacity, temperature = 777, 5000, 0.3
    rng = np.random.default_rng(5)
    expected = []
    for _ in range(2000):
        sample = rng.uniform(low=2, high=n_items + 2)
        n = n_items + 2

        def integral(y, n=n):
            return y * (np.log(y) - np.log(n) - 1) / (2 * np.log(n) - n - 2 * np.log(2) + 2)

        adjusted = min((integral(sample) - integral(2)) * capacity, n_items - 1)
        expected.append(int(adjusted * temperature + (1 - temperature) * (sample - 2)))
    got = TimeBalanced(temperature, seed=5, capacity=capacity).sample(n_items, 2000)
    np.testing.assert_array_equal(got, expected)


def test_uniform_is_uniform():
    counts = np.bincount(Uniform(seed=2).sample(1000, 200_000), minlength=1000)
    assert stats.chisquare(counts).pvalue > 1e-4
    assert Uniform().sample(1, 5).tolist() == [0] * 5


@pytest.mark.parametrize("make", [lambda seed: Uniform(seed), lambda seed: TimeBalanced(0.3, seed)])
def test_selectors_are_seeded_and_resumable(make):
    np.testing.assert_array_equal(make(4).sample(100, 50), make(4).sample(100, 50))
    assert not np.array_equal(make(4).sample(100, 50), make(5).sample(100, 50))
    selector = make(4)
    selector.sample(37, 10)
    state = pickle.loads(pickle.dumps(selector.state_dict()))
    ahead = selector.sample(500, 20)
    fresh = make(123)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.sample(500, 20), ahead)
    with pytest.raises(ValueError, match="items"):
        selector.sample(0, 1)


@pytest.mark.parametrize("temperature", [-0.1, 1.5])
def test_time_balanced_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        TimeBalanced(temperature)
