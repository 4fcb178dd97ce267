"""Per-client metrics: a registry of small, named, pure definitions (DESIGN.md "Metrics").

Flow: service -> facts (``facts.py``) -> :func:`compute_client_metrics` -> schema. Every figure
that cannot be computed from the data is None, never 0.

Time conventions (all inputs must be timezone-aware; durations use epoch seconds, so they
stay right across daylight-saving changes whatever tzinfo the datetimes carry):

* **window** = ``[start, end)``: episodes by ``started_at``, observations by ``observed_at``.
* **trend window** = the ``trend_weeks`` (12) weeks ending at ``end``.
* **trailing window** = the ``trailing_window_days`` (28) days ending at ``end``
  (episodes per week, tolerated activation).
* **as of** = ``min(end, now)``: point-in-time figures (engagement, latest measures,
  burnout's last 14 days, stale data) use data strictly before it, so a past window shows
  the state back then. Exception: the safety flag always reads the latest PHQ-9 item 9
  answered before ``now``; choosing an earlier window never hides it.
* ``intake_date`` is taken as midnight UTC.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from practice_dashboard.domain.assignments import overdue_assessments
from practice_dashboard.domain.checkin_activity import checkin_activity
from practice_dashboard.domain.conventions import (
    DEFAULT_CONVENTION,
    ConventionCode,
    change_rule,
    change_verdict,
)
from practice_dashboard.domain.facts import (
    DUE_ATTENDANCE,
    HOMEWORK_SCORE,
    Attendance,
    ClientFacts,
    MeasureFact,
    SessionFact,
    Zone,
    minutes_between,
)
from practice_dashboard.domain.flags import (
    ClientSignals,
    Flag,
    MeasureChangeSignal,
    Thresholds,
    evaluate_client_flags,
    large_change,
)
from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    PHQ9,
    SRS,
    Instrument,
    MeasureScore,
    ReliableChangeCategory,
    score_of,
)
from practice_dashboard.domain.monitoring import (
    DurationState,
    EpisodeSeries,
    MonitoringChart,
    MonitoringSettings,
    UnrecoveredState,
    duration_chart,
    duration_state,
    unrecovered_chart,
    unrecovered_state,
)
from practice_dashboard.domain.stats import (
    DAYS_PER_WEEK,
    SECONDS_PER_DAY,
    FloatArray,
    Trend,
    median,
    percentile,
    sample_sd,
    trend_from_arrays,
)

T = TypeVar("T")

SECONDS_PER_WEEK: Final = SECONDS_PER_DAY * DAYS_PER_WEEK
BaselineStatus = Literal["better", "worse", "within_normal_range", "insufficient_data"]


# --------------------------------------------------------------------------------------------
# Results (field names are the JSON contract of GET /clients/{id}/metrics)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecoveryMetrics:
    median_minutes: float | None
    unrecovered_share: float | None
    trend: Trend


@dataclass(frozen=True, slots=True)
class RecognitionMetrics:
    median_minutes: float | None
    trend: Trend


@dataclass(frozen=True, slots=True)
class CapacityMetrics:
    mean_rating: float | None
    tolerated_activation: float | None
    time_in_window: float | None
    trend: Trend


@dataclass(frozen=True, slots=True)
class EngagementMetrics:
    attendance_rate: float | None
    days_since_last_attended: int | None
    homework_completion: float | None
    engagement_rating_delta: float | None


@dataclass(frozen=True, slots=True)
class MeasureSnapshot:
    administered_at: datetime
    total: float | None  # for a CBI scale entry: that scale's score
    severity: str | None


@dataclass(frozen=True, slots=True)
class MeasureProgress:
    """First (baseline) versus latest valid administration of one instrument (or CBI scale).

    ``reliable_change`` follows the practice's convention for the instrument (``convention``,
    DOMAIN.md §3.4); ``rci`` is the Jacobson-Truax index whenever reliability data exist.
    The last five fields describe the latest administration on its own.
    """

    instrument: str
    scale: str | None  # None for a total; the scale code for instruments without a total
    baseline: MeasureSnapshot
    latest: MeasureSnapshot
    change: float | None  # latest - baseline; None with a single administration
    rci: float | None
    reliable_change: ReliableChangeCategory | None
    clinically_significant: bool | None
    convention: ConventionCode | None  # None: no reliable-change rule for this measure
    minimum_reliable_change: float | None  # points a change must reach to be reliable
    unverified_constant: bool | None  # the threshold rests on a constant marked "verify"
    # Deterioration seen at the latest `deterioration_confirmations` (2) administrations,
    # each versus baseline, or a change of at least twice the reliable change (configurable);
    # False when not (yet) confirmed; None without a verdict.
    confirmed: bool | None
    positive_screen: bool | None  # clinical cutoff met (PHQ-9/GAD-7 >= 10, ORS < 25, CBI >= 50)
    concern: bool | None  # concern cutoff met (SRS alliance concern, as configured)
    prorated: bool  # the latest total was prorated over missing items
    item9_unanswered: bool | None  # PHQ-9 only: item 9 left unanswered (never taken as 0)


@dataclass(frozen=True, slots=True)
class BaselineComparison:
    """Current window versus the personal baseline for one quantity (lower is better)."""

    baseline_median: float | None
    normal_low: float | None  # baseline 25th percentile
    normal_high: float | None  # baseline 75th percentile
    baseline_sd: float | None
    smallest_worthwhile_change: float | None  # 0.5 x baseline SD
    baseline_n: int
    current_median: float | None
    current_n: int
    difference: float | None  # current - baseline median
    status: BaselineStatus


@dataclass(frozen=True, slots=True)
class PersonalBaseline:
    period_start: datetime
    # exclusive, except that it includes the 8th episode's onset; never later than `start`
    period_end: datetime
    recovery_minutes: BaselineComparison
    activation: BaselineComparison


@dataclass(frozen=True, slots=True)
class MonitoringCharts:
    """The person-specific monitoring charts behind ``deterioration`` (domain/monitoring.py)."""

    recovery: MonitoringChart
    unrecovered: MonitoringChart
    recognition: MonitoringChart


@dataclass(frozen=True, slots=True)
class ClientMetrics:
    start: datetime
    end: datetime
    episodes_per_week: float | None
    recovery: RecoveryMetrics
    recognition: RecognitionMetrics
    capacity: CapacityMetrics
    engagement: EngagementMetrics
    measures: tuple[MeasureProgress, ...]
    baseline: PersonalBaseline
    monitoring: MonitoringCharts
    flags: tuple[Flag, ...]


# --------------------------------------------------------------------------------------------
# Context: the facts as sorted numpy arrays, built once per call
# --------------------------------------------------------------------------------------------


def _ts(value: datetime, name: str = "datetime") -> float:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.timestamp()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _days(seconds: float) -> int:
    return math.floor(seconds / SECONDS_PER_DAY)


@dataclass(frozen=True, slots=True)
class MetricContext:
    """Everything a metric definition reads. Times are epoch seconds (float64)."""

    facts: ClientFacts
    thresholds: Thresholds
    start_dt: datetime
    end_dt: datetime
    now_dt: datetime
    start: float
    end: float
    now: float
    as_of: float
    intake: float
    ep_t: FloatArray  # onset, sorted
    ep_at: tuple[datetime, ...]  # the same onsets as UTC datetimes
    ep_recovery: FloatArray  # minutes; NaN = not back to baseline (censored) or invalid
    ep_censored: npt.NDArray[np.bool_]  # no baseline_at: not back to baseline, or unknown
    ep_recognition: FloatArray  # minutes; NaN = not recorded
    obs_t: FloatArray  # sorted
    obs_activation: FloatArray
    obs_capacity: FloatArray  # NaN = not rated
    obs_within: npt.NDArray[np.bool_]
    sessions: tuple[SessionFact, ...]  # sorted, strictly before as_of

    @staticmethod
    def build(
        facts: ClientFacts,
        *,
        start: datetime,
        end: datetime,
        now: datetime,
        thresholds: Thresholds,
    ) -> MetricContext:
        s, e, n = _ts(start, "start"), _ts(end, "end"), _ts(now, "now")
        if not s < e:
            raise ValueError("start must be before end")
        as_of = min(e, n)
        intake = datetime.combine(facts.intake_date, time(0), tzinfo=UTC).timestamp()

        eps = facts.episodes
        # One pass over the episodes (thousands in a long course): what recovery_minutes and
        # recognition_minutes give, without a property call each.
        onsets: list[float] = []
        recovered: list[float] = []
        recognised: list[float] = []
        nan = math.nan
        for x in eps:
            started = x.started_at
            onsets.append(_ts(started))
            m = minutes_between(started, x.baseline_at)
            recovered.append(nan if m is None else m)
            m = minutes_between(started, x.recognized_at)
            recognised.append(nan if m is None else m)
        ep_t = np.array(onsets, np.float64)
        recovery = np.array(recovered, np.float64)
        recognition = np.array(recognised, np.float64)
        censored = np.isnan(recovery)  # not back to baseline
        # A return before onset breaks the data rule started_at <= baseline_at: treat as
        # unknown rather than invent a duration.
        recovery[recovery < 0] = math.nan
        recognition[recognition < 0] = math.nan
        order = np.argsort(ep_t, kind="stable")
        ep_at = tuple(_utc(eps[i].started_at) for i in order.tolist())

        obs = facts.observations
        obs_t = np.fromiter((_ts(o.observed_at) for o in obs), np.float64, len(obs))
        act = np.fromiter((o.activation for o in obs), np.float64, len(obs))
        cap = np.fromiter(
            (math.nan if o.capacity is None else o.capacity for o in obs), np.float64, len(obs)
        )
        within = np.fromiter((o.zone == Zone.WITHIN for o in obs), np.bool_, len(obs))
        o_order = np.argsort(obs_t, kind="stable")

        session_ts = [(_ts(x.starts_at), i) for i, x in enumerate(facts.sessions)]
        session_ts.sort()  # by time, ties in their given order (as a stable sort by time)
        sessions = tuple(facts.sessions[i] for t, i in session_ts if t < as_of)
        return MetricContext(
            facts=facts,
            thresholds=thresholds,
            start_dt=start,
            end_dt=end,
            now_dt=now,
            start=s,
            end=e,
            now=n,
            as_of=as_of,
            intake=intake,
            ep_t=ep_t[order],
            ep_at=ep_at,
            ep_recovery=recovery[order],
            ep_censored=censored[order],
            ep_recognition=recognition[order],
            obs_t=obs_t[o_order],
            obs_activation=act[o_order],
            obs_capacity=cap[o_order],
            obs_within=within[o_order],
            sessions=sessions,
        )

    @property
    def trend_start(self) -> float:
        return self.end - self.thresholds.trend_weeks * SECONDS_PER_WEEK

    @property
    def trailing_start(self) -> float:
        return self.end - self.thresholds.trailing_window_days * SECONDS_PER_DAY

    def ep_slice(self, lo: float, hi: float) -> slice:
        """Episodes with lo <= onset < hi."""
        return _slice(self.ep_t, lo, hi)

    def obs_slice(self, lo: float, hi: float) -> slice:
        """Observations with lo <= observed_at < hi."""
        return _slice(self.obs_t, lo, hi)

    def trend(self, t: FloatArray, y: FloatArray, *, lower_is_better: bool) -> Trend:
        th = self.thresholds
        return trend_from_arrays(
            t,
            y,
            min_points=th.trend_min_points,
            alpha=th.trend_alpha,
            lower_is_better=lower_is_better,
        )


def _slice(times: FloatArray, lo: float, hi: float) -> slice:
    i = int(np.searchsorted(times, lo, side="left"))
    j = int(np.searchsorted(times, hi, side="left"))
    return slice(i, max(i, j))


def _finite(values: FloatArray) -> FloatArray:
    return values[np.isfinite(values)]


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricDefinition(Generic[T]):
    """One named metric: what it is called, its unit, its definition and a pure compute."""

    code: str
    display_name: str
    unit: str
    definition: str
    compute: Callable[[MetricContext], T]


def _episodes_per_week(ctx: MetricContext) -> float | None:
    before_end = ctx.ep_t[ctx.ep_t < ctx.end]
    if before_end.size == 0:
        return None  # episodes are not being logged for this client: unknown, not 0
    # Exposure starts at the window start, or at intake / the first episode if later.
    first = min(ctx.intake, float(before_end[0]))
    lo = max(ctx.trailing_start, first)
    exposure_weeks = (ctx.end - lo) / SECONDS_PER_WEEK
    if exposure_weeks < 1.0:
        return None  # under a week of exposure: no honest weekly rate
    count = ctx.ep_slice(lo, ctx.end)
    return float((count.stop - count.start) / exposure_weeks)


EPISODES_PER_WEEK: Final[MetricDefinition[float | None]] = MetricDefinition(
    code="episodes_per_week",
    display_name="Activation episodes per week",
    unit="episodes/week",
    definition=(
        "Episodes with onset in the trailing 28 days before `end`, divided by the weeks of "
        "that period the client was in care (from intake or first episode if later). None "
        "when the client has no episodes logged, or under one week of exposure."
    ),
    compute=_episodes_per_week,
)


def _recovery(ctx: MetricContext) -> RecoveryMetrics:
    in_window = ctx.ep_slice(ctx.start, ctx.end)
    recovered = _finite(ctx.ep_recovery[in_window])
    censored = ctx.ep_censored[in_window]
    sl = ctx.ep_slice(ctx.trend_start, ctx.end)
    t, y = ctx.ep_t[sl], ctx.ep_recovery[sl]
    ok = np.isfinite(y)
    return RecoveryMetrics(
        median_minutes=median(recovered),
        unrecovered_share=float(censored.mean()) if censored.size else None,
        trend=ctx.trend(t[ok], y[ok], lower_is_better=True),
    )


RECOVERY: Final[MetricDefinition[RecoveryMetrics]] = MetricDefinition(
    code="recovery",
    display_name="Recovery after activation",
    unit="minutes",
    definition=(
        "Median minutes from onset to return to baseline of the window's episodes that "
        "returned; unrecovered share = episodes with no return / all episodes in the window "
        "(censored episodes are counted there, never given a made-up duration). Trend: "
        "Theil-Sen slope (minutes per week) and Mann-Kendall p over the 12 weeks before "
        "`end`, recovered episodes only; lower is better."
    ),
    compute=_recovery,
)


def _recognition(ctx: MetricContext) -> RecognitionMetrics:
    window = _finite(ctx.ep_recognition[ctx.ep_slice(ctx.start, ctx.end)])
    sl = ctx.ep_slice(ctx.trend_start, ctx.end)
    t, y = ctx.ep_t[sl], ctx.ep_recognition[sl]
    ok = np.isfinite(y)
    return RecognitionMetrics(
        median_minutes=median(window),
        trend=ctx.trend(t[ok], y[ok], lower_is_better=True),
    )


RECOGNITION: Final[MetricDefinition[RecognitionMetrics]] = MetricDefinition(
    code="recognition",
    display_name="Recognition of activation",
    unit="minutes",
    definition=(
        "Median minutes from onset to recognition of the window's episodes with a recorded "
        "recognition; trend as for recovery (lower is better)."
    ),
    compute=_recognition,
)


def weekly_means(
    t: FloatArray, y: FloatArray, *, end: float, weeks: int
) -> tuple[FloatArray, FloatArray]:
    """Mean of finite y per week for ``weeks`` weeks ending at ``end``; weeks without data are
    left out. Returns (week midpoints in epoch seconds, means)."""
    lo = end - weeks * SECONDS_PER_WEEK
    keep = (t >= lo) & (t < end) & np.isfinite(y)
    idx = ((t[keep] - lo) // SECONDS_PER_WEEK).astype(np.int64)
    sums = np.bincount(idx, weights=y[keep], minlength=weeks)
    counts = np.bincount(idx, minlength=weeks)
    has = counts > 0
    mids = lo + (np.arange(weeks, dtype=np.float64) + 0.5) * SECONDS_PER_WEEK
    return mids[has], sums[has] / counts[has]


def _capacity(ctx: MetricContext) -> CapacityMetrics:
    th = ctx.thresholds
    sl = ctx.obs_slice(ctx.start, ctx.end)
    within = ctx.obs_within[sl]
    ratings = _finite(ctx.obs_capacity[sl])
    tsl = ctx.obs_slice(ctx.trailing_start, ctx.end)
    tolerated = ctx.obs_activation[tsl][ctx.obs_within[tsl]]
    wt, wy = weekly_means(ctx.obs_t, ctx.obs_capacity, end=ctx.end, weeks=th.trend_weeks)
    return CapacityMetrics(
        mean_rating=float(ratings.mean()) if ratings.size else None,
        tolerated_activation=percentile(tolerated, th.tolerated_activation_percentile),
        time_in_window=float(within.mean()) if within.size else None,
        trend=ctx.trend(wt, wy, lower_is_better=False),
    )


CAPACITY: Final[MetricDefinition[CapacityMetrics]] = MetricDefinition(
    code="capacity",
    display_name="Capacity (window of tolerance)",
    unit="rating 0-10 / activation 0-10 / share",
    definition=(
        "Mean capacity rating of the window's observations; tolerated activation = 90th "
        "percentile (linear interpolation) of activation among `within` observations in the "
        "28 days before `end`; time in window = share of the window's observations in zone "
        "`within`. Trend: Theil-Sen / Mann-Kendall over the WEEKLY MEAN CAPACITY RATING of "
        "the 12 weeks before `end` (weeks without ratings left out); higher is better."
    ),
    compute=_capacity,
)


@dataclass(frozen=True, slots=True)
class EngagementDetail:
    metrics: EngagementMetrics
    due_sessions: int
    missed_due_sessions: int
    homework_sessions: int
    latest_rating: float | None
    rating_median: float | None


def engagement_detail(ctx: MetricContext) -> EngagementDetail:
    """Engagement figures plus the counts behind them (for flags)."""
    th = ctx.thresholds
    sessions = ctx.sessions  # strictly before as_of
    due = [s for s in sessions if s.attendance in DUE_ATTENDANCE][-th.attendance_window :]
    attended = sum(1 for s in due if s.attendance == Attendance.ATTENDED)
    last_attended = next(
        (s for s in reversed(sessions) if s.attendance == Attendance.ATTENDED), None
    )
    # Homework set at one attended session is reported at the next attended session.
    homework: list[float] = []
    previous: SessionFact | None = None
    for s in sessions:
        if s.attendance != Attendance.ATTENDED:
            continue
        if previous is not None and previous.homework_assigned and s.homework_completed:
            homework.append(HOMEWORK_SCORE[s.homework_completed])
        previous = s
    homework = homework[-th.homework_window :]
    ratings = [float(s.engagement) for s in sessions if s.engagement is not None]
    latest_rating = rating_median = delta = None
    if len(ratings) >= th.engagement_rating_min_count:
        latest_rating = ratings[-1]
        rating_median = median(ratings)
        assert rating_median is not None
        delta = latest_rating - rating_median
    metrics = EngagementMetrics(
        attendance_rate=attended / len(due) if due else None,
        days_since_last_attended=(
            _days(ctx.as_of - _ts(last_attended.starts_at)) if last_attended else None
        ),
        homework_completion=sum(homework) / len(homework) if homework else None,
        engagement_rating_delta=delta,
    )
    return EngagementDetail(
        metrics=metrics,
        due_sessions=len(due),
        missed_due_sessions=len(due) - attended,
        homework_sessions=len(homework),
        latest_rating=latest_rating,
        rating_median=rating_median,
    )


ENGAGEMENT: Final[MetricDefinition[EngagementMetrics]] = MetricDefinition(
    code="engagement",
    display_name="Engagement",
    unit="share / days / share / rating points",
    definition=(
        "Sessions before `now` only; `scheduled` and `cancelled` are not due. Attendance "
        "rate = attended / (attended + no_show + late_cancel) over the last 6 due sessions. "
        "Days since the last attended session (whole days). Homework completion over the "
        "last 5 sessions with homework due (yes 1, partial 0.5, no 0): homework is due at an "
        "attended session when the previous attended session assigned it and completion was "
        "recorded. Engagement rating delta = latest rating - median of all the client's "
        "ratings (None with fewer than 3 ratings)."
    ),
    compute=lambda ctx: engagement_detail(ctx).metrics,
)


# --- measures ---------------------------------------------------------------------------


def _scored_measures(
    facts: ClientFacts, before: float
) -> dict[str, list[tuple[MeasureFact, MeasureScore]]]:
    by_code: dict[str, list[tuple[MeasureFact, MeasureScore]]] = {}
    for m in sorted(facts.measures, key=lambda m: _ts(m.administered_at)):
        if m.instrument in INSTRUMENTS and _ts(m.administered_at) < before:
            by_code.setdefault(m.instrument, []).append((m, score_of(m)))
    return by_code


@dataclass(frozen=True, slots=True)
class _Scored:
    """One valid administration's value for a measure (total or one CBI scale)."""

    fact: MeasureFact
    score: MeasureScore
    value: float
    severity: str | None


