"""The replay-sampling figure, computed with the real selectors of hieros.replay."""

import numpy as np

from analysis import sampler
from bench.cli import main
from hieros.replay import TimeBalanced, Uniform

ITEMS = 600


def test_uniform_counts_follow_the_harmonic_sum():
    """Item i (inserted at size i + 1) is drawn per_insert / size times at each later size: per_insert * sum 1/s."""
    items = 2000
    counts, ages = sampler.simulate(Uniform(seed=0), items, 8.0)
    expected = 8.0 * np.cumsum(1.0 / np.arange(items, 0, -1))[::-1]
    assert counts.sum() == ages.sum() == 8 * items
    older_half = slice(100, items // 2)  # at least 8 ln 2 expected draws per item, 200 items a window
    assert np.abs(sampler.smooth(counts)[older_half] / sampler.smooth(expected)[older_half] - 1).max() < 0.1


def test_fractional_draws_carry_over():
    counts, _ = sampler.simulate(Uniform(seed=0), 10, 0.25)  # one draw every fourth insertion
    assert counts.sum() == 2


def test_etbs_draws_old_items_less_than_uniform_and_the_capacity_scaled_original_never_draws_the_oldest():
    uniform, _ = sampler.simulate(Uniform(seed=1), ITEMS, 8.0)
    etbs, _ = sampler.simulate(TimeBalanced(temperature=1.0, seed=1), ITEMS, 8.0)
    oldest = slice(0, ITEMS // 10)
    assert etbs[oldest].mean() < 0.7 * uniform[oldest].mean()
    # scaled by a capacity far above the size, ETBS picks from the newest (1 - tau) of the items: no older ones
    _, ages = sampler.simulate(TimeBalanced(temperature=0.3, seed=1, capacity=1_000_000), ITEMS, 8.0)
    assert ages[int(0.7 * ITEMS) + 1 :].sum() == 0 and ages.sum() == 8 * ITEMS


def test_smooth_is_a_centred_box_filter():
    assert sampler.smooth(np.array([0.0, 0.0, 6.0, 0.0, 0.0]), 2).tolist() == [0.0, 0.0, 3.0, 3.0, 0.0]


def test_setup_defaults_come_from_the_atari100k_preset():
    setup = sampler.preset_setup(items=100)
    assert setup.temperatures == (0.3,) and setup.per_insert == 1024 / 64


def test_figure_is_deterministic_labelled_and_written(tmp_path):
    setup = sampler.preset_setup([1.0, 0.3], items=300, capacity=10_000)
    results = sampler.run(setup)
    assert list(results) == [
        "uniform",
        "ETBS tau=1",
        "ETBS tau=1, original (capacity 10,000)",
        "ETBS tau=0.3",
        "ETBS tau=0.3, original (capacity 10,000)",
    ]
    fig, (header, rows) = sampler.draw(results, setup)
    assert all(ax.get_xlabel() and ax.get_ylabel() and ax.get_title() for ax in fig.axes)
    assert len(header) == 11 and len(rows) == 300
    assert main(["plot", "sampler", "--items", "300", "--out", str(tmp_path / "a")]) == 0
    assert main(["plot", "sampler", "--items", "300", "--out", str(tmp_path / "b")]) == 0
    for name in ("sampler.png", "sampler.pdf", "sampler.csv"):
        data = (tmp_path / "a" / name).read_bytes()
        assert data and data == (tmp_path / "b" / name).read_bytes()


def test_bad_temperature_is_a_usage_error(capsys):
    try:
        main(["plot", "sampler", "--temperature", "1.5"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "must lie in [0, 1]" in capsys.readouterr().err


def test_no_flags_draws_the_papers_figure(tmp_path):
    """The original's sampler_visualization.py: 4000 items, 4 draws per insertion, ETBS at 0.99 (labelled 1.0),
    0.7 and 0.3 scaled to the final buffer, beside uniform; flattened counts (the oldest items are not favoured)."""
    setup = sampler.paper_setup()
    assert (setup.items, setup.per_insert, setup.capacity) == (4000, 4.0, 4000)
    results = sampler.run(setup)
    assert list(results) == ["uniform", "ETBS τ=1.0", "ETBS τ=0.7", "ETBS τ=0.3"]
    oldest = slice(0, 400)
    spread = {label: sampler.smooth(counts)[oldest].mean() / counts.mean() for label, (counts, _) in results.items()}
    assert spread["uniform"] > spread["ETBS τ=0.3"] > spread["ETBS τ=0.7"] > spread["ETBS τ=1.0"]
    assert abs(spread["ETBS τ=1.0"] - 1) < 0.25  # time-balanced: the oldest items as often as the average
    assert main(["plot", "sampler", "--out", str(tmp_path)]) == 0
    header = (tmp_path / "sampler.csv").read_text().splitlines()[0]
    assert header.startswith("item,count uniform,count ETBS τ=1.0,count ETBS τ=0.7,count ETBS τ=0.3")
