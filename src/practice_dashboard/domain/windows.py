"""Windows of a client's records: the personal baseline, a whole period, its last 28 days.

A progress summary compares three stretches of care (DESIGN.md "Metrics"): the personal
baseline (early in care, as ``domain.metrics.personal_baseline`` defines it), the whole
period asked for, and the last 28 days to the period's end, which is what the domain's
metrics compare with the baseline. Also the caseload's weekly recovery sparkline and the
fitted trend line the charts draw. Medians and means are None (never 0) for no data.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import numpy as np

from practice_dashboard.domain.facts import ClientFacts, Zone
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import BaselineComparison, ClientMetrics
from practice_dashboard.domain.stats import (
    SECONDS_PER_DAY,
    Trend,
    median,
    percentile,
    theil_sen,
)

Comparison = Literal["better", "worse", "within_normal_range", "insufficient_data"]
#: The caseload's sparkline: weekly median recovery over the last 12 weeks.
SPARKLINE_WEEKS: Final = 12
#: The recovery chart's rolling median is of this many recovered episodes, so a view of a
#: period also reads the last ROLLING_K - 1 recovered episodes before it.
ROLLING_K: Final = 5


def _mean(values: list[float]) -> float | None:
    # Python's sum, as before the move: the same numbers to the last bit.
    return sum(values) / len(values) if values else None


def _ts(value: datetime) -> float:
    return value.timestamp()


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One nervous-system figure: personal baseline, this period, comparison and trend."""

    key: str
    label: str
    unit: Literal["minutes", "rating", "share", "activation"]
    lower_is_better: bool
    baseline: float | None
    baseline_low: float | None  # usual range (interquartile), where the domain defines one
    baseline_high: float | None
    baseline_n: int
    period: float | None  # over the whole period
    period_n: int
    recent: float | None  # the last 28 days to the period's end: what is compared
    recent_n: int
    # The domain's comparison (smallest worthwhile change = half the baseline SD), only for
    # the figures DESIGN.md defines it for; None = shown side by side, no verdict.
    comparison: Comparison | None
    trend: Trend | None  # Theil-Sen / Mann-Kendall over the period's last 12 weeks
    definition: str


def baseline_period(metrics: ClientMetrics) -> tuple[datetime, datetime] | None:
    """The personal baseline's stretch of care, or None when it has no records."""
    b = metrics.baseline
    return (b.period_start, b.period_end) if b.period_end > b.period_start else None


class Window:
    """One stretch of the client's records, and the figures the change table reads from it."""

    def __init__(self, facts: ClientFacts, lo: float, hi: float) -> None:
        self.episodes = [e for e in facts.episodes if lo <= _ts(e.started_at) < hi]
        self.observations = [o for o in facts.observations if lo <= _ts(o.observed_at) < hi]

    def recovery(self) -> list[float]:
        return [m for e in self.episodes if (m := e.recovery_minutes) is not None and m >= 0]

    def recognition(self) -> list[float]:
        return [m for e in self.episodes if (m := e.recognition_minutes) is not None and m >= 0]

    def unrecovered(self) -> float | None:
        n = len(self.episodes)
        return sum(1 for e in self.episodes if e.baseline_at is None) / n if n else None

    def activation(self) -> list[float]:
        return [float(o.activation) for o in self.observations]

    def capacity(self) -> list[float]:
        return [float(o.capacity) for o in self.observations if o.capacity is not None]

    def within(self) -> list[float]:
        return [float(o.activation) for o in self.observations if o.zone == Zone.WITHIN]

    def within_share(self) -> float | None:
        n = len(self.observations)
        return len(self.within()) / n if n else None


