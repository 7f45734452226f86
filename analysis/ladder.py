"""An ablation ladder: rungs that each change one thing, read from a report's summary.

A ladder is written as method names in order, `A,B,C:REF,...`: each rung is compared with the rung before it, or
with REF where given (a branch off the main line). For each rung the ladder gives its aggregate score with its
interval, P(rung > reference) and P(rung > floor) (the random policy), each with its 95% interval, all taken from
the report's own stratified bootstrap (the summary's methods and improvement), and the verdict of each comparison
from the report's calibrated tests (its tests, analysis.comparisons: the ladder's comparisons are the family its
Holm correction runs over); nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from analysis.store import StoreError
from analysis.summary_file import Comparison, Comparisons, Interval, MethodSummary, Rung

FLOOR = "random"


def parse(items: Sequence[str]) -> list[tuple[str, str | None]]:
    """['a', 'b', 'c:a'] -> [('a', None), ('b', 'a'), ('c', 'a')]: each rung and the rung it is compared with."""
    rungs: list[tuple[str, str | None]] = []
    for item in items:
        name, _, reference = item.partition(":")
        if not name:
            raise StoreError(f"--ladder: empty rung in {','.join(items)!r}; write it as A,B,C:REF")
        rungs.append((name, reference or (rungs[-1][0] if rungs else None)))
    return rungs


def metric(tasks: Sequence[str]) -> str:
    """The aggregate a ladder shows: the mean for one task (the runs' mean score), else rliable's IQM."""
    return "Mean" if len(tasks) == 1 else "IQM"


def probability(improvement: Mapping[str, Interval], x: str, y: str) -> Interval | None:
    """P(x > y) with its interval, from the report's pairs in either order; None if the report has no such pair."""
    if f"{x} vs {y}" in improvement:
        return improvement[f"{x} vs {y}"]
    if f"{y} vs {x}" in improvement:
        found = improvement[f"{y} vs {x}"]
        return Interval(1 - found.value, 1 - found.high, 1 - found.low)
    return None


def rows(
    methods: Mapping[str, MethodSummary],
    improvement: Mapping[str, Interval],
    aggregate: str,
    rungs: Sequence[tuple[str, str | None]],
) -> list[Rung]:
    """One rung per (method, reference): its runs, its `aggregate` score, vs_reference and vs_floor (P(X > Y), or
    None where there is nothing to compare with); their tests are added by `with_tests`."""
    for name in {n for rung in rungs for n in rung if n is not None}:
        if name not in methods:
            raise StoreError(f"--ladder: {name!r} is not a method of this report; it has {', '.join(methods)}")
    floor = FLOOR if FLOOR in methods else None
    return [
        Rung(
            method=name,
            reference=reference,
            runs=methods[name].runs_per_task,
            score=methods[name].aggregates[aggregate],
            vs_reference=probability(improvement, name, reference) if reference else None,
            vs_floor=probability(improvement, name, floor) if floor and name != floor else None,
        )
        for name, reference in rungs
    ]


FLIPPED = {"better": "worse", "worse": "better"}


def tested(tests: Comparisons, x: str, y: str) -> Comparison | None:
    """The calibrated test of x against y from the report's tests, in either order (turned round where it was
    made as y against x); None where the report did not test the pair."""
    if f"{x} vs {y}" in tests.pairs:
        return tests.pairs[f"{x} vs {y}"]
    if f"{y} vs {x}" not in tests.pairs:
        return None
    found = tests.pairs[f"{y} vs {x}"]
    return replace(
        found,
        x=x,
        y=y,
        verdict=FLIPPED.get(found.verdict, found.verdict),
        improvement=1 - found.improvement,
        runs=found.runs[::-1],
    )


def with_tests(table: Sequence[Rung], tests: Comparisons) -> list[Rung]:
    """The ladder's rungs with each comparison's test: test_reference and test_floor (or None)."""
    return [
        replace(
            rung,
            test_reference=tested(tests, rung.method, rung.reference) if rung.reference else None,
            test_floor=tested(tests, rung.method, FLOOR) if rung.vs_floor else None,
        )
        for rung in table
    ]


def verdict(test: Comparison | None) -> str:
    """A comparison's calibrated verdict: better, worse, level or inconclusive ('' where there is none)."""
    return "" if test is None else test.verdict


VERDICT_ROOM = 0.55  # of P(X > Y)'s unit axis, right of 1: where each comparison's verdict is written
COLUMNS = (  # of the ladder figure's CSV, a row per rung
    "method",
    "reference",
    "runs",
    "score",
    "score_low",
    "score_high",
    "p_vs_reference",
    "p_vs_reference_low",
    "p_vs_reference_high",
    "p_vs_random",
    "p_vs_random_low",
    "p_vs_random_high",
    "verdict_vs_reference",
    "verdict_vs_random",
)


def draw(
    table: Sequence[Rung], aggregate: str, floor_score: Interval | None = None
) -> tuple[Any, tuple[list[str], list[list[Any]]]]:
    """Two panels across the page, a row per rung from the top, labelled with its runs: the score's interval and
    point, with the first rung's score and random's (`floor_score`) as reference lines; and P(rung > compared)
    (filled) and P(rung > random) (hollow) with their intervals beside the 0.5 line, each with its test's verdict."""
    from matplotlib.ticker import MaxNLocator

    from analysis.figures import PAGE, ROW, pyplot

    plt = pyplot()
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(PAGE, 2 * ROW * len(table) + 1.0), sharey=True, gridspec_kw={"width_ratios": [1, 1.1]}
    )
    labels = [rung.method + (f" vs {rung.reference}" if rung.reference else "") + f" (n={rung.runs})" for rung in table]
    for y, rung in enumerate(table):
        _draw_rung(left, right, y, rung)
    left.axvline(table[0].score.value, color="C0", lw=0.8, ls=":")
    if floor_score is not None:
        left.axvline(floor_score.value, color="0.3", lw=0.8, ls="--")
    right.axvline(0.5, color="0.4", lw=0.8, ls="--")
    right.set_xlim(-0.03, 1 + VERDICT_ROOM)
    right.set_xticks([0, 0.25, 0.5, 0.75, 1])
    right.spines["right"].set_visible(False)
    right.spines["bottom"].set_bounds(0, 1)  # the axis is P's; the room right of it holds the verdicts
    left.set_yticks(range(len(table)), labels)
    left.invert_yaxis()
    left.xaxis.set_major_locator(MaxNLocator(nbins=5))  # a narrow range's 8 default ticks run into each other
    left.set_xlabel(f"score, {aggregate} [95% CI]")
    right.set_xlabel("P(X > Y) [95% CI]; verdict")
    handles = _legend_handles(plt, table, floor_score is not None)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    return fig, (list(COLUMNS), [_csv_row(row) for row in table])