def _confirmed(
    instrument: Instrument,
    scale: str | None,
    series: Sequence[_Scored],
    convention: ConventionCode,
    th: Thresholds,
) -> bool:
    """The latest ``deterioration_confirmations`` administrations were each reliably worse
    than the first, or the latest change is so large that it confirms itself
    (``flags.large_change``)."""
    later = series[1:]
    baseline = series[0].value
    latest = change_verdict(instrument, baseline, series[-1].value, convention, scale=scale)
    if latest is None or latest.reliable_change != "deteriorated":
        return False
    if large_change(latest.change, latest.minimum_reliable_change, th):
        return True
    if len(later) < th.deterioration_confirmations:
        return False
    for row in later[-th.deterioration_confirmations :]:
        verdict = change_verdict(instrument, baseline, row.value, convention, scale=scale)
        if verdict is None or verdict.reliable_change != "deteriorated":
            return False
    return True


def _progress(
    instrument: Instrument,
    scale: str | None,
    series: Sequence[_Scored],
    th: Thresholds,
) -> MeasureProgress:
    first, last = series[0], series[-1]
    convention = th.convention_for(instrument.code)
    rule = change_rule(instrument, convention, scale=scale)
    verdict = (
        change_verdict(instrument, first.value, last.value, convention, scale=scale)
        if len(series) >= 2
        else None
    )
    latest = last.score
    if scale is None:
        positive_screen = latest.positive_screen
    else:
        positive_screen = latest.subscale_high.get(scale)
    concern_cutoff = th.concern_cutoff(instrument)
    items = last.fact.items
    item9_unanswered = None
    if instrument.safety_item is not None and items is not None:
        item9_unanswered = items[instrument.safety_item - 1] is None
    return MeasureProgress(
        instrument=instrument.code,
        scale=scale,
        baseline=MeasureSnapshot(first.fact.administered_at, first.value, first.severity),
        latest=MeasureSnapshot(last.fact.administered_at, last.value, last.severity),
        change=last.value - first.value if len(series) >= 2 else None,
        rci=verdict.rci if verdict is not None else None,
        reliable_change=verdict.reliable_change if verdict is not None else None,
        clinically_significant=verdict.clinically_significant if verdict is not None else None,
        convention=rule.convention if rule is not None else None,
        minimum_reliable_change=rule.minimum_reliable_change if rule is not None else None,
        unverified_constant=rule.unverified_constant if rule is not None else None,
        confirmed=(
            _confirmed(instrument, scale, series, convention, th) if verdict is not None else None
        ),
        positive_screen=positive_screen,
        concern=concern_cutoff.met(last.value) if concern_cutoff is not None else None,
        prorated=latest.prorated,
        item9_unanswered=item9_unanswered,
    )


