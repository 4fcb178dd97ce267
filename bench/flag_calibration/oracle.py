"""A reference bound, not the product: how well any CUSUM could do with perfect knowledge.

The product learns each client's usual from their own early episodes (it cannot know it). This
bound gives a plain CUSUM the true median and sigma of log recovery minutes and independent
noise, and sets its limit so that it raises the same share of false alarms on stable clients
as the product (over 26 weekly reviews); what it then detects is more than any detector that
must estimate the baseline can detect at that false-alarm rate with this evidence. If a target
lies above this bound, no tuning of the product reaches it. Unrecovered episodes are scored at
the 95th percentile of recovery (z = 1.645), as "at least a long recovery".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.flag_calibration.recovery import CHANGE_WEEK, REVIEWS, UNRECOVERED

ALLOWANCE = 0.4
CENSORED_Z = 1.645


def _paths(
    rng: np.random.Generator, n: int, rate: float, factor: float, unrecovered_after: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(onset weeks, z scores, baseline end in weeks) per client; independent noise."""
    out = []
    for _ in range(n):
        count = int(rng.poisson(rate * 60))
        weeks = np.sort(rng.uniform(0, 60, count))
        z = rng.normal(size=count) + np.where(weeks >= CHANGE_WEEK, math.log(factor) / 0.5, 0.0)
        share = np.where(weeks >= CHANGE_WEEK, unrecovered_after, UNRECOVERED)
        z = np.where(rng.uniform(size=count) < share, CENSORED_Z, z)
        base = max(4.0, float(weeks[7]) if count >= 8 else 60.0)
        out.append((weeks, z, base))
    return out


def _crossing(weeks: Sequence[float], z: Sequence[float], start: float, h: float) -> float | None:
    s = 0.0
    for t, v in zip(weeks, z, strict=True):
        if t < start:
            continue
        s = max(0.0, s + v - ALLOWANCE)
        if s > h:
            return float(t)
    return None


def bound(*, seed: int, clients: int, rate: float, false_alarms: float) -> dict[str, float]:
    """Detection within 8 weeks (x1.5, unrecovered 50%) and 6 weeks (x2) of the change, by a
    known-baseline CUSUM whose limit gives ``false_alarms`` on stable clients."""
    rng = np.random.default_rng([seed, 7])
    stable = _paths(rng, clients, rate, 1.0, UNRECOVERED)
    limits = np.arange(2.0, 12.0, 0.1)
    chosen = limits[-1]
    for h in limits:
        fa = (
            sum(
                1
                for w, z, b in stable
                if (c := _crossing(w, z, b, float(h))) is not None
                and c < math.floor(b) + 1 + REVIEWS
            )
            / clients
        )
        if fa <= false_alarms:
            chosen = h
            break
    out = {"limit": float(chosen)}
    for name, factor, share, window in (
        ("x1.5", 1.5, UNRECOVERED, 8),
        ("x2", 2.0, UNRECOVERED, 6),
        ("unrecovered", 1.0, 0.5, 8),
    ):
        paths = _paths(rng, clients, rate, factor, share)
        crossings = [_crossing(w, z, b, float(chosen)) for w, z, b in paths]
        pre = sum(1 for c in crossings if c is not None and c < CHANGE_WEEK)
        hit = sum(
            1 for c in crossings if c is not None and CHANGE_WEEK <= c <= CHANGE_WEEK + window
        )
        out[name] = hit / max(1, clients - pre)
    return out
