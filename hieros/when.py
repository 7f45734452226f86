"""When the training loop does things: updates at a ratio to environment steps, and jobs every N steps.

Modelled on danijar/embodied's `when.Ratio` and `when.Every`. `Ratio` equals the original HIEROS's (and
embodied's); `Every` is marked by its caller, because a due evaluation that a stop signal interrupts is not done
and must come again after the resume.
"""

from __future__ import annotations


class Ratio:
    """How many updates are due after `step` environment steps at `ratio` updates per step (the original's)."""

    def __init__(self, ratio: float):
        self.ratio = ratio
        self.prev: float | None = None

    def __call__(self, step: int) -> int:
        if self.ratio == 0:
            return 0
        if self.prev is None:
            self.prev = step
            return 1
        repeats = int((step - self.prev) * self.ratio)
        self.prev += repeats / self.ratio
        return repeats


class Every:
    """Due once `every` environment steps have passed since it was last marked (at least one step)."""

    def __init__(self, every: int, last: int = 0):
        self.every = max(1, every)
        self.last = last

    def due(self, step: int) -> bool:
        return step >= self.last + self.every

    def mark(self, step: int) -> None:
        self.last = step