def change_rows(
    facts: ClientFacts,
    recent: ClientMetrics,
    *,
    start: datetime,
    end: datetime,
    thresholds: Thresholds,
) -> tuple[ChangeRow, ...]:
    """Baseline (early in care) | whole period | last 28 days, compared and trended.

    `recent` is the domain's metrics of the 28 days to the period's end: its baseline never
    overlaps them, so a period that starts at intake still compares its end with its start.
    """
    th = thresholds
    base_period = baseline_period(recent)
    hi = _ts(end)
    whole = Window(facts, _ts(start), hi)
    last = Window(facts, hi - th.trailing_window_days * 86400.0, hi)
    if base_period is not None:
        b_lo, b_hi = _ts(base_period[0]), _ts(base_period[1])
        # The domain's baseline includes the 8th episode's onset itself (closed interval).
        base = Window(facts, b_lo, b_hi + 1e-6)
    else:
        base = Window(facts, 0.0, 0.0)
    rec: BaselineComparison = recent.baseline.recovery_minutes
    act: BaselineComparison = recent.baseline.activation
    p90 = th.tolerated_activation_percentile

    def tolerated(window: Window) -> float | None:
        return percentile(np.array(window.within(), dtype=float), p90)

    return (
        ChangeRow(
            key="recovery",
            label="Recovery after activation (median)",
            unit="minutes",
            lower_is_better=True,
            baseline=rec.baseline_median,
            baseline_low=rec.normal_low,
            baseline_high=rec.normal_high,
            baseline_n=rec.baseline_n,
            period=median(whole.recovery()),
            period_n=len(whole.recovery()),
            recent=recent.recovery.median_minutes,
            recent_n=rec.current_n,
            comparison=rec.status,
            trend=recent.recovery.trend,
            definition=(
                "Minutes from onset to return to baseline, of the episodes that returned. "
                "The last 28 days are compared with the personal baseline: a difference "
                "beyond half the baseline's standard deviation counts."
            ),
        ),
        ChangeRow(
            key="unrecovered",
            label="Episodes not back to baseline (or not recorded)",
            unit="share",
            lower_is_better=True,
            baseline=base.unrecovered(),
            baseline_low=None,
            baseline_high=None,
            baseline_n=len(base.episodes),
            period=whole.unrecovered(),
            period_n=len(whole.episodes),
            recent=last.unrecovered(),
            recent_n=len(last.episodes),
            comparison=None,
            trend=None,
            definition="Counted here rather than given a made-up recovery time.",
        ),
        ChangeRow(
            key="recognition",
            label="Recognition of activation (median)",
            unit="minutes",
            lower_is_better=True,
            baseline=median(base.recognition()),
            baseline_low=None,
            baseline_high=None,
            baseline_n=len(base.recognition()),
            period=median(whole.recognition()),
            period_n=len(whole.recognition()),
            recent=recent.recognition.median_minutes,
            recent_n=len(last.recognition()),
            comparison=None,
            trend=recent.recognition.trend,
            definition="Minutes from onset to noticing the activation.",
        ),
        ChangeRow(
            key="activation",
            label="Activation at check-ins (median)",
            unit="activation",
            lower_is_better=True,
            baseline=act.baseline_median,
            baseline_low=act.normal_low,
            baseline_high=act.normal_high,
            baseline_n=act.baseline_n,
            period=median(whole.activation()),
            period_n=len(whole.observations),
            recent=act.current_median,
            recent_n=act.current_n,
            comparison=act.status,
            trend=None,
            definition=(
                "Activation (0-10) at every check-in; compared with the personal baseline "
                "as recovery is."
            ),
        ),
        ChangeRow(
            key="capacity",
            label="Capacity rating (mean)",
            unit="rating",
            lower_is_better=False,
            baseline=_mean(base.capacity()),
            baseline_low=None,
            baseline_high=None,
            baseline_n=len(base.capacity()),
            period=_mean(whole.capacity()),
            period_n=len(whole.capacity()),
            recent=recent.capacity.mean_rating,
            recent_n=len(last.capacity()),
            comparison=None,
            trend=recent.capacity.trend,
            definition=(
                "How much the client could feel without overwhelm (0-10); the trend is of "
                "weekly means."
            ),
        ),
        ChangeRow(
            key="time_in_window",
            label="Time in window",
            unit="share",
            lower_is_better=False,
            baseline=base.within_share(),
            baseline_low=None,
            baseline_high=None,
            baseline_n=len(base.observations),
            period=whole.within_share(),
            period_n=len(whole.observations),
            recent=recent.capacity.time_in_window,
            recent_n=len(last.observations),
            comparison=None,
            trend=None,
            definition="Share of check-ins within the window of tolerance.",
        ),
        ChangeRow(
            key="tolerated_activation",
            label="Tolerated activation",
            unit="activation",
            lower_is_better=False,
            baseline=tolerated(base),
            baseline_low=None,
            baseline_high=None,
            baseline_n=len(base.within()),
            period=tolerated(whole),
            period_n=len(whole.within()),
            recent=recent.capacity.tolerated_activation,
            recent_n=len(last.within()),
            comparison=None,
            trend=None,
            definition="90th percentile of activation among check-ins within the window.",
        ),
    )


def weekly_recovery(facts: ClientFacts, now: datetime) -> list[float | None]:
    """Median recovery minutes per week, oldest first, for the 12 weeks up to `now`.

    Weeks end at `now` (not on calendar boundaries) so the last point is always the latest
    seven days; a week without a recovered episode is None (a gap, never a 0).
    """
    start = now - timedelta(weeks=SPARKLINE_WEEKS)
    weeks: list[list[float]] = [[] for _ in range(SPARKLINE_WEEKS)]
    for episode in facts.episodes:
        if episode.baseline_at is None or not start <= episode.started_at < now:
            continue
        minutes = episode.recovery_minutes
        # A return before onset is bad data: left out, as in the metrics.
        if minutes is not None and minutes >= 0:
            weeks[int((episode.started_at - start) / timedelta(weeks=1))].append(minutes)
    return [round(statistics.median(w), 1) if w else None for w in weeks]


def fitted_line(t: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]] | None:
    """The Theil-Sen line through (t seconds, y), at its first and last time (the charts')."""
    if t.size < 2:
        return None
    order = np.lexsort((y, t))
    t, y = t[order], y[order]
    days = (t - t[0]) / SECONDS_PER_DAY
    fit = theil_sen(days, y)
    if fit is None:
        return None
    # scipy's intercept convention: the fitted value at t[0] (days measured from t[0]).
    ends = [float(t[0]), float(t[-1])]
    values = [fit.intercept, fit.intercept + fit.slope_per_day * float(days[-1])]
    return ends, values
