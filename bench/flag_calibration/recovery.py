"""Operating characteristics of the recovery-time early warning (DOMAIN.md §5.6).

Simulated courses of care from intake, scored through the product's own analytics
(``domain.metrics.compute_client_metrics`` with the default ``Thresholds``): the personal
baseline and the charts' reference are learned from each client's own early data, exactly as
for a real client.

The generative model (issue 10; DOMAIN.md §5.5):

* episodes arrive as a Poisson process at 1, 2 or 4 a week from intake;
* recovery minutes are lognormal, median 45, sigma(log) 0.5 (also 0.7);
* noise on log minutes is independent, or AR(1) over consecutive episodes with phi = 0.5
  (scaled so the marginal sigma is unchanged: a bad spell makes several slow recoveries);
* 5 % of episodes do not come back to baseline (no ``baseline_at``);
* recognition minutes are lognormal, median 8, sigma(log) 0.5, never changing (so the
  recognition chart's ``watch`` rate on stable clients is measured too);
* worsening from week 14 after intake: recovery minutes x1.25, x1.5, x2, or the unrecovered
  share rising from 5 % to 50 %.

Reviews are weekly. A stable client's false alarm = a ``deterioration`` alert at any of the
26 weekly reviews after their baseline period (also printed: over 52 reviews, a year). A
worsening client is detected when the alert first shows at a review within the stated weeks
of the change; clients already alerted before the change are left out of the detection rate
(their share is printed as "before change"). The delay
is counted in weeks from the change to the review that first shows the alert.

Fast path and its check: the charts are causal (each episode is scored against earlier ones
only), so one evaluation at the last review gives the crossing time, and the first review at
or after it is when the flag first showed. ``verify`` replays clients review by review through
``compute_client_metrics`` and counts any disagreement (it must print 0).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median

import numpy as np

from practice_dashboard.domain.facts import ClientFacts, ClientStatus, EpisodeFact
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import compute_client_metrics

INTAKE = date(2025, 1, 6)
INTAKE_AT = datetime(2025, 1, 6, tzinfo=UTC)
CHANGE_WEEK = 14
REVIEWS = 26
YEAR_REVIEWS = 52
HORIZON_WEEKS = 70  # long enough for every baseline plus 26 reviews, and every detection window
RECOVERY_MEDIAN = 45.0
RECOGNITION_MEDIAN = 8.0
RECOGNITION_SIGMA = 0.5
UNRECOVERED = 0.05


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    rate: float  # episodes per week
    sigma: float  # of log recovery minutes
    phi: float  # AR(1) over consecutive episodes
    factor: float = 1.0  # recovery minutes multiplied from the change on
    unrecovered_after: float = UNRECOVERED  # share not back to baseline from the change on
    window_weeks: int = 8  # detection counted within this many weeks of the change

    @property
    def stable(self) -> bool:
        return self.factor == 1.0 and self.unrecovered_after == UNRECOVERED


def scenarios() -> list[Scenario]:
    out = []
    for sigma in (0.5, 0.7):
        for phi in (0.0, 0.5):
            noise = "AR(1) 0.5" if phi else "independent"
            for rate in (1.0, 2.0, 4.0):
                tag = f"{rate:g}/wk, sigma {sigma}, {noise}"
                out.append(Scenario(f"stable, {tag}", rate, sigma, phi))
                out.append(Scenario(f"x1.25 slower, {tag}", rate, sigma, phi, factor=1.25))
                out.append(Scenario(f"x1.5 slower, {tag}", rate, sigma, phi, factor=1.5))
                out.append(Scenario(f"x2 slower, {tag}", rate, sigma, phi, 2.0, window_weeks=6))
                out.append(
                    Scenario(f"unrecovered 5%->50%, {tag}", rate, sigma, phi, unrecovered_after=0.5)
                )
    return out


def simulate_client(rng: np.random.Generator, sc: Scenario) -> ClientFacts:
    """One course of care (onsets in weeks since intake; durations as above)."""
    count = int(rng.poisson(sc.rate * HORIZON_WEEKS))
    weeks = np.sort(rng.uniform(0.0, HORIZON_WEEKS, count))
    noise = np.empty(count)
    previous = 0.0
    innovation = math.sqrt(1.0 - sc.phi * sc.phi)
    for i in range(count):
        previous = rng.normal() if i == 0 else sc.phi * previous + innovation * rng.normal()
        noise[i] = previous
    recognition = RECOGNITION_MEDIAN * np.exp(RECOGNITION_SIGMA * rng.normal(size=count))
    unrecovered_draw = rng.uniform(size=count)
    episodes = []
    for i in range(count):
        after = weeks[i] >= CHANGE_WEEK
        minutes = RECOVERY_MEDIAN * math.exp(sc.sigma * noise[i]) * (sc.factor if after else 1.0)
        share = sc.unrecovered_after if after else UNRECOVERED
        onset = INTAKE_AT + timedelta(weeks=float(weeks[i]))
        back = None if unrecovered_draw[i] < share else onset + timedelta(minutes=minutes)
        episodes.append(
            EpisodeFact(
                started_at=onset,
                peak_intensity=6,
                recognized_at=onset + timedelta(minutes=float(recognition[i])),
                baseline_at=back,
            )
        )
    return ClientFacts(status=ClientStatus.ACTIVE, intake_date=INTAKE, episodes=tuple(episodes))


def _metrics(facts: ClientFacts, now: datetime, th: Thresholds):  # type: ignore[no-untyped-def]
    return compute_client_metrics(
        facts,
        start=now - timedelta(days=28),
        end=now,
        now=now,
        thresholds=th,
        monitoring_points_from=now,  # flags only: no chart points
    )


def _levels(facts: ClientFacts, now: datetime, th: Thresholds) -> set[str]:
    return {f.level for f in _metrics(facts, now, th).flags if f.code == "deterioration"}


def baseline_end(facts: ClientFacts, th: Thresholds) -> datetime:
    day_end = INTAKE_AT + timedelta(days=th.baseline_days)
    eps = facts.episodes
    eighth = eps[th.baseline_episodes - 1].started_at if len(eps) >= th.baseline_episodes else None
    return max(day_end, eighth) if eighth is not None else day_end


def review_times(first_after: datetime, count: int) -> list[datetime]:
    """Weekly reviews at intake + whole weeks, the first one after ``first_after``."""
    weeks = math.floor((first_after - INTAKE_AT) / timedelta(weeks=1)) + 1
    return [INTAKE_AT + timedelta(weeks=weeks + i) for i in range(count)]


def first_alert(facts: ClientFacts, reviews: Sequence[datetime], th: Thresholds) -> datetime | None:
    """The first review at which ``deterioration`` shows as an alert (fast path).

    One evaluation at the last review; the charts are causal, so the crossing time it reports
    is the one every earlier review would have seen, and the review that first shows it is
    confirmed through the product's metrics.
    """
    metrics = _metrics(facts, reviews[-1], th)
    charts = metrics.monitoring
    crossings = [c.signal_at for c in (charts.recovery, charts.unrecovered) if c.signal_at]
    measure_alert = any(
        f.code == "deterioration" and f.level == "alert" and not _chart_only(f.signals)
        for f in metrics.flags
    )
    if measure_alert:
        raise AssertionError("the recovery bench simulates no measures")
    if not crossings:
        return None
    crossing = min(crossings)
    # An unrecovered episode counts only once it is old enough (it may still return), so the
    # review just after the crossing may not show it yet: ask the product at that review.
    later = [r for r in reviews if r > crossing]
    for review in later[:2]:
        if "alert" in _levels(facts, review, th):
            return review
    return later[2] if len(later) > 2 else None


def _chart_only(signals: Sequence[str]) -> bool:
    return all("@" in s for s in signals)


def first_alert_replayed(
    facts: ClientFacts, reviews: Sequence[datetime], th: Thresholds
) -> datetime | None:
    """The same, review by review through the product's metrics (slow; for ``verify``)."""
    return next((r for r in reviews if "alert" in _levels(facts, r, th)), None)


