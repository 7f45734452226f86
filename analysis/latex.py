"""The report's LaTeX table (table_<suite>.tex, booktabs) from its summary: the paper's layout. Pure formatting."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from analysis.render import fmt, fmt_aggregate
from analysis.stats import LOWER_IS_BETTER
from analysis.store import display_name, random_human
from analysis.summary_file import Summary

LATEX_ROWS = (
    ("Superhuman", r"\#Superhuman ($\uparrow$)"),
    ("Mean", r"Mean ($\uparrow$)"),
    ("Median", r"Median ($\uparrow$)"),
    ("IQM", r"IQM ($\uparrow$)"),
    ("Optimality Gap", r"Optimality Gap ($\downarrow$)"),
)
REFERENCE = {"Superhuman": (0, None), "Mean": (0, 1), "Median": (0, 1), "IQM": (0, 1), "Optimality Gap": (1, 0)}
TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _tex(text: str) -> str:
    """Escape LaTeX's special characters in one pass."""
    return re.sub(r"[\\&%$#_{}~^]", lambda m: TEX_ESCAPES[m.group()], text)


def _bold_best(
    values: list[float | None], lower: bool, render: Callable[[float], str], ranked: list[bool] | None = None
) -> list[str]:
    """Cells with the best value in bold; only the `ranked` cells compete (default: all)."""
    ranked = ranked or [True] * len(values)
    present = [v for v, r in zip(values, ranked, strict=True) if r and v is not None and not math.isnan(v)]
    best = (min if lower else max)(present) if present else None
    return [
        ("--" if v is None or math.isnan(v) else rf"\textbf{{{render(v)}}}" if r and v == best else render(v))
        for v, r in zip(values, ranked, strict=True)
    ]


TEXT_WIDTH_PT = 486.0  # 6.75 in, a two-column paper's text width (table*): no table of ours is wider
CHAR_PT = 5.0  # a character of a cell at 10 pt, about: a digit (a bold one is 5.75, a letter 2.8 to 10)
PAD_PT = 12.0  # \tabcolsep on both sides of a cell
HEADING_CHARS = 10  # a longer method name may be set on two lines, broken at an underscore or space


def _visible(tex: str) -> int:
    """The characters a cell shows, about (of a \\shortstack, its longest line): a math mark ($^\\ast$,
    $\\uparrow$) as one, \\textbf{} and \\shortstack{} dropped, an escaped character as one."""
    text = re.sub(r"\$\^?\\[a-z]+\$", "*", tex)
    text = re.sub(r"\\(?:textbf|shortstack)\{(.*)\}", r"\1", text)
    return max(len(re.sub(r"\\[a-z]+\{\}|\\.", "#", line)) for line in text.split("\\\\"))


def _heading(column: str, mark: str, wrap: bool) -> str:
    """A column's heading; with `wrap`, a name longer than HEADING_CHARS on two lines, broken at the separator
    nearest its middle (`hieros_no_subgoal_reward`: `hieros_no_` over `subgoal_reward`)."""
    long = wrap and len(column) > HEADING_CHARS
    breaks = [i + 1 for i, c in enumerate(column[:-1]) if c in "_ "] if long else []
    if not breaks:
        return _tex(column) + mark
    cut = min(breaks, key=lambda i: abs(2 * i - len(column)))
    return rf"\shortstack{{{_tex(column[:cut])}\\{_tex(column[cut:])}{mark}}}"


def _width(cells: list[str]) -> float:
    """A column's width in points, about."""
    return PAD_PT + CHAR_PT * max(map(_visible, cells))


def _tables(fixed: float, widths: list[float]) -> list[list[int]]:
    """The method columns (indexes, in order) of each table, as many a table as fit TEXT_WIDTH_PT beside the
    `fixed` columns that every table repeats (game, random, human), at least one."""
    tables: list[list[int]] = [[]]
    used = fixed
    for i, width in enumerate(widths):
        if tables[-1] and used + width > TEXT_WIDTH_PT:
            tables.append([])
            used = fixed
        tables[-1].append(i)
        used += width
    return tables


