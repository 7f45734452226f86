"""The report's tables: the per-game table with its run counts and intervals in the possible scores (markdown and
LaTeX), and the terminal table whole in a log."""

import re

import numpy as np

from analysis import bootstrap
from analysis.store import display_name
from analysis.summary_file import read_summary


def test_the_per_game_table_says_how_many_runs_each_cell_has(tmp_path, stores):
    stores.small_store(tmp_path)
    stores.write_run(tmp_path, "gamma", stores.TASKS[0], 1, [0.0, 1.0, 7.0])  # one run: a mean without an interval
    assert stores.run_report(tmp_path, "--reps", "100", "--allow-partial", "--no-sampler") == 0
    table = (tmp_path / "report" / "report.md").read_text().split("## Per game")[1].split("\n\n")[1]
    row = next(line for line in table.splitlines() if line.startswith(f"| {display_name(stores.TASKS[0])} |"))
    assert row.count(", n=3") == 2 and "| 7.00, n=1 |" in row


def test_per_game_intervals_stay_in_the_possible_scores_and_one_run_cells_are_marked_in_latex(tmp_path, stores):
    """Student t over [0, 0, 300] reaches below 0, a score Frostbite cannot have: the interval stops at 0 (the
    mean cannot leave the possible scores, so the coverage stays); Pong's stays in [-21, 21]. In the LaTeX table
    a cell of one run is marked with an asterisk, explained below the table, and never bold."""
    frostbite, pong = "atari_frostbite", "atari_pong"
    for seed, final in enumerate((0.0, 0.0, 300.0), 1):
        stores.write_run(tmp_path, "alpha", frostbite, seed, [0.0, final])
        stores.write_run(tmp_path, "alpha", pong, seed, [0.0, (-21.0, -21.0, 21.0)[seed - 1]])
    stores.write_run(tmp_path, "beta", frostbite, 1, [0.0, 900.0])  # one run, the best score of the row
    stores.write_run(tmp_path, "beta", pong, 1, [0.0, 0.0])
    flags = (
        "--reps",
        "100",
        "--allow-partial",
        "--no-sampler",
        "--published",
        "none",
        "--tasks",
        f"{frostbite},{pong}",
    )
    assert stores.run_report(tmp_path, *flags) == 0
    games = read_summary(tmp_path / "report").methods["alpha"].games
    assert games[frostbite].low == 0.0 and games[frostbite].high > 300.0
    assert (games[pong].low, games[pong].high) == (-21.0, 21.0)
    assert bootstrap.t_interval(np.array([0.0, 0.0, 300.0]))[0] < 0  # what the cell showed before
    tex = next((tmp_path / "report").glob("table_*.tex")).read_text()
    row = next(line for line in tex.splitlines() if line.startswith("Frostbite &"))
    assert row.endswith(r"& \textbf{100.0} & 900.0$^\ast$ \\")  # alpha, then beta: its 900 is one run
    assert r"$^\ast$ one run: no interval, not ranked for bold." in tex


def test_the_terminal_table_is_whole_in_a_log(tmp_path, capsys, stores):
    """Off a terminal (a log, a pipe) the table takes the width it needs: no interval cut short with '…'."""
    stores.small_store(tmp_path, methods=("alpha", "beta", "a_method_with_a_long_name"))
    assert stores.run_report(tmp_path, "--reps", "200", "--no-sampler") == 0
    out = capsys.readouterr().out
    assert "…" not in out
    lines = [line for line in out.splitlines() if line.startswith("│ alpha")]
    assert lines and all(line.count("│") > 5 for line in lines)
    assert re.search(r"\[-?\d+\.\d+, -?\d+\.\d+\]", out)  # an interval on one line