def first_watch(facts: ClientFacts, reviews: Sequence[datetime], th: Thresholds) -> bool:
    """Whether the recognition chart ever raised its ``watch`` over the reviews."""
    chart = _metrics(facts, reviews[-1], th).monitoring.recognition
    return chart.signal_at is not None and chart.signal_at < reviews[-1]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    clients: int
    rate: float  # false alarm share (stable) or detection share (worsening)
    pre_change_alerts: float  # worsening: share alerted before the change
    median_delay_weeks: float | None
    recognition_watch: float  # stable: share with a recognition watch over the 26 reviews
    year_rate: float  # stable: share ever alerted over 52 weekly reviews
    mismatches: int  # verify: fast path vs review-by-review replay


def run_scenario(
    sc: Scenario, *, seed: int, clients: int, verify: int = 0, thresholds: Thresholds | None = None
) -> ScenarioResult:
    th = thresholds or Thresholds()
    rng = np.random.default_rng([seed, zlib.crc32(sc.name.encode())])
    hits = pre = watches = mismatches = year_hits = 0
    delays: list[float] = []
    change = INTAKE_AT + timedelta(weeks=CHANGE_WEEK)
    for i in range(clients):
        facts = simulate_client(rng, sc)
        first = baseline_end(facts, th)
        if sc.stable:
            reviews = review_times(first, YEAR_REVIEWS)
        else:
            # every weekly review from the baseline's end to the end of the detection window
            last = change + timedelta(weeks=sc.window_weeks)
            count = max(1, math.ceil((last - first) / timedelta(weeks=1)) + 1)
            reviews = [r for r in review_times(first, count) if r <= last] or [last]
        alert = first_alert(facts, reviews, th)
        if i < verify and first_alert_replayed(facts, reviews, th) != alert:
            mismatches += 1
        if sc.stable:
            hits += alert is not None and alert <= reviews[REVIEWS - 1]
            year_hits += alert is not None
            watches += first_watch(facts, reviews[:REVIEWS], th)
            continue
        if alert is not None and alert <= change:
            pre += 1
            continue
        if alert is not None and alert <= change + timedelta(weeks=sc.window_weeks):
            hits += 1
            delays.append((alert - change) / timedelta(weeks=1))
    base = clients if sc.stable else clients - pre
    return ScenarioResult(
        scenario=sc,
        clients=clients,
        rate=hits / base if base else math.nan,
        pre_change_alerts=pre / clients,
        median_delay_weeks=median(delays) if delays else None,
        recognition_watch=watches / clients if sc.stable else math.nan,
        mismatches=mismatches,
        year_rate=year_hits / clients if sc.stable else math.nan,
    )