def measure_progress(ctx: MetricContext) -> tuple[MeasureProgress, ...]:
    """Per instrument (per scale for the CBI): first vs latest valid administration."""
    scored = _scored_measures(ctx.facts, ctx.as_of)
    out: list[MeasureProgress] = []
    for code, instrument in INSTRUMENTS.items():
        rows = [(m, s) for m, s in scored.get(code, []) if s.valid]
        if not rows:
            continue
        if instrument.has_total:
            totals = [_Scored(m, s, s.total, s.severity) for m, s in rows if s.total is not None]
            if totals:
                out.append(_progress(instrument, None, totals, ctx.thresholds))
            continue
        for sub in instrument.subscales:
            values = [
                _Scored(m, s, v, None)
                for m, s in rows
                if (v := s.subscales.get(sub.code)) is not None
            ]
            if values:
                out.append(_progress(instrument, sub.code, values, ctx.thresholds))
    return tuple(out)


MEASURES: Final[MetricDefinition[tuple[MeasureProgress, ...]]] = MetricDefinition(
    code="measures",
    display_name="Measure progress",
    unit="instrument units",
    definition=(
        "Per instrument, first (baseline) versus latest valid administration before the "
        "as-of time: change, Reliable Change Index (Jacobson & Truax 1991, z = 1.96), "
        "reliable improvement/deterioration by the practice's convention for the instrument "
        "(Jacobson-Truax, or NHS Talking Therapies' 6 PHQ-9 / 4 GAD-7 points) and clinically "
        "significant change where the instrument has a cutoff; confirmed = the latest 2 "
        "administrations each reliably worse than the first. The latest administration's "
        "positive screen, concern, prorating and (PHQ-9) unanswered item 9. Instruments "
        "without a total (CBI) get one entry per scale."
    ),
    compute=measure_progress,
)


