"""Small random helpers for the demo: every draw goes through one seeded generator per client.

`SEED` fixes the whole practice: the same seed and the same `today` give the same rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

SEED: Final = 20_260_124


def clip(value: float, low: float, high: float) -> float:
    """`value` held inside [low, high]."""
    return max(low, min(high, value))


def rating(value: float, low: int = 0, high: int = 10) -> int:
    """A whole-number rating on a low–high scale, as a form would record it."""
    return int(clip(round(value), low, high))


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small daily rates used here."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def mood_series(rng: random.Random, days: int, sd: float, phi: float = 0.85) -> list[float]:
    """A stationary AR(1) series: the client's good and bad weeks, shared by every record."""
    innovation = sd * math.sqrt(1 - phi * phi)
    value, out = rng.gauss(0, sd), []
    for _ in range(days + 1):
        out.append(value)
        value = phi * value + rng.gauss(0, innovation)
    return out


def spread(
    rng: random.Random, total: int, caps: Sequence[int], weights: Sequence[float]
) -> list[int]:
    """`total` points spread over items (each up to its cap), heavier where weights are."""
    items = [0] * len(caps)
    total = max(0, min(total, sum(caps)))
    for _ in range(total):
        open_items = [i for i, cap in enumerate(caps) if items[i] < cap]
        i = rng.choices(open_items, weights=[weights[j] for j in open_items])[0]
        items[i] += 1
    return items


def at_local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """A local wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def weekday(day: date) -> date:
    """The same day, or the Friday before when it falls on a weekend."""
    return day - timedelta(days=max(0, day.weekday() - 4))


def clip_index(i: int, n: int) -> int:
    """`i` held to a valid index of a sequence of length `n`."""
    return max(0, min(n - 1, i))
