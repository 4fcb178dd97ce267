"""A client's targets at one point of care (`State`), and how courses and persons move them.

Durations change by factors and everything else by points, so the two kinds are combined
differently; `blend` and `shift` are the only two ways a state changes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Final


@dataclass(frozen=True, slots=True)
class State:
    """Where a client stands at one point of their care: the targets records are drawn around."""

    recovery_minutes: float = 90.0  # median onset → back to baseline
    recognition_minutes: float = 25.0  # median onset → noticed
    episodes_per_week: float = 2.5
    peak: float = 7.0
    unrecovered: float = 0.08  # share of episodes with no return to baseline logged
    activation: float = 5.0  # typical activation in a check-in
    window_high: float = 5.5  # above this the client is in hyperarousal
    window_low: float = 2.0  # below this, hypoarousal
    capacity: float = 5.0
    felt_safety: float = 5.5
    body_connection: float = 5.0
    self_compassion: float = 5.0
    self_reports_per_week: float = 3.0
    engagement: float = 7.0
    homework: float = 0.78  # chance that assigned homework is fully done
    phq9: float = 12.0
    gad7: float = 10.0
    ors: float = 22.0
    cbi_personal: float = 40.0
    cbi_work: float = 40.0


# Durations change by factors, so they are blended on a log scale.
_GEOMETRIC: Final = frozenset({"recovery_minutes", "recognition_minutes"})


def _combine(
    a: State,
    b: State,
    geometric: Callable[[float, float], float],
    linear: Callable[[float, float], float],
) -> State:
    """Field by field: durations through `geometric`, every other target through `linear`."""
    return State(
        **{
            f.name: (geometric if f.name in _GEOMETRIC else linear)(
                getattr(a, f.name), getattr(b, f.name)
            )
            for f in fields(State)
        }
    )


def blend(a: State, b: State, p: float) -> State:
    """The state a fraction `p` of the way from `a` to `b`."""
    return _combine(a, b, lambda x, y: x * (y / x) ** p, lambda x, y: x + (y - x) * p)


def shift(state: State, offset: State) -> State:
    """Apply a client's personal offsets: factors for durations, points for the rest."""
    return _combine(state, offset, operator.mul, operator.add)