# --- personal baseline --------------------------------------------------------------------


def _compare(baseline: FloatArray, current: FloatArray, th: Thresholds) -> BaselineComparison:
    """Lower is better for both compared quantities (recovery minutes, activation)."""
    n0, n1 = int(baseline.size), int(current.size)
    enough = n0 >= th.baseline_min_values
    b_med = median(baseline) if enough else None
    sd = sample_sd(baseline) if enough else None
    swc = th.smallest_worthwhile_change_sd * sd if sd is not None else None
    cur = median(current)
    diff = cur - b_med if cur is not None and b_med is not None else None
    status: BaselineStatus = "insufficient_data"
    if diff is not None and swc is not None:
        if abs(diff) <= swc:
            status = "within_normal_range"
        else:
            status = "better" if diff < 0 else "worse"
    return BaselineComparison(
        baseline_median=b_med,
        normal_low=percentile(baseline, 25) if enough else None,
        normal_high=percentile(baseline, 75) if enough else None,
        baseline_sd=sd,
        smallest_worthwhile_change=swc,
        baseline_n=n0,
        current_median=cur,
        current_n=n1,
        difference=diff,
        status=status,
    )


def _baseline_bounds(ctx: MetricContext) -> tuple[float, float]:
    """(day 28 after intake, onset of the 8th episode since intake or -inf)."""
    th = ctx.thresholds
    day_end = ctx.intake + th.baseline_days * SECONDS_PER_DAY
    first = int(np.searchsorted(ctx.ep_t, ctx.intake, side="left"))
    nth = first + th.baseline_episodes - 1
    eighth = float(ctx.ep_t[nth]) if nth < ctx.ep_t.size else -math.inf
    return day_end, eighth


