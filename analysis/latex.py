"""The report's LaTeX table (table_<suite>.tex, booktabs) from its summary: the paper's layout. Pure formatting."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from analysis.render import fmt, fmt_aggregate
from analysis.stats import LOWER_IS_BETTER
from analysis.store import display_name, random_human

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


def table(summary: dict[str, Any]) -> str:
    """booktabs, the paper's layout: games as rows; random, human, baselines, then ours; best per row in bold
    (a cell of one run is marked and not ranked); aggregate rows at the bottom. A published aggregate (dagger) is
    over its authors' games and seeds; it competes for bold only when that is as many games as this table has.
    A method without a score on some of the games (double dagger) has aggregates over its own and does not compete."""
    methods, published = summary["methods"], summary["published"]
    subset = {n for n, m in methods.items() if m["tasks"] != summary["tasks"]}

    def heading(column: str) -> str:
        return _tex(column) + (r"$^\ddagger$" if column in subset else "")

    columns = (
        [n for n, m in methods.items() if m["imported"]]
        + list(published)
        + [n for n, m in methods.items() if not m["imported"]]
    )
    atari = all(v == "human" for v in summary["normalization"].values())
    reference = random_human()
    lines = [
        "% hieros-bench report: needs \\usepackage{booktabs}. Games: raw score, mean over runs. Aggregates:",
        "% normalised scores over these games; \\dag{} = as published, over the authors' own games and seeds.",
        r"\begin{tabular}{l" + ("rr" if atari else "") + "r" * len(columns) + "}",
        r"\toprule",
        " & ".join(["Game", *(["Random", "Human"] if atari else []), *map(heading, columns)]) + r" \\",
        r"\midrule",
    ]

    def value(column: str, task: str) -> float | None:
        if column in methods:
            return methods[column]["games"].get(task, {}).get("mean")
        return published[column]["games"].get(task)

    def one_run(column: str, task: str) -> bool:
        return column in methods and methods[column]["games"].get(task, {}).get("runs") == 1

    marked = False
    for task in summary["tasks"]:
        ref = [fmt(v) for v in reference[task]] if atari else []
        single = [one_run(c, task) for c in columns]
        cells = _bold_best([value(c, task) for c in columns], False, fmt, [not one for one in single])
        cells = [cell + r"$^\ast$" if one and cell != "--" else cell for cell, one in zip(cells, single, strict=True)]
        marked = marked or any(single)
        lines.append(" & ".join([_tex(display_name(task)), *ref, *cells]) + r" \\")
    lines.append(r"\midrule")
    same_games = [
        c not in subset if c in methods else published[c]["facts"].get("n_games") == len(summary["tasks"])
        for c in columns
    ]
    for key, label in LATEX_ROWS:
        if key == "Superhuman" and not atari:
            continue
        values = [
            methods[c]["aggregates"].get(key, {}).get("value") if c in methods else published[c]["aggregates"].get(key)
            for c in columns
        ]
        ref = [fmt_aggregate(key, v) if v is not None else "N/A" for v in REFERENCE[key]] if atari else []
        cells = _bold_best(values, key in LOWER_IS_BETTER, lambda v, k=key: fmt_aggregate(k, v), same_games)
        cells = [
            cell + r"$^\dag$" if c in published and cell != "--" else cell
            for c, cell in zip(columns, cells, strict=True)
        ]
        lines.append(" & ".join([label, *ref, *cells]) + r" \\")
    notes = [r"$^\ast$ one run: no interval, not ranked for bold."] if marked else []
    if subset:  # a method on fewer games: its aggregates are its own, and it does not compete for their bold
        missing = sorted({display_name(t) for n in subset for t in summary["tasks"] if t not in methods[n]["tasks"]})
        notes.append(rf"$^\ddagger$ no score on {_tex(', '.join(missing))}: aggregates over its own games, not ranked.")
    width = 1 + (2 if atari else 0) + len(columns)
    lines.append(r"\bottomrule")
    lines += [rf"\multicolumn{{{width}}}{{l}}{{\footnotesize {note}}} \\" for note in notes]
    return "\n".join([*lines, r"\end{tabular}", ""])