def _draw_rung(left: Any, right: Any, y: int, rung: Rung) -> None:
    """One rung at height `y`: its score's interval and point on `left`, its comparisons and verdicts on `right`."""
    score = rung.score
    left.plot([score.low, score.high], [y, y], color="C0", lw=4, alpha=0.45, solid_capstyle="butt")
    left.plot([score.value], [y], "|", color="C0", ms=9, mew=1.5)
    for p, test, shift, color, face in (
        (rung.vs_reference, rung.test_reference, -0.17, "C1", "C1"),
        (rung.vs_floor, rung.test_floor, 0.17, "C2", "white"),
    ):
        if p is None:
            continue
        right.plot([p.low, p.high], [y + shift, y + shift], color=color, lw=1.5)
        right.plot([p.value], [y + shift], "o", color=color, mfc=face, ms=4)
        right.text(1.06, y + shift, verdict(test), va="center", fontsize=6.5, color=color)


def _legend_handles(plt: Any, table: Sequence[Rung], with_floor: bool) -> list[Any]:
    """The ladder figure's legend: the first rung's line, random's (`with_floor`), and the comparisons it shows."""
    return [
        plt.Line2D([], [], color="C0", lw=0.8, ls=":", label=f"{table[0].method} (first rung)"),
        *([plt.Line2D([], [], color="0.3", lw=0.8, ls="--", label="random")] if with_floor else []),
        plt.Line2D([], [], color="C1", marker="o", ms=4, label="P(rung > compared)"),
        *(
            [plt.Line2D([], [], color="C2", marker="o", mfc="white", ms=4, label="P(rung > random)")]
            if any(rung.vs_floor is not None for rung in table)
            else []
        ),
    ]


def _csv_row(rung: Rung) -> list[Any]:
    """One rung's row of the ladder figure's CSV (COLUMNS): '' where it has no such comparison."""
    score = rung.score
    probabilities = [
        value for p in (rung.vs_reference, rung.vs_floor) for value in ((p.value, p.low, p.high) if p else ("",) * 3)
    ]
    return [
        rung.method,
        rung.reference or "",
        rung.runs,
        score.value,
        score.low,
        score.high,
        *probabilities,
        verdict(rung.test_reference),
        verdict(rung.test_floor),
    ]