def personal_baseline(ctx: MetricContext) -> PersonalBaseline:
    """The client's own first 28 days in care, extended to the 8th episode if that is later."""
    th = ctx.thresholds
    day_end, eighth = _baseline_bounds(ctx)

    # The baseline never overlaps the window it is compared with: it stops at `start`.
    def in_period(t: FloatArray) -> npt.NDArray[np.bool_]:
        return (t >= ctx.intake) & ((t < day_end) | (t <= eighth)) & (t < ctx.start)

    rec_base = _finite(ctx.ep_recovery[in_period(ctx.ep_t)])
    rec_now = _finite(ctx.ep_recovery[ctx.ep_slice(ctx.start, ctx.end)])
    act_base = ctx.obs_activation[in_period(ctx.obs_t)]
    act_now = ctx.obs_activation[ctx.obs_slice(ctx.start, ctx.end)]
    return PersonalBaseline(
        period_start=datetime.fromtimestamp(ctx.intake, UTC),
        period_end=datetime.fromtimestamp(
            max(ctx.intake, min(max(day_end, eighth), ctx.start)), UTC
        ),
        recovery_minutes=_compare(rec_base, rec_now, th),
        activation=_compare(act_base, act_now, th),
    )


BASELINE: Final[MetricDefinition[PersonalBaseline]] = MetricDefinition(
    code="baseline",
    display_name="Personal baseline",
    unit="minutes / activation 0-10",
    definition=(
        "Baseline period = from intake to the later of day 28 and the onset of the 8th "
        "episode (whichever gives more data), but never into the compared window: it stops "
        "at `start`. Baseline median, normal range = interquartile "
        "range (25th-75th percentile) and sample SD of recovery minutes and of observation "
        "activation (at least 5 values). The window's median is compared with the baseline "
        "median: a difference larger than the smallest worthwhile change (0.5 x baseline SD) "
        "is 'better' (lower) or 'worse' (higher), otherwise 'within_normal_range'."
    ),
    compute=personal_baseline,
)


