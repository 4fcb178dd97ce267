"""Person-specific monitoring charts: the calibrated early warning behind ``deterioration``.

A trend test asks "has it changed over this window?" and, asked again at every review, cries
wolf for about a third of stable clients over six months (DOMAIN.md §5.5). A monitoring chart
asks "is this client, now, different from their own usual?" and accumulates the evidence once.

**Recovery chart** (slower recovery). A self-starting CUSUM (Hawkins 1987, *The Statistician*
36:299-316) on log recovery minutes. Each recovered episode is standardised against all the
client's earlier recovered episodes (mean and SD of their log minutes), and the t-statistic is
turned into a normal score through its exact t distribution, so a young baseline does not
multiply false alarms. The score is divided by the square root of the variance inflation
``(1 + phi) / (1 - phi)`` of an AR(1) process, phi being the bias-corrected lag-1
autocorrelation of those earlier episodes (Kendall 1954 bias ``-(1 + 4 phi) / n``), so a bad
week that makes several slow recoveries is weighed as one piece of evidence, not several. phi
is estimated from the first ``monitoring_autocorrelation_window`` reference episodes only.
Scores are winsorised at +/- ``monitoring_winsor`` so one extreme episode cannot signal alone.
The CUSUM is Page's (1954, *Biometrika* 41:100-115): ``S = max(0, S + z - k)``, signal when
``S > h``.

**Unrecovered chart** (rising non-recovery). An episode not back to baseline is censored, not
missing. A Bernoulli CUSUM (Reynolds & Stoumbos 1999, *J Quality Technology* 31:87-108) on
"not back to baseline" per episode, against the client's own share (the episodes before
monitoring started, or before the restart, with a prior of ``unrecovered_prior_share`` worth
``unrecovered_prior_weight`` episodes so one early unrecovered episode does not set the norm),
tuned to a rise of ``unrecovered_shift``. An
episode counts as unrecovered only once it is older than the 95th percentile of the client's
recovery times (or ``unrecovered_after_minutes`` while there are too few): until then it may
still be returning and is left out (pending).

**Recognition chart** (slower noticing, a ``watch``): the recovery chart's method on log
recognition minutes; episodes without a recognition time are left out.

Monitoring starts after the personal baseline period (DESIGN.md "Metrics"); the baseline's
episodes form the first reference. After an acknowledgement of ``deterioration`` the charts
restart from zero at that time (the reference is kept), so the next signal means new evidence.
Defaults were chosen from their operating characteristics, measured by
``python -m bench.flag_calibration`` through this code (DOMAIN.md §5.6); the figures are in
the README and in :data:`OPERATING_CHARACTERISTICS`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Final, Literal

ChartQuantity = Literal["recovery", "unrecovered", "recognition"]
ChartStatus = Literal["insufficient_data", "in_control", "signal"]

_NORMAL: Final = NormalDist()
#: Degrees of freedom up to which the t CDF is summed exactly (see self_starting_score).
EXACT_T_MAX_DF: Final = 100
#: Keeps the normal score finite for a t probability of exactly 0 or 1.
_P_FLOOR: Final = 1e-12


#: What each chart's alert means in plain words, at the default settings, from the latest run
#: of ``python -m bench.flag_calibration`` (README "Flag calibration"); shown beside the flag.
OPERATING_CHARACTERISTICS: Final = {
    "recovery": "How often this alert is wrong or late (default settings, simulated clients "
    "logging two episodes a week): it is raised for about 1 in 30 stable clients over six "
    "months of weekly reviews (1 in 12 over a year; 1 in 10 over six months at four a week), "
    "and catches about 1 in 3 clients whose recovery becomes 50% slower within 8 weeks and "
    "6 in 10 whose recovery doubles within 6 weeks.",
    "unrecovered": "How often this alert is wrong or late (default settings, simulated clients "
    "logging two episodes a week): it is raised for about 1 in 30 stable clients over six "
    "months of weekly reviews, and catches about 9 in 10 clients whose episodes stop coming "
    "back to baseline half of the time within 8 weeks.",
    "recognition": "This watch is raised for about 1 in 35 stable clients over six months of "
    "weekly reviews (default settings, simulated clients logging two episodes a week).",
}


@dataclass(frozen=True, slots=True)
class MonitoringSettings:
    """The configurable numbers of the charts (copied from the practice's Thresholds)."""

    allowance: float  # k, in SDs: half the shift the chart is tuned to catch
    limit: float  # h for the recovery and recognition charts
    winsor: float  # scores are capped at +/- this
    min_reference: int  # earlier values needed before an episode is scored
    max_autocorrelation: float
    autocorrelation_window: int  # the first this many reference values estimate phi
    unrecovered_limit: float  # h for the Bernoulli chart
    unrecovered_prior_share: float
    unrecovered_prior_weight: float
    unrecovered_shift: float  # the rise in the unrecovered share the chart is tuned to
    unrecovered_after_minutes: float  # before there is a reference P95


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One episode on a chart (times UTC). ``score`` is None for an episode not yet scored."""

    at: datetime
    minutes: float | None  # recovery or recognition minutes; None = not back to baseline
    score: float | None  # standardised evidence added (before the allowance)
    statistic: float  # the CUSUM after this episode


@dataclass(frozen=True, slots=True)
class MonitoringChart:
    quantity: ChartQuantity
    limit: float
    allowance: float
    monitoring_from: datetime | None  # end of the baseline period; None: no data
    restarted_at: datetime | None  # the acknowledgement the chart restarted from
    points: tuple[ChartPoint, ...]  # from ``monitoring_from`` (or the ``points_from`` asked) on
    statistic: float  # now
    signal_at: datetime | None  # first crossing of the limit since the (re)start
    previous_signal_at: datetime | None  # the last crossing before the restart
    reference_n: int
    # the client's usual, from earlier episodes (at the crossing, when the chart crossed)
    reference_median_minutes: float | None
    reference_share: float | None  # unrecovered chart: the client's usual share
    serial_correlation: float | None  # the AR(1) allowance in force at the last episode
    status: ChartStatus


@dataclass(frozen=True, slots=True)
class EpisodeTimes:
    """What the charts need of one episode (times UTC epoch seconds; minutes NaN = none)."""

    onset: float
    minutes: float  # NaN = no value (not back to baseline, or not recorded)
    censored: bool  # recovery charts: True = not back to baseline


@dataclass(frozen=True, slots=True)
class EpisodeSeries:
    """The same as a sequence of EpisodeTimes, column by column (onset order).

    A long course has thousands of episodes and three charts read each one: columns spare an
    object per episode, and ``at`` (the onsets as UTC datetimes, which the caller's facts
    already hold) spares making a datetime per point of every chart.
    """

    onsets: Sequence[float]
    minutes: Sequence[float]
    censored: Sequence[bool]
    at: Sequence[datetime] | None = None

    @staticmethod
    def of(episodes: Sequence[EpisodeTimes] | EpisodeSeries) -> EpisodeSeries:
        if isinstance(episodes, EpisodeSeries):
            return episodes
        return EpisodeSeries(
            [e.onset for e in episodes],
            [e.minutes for e in episodes],
            [e.censored for e in episodes],
        )


def page_step(statistic: float, score: float, allowance: float) -> float:
    """One step of Page's upper CUSUM: ``S_t = max(0, S_{t-1} + z_t - k)`` (Page 1954)."""
    return max(0.0, statistic + score - allowance)


def _t_cdf(t: float, df: int) -> float:
    """Student's t CDF for whole degrees of freedom, exactly (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos = math.sin(theta), math.cos(theta)
    cos2 = cos * cos
    if df % 2 == 1:
        acc, term = 0.0, cos
        if df > 1:
            acc = term
            for j in range(1, (df - 3) // 2 + 1):
                term *= cos2 * (2 * j) / (2 * j + 1)
                acc += term
        a = 2 / math.pi * (theta + sin * acc)
    else:
        acc, term = 1.0, 1.0
        for j in range(1, (df - 2) // 2 + 1):
            term *= cos2 * (2 * j - 1) / (2 * j)
            acc += term
        a = sin * acc
    return 0.5 + 0.5 * a


def self_starting_score(value: float, mean: float, sd: float, n: int) -> float:
    """Hawkins' self-starting score of a new value against ``n`` earlier ones.

    ``T = (x - mean) / (sd * sqrt(1 + 1/n))`` follows Student's t with ``n - 1`` degrees of
    freedom when the values are independent normals; mapped through that CDF and the normal
    quantile it is an exact N(0, 1) score (Hawkins 1987, eq. 2-3).
    """
    if n < 2 or sd <= 0:
        return 0.0
    t = (value - mean) / (sd * math.sqrt(1 + 1 / n))
    df = n - 1
    if df > EXACT_T_MAX_DF:
        # Wallace (1959, Ann Math Stat 30:1121-1124): z = sign(t) sqrt((df - 1/2) ln(1 + t^2/df)),
        # within 0.002 of the exact score from here on; the exact series costs O(df) per value.
        return math.copysign(math.sqrt((df - 0.5) * math.log1p(t * t / df)), t)
    p = min(max(_t_cdf(t, df), _P_FLOOR), 1 - _P_FLOOR)
    return _NORMAL.inv_cdf(p)


def lag1_autocorrelation(values: Sequence[float], cap: float) -> float:
    """Lag-1 autocorrelation of ``values``, bias-corrected (Kendall 1954), within [0, cap]."""
    n = len(values)
    if n < 6:
        return 0.0
    mean = sum(values) / n
    total = sum((x - mean) ** 2 for x in values)
    if total <= 0:
        return 0.0
    r1 = sum((values[i] - mean) * (values[i - 1] - mean) for i in range(1, n)) / total
    return min(max(r1 + (1 + 4 * r1) / n, 0.0), cap)


def percentile95(ordered: Sequence[float]) -> float:
    """The 95th percentile of values in ascending order (linear between order statistics)."""
    pos = 0.95 * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _median_minutes(log_values: Sequence[float]) -> float | None:
    if not log_values:
        return None
    ordered = sorted(log_values)
    mid = len(ordered) // 2
    middle = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return math.exp(middle)


@dataclass(frozen=True, slots=True)
class CusumState:
    """A CUSUM after some episodes: its statistic, crossings and restart (times UTC)."""

    statistic: float = 0.0
    scored: bool = False
    signal: tuple[float, datetime] | None = None  # (epoch seconds, the point's time)
    previous_signal: tuple[float, datetime] | None = None
    restarted: bool = False


@dataclass(frozen=True, slots=True)
class DurationState:
    """A recovery or recognition chart after some episodes: all it needs to go on with later
    ones and come to the same chart as from the start (``duration_chart``'s ``resume``)."""

    cusum: CusumState
    values: tuple[float, ...]  # the reference: log minutes of the episodes so far, in order
    n: int
    mean: float
    m2: float  # Welford's sum of squared deviations
    phi: float | None  # the AR(1) allowance in force
    fixed_phi: bool  # the autocorrelation window has filled
    usual_at_signal: float | None


@dataclass(frozen=True, slots=True)
class UnrecoveredState:
    """The unrecovered chart after some episodes (``unrecovered_chart``'s ``resume``)."""

    cusum: CusumState
    durations: tuple[float, ...]  # log recovery minutes so far, ascending
    seen: int
    unrecovered: int
    p0: float | None
    pending: int  # episodes left out as maybe still returning: a later as-of may count them


class _Run:
    """A CUSUM's running state: the statistic, its crossing, the restart and the points."""

    def __init__(
        self,
        limit: float,
        restart_at: float | None,
        keep_from: float | None,
        resume: CusumState | None = None,
    ) -> None:
        self.limit = limit
        self.restart_at = restart_at
        # Points are kept from `keep_from` on: a view draws a period, and flags read none.
        self.keep_from = -math.inf if keep_from is None else keep_from
        self.points: list[ChartPoint] = []
        state = CusumState() if resume is None else resume
        self.statistic = state.statistic
        self.scored = state.scored  # any monitored episode scored (kept as a point or not)
        # Crossings as (epoch seconds, the crossing point's time): the chart reports the very
        # datetime of its point, so a view can find the point by it.
        self.signal = state.signal
        self.previous_signal = state.previous_signal
        self.restarted = state.restarted

    def state(self) -> CusumState:
        """Where the CUSUM stands (its points aside), to go on from later."""
        return CusumState(
            self.statistic, self.scored, self.signal, self.previous_signal, self.restarted
        )

    def reached(self, onset: float) -> bool:
        """Restart from zero at the first episode on or after ``restart_at`` (True then)."""
        if self.restart_at is None or self.restarted or onset < self.restart_at:
            return False
        self.restarted = True
        self.statistic = 0.0
        self.previous_signal, self.signal = self.signal, None
        return True

    @property
    def signal_at(self) -> float | None:
        return None if self.signal is None else self.signal[0]

    def add(
        self,
        onset: float,
        at: datetime | None,
        minutes: float | None,
        score: float | None,
        allowance: float,
    ) -> bool:
        """One monitored episode (``at``: its onset as a UTC datetime, if the caller has it);
        True when the statistic crosses the limit with it."""
        crossed = False
        statistic = self.statistic
        kept = onset >= self.keep_from
        if at is None and kept:
            at = _dt(onset)
        if score is not None:
            self.scored = True
            # page_step, inlined (a call per episode of a long course); same value, NaN included.
            statistic = statistic + score - allowance
            statistic = statistic if statistic > 0.0 else 0.0
            self.statistic = statistic
            if statistic > self.limit and self.signal is None:
                self.signal = (onset, _dt(onset) if at is None else at)
                crossed = True
        if kept:
            assert at is not None
            self.points.append(ChartPoint(at, minutes, score, statistic))
        return crossed

    def finish(self) -> None:
        """A restart after the last episode still restarts the chart."""
        if self.restart_at is not None and not self.restarted:
            self.previous_signal, self.signal, self.statistic = self.signal, None, 0.0
            self.restarted = True

    def chart(
        self,
        quantity: ChartQuantity,
        *,
        allowance: float,
        monitoring_from: float | None,
        reference_n: int,
        reference_median_minutes: float | None = None,
        reference_share: float | None = None,
        serial_correlation: float | None = None,
    ) -> MonitoringChart:
        return MonitoringChart(
            quantity=quantity,
            limit=self.limit,
            allowance=allowance,
            monitoring_from=_dt(monitoring_from) if monitoring_from is not None else None,
            restarted_at=_dt(self.restart_at) if self.restart_at is not None else None,
            points=tuple(self.points),
            statistic=self.statistic,
            signal_at=None if self.signal is None else self.signal[1],
            previous_signal_at=None if self.previous_signal is None else self.previous_signal[1],
            reference_n=reference_n,
            reference_median_minutes=reference_median_minutes,
            reference_share=reference_share,
            serial_correlation=serial_correlation,
            status=(
                "signal"
                if self.signal is not None
                else "in_control"
                if self.scored
                else "insufficient_data"
            ),
        )


def duration_chart(
    quantity: Literal["recovery", "recognition"],
    episodes: Sequence[EpisodeTimes] | EpisodeSeries,
    *,
    monitoring_from: float | None,
    restart_at: float | None,
    settings: MonitoringSettings,
    points_from: float | None = None,
    resume: DurationState | None = None,
) -> MonitoringChart:
    """Self-starting CUSUM on log minutes of the episodes with a value (onset order).

    ``monitoring_from``: scores accumulate from then on (the end of the baseline); earlier
    episodes only teach the reference. ``restart_at``: the CUSUM restarts from zero then.
    ``points_from``: the chart's points start there (None: from ``monitoring_from``); the
    statistic, the crossings and the status are the same either way. ``resume``: the chart
    after the earlier episodes (``duration_state`` of them, with the same settings, baseline
    end and restart); ``episodes`` are then the later ones only.
    """
    s = settings
    run = _Run(s.limit, restart_at, points_from, None if resume is None else resume.cusum)
    state = _feed_durations(run, episodes, monitoring_from, s, resume)
    run.finish()
    return run.chart(
        quantity,
        allowance=s.allowance,
        monitoring_from=monitoring_from,
        reference_n=state.n,
        reference_median_minutes=(
            state.usual_at_signal if run.signal_at is not None else _median_minutes(state.values)
        ),
        serial_correlation=state.phi,
    )


def duration_state(
    episodes: Sequence[EpisodeTimes] | EpisodeSeries,
    *,
    monitoring_from: float | None,
    restart_at: float | None,
    settings: MonitoringSettings,
) -> DurationState:
    """Where ``duration_chart`` stands after ``episodes``, to resume from with later ones."""
    return _feed_durations(
        _Run(settings.limit, restart_at, math.inf), episodes, monitoring_from, settings, None
    )


def _feed_durations(
    run: _Run,
    episodes: Sequence[EpisodeTimes] | EpisodeSeries,
    monitoring_from: float | None,
    s: MonitoringSettings,
    resume: DurationState | None,
) -> DurationState:
    """The recovery or recognition chart's loop over ``episodes``, from ``resume`` on."""
    # This loop runs per episode of a long course (thousands, three charts a page), so the
    # reference's running mean and SD (Welford) and the self-starting score past
    # EXACT_T_MAX_DF are written out here rather than called: the same operations in the same
    # order, so the same values to the last bit (tests/web/test_outputs_unchanged.py), and
    # tests/domain/test_monitoring.py checks them against the textbook. phi is estimated
    # only while the autocorrelation window fills, its AR(1) divisor once per phi.
    min_reference, winsor, allowance = s.min_reference, s.winsor, s.allowance
    cap, window = s.max_autocorrelation, s.autocorrelation_window
    watch_from = math.inf if monitoring_from is None else monitoring_from
    restart_ahead = run.restart_at is not None and not run.restarted
    divisor_of: tuple[float, float] | None = None
    log, log1p, sqrt, copysign = math.log, math.log1p, math.sqrt, math.copysign
    if resume is None:
        values: list[float] = []  # the reference: log minutes of the earlier episodes
        n, mean, m2 = 0, 0.0, 0.0
        phi_now: float | None = None
        fixed_phi = False
        usual_at_signal: float | None = None
    else:
        values = list(resume.values)
        n, mean, m2 = resume.n, resume.mean, resume.m2
        phi_now, fixed_phi, usual_at_signal = resume.phi, resume.fixed_phi, resume.usual_at_signal
    series = EpisodeSeries.of(episodes)
    onsets, moments = series.onsets, series.at
    for i, minutes in enumerate(series.minutes):
        if not (minutes > 0):  # NaN, or a zero duration with no log
            continue
        onset = onsets[i]
        if restart_ahead and run.reached(onset):
            restart_ahead = False
        y = log(minutes)
        score: float | None = None
        if n >= min_reference:
            if not fixed_phi:
                # The early values only: a later rise in them (the very change to be caught)
                # would look like autocorrelation and weaken the scores that should reveal it.
                phi_now = lag1_autocorrelation(values[:window], cap)
                fixed_phi = n >= window
            assert phi_now is not None
            if divisor_of is None or divisor_of[0] != phi_now:
                divisor_of = (phi_now, sqrt((1 + phi_now) / (1 - phi_now)))
            sd = sqrt(m2 / (n - 1)) if n > 1 else 0.0
            df = n - 1
            if df > EXACT_T_MAX_DF and sd > 0:
                t = (y - mean) / (sd * sqrt(1 + 1 / n))
                z = copysign(sqrt((df - 0.5) * log1p(t * t / df)), t)
            else:
                z = self_starting_score(y, mean, sd, n)
            z = z if z < winsor else winsor  # max(-winsor, min(winsor, z)), NaN included
            z = z if z > -winsor else -winsor
            score = z / divisor_of[1]
        at = None if moments is None else moments[i]
        if onset >= watch_from and run.add(onset, at, minutes, score, allowance):
            # "Their usual" is the reference the crossing was judged against; later slow
            # episodes still teach the reference but must not redefine it.
            usual_at_signal = _median_minutes(values)
        values.append(y)
        n += 1
        delta = y - mean
        mean += delta / n
        m2 += delta * (y - mean)
    return DurationState(
        run.state(), tuple(values), n, mean, m2, phi_now, fixed_phi, usual_at_signal
    )


def unrecovered_chart(
    episodes: Sequence[EpisodeTimes] | EpisodeSeries,
    *,
    as_of: float,
    monitoring_from: float | None,
    restart_at: float | None,
    settings: MonitoringSettings,
    points_from: float | None = None,
    resume: UnrecoveredState | None = None,
) -> MonitoringChart:
    """Bernoulli CUSUM on "not back to baseline", per episode (onset order).

    An episode with no return counts once it is older than the 95th percentile of the
    client's earlier recovery times (``unrecovered_after_minutes`` with fewer than
    ``min_reference`` of them): until then it may still be returning. ``points_from`` and
    ``resume`` (an ``unrecovered_state`` with no pending episode, taken as of this
    ``as_of`` or earlier): as for ``duration_chart``.
    """
    s = settings
    if resume is not None and resume.pending:
        raise ValueError("a state with pending episodes depends on its as-of time")
    run = _Run(
        s.unrecovered_limit, restart_at, points_from, None if resume is None else resume.cusum
    )
    state = _feed_unrecovered(run, episodes, as_of, monitoring_from, s, resume)
    run.finish()
    return run.chart(
        "unrecovered",
        allowance=0.0,
        monitoring_from=monitoring_from,
        reference_n=state.seen,
        reference_share=state.p0,
    )


def unrecovered_state(
    episodes: Sequence[EpisodeTimes] | EpisodeSeries,
    *,
    as_of: float,
    monitoring_from: float | None,
    restart_at: float | None,
    settings: MonitoringSettings,
) -> UnrecoveredState:
    """Where ``unrecovered_chart`` stands after ``episodes`` as of ``as_of``, to resume from."""
    return _feed_unrecovered(
        _Run(settings.unrecovered_limit, restart_at, math.inf),
        episodes,
        as_of,
        monitoring_from,
        settings,
        None,
    )


def _feed_unrecovered(
    run: _Run,
    episodes: Sequence[EpisodeTimes] | EpisodeSeries,
    as_of: float,
    monitoring_from: float | None,
    s: MonitoringSettings,
    resume: UnrecoveredState | None,
) -> UnrecoveredState:
    """The unrecovered chart's loop over ``episodes``, from ``resume`` on."""
    if resume is None:
        # The earlier recovery times, log minutes in order: their 95th percentile is the wait.
        durations: list[float] = []
        seen = unrecovered = pending = 0
        p0: float | None = None
    else:
        durations = list(resume.durations)
        seen, unrecovered, pending, p0 = resume.seen, resume.unrecovered, 0, resume.p0
    scores: tuple[float, float, float] | None = None  # p0, and its two scores
    restart_ahead = run.restart_at is not None and not run.restarted
    min_reference, after_minutes = s.min_reference, s.unrecovered_after_minutes
    series = EpisodeSeries.of(episodes)
    moments = series.at
    for i, (onset, minutes, censored) in enumerate(
        zip(series.onsets, series.minutes, series.censored, strict=True)
    ):
        if restart_ahead and run.reached(onset):
            restart_ahead = False
            p0 = None  # re-learned from everything before the restart
        if censored:
            wait = (
                math.exp(percentile95(durations))
                if len(durations) >= min_reference
                else after_minutes
            )
            if as_of - onset < wait * 60:
                pending += 1
                continue  # pending: it may still return
        elif not (minutes > 0):
            continue  # a return before onset: unknown, not evidence
        x = 1 if censored else 0
        monitored = monitoring_from is not None and onset >= monitoring_from
        if p0 is None and monitored:
            # The usual share is fixed when monitoring (re)starts, so an episode added later
            # can only add evidence, never dilute it.
            p0 = (unrecovered + s.unrecovered_prior_share * s.unrecovered_prior_weight) / (
                seen + s.unrecovered_prior_weight
            )
        if p0 is not None and monitored:
            if scores is None or scores[0] != p0:  # p0 is fixed from the (re)start on
                p1 = min(p0 + s.unrecovered_shift, 0.99)
                scores = (p0, math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
            at = None if moments is None else moments[i]
            run.add(onset, at, None if x else minutes, scores[1] if x else scores[2], 0.0)
        seen += 1
        unrecovered += x
        if not x:
            # Kept in order as they come (an insertion, not a sort per censored episode).
            bisect.insort(durations, math.log(minutes))
    return UnrecoveredState(run.state(), tuple(durations), seen, unrecovered, p0, pending)
