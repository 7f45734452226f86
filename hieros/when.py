"""When the training loop does things: updates at a ratio to environment steps, and jobs every N steps.

Modelled on danijar/embodied's `when.Ratio` and `when.Every`. `Ratio` equals the original HIEROS's (and
embodied's); `Every` is marked by its caller, because a due evaluation that a stop signal interrupts is not done
and must come again after the resume.
"""

from __future__ import annotations

from typing import Any


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

    def state_dict(self) -> float | None:
        return self.prev

    def load_state_dict(self, prev: float | None) -> None:
        self.prev = prev


class Every:
    """Due once `every` environment steps have passed since it was last marked (at least one step)."""

    def __init__(self, every: int, last: int = 0):
        self.every = max(1, every)
        self.last = last

    def due(self, step: int) -> bool:
        return step >= self.last + self.every

    def mark(self, step: int) -> None:
        self.last = step


class Counters:
    """The loop's counters (environment steps, updates, training episodes, evaluations done, wall seconds) and
    where each of its `Every` schedules was last marked (`last_<name>`), one part of the checkpoint."""

    def __init__(self, every: dict[str, Every]):
        self.values: dict[str, Any] = {"env_step": 0, "grad_steps": 0, "episodes": 0, "eval_index": 0}
        self.values["wall_seconds"] = 0.0
        self.every = every

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def state_dict(self) -> dict[str, Any]:
        return {**self.values, **{f"last_{name}": every.last for name, every in self.every.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, every in self.every.items():
            every.mark(state[f"last_{name}"])
        self.values.update({k: v for k, v in state.items() if not k.startswith("last_")})
