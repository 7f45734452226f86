"""Rows of the parity table: one compared quantity, its largest absolute and relative difference, and a verdict.

The relative difference is normwise: max |ours - original| / max |original| over the whole tensor, so entries
near zero do not blow it up. Complex tensors compare as (real, imag) pairs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

TOLERANCE = 1e-5


@dataclass(frozen=True)
class Row:
    """One line of docs/parity.md."""

    group: str
    quantity: str
    max_abs: float
    max_rel: float
    tolerance: float = TOLERANCE
    note: str = ""
    outcome: str = ""  # set where no numbers can be compared, e.g. "the original raises": the row then states it

    @property
    def passed(self) -> bool:
        return bool(self.outcome) or self.max_rel <= self.tolerance

    @property
    def verdict(self) -> str:
        return self.outcome or ("equal" if self.passed else "DIFFERENT")


def _real(x: torch.Tensor) -> torch.Tensor:
    x = x.detach()
    return torch.view_as_real(x) if x.is_complex() else x


def difference(ours: torch.Tensor, original: torch.Tensor) -> tuple[float, float]:
    """(max abs, normwise max rel) difference; shapes must agree (a mismatch is a failed row, not a crash)."""
    a, b = _real(ours).double(), _real(original).double()
    if a.shape != b.shape:
        return float("inf"), float("inf")
    if a.numel() == 0:
        return 0.0, 0.0
    diff = (a - b).abs().max().item()
    scale = b.abs().max().item()
    return diff, diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def row(
    group: str, quantity: str, ours: torch.Tensor, original: torch.Tensor, tolerance: float = TOLERANCE, note: str = ""
) -> Row:
    return Row(group, quantity, *difference(ours, original), tolerance, note)


def rows_for(
    group: str,
    prefix: str,
    ours: Mapping[str, torch.Tensor],
    original: Mapping[str, torch.Tensor],
    tolerance: float = TOLERANCE,
) -> list[Row]:
    """One row per key of `ours` (e.g. the gradient of every parameter), all under `prefix`; missing keys fail."""
    out = []
    for key, value in ours.items():
        other = original.get(key)
        if other is None:
            out.append(Row(group, f"{prefix} {key}", float("inf"), float("inf"), tolerance, "missing on one side"))
        else:
            out.append(row(group, f"{prefix} {key}", value, other, tolerance))
    return out


def worst(group: str, quantity: str, rows: Iterable[Row], tolerance: float = TOLERANCE) -> Row:
    """Many rows folded into one: the largest differences among them (e.g. over every parameter)."""
    rows = list(rows)
    return Row(
        group,
        quantity,
        max((r.max_abs for r in rows), default=0.0),
        max((r.max_rel for r in rows), default=0.0),
        tolerance,
        f"worst of {len(rows)}",
    )


def markdown(rows: list[Row]) -> str:
    lines = ["| group | quantity | max abs diff | max rel diff | tolerance | verdict |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.group} | {r.quantity}{note} | {r.max_abs:.2e} | {r.max_rel:.2e} | {r.tolerance:.0e} | {r.verdict} |"
        )
    return "\n".join(lines) + "\n"


def expected_difference(group: str, quantity: str, rows: Iterable[Row], reason: str) -> Row:
    """Rows that are meant to differ (a defect of the original fixed outright): one row saying so, which fails if
    they do not differ after all (then the reason no longer holds)."""
    rows = list(rows)
    folded = worst(group, quantity, rows)
    if any(not r.passed for r in rows):
        return Row(
            group, quantity, folded.max_abs, folded.max_rel, folded.tolerance, folded.note, outcome=f"differs: {reason}"
        )
    return Row(group, quantity, float("inf"), float("inf"), folded.tolerance, f"expected to differ ({reason})")


def decided_by_fp64(fp32: Row, fp64: Row) -> Row:
    """An fp32 row read against the same computation in fp64, which is decisive: where fp64 is equal, float32
    rounding is all that separates the fp32 sides (accumulated over a whole training call it can pass any fixed
    fp32 tolerance), so the fp32 row is reported, not judged; where fp64 differs, so does the computation."""
    if fp32.passed or not fp64.passed:
        return fp32
    outcome = f"reported: float32 rounding; the same call in fp64 is equal ({fp64.max_rel:.1e}), the decisive row"
    return dataclasses.replace(fp32, outcome=outcome)