# --- monitoring charts ------------------------------------------------------------------


def monitoring_settings(th: Thresholds) -> MonitoringSettings:
    """The chart settings in force: the practice's thresholds."""
    return MonitoringSettings(
        allowance=th.monitoring_allowance,
        limit=th.monitoring_limit,
        winsor=th.monitoring_winsor,
        min_reference=th.monitoring_min_reference,
        max_autocorrelation=th.monitoring_max_autocorrelation,
        autocorrelation_window=th.monitoring_autocorrelation_window,
        unrecovered_limit=th.unrecovered_limit,
        unrecovered_prior_share=th.unrecovered_prior_share,
        unrecovered_prior_weight=th.unrecovered_prior_weight,
        unrecovered_shift=th.unrecovered_shift,
        unrecovered_after_minutes=th.unrecovered_after_minutes,
    )


@dataclass(frozen=True, slots=True)
class MonitoringCheckpoint:
    """The three monitoring charts after every episode with onset before ``cut`` (epoch
    seconds), as of ``as_of``: a later view goes on from here with the episodes from ``cut``
    on and comes to the same charts as from intake, so it need not read the years before.

    It holds while the episodes before ``cut`` are unchanged (the caller's to know) and ``key``
    (the chart settings, intake, the end of the baseline period and the restart) is the same.
    It is only taken when nothing before ``cut`` can read differently later: no return or
    recognition recorded after ``as_of``, no open episode still pending.
    """

    cut: float
    as_of: float
    key: tuple[object, ...]
    recovery: DurationState
    unrecovered: UnrecoveredState
    recognition: DurationState


class StaleCheckpoint(ValueError):
    """A checkpoint taken under other settings, another baseline end or another restart, or
    as of a later time than the view's."""


@dataclass(frozen=True, slots=True)
class _Course:
    """What the charts read: the episodes known by the as-of time, from intake."""

    key: tuple[object, ...]
    settings: MonitoringSettings
    start: float  # monitoring from (the end of the baseline period)
    restart: float | None
    onsets: list[float]
    recovery: EpisodeSeries
    recognition: EpisodeSeries
    resolved: FloatArray  # per episode, the latest recorded return or recognition (or onset)


def _course(ctx: MetricContext, restart_at: datetime | None) -> _Course:
    settings = monitoring_settings(ctx.thresholds)
    known = ctx.ep_slice(ctx.intake, ctx.as_of)
    onset = ctx.ep_t[known]
    recovery = ctx.ep_recovery[known]
    recognition = ctx.ep_recognition[known]
    returned = onset + np.where(np.isfinite(recovery), recovery, 0.0) * 60
    noticed = onset + np.where(np.isfinite(recognition), recognition, 0.0) * 60
    returned_later = np.isfinite(recovery) & (onset + recovery * 60 > ctx.as_of)
    censored = ctx.ep_censored[known] | returned_later
    recovery = np.where(returned_later, math.nan, recovery)
    recognition = np.where(onset + recognition * 60 > ctx.as_of, math.nan, recognition)
    day_end, eighth = _baseline_bounds(ctx)
    # Monitoring starts after the baseline period; the 8th episode itself is baseline.
    start = float(max(day_end, np.nextafter(eighth, math.inf)))
    # The charts restart from the later of the standing acknowledgement and the latest care
    # change note known at the as-of time.
    restarts = [_ts(c) for c in ctx.facts.care_changes if _ts(c) < ctx.as_of]
    if restart_at is not None:
        restarts.append(_ts(restart_at, "restart_at"))
    restart = max(restarts) if restarts else None
    onsets, at = onset.tolist(), ctx.ep_at[known]
    return _Course(
        key=(settings, ctx.intake, start, restart),
        settings=settings,
        start=start,
        restart=restart,
        onsets=onsets,
        recovery=EpisodeSeries(onsets, recovery.tolist(), censored.tolist(), at),
        recognition=EpisodeSeries(onsets, recognition.tolist(), [False] * len(onsets), at),
        resolved=np.maximum(returned, noticed),
    )


def _from(series: EpisodeSeries, i: int, j: int | None = None) -> EpisodeSeries:
    if i == 0 and j is None:
        return series  # the whole course: no copy (thousands of episodes on a long course)
    at = None if series.at is None else series.at[i:j]
    return EpisodeSeries(series.onsets[i:j], series.minutes[i:j], series.censored[i:j], at)