def table(summary: Summary) -> str:
    """booktabs, the paper's layout: games as rows; random, human, baselines, then ours; best per row in bold
    (a cell of one run is marked and not ranked); aggregate rows at the bottom. A published aggregate (dagger) is
    over its authors' games and seeds; it competes for bold only when that is as many games as this table has.
    A method without a score on some of the games (double dagger) has aggregates over its own and does not compete.
    Methods past the text width (TEXT_WIDTH_PT) go on into further tables, each with the game and reference columns
    (bold is the best of all methods); the notes follow the last table."""
    methods = summary.methods
    columns = (
        [n for n, m in methods.items() if m.imported]
        + list(summary.published)
        + [n for n, m in methods.items() if not m.imported]
    )
    atari = all(v == "human" for v in summary.normalization.values())
    fixed = ["Game", *(["Random", "Human"] if atari else [])]
    games, marked = _game_rows(summary, columns, atari)
    aggregates = _aggregate_rows(summary, columns, atari)
    subset = {n for n, m in methods.items() if m.tasks != summary.tasks}
    for wrap in (False, True):  # long headings on two lines only where the methods fill more than one table
        header = [*fixed, *(_heading(c, r"$^\ddagger$" if c in subset else "", wrap) for c in columns)]
        widths = [_width([row[i] for row in [header, *games, *aggregates]]) for i in range(len(header))]
        tables = _tables(sum(widths[: len(fixed)]), widths[len(fixed) :])
        if len(tables) == 1:
            break
    lines = [
        "% hieros-bench report: needs \\usepackage{booktabs}. Games: raw score, mean over runs. Aggregates:",
        "% normalised scores over these games; \\dag{} = as published, over the authors' own games and seeds.",
        f"% {len(tables)} table(s), each at most {TEXT_WIDTH_PT / 72:.2f} in wide (a two-column paper's text width).",
    ]
    for n, shown in enumerate(tables):
        keep = [*range(len(fixed)), *(len(fixed) + i for i in shown)]
        lines += [r"\par\medskip"] if n else []
        lines += [r"\begin{tabular}{l" + "r" * (len(keep) - 1) + "}", r"\toprule", _line(header, keep), r"\midrule"]
        lines += [*(_line(row, keep) for row in games), r"\midrule", *(_line(row, keep) for row in aggregates)]
        lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [rf"\par\smallskip{{\footnotesize {note}}}" for note in _notes(summary, subset, marked)]
    return "\n".join([*lines, ""])


def _game_rows(summary: Summary, columns: list[str], atari: bool) -> tuple[list[list[str]], bool]:
    """A row per game (its name, random and human for Atari, a cell per column) and whether a cell is of one run."""
    methods, published = summary.methods, summary.published
    reference = random_human()

    def value(column: str, task: str) -> float | None:
        if column in methods:
            game = methods[column].games.get(task)
            return None if game is None else game.mean
        return published[column].games.get(task)

    def one_run(column: str, task: str) -> bool:
        game = methods[column].games.get(task) if column in methods else None
        return game is not None and game.runs == 1

    rows, marked = [], False
    for task in summary.tasks:
        ref = [fmt(v) for v in reference[task]] if atari else []
        single = [one_run(c, task) for c in columns]
        cells = _bold_best([value(c, task) for c in columns], False, fmt, [not one for one in single])
        cells = [cell + r"$^\ast$" if one and cell != "--" else cell for cell, one in zip(cells, single, strict=True)]
        marked = marked or any(single)
        rows.append([_tex(display_name(task)), *ref, *cells])
    return rows, marked


def _aggregate_rows(summary: Summary, columns: list[str], atari: bool) -> list[list[str]]:
    """A row per aggregate (LATEX_ROWS; #Superhuman for Atari only): its label, the reference values, a cell per
    column, published ones daggered."""
    methods, published = summary.methods, summary.published
    tasks = summary.tasks
    same_games = [
        methods[c].tasks == tasks if c in methods else published[c].facts.get("n_games") == len(tasks) for c in columns
    ]
    rows = []
    for key, label in LATEX_ROWS:
        if key == "Superhuman" and not atari:
            continue
        values = [_aggregate(summary, c, key) for c in columns]
        ref = [fmt_aggregate(key, v) if v is not None else "N/A" for v in REFERENCE[key]] if atari else []
        cells = _bold_best(values, key in LOWER_IS_BETTER, lambda v, k=key: fmt_aggregate(k, v), same_games)
        cells = [
            cell + r"$^\dag$" if c in published and cell != "--" else cell
            for c, cell in zip(columns, cells, strict=True)
        ]
        rows.append([label, *ref, *cells])
    return rows


def _aggregate(summary: Summary, column: str, key: str) -> float | None:
    """A column's value of the aggregate `key`: a method's point estimate or a published one (None: it has none)."""
    if column in summary.methods:
        found = summary.methods[column].aggregates.get(key)
        return None if found is None else found.value
    return summary.published[column].aggregates.get(key)


def _notes(summary: Summary, subset: set[str], marked: bool) -> list[str]:
    """The notes under the tables: cells of one run, methods without a score on some of the games."""
    notes = [r"$^\ast$ one run: no interval, not ranked for bold."] if marked else []
    if subset:  # a method on fewer games: its aggregates are its own, and it does not compete for their bold
        methods, tasks = summary.methods, summary.tasks
        missing = sorted({display_name(t) for n in subset for t in tasks if t not in methods[n].tasks})
        notes.append(rf"$^\ddagger$ no score on {_tex(', '.join(missing))}: aggregates over its own games, not ranked.")
    return notes


def _line(row: list[str], keep: list[int]) -> str:
    return " & ".join(row[i] for i in keep) + r" \\"