def monitoring_charts(
    ctx: MetricContext,
    *,
    restart_at: datetime | None,
    points_from: datetime | None = None,
    resume: MonitoringCheckpoint | None = None,
    checkpoint_at: datetime | None = None,
) -> tuple[MonitoringCharts, MonitoringCheckpoint | None]:
    """The charts up to the as-of time, from intake: a return or a recognition recorded
    after the as-of time was not known then (the episode is still open, or unrecorded).
    ``points_from``: the charts keep their points from then on (None: all of them).

    ``resume``: go on from a checkpoint with the episodes from its cut (the facts need hold no
    episode between the baseline period and the cut). ``checkpoint_at``: also take one at
    that cut, from the same pass (None when it could not hold, see MonitoringCheckpoint).
    Either needs ``points_from`` at or after the cut: no point is kept before it.
    """
    course = _course(ctx, restart_at)
    keep = None if points_from is None else _ts(points_from, "points_from")
    states = {"monitoring_from": course.start, "restart_at": course.restart}
    common: dict[str, Any] = {**states, "settings": course.settings, "points_from": keep}
    recovery, recognition, as_of = course.recovery, course.recognition, ctx.as_of
    # The charts go on from their states at a cut (a checkpoint's, or one taken now in the
    # same pass: the same charts), or run from intake.
    i, taken = 0, None
    begun: tuple[DurationState, UnrecoveredState, DurationState] | None = None
    cut = None if checkpoint_at is None else _ts(checkpoint_at, "checkpoint_at")
    if resume is not None:
        if resume.key != course.key or as_of < resume.as_of:
            raise StaleCheckpoint("the monitoring checkpoint does not hold for this view")
        if keep is None or keep < resume.cut:
            raise ValueError("a resumed chart keeps no point before its checkpoint's cut")
        i = bisect.bisect_left(course.onsets, resume.cut)
        begun = (resume.recovery, resume.unrecovered, resume.recognition)
    elif cut is not None and keep is not None and cut <= keep and cut <= as_of:
        i = bisect.bisect_left(course.onsets, cut)
        settings = course.settings
        begun = (
            duration_state(_from(recovery, 0, i), settings=settings, **states),
            unrecovered_state(_from(recovery, 0, i), as_of=as_of, settings=settings, **states),
            duration_state(_from(recognition, 0, i), settings=settings, **states),
        )
        # Nothing before the cut may read differently later: no return or recognition
        # recorded after the as-of time, no episode still pending (the unrecovered chart
        # then reads them all).
        if not begun[1].pending and not (i and float(course.resolved[:i].max()) > as_of):
            taken = MonitoringCheckpoint(cut, as_of, course.key, *begun)
    recovery_from, unrecovered_from, recognition_from = begun or (None, None, None)
    pending = unrecovered_from is not None and unrecovered_from.pending
    charts = MonitoringCharts(
        recovery=duration_chart("recovery", _from(recovery, i), resume=recovery_from, **common),
        unrecovered=unrecovered_chart(
            recovery if pending else _from(recovery, i),
            as_of=as_of,
            resume=None if pending else unrecovered_from,
            **common,
        ),
        recognition=duration_chart(
            "recognition", _from(recognition, i), resume=recognition_from, **common
        ),
    )
    return charts, taken


METRICS: Final[tuple[MetricDefinition[Any], ...]] = (
    EPISODES_PER_WEEK,
    RECOVERY,
    RECOGNITION,
    CAPACITY,
    ENGAGEMENT,
    MEASURES,
    BASELINE,
)


# --------------------------------------------------------------------------------------------
# Flag signals and the top-level entry point
# --------------------------------------------------------------------------------------------


def client_signals(
    ctx: MetricContext,
    *,
    engagement: EngagementDetail,
    measures: Sequence[MeasureProgress],
    charts: MonitoringCharts,
) -> ClientSignals:
    """The plain figures the client flags are computed from."""
    th, facts = ctx.thresholds, ctx.facts
    # Safety: the latest answered PHQ-9 item 9 before `now`, whatever the window.
    item9: int | None = None
    item9_at: datetime | None = None
    for m in sorted(facts.measures, key=lambda m: _ts(m.administered_at), reverse=True):
        if m.instrument == "phq9" and _ts(m.administered_at) < ctx.now:
            value = score_of(m).safety_item_score
            if value is not None:
                item9, item9_at = value, m.administered_at
                break
    cbi_personal = cbi_work = None
    cbi_at: datetime | None = None
    for m in sorted(facts.measures, key=lambda m: _ts(m.administered_at), reverse=True):
        if m.instrument == "cbi" and _ts(m.administered_at) < ctx.as_of:
            score = score_of(m)
            if score.valid:
                cbi_personal = score.subscales.get("personal")
                cbi_work = score.subscales.get("work_related")
                cbi_at = m.administered_at
                break
    recent = ctx.obs_slice(ctx.as_of - th.burnout_window_days * SECONDS_PER_DAY, ctx.as_of)
    recent_act = ctx.obs_activation[recent]
    recent_within = ctx.obs_within[recent]
    last_ep = ctx.ep_t[ctx.ep_t < ctx.as_of]
    last_obs = ctx.obs_t[ctx.obs_t < ctx.as_of]
    known_last = _ts(facts.last_data_at) if facts.last_data_at is not None else None
    last_data = max(
        [ctx.intake]
        + ([float(last_ep[-1])] if last_ep.size else [])
        + ([float(last_obs[-1])] if last_obs.size else [])
        + ([known_last] if known_last is not None and known_last < ctx.as_of else [])
    )
    deteriorations = tuple(
        MeasureChangeSignal(
            instrument=p.instrument,
            scale=p.scale,
            label=INSTRUMENTS[p.instrument].label(p.scale),
            change=p.change if p.change is not None else math.nan,
            minimum_reliable_change=(
                p.minimum_reliable_change if p.minimum_reliable_change is not None else math.nan
            ),
            confirmed=bool(p.confirmed),
            convention=p.convention or DEFAULT_CONVENTION,
            unverified_constant=bool(p.unverified_constant),
        )
        for p in measures
        if p.reliable_change == "deteriorated"
    )
    # The check-in link: questionnaires overdue on the practice's calendar day of `as_of` (the
    # last moment before it: a window ending at midnight reads that day), and silence.
    as_of_dt = datetime.fromtimestamp(ctx.as_of, UTC)
    today = (as_of_dt - timedelta(microseconds=1)).astimezone(facts.timezone).date()
    overdue = overdue_assessments(
        facts.assignments,
        (m for m in facts.measures if _ts(m.administered_at) < ctx.as_of),
        today=today,
        grace_days=th.assessment_grace_days,
        zone=facts.timezone,
    )
    checkins = checkin_activity(
        facts, as_of_dt, today=today, window_days=th.checkins_usual_window_days
    )
    srs_total, srs_at = _latest_srs(ctx)
    return ClientSignals(
        status=facts.status,
        session_cadence_days=facts.session_cadence_days,
        due_sessions=engagement.due_sessions,
        missed_due_sessions=engagement.missed_due_sessions,
        days_since_last_attended=engagement.metrics.days_since_last_attended,
        homework_completion=engagement.metrics.homework_completion,
        homework_sessions=engagement.homework_sessions,
        latest_engagement_rating=engagement.latest_rating,
        engagement_rating_median=engagement.rating_median,
        overdue_assessments=overdue,
        days_since_last_checkin=checkins.days_since_last,
        usual_checkin_days=checkins.usual_days,
        latest_phq9_item9=item9,
        latest_phq9_at=item9_at,
        phq9_item9_unanswered_at=_phq9_item9_unanswered_at(ctx),
        latest_srs_total=srs_total,
        latest_srs_at=srs_at,
        latest_cbi_personal=cbi_personal,
        latest_cbi_work_related=cbi_work,
        latest_cbi_at=cbi_at,
        recent_activation_median=median(recent_act),
        recent_time_in_window=float(recent_within.mean()) if recent_within.size else None,
        recent_observations=int(recent_act.size),
        deteriorations=deteriorations,
        recovery_chart=charts.recovery,
        unrecovered_chart=charts.unrecovered,
        recognition_chart=charts.recognition,
        as_of=datetime.fromtimestamp(ctx.as_of, UTC),
        days_since_last_data=_days(ctx.as_of - last_data) if ctx.as_of >= last_data else 0,
    )


def _phq9_item9_unanswered_at(ctx: MetricContext) -> datetime | None:
    """When the latest PHQ-9 before `now` left item 9 unanswered (None otherwise)."""
    phq9 = [
        m
        for m in ctx.facts.measures
        if m.instrument == PHQ9.code and _ts(m.administered_at) < ctx.now
    ]
    if not phq9:
        return None
    latest = max(phq9, key=lambda m: _ts(m.administered_at))
    assert PHQ9.safety_item is not None
    index = PHQ9.safety_item - 1
    items = latest.items
    if items is not None and index < len(items) and items[index] is None:
        return latest.administered_at
    return None


def _latest_srs(ctx: MetricContext) -> tuple[float | None, datetime | None]:
    """The latest valid SRS total before the as-of time, and when it was given."""
    for m in sorted(ctx.facts.measures, key=lambda m: _ts(m.administered_at), reverse=True):
        if m.instrument == SRS.code and _ts(m.administered_at) < ctx.as_of:
            score = score_of(m)
            if score.valid and score.total is not None:
                return score.total, m.administered_at
    return None, None


def compute_client_metrics(
    facts: ClientFacts,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    thresholds: Thresholds,
    monitoring_restart_at: datetime | None = None,
    monitoring_points_from: datetime | None = None,
) -> ClientMetrics:
    """All metrics and flags for one client (see the module docstring for time windows).

    ``monitoring_restart_at``: when ``deterioration`` was last acknowledged (the monitoring
    charts restart from zero then, or from a later care change note, DOMAIN.md §5.5).
    ``monitoring_points_from``: the monitoring charts keep their points from then on (a view
    that draws a period, or ``end`` for none: flags and figures need no points); None: every
    point since monitoring began. Nothing else depends on it. Facts read from a monitoring
    checkpoint's cut go through ``client_metrics_and_checkpoint``, which takes it.
    """
    return client_metrics_and_checkpoint(
        facts,
        start=start,
        end=end,
        now=now,
        thresholds=thresholds,
        monitoring_restart_at=monitoring_restart_at,
        monitoring_points_from=monitoring_points_from,
    )[0]


def client_metrics_and_checkpoint(
    facts: ClientFacts,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    thresholds: Thresholds,
    monitoring_restart_at: datetime | None = None,
    monitoring_points_from: datetime | None = None,
    monitoring_resume: MonitoringCheckpoint | None = None,
    checkpoint_at: datetime | None = None,
) -> tuple[ClientMetrics, MonitoringCheckpoint | None]:
    """``compute_client_metrics``, and the monitoring checkpoint at ``checkpoint_at`` taken
    from the same pass (``monitoring_charts``; None when none is asked for or it could not
    hold). ``monitoring_resume``: the charts go on from this checkpoint; facts read from its
    cut (``facts.episodes_from``) need it, and it must hold (else ``StaleCheckpoint``)."""
    if facts.episodes_from is not None and (
        monitoring_resume is None or monitoring_resume.cut != _ts(facts.episodes_from)
    ):
        raise ValueError("facts without the episodes before their cut need its checkpoint")
    ctx = MetricContext.build(facts, start=start, end=end, now=now, thresholds=thresholds)
    recovery = RECOVERY.compute(ctx)
    engagement = engagement_detail(ctx)
    measures = MEASURES.compute(ctx)
    charts, checkpoint = monitoring_charts(
        ctx,
        restart_at=monitoring_restart_at,
        points_from=monitoring_points_from,
        resume=monitoring_resume,
        checkpoint_at=checkpoint_at,
    )
    signals = client_signals(ctx, engagement=engagement, measures=measures, charts=charts)
    metrics = ClientMetrics(
        start=start,
        end=end,
        episodes_per_week=EPISODES_PER_WEEK.compute(ctx),
        recovery=recovery,
        recognition=RECOGNITION.compute(ctx),
        capacity=CAPACITY.compute(ctx),
        engagement=engagement.metrics,
        measures=measures,
        baseline=BASELINE.compute(ctx),
        monitoring=charts,
        flags=evaluate_client_flags(signals, thresholds),
    )
    return metrics, checkpoint


def trailing_window(end: datetime, days: int) -> tuple[datetime, datetime]:
    """``(end - days, end)``: a convenience for callers choosing a default window."""
    return end - timedelta(days=days), end
