"""Progress summaries and supervision packets: the figures for a chosen period.

A **progress summary** is one client over a period ``[start, end)``: attendance and
engagement, recovery / recognition / capacity against the personal baseline with their
direction, measure progress (change, RCI, clinical significance), flags with reasons and the
period's annotations. A **supervision packet** is the same headline figures for every client
of one supervisee (or of all supervisees), with each practitioner's load.

Definitions follow DESIGN.md "Metrics". Counts and medians are given for the whole period;
the domain's metrics of the **last 28 days to the period's end** give the comparison with the
personal baseline (which never overlaps those 28 days, so a period that starts at intake still
compares its end with its start), the trends (its last 12 weeks), engagement, measure
progress and flags, all as of the period's end, exactly as the client page computes them for
"now". Figures the domain has no baseline rule for are shown beside their early-in-care values
without a verdict. A figure that cannot be computed is None, never 0.

These functions only read. Callers record the export with :func:`audit_summary_export` /
:func:`audit_packet_export` once the file was made, so a failed export leaves no trail of a
disclosure that did not happen. A fixed number of queries whatever the data: one per record
kind, per batch of clients for a packet.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Final, Literal

import numpy as np
from sqlalchemy import func, or_, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import (
    DUE_ATTENDANCE,
    HOMEWORK_SCORE,
    Attendance,
    ClientFacts,
    Zone,
)
from practice_dashboard.domain.flags import Flag, Thresholds, flag_name, flag_sort_key
from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    RCI_Z,
    Instrument,
    Reliability,
    rci_components,
    score_measure,
)
from practice_dashboard.domain.labels import RELIABLE_CHANGE_WORDS
from practice_dashboard.domain.metrics import (
    BaselineComparison,
    ClientMetrics,
    MeasureProgress,
    MeasureSnapshot,
    compute_client_metrics,
)
from practice_dashboard.domain.stats import Trend, percentile
from practice_dashboard.errors import Forbidden, Invalid, NotFound
from practice_dashboard.models import Annotation, Client, Episode, Supervision, User
from practice_dashboard.models.enums import ClientStatus, Role
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics.acknowledgements import (
    flag_views,
    latest_acknowledgements,
)
from practice_dashboard.services.analytics.caseload import practitioner_loads
from practice_dashboard.services.analytics.client_view import (
    DEFAULT_CHART_PERIOD,
    AnnotationMark,
    ClientView,
    EpisodeDetail,
)
from practice_dashboard.services.analytics.fact_loading import load_facts
from practice_dashboard.services.analytics.metrics import DEFAULT_PERIOD, MAX_PERIOD
from practice_dashboard.services.audit import Actor

#: Clients whose records are read at once for a packet (bounds memory; a few queries each).
PACKET_BATCH: Final = 200

Comparison = Literal["better", "worse", "within_normal_range", "insufficient_data"]


# --------------------------------------------------------------------------------------------
# Period
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """``[start, end)`` in UTC, with the local dates it covers (both inclusive)."""

    start: datetime
    end: datetime
    start_date: date
    end_date: date

    @property
    def label(self) -> str:
        return f"{_day(self.start_date)} to {_day(self.end_date)}"

    @property
    def slug(self) -> str:
        return f"{self.start_date.isoformat()}_to_{self.end_date.isoformat()}"


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def _bound(value: str | None, tz: tzinfo, *, is_end: bool) -> datetime | None:
    """A local date (a whole day; an end date is inclusive) or an ISO 8601 datetime."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) == 10:
        day = date.fromisoformat(value)
        if is_end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(UTC)


def parse_period(
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    tz: tzinfo,
    default_length: timedelta = DEFAULT_CHART_PERIOD,
) -> ReportPeriod:
    """The period asked for: dates like 2026-01-31 (end inclusive) or ISO datetimes.

    Defaults to the last 6 months; an end in the future stops at now. An unreadable, empty or
    over-long period is a 422 naming the field, never a silent substitute: an export must be
    of the period that was asked for.
    """
    problems: list[tuple[tuple[str], str]] = []
    bounds: dict[str, datetime | None] = {}
    for name, value in (("start", start), ("end", end)):
        try:
            bounds[name] = _bound(value, tz, is_end=name == "end")
        except (ValueError, OverflowError):  # 2026-02-30; 9999-12-31 + 1 day
            bounds[name] = None
            problems.append(((name,), "use a date like 2026-01-31 or an ISO 8601 time"))
    if problems:
        raise Invalid(problems, location="query")
    e = min(bounds["end"] or now, now)
    s = bounds["start"] or e - default_length
    if s >= e:
        raise Invalid(
            [(("start",), "the start must be before the end, and not in the future")],
            location="query",
        )
    if e - s > MAX_PERIOD:
        raise Invalid([(("start",), "the period may be at most 10 years")], location="query")
    return ReportPeriod(
        start=s,
        end=e,
        start_date=s.astimezone(tz).date(),
        end_date=(e - timedelta(microseconds=1)).astimezone(tz).date(),
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttendanceFigures:
    """Sessions in the period (up to now), and engagement as of the period's end."""

    attended: int
    no_show: int
    late_cancel: int
    cancelled: int
    not_recorded: int  # past sessions still "scheduled"
    rate: float | None  # attended / (attended + no-show + late cancel) in the period
    engagement_mean: float | None  # mean practitioner rating (0-10) in the period
    engagement_n: int
    homework_rate: float | None  # reported homework done (yes 1, partial 0.5, no 0)
    homework_n: int
    # DESIGN.md engagement metrics as of the period's end (the domain's definitions)
    recent_rate: float | None  # last 6 due sessions
    recent_due: int
    days_since_last_attended: int | None
    homework_recent: float | None  # last 5 sessions with homework due
    rating_delta: float | None  # latest rating - the client's median
    cadence_days: int

    @property
    def due(self) -> int:
        return self.attended + self.no_show + self.late_cancel


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


@dataclass(frozen=True, slots=True)
class MeasureRow:
    instrument: str
    name: str  # "PHQ-9" or "CBI work-related burnout"
    lower_is_better: bool
    baseline: MeasureSnapshot
    baseline_band: str | None
    latest: MeasureSnapshot
    latest_band: str | None
    change: float | None
    rci: float | None
    reliable_change: str | None  # improved / deteriorated / no_reliable_change
    clinically_significant: bool | None  # None: no cutoff (or no second score)
    minimum_reliable_change: float | None
    anchor: float | None  # published reliable-change anchor, shown beside the RCI
    cutoff: str | None  # "positive screen (>= 10)"
    reliability_note: str | None  # citation; "(verify)" when the registry marks it so
    administrations_in_period: int


@dataclass(frozen=True, slots=True)
class FlagLine:
    code: str
    name: str
    level: str
    reasons: tuple[str, ...]
    evidence: tuple[tuple[str, Any], ...]
    suggestion: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    acknowledgement_note: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_by is not None


@dataclass(frozen=True, slots=True)
class ClientFigures:
    """What both the summary and the packet show for one client."""

    client: Client
    practitioner_id: uuid.UUID
    practitioner_name: str
    # The domain's metrics of the 28 days to the period's end: the baseline comparison,
    # trends (12 weeks), engagement, measure progress and flags, all as of the period's end.
    metrics: ClientMetrics
    baseline_period: tuple[datetime, datetime] | None  # None: no records early in care
    attendance: AttendanceFigures
    change: tuple[ChangeRow, ...]
    measures: tuple[MeasureRow, ...]
    flags: tuple[FlagLine, ...]
    episodes_in_period: int
    observations_in_period: int

    def row(self, key: str) -> ChangeRow:
        return next(r for r in self.change if r.key == key)


@dataclass(frozen=True, slots=True)
class ProgressSummary:
    figures: ClientFigures
    period: ReportPeriod
    generated_at: datetime
    generated_by: str
    view: ClientView  # for the charts: the period's records, metrics of its last 28 days
    annotations: tuple[AnnotationMark, ...]

    @property
    def client(self) -> Client:
        return self.figures.client


@dataclass(frozen=True, slots=True)
class PractitionerSection:
    practitioner_id: uuid.UUID
    full_name: str
    role: str
    load: dict[str, Any]  # caseload.practitioner_loads() entry (as of now)
    clients: tuple[ClientFigures, ...]


@dataclass(frozen=True, slots=True)
class SupervisionPacket:
    supervisor: User
    supervisee: User | None  # None = all supervisees
    period: ReportPeriod
    generated_at: datetime
    practitioners: tuple[PractitionerSection, ...]

    @property
    def clients(self) -> list[ClientFigures]:
        return [c for p in self.practitioners for c in p.clients]


# --------------------------------------------------------------------------------------------
# Figures for one client
# --------------------------------------------------------------------------------------------


def _ts(value: datetime) -> float:
    return value.timestamp()


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def _attendance(
    facts: ClientFacts, metrics: ClientMetrics, period: ReportPeriod, now: datetime, th: Thresholds
) -> AttendanceFigures:
    lo, hi = _ts(period.start), _ts(min(period.end, now))
    sessions = [s for s in facts.sessions if lo <= _ts(s.starts_at) < hi]
    counts = {a: sum(1 for s in sessions if s.attendance == a) for a in Attendance}
    due = sum(counts[a] for a in DUE_ATTENDANCE)
    ratings = [float(s.engagement) for s in sessions if s.engagement is not None]
    homework = [
        HOMEWORK_SCORE[s.homework_completed]
        for s in sessions
        if s.attendance == Attendance.ATTENDED and s.homework_completed is not None
    ]
    as_of = _ts(min(period.end, now))
    recent_due = [
        s for s in facts.sessions if _ts(s.starts_at) < as_of and s.attendance in DUE_ATTENDANCE
    ][-th.attendance_window :]
    e = metrics.engagement
    return AttendanceFigures(
        attended=counts[Attendance.ATTENDED],
        no_show=counts[Attendance.NO_SHOW],
        late_cancel=counts[Attendance.LATE_CANCEL],
        cancelled=counts[Attendance.CANCELLED],
        not_recorded=counts[Attendance.SCHEDULED],
        rate=counts[Attendance.ATTENDED] / due if due else None,
        engagement_mean=sum(ratings) / len(ratings) if ratings else None,
        engagement_n=len(ratings),
        homework_rate=sum(homework) / len(homework) if homework else None,
        homework_n=len(homework),
        recent_rate=e.attendance_rate,
        recent_due=len(recent_due),
        days_since_last_attended=e.days_since_last_attended,
        homework_recent=e.homework_completion,
        rating_delta=e.engagement_rating_delta,
        cadence_days=facts.session_cadence_days,
    )


def _baseline_period(metrics: ClientMetrics) -> tuple[datetime, datetime] | None:
    b = metrics.baseline
    return (b.period_start, b.period_end) if b.period_end > b.period_start else None


class _Window:
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


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _change_rows(
    facts: ClientFacts, recent: ClientMetrics, period: ReportPeriod, th: Thresholds
) -> tuple[ChangeRow, ...]:
    """Baseline (early in care) | whole period | last 28 days, compared and trended.

    `recent` is the domain's metrics of the 28 days to the period's end: its baseline never
    overlaps them, so a period that starts at intake still compares its end with its start.
    """
    base_period = _baseline_period(recent)
    end = _ts(period.end)
    whole = _Window(facts, _ts(period.start), end)
    last = _Window(facts, end - th.trailing_window_days * 86400.0, end)
    if base_period is not None:
        b_lo, b_hi = _ts(base_period[0]), _ts(base_period[1])
        # The domain's baseline includes the 8th episode's onset itself (closed interval).
        base = _Window(facts, b_lo, b_hi + 1e-6)
    else:
        base = _Window(facts, 0.0, 0.0)
    rec: BaselineComparison = recent.baseline.recovery_minutes
    act: BaselineComparison = recent.baseline.activation
    p90 = th.tolerated_activation_percentile

    def tolerated(window: _Window) -> float | None:
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
            period=_median(whole.recovery()),
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
            baseline=_median(base.recognition()),
            baseline_low=None,
            baseline_high=None,
            baseline_n=len(base.recognition()),
            period=_median(whole.recognition()),
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
            period=_median(whole.activation()),
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


def _band(instrument: Instrument, code: str | None) -> str | None:
    return next((b.label for b in instrument.severity_bands if b.code == code), None)


def _measure_rows(
    facts: ClientFacts, metrics: ClientMetrics, period: ReportPeriod
) -> tuple[MeasureRow, ...]:
    lo, hi = _ts(period.start), _ts(period.end)
    in_period: dict[str, int] = {}
    for m in facts.measures:
        if lo <= _ts(m.administered_at) < hi and m.instrument in INSTRUMENTS:
            if score_measure(m).valid:
                in_period[m.instrument] = in_period.get(m.instrument, 0) + 1
    rows = []
    for p in metrics.measures:
        rows.append(_measure_row(INSTRUMENTS[p.instrument], p, in_period.get(p.instrument, 0)))
    return tuple(rows)


def _measure_row(instrument: Instrument, p: MeasureProgress, count: int) -> MeasureRow:
    name = instrument.label(p.scale)
    reliability: Reliability | None = instrument.reliability
    cutoff = instrument.clinical_cutoff
    if p.scale is not None:
        sub = instrument.subscale(p.scale)
        reliability = sub.reliability if sub else None
        cutoff = sub.cutoff if sub and sub.cutoff else cutoff
    minimum = None
    note = None
    if reliability is not None:
        minimum = RCI_Z * rci_components(reliability.r, reliability.sd_ref)[1]
        note = reliability.citation
        if reliability.verify and "verify" not in note:
            note += " (verify)"
    fmt = f"{cutoff.value:g}" if cutoff else ""
    return MeasureRow(
        instrument=instrument.code,
        name=name,
        lower_is_better=instrument.direction == "lower_is_better",
        baseline=p.baseline,
        baseline_band=_band(instrument, p.baseline.severity),
        latest=p.latest,
        latest_band=_band(instrument, p.latest.severity),
        change=p.change,
        rci=p.rci,
        reliable_change=p.reliable_change,
        clinically_significant=p.clinically_significant,
        minimum_reliable_change=minimum,
        anchor=instrument.reliable_change_anchor,
        cutoff=f"{cutoff.label} ({cutoff.operator} {fmt})" if cutoff else None,
        reliability_note=note,
        administrations_in_period=count,
    )


def _sorted_flags(flags: Iterable[Flag]) -> list[Flag]:
    # Safety first, then alerts before watches, as on the client page.
    return sorted(flags, key=lambda f: flag_sort_key(f.code, f.level))


def _flag_lines(
    metrics: ClientMetrics,
    client_id: uuid.UUID,
    acknowledgements: dict[Any, Any],
    people: dict[str, str],
) -> tuple[FlagLine, ...]:
    lines = []
    for view in flag_views(_sorted_flags(metrics.flags), client_id, acknowledgements):
        ack = view["acknowledgement"]
        lines.append(
            FlagLine(
                code=view["code"],
                name=flag_name(view["code"]),
                level=view["level"],
                reasons=tuple(view["reasons"]),
                evidence=tuple(view["evidence"].items()),
                suggestion=view["suggestion"],
                acknowledged_by=(
                    people.get(ack["acknowledged_by_id"], "a colleague") if ack else None
                ),
                acknowledged_at=datetime.fromisoformat(ack["at"]) if ack else None,
                acknowledgement_note=ack["note"] if ack else None,
            )
        )
    return tuple(lines)


def _figures(
    client: Client,
    practitioner_name: str,
    facts: ClientFacts,
    *,
    period: ReportPeriod,
    settings: Settings,
    now: datetime,
    acknowledgements: dict[Any, Any],
    people: dict[str, str],
) -> ClientFigures:
    th = settings.thresholds
    metrics = compute_client_metrics(
        facts, start=period.end - DEFAULT_PERIOD, end=period.end, now=now, thresholds=th
    )
    lo, hi = _ts(period.start), _ts(period.end)
    return ClientFigures(
        client=client,
        practitioner_id=client.practitioner_id,
        practitioner_name=practitioner_name,
        metrics=metrics,
        baseline_period=_baseline_period(metrics),
        attendance=_attendance(facts, metrics, period, now, th),
        change=_change_rows(facts, metrics, period, th),
        measures=_measure_rows(facts, metrics, period),
        flags=_flag_lines(metrics, client.id, acknowledgements, people),
        episodes_in_period=sum(1 for e in facts.episodes if lo <= _ts(e.started_at) < hi),
        observations_in_period=sum(1 for o in facts.observations if lo <= _ts(o.observed_at) < hi),
    )


def _names(db: DbSession, ids: Iterable[uuid.UUID]) -> dict[str, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        str(uid): name
        for uid, name in db.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    }


# --------------------------------------------------------------------------------------------
# Progress summary
# --------------------------------------------------------------------------------------------


def progress_summary(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    settings: Settings,
    period: ReportPeriod,
    now: datetime,
) -> ProgressSummary:
    """One client's progress over `period` (404 outside the caller's scope). Not audited:
    call :func:`audit_summary_export` once the summary was delivered."""
    client = access.get_visible_client(db, actor.user, client_id)
    facts = load_facts(db, [client], [client.id])[client.id]
    acknowledgements = latest_acknowledgements(db, [client.id])
    people = _names(
        db, {client.practitioner_id} | {a.acknowledged_by_id for a in acknowledgements.values()}
    )
    figures = _figures(
        client,
        people.get(str(client.practitioner_id), "—"),
        facts,
        period=period,
        settings=settings,
        now=now,
        acknowledgements=acknowledgements,
        people=people,
    )
    annotations = tuple(
        AnnotationMark(at, kind.value, label, notes)
        for at, kind, label, notes in db.execute(
            select(Annotation.at, Annotation.kind, Annotation.label, Annotation.notes)
            .where(
                Annotation.client_id == client.id,
                Annotation.archived_at.is_(None),
                Annotation.at >= period.start,
                Annotation.at < period.end,
            )
            .order_by(Annotation.at, Annotation.id)
        )
    )
    episodes = tuple(
        EpisodeDetail(started, peak, baseline, trigger, tuple(strategies or ()))
        for started, peak, baseline, trigger, strategies in db.execute(
            select(
                Episode.started_at,
                Episode.peak_intensity,
                Episode.baseline_at,
                Episode.trigger,
                Episode.strategies,
            )
            .where(
                Episode.client_id == client.id,
                Episode.started_at >= period.start,
                Episode.started_at < period.end,
            )
            .order_by(Episode.started_at, Episode.id)
        )
    )
    # The charts are the client page's; their sentences speak of the last 28 days of the
    # period, whose metrics the figures already hold (as the client page does).
    view = ClientView(
        client=client,
        practitioner_name=figures.practitioner_name,
        can_write=False,
        start=period.start,
        end=period.end,
        facts=facts,
        metrics=figures.metrics,
        flags=[],
        people=people,
        episodes=episodes,
        annotations=annotations,
    )
    return ProgressSummary(
        figures=figures,
        period=period,
        generated_at=now,
        generated_by=actor.user.full_name,
        view=view,
        annotations=annotations,
    )


def audit_summary_export(
    db: DbSession, actor: Actor | None, summary: ProgressSummary, *, fmt: str
) -> None:
    """Record that `actor` exported this summary (``fmt``: html, pdf)."""
    client = summary.client
    audit.record(
        db,
        actor,
        "export",
        "client",
        client.id,
        client_id=client.id,
        detail=f"progress summary {fmt} {summary.period.start_date}..{summary.period.end_date}",
    )


# --------------------------------------------------------------------------------------------
# Supervision packet
# --------------------------------------------------------------------------------------------


def _supervisee(db: DbSession, supervisor: User, ref: str) -> User:
    """A supervisee by id or e-mail; anyone else (or no one) is a 404."""
    ref = ref.strip()
    try:
        condition = User.id == uuid.UUID(ref)
    except ValueError:
        condition = func.lower(User.email) == ref.lower()
    user = db.scalars(
        select(User)
        .join(Supervision, Supervision.supervisee_id == User.id)
        .where(Supervision.supervisor_id == supervisor.id, condition)
    ).one_or_none()
    if user is None:
        raise NotFound("Supervisee not found")
    return user


def supervision_packet(
    db: DbSession,
    *,
    actor: Actor,
    settings: Settings,
    period: ReportPeriod,
    now: datetime,
    supervisee: str | None = None,
) -> SupervisionPacket:
    """Every client of one supervisee (id or e-mail) or of all supervisees, for `period`.

    Only supervisors (403 otherwise); a supervisee the caller does not supervise is a 404.
    Clients in care during the period are included: not archived, intake before its end and
    not discharged before its start. Not audited: call :func:`audit_packet_export`.
    """
    supervisor = actor.user
    if supervisor.role != Role.SUPERVISOR or not supervisor.is_active:
        raise Forbidden("Supervision packets are for supervisor accounts")
    chosen = _supervisee(db, supervisor, supervisee) if supervisee else None
    if chosen is not None:
        people = [chosen]
    else:
        people = list(
            db.scalars(
                select(User)
                .join(Supervision, Supervision.supervisee_id == User.id)
                .where(Supervision.supervisor_id == supervisor.id)
                .order_by(func.lower(User.full_name), User.id)
            )
        )
    ids = [p.id for p in people]
    clients = (
        list(
            db.scalars(
                # The scoping point first: a supervisor reads supervisees' clients through it.
                access.visible_clients(supervisor)
                .where(
                    Client.practitioner_id.in_(ids),
                    Client.intake_date <= period.end_date,
                    or_(
                        Client.discharged_on.is_(None),
                        Client.discharged_on >= period.start_date,
                        Client.status != ClientStatus.DISCHARGED,
                    ),
                )
                .order_by(func.lower(Client.display_name), Client.id)
            )
        )
        if ids
        else []
    )
    by_practitioner: dict[uuid.UUID, list[ClientFigures]] = {pid: [] for pid in ids}
    names = {p.id: p.full_name for p in people}
    for i in range(0, len(clients), PACKET_BATCH):
        batch = clients[i : i + PACKET_BATCH]
        batch_ids = [c.id for c in batch]
        facts = load_facts(db, batch, batch_ids)
        acknowledgements = latest_acknowledgements(db, batch_ids)
        ack_people = _names(db, {a.acknowledged_by_id for a in acknowledgements.values()})
        for client in batch:
            by_practitioner[client.practitioner_id].append(
                _figures(
                    client,
                    names.get(client.practitioner_id, "—"),
                    facts[client.id],
                    period=period,
                    settings=settings,
                    now=now,
                    acknowledgements=acknowledgements,
                    people=ack_people,
                )
            )
    loads = {
        load["practitioner_id"]: load
        for load in practitioner_loads(db, actor=actor, settings=settings, now=now)
    }
    sections = tuple(
        PractitionerSection(
            practitioner_id=p.id,
            full_name=p.full_name,
            role=p.role.value,
            load=loads.get(p.id, {}),
            clients=tuple(by_practitioner[p.id]),
        )
        for p in people
    )
    return SupervisionPacket(
        supervisor=supervisor,
        supervisee=chosen,
        period=period,
        generated_at=now,
        practitioners=sections,
    )


def audit_packet_export(
    db: DbSession, actor: Actor | None, packet: SupervisionPacket, *, fmt: str
) -> None:
    """One event for the packet, and one per client in it (each client's history shows it)."""
    detail = f"supervision packet {fmt} {packet.period.start_date}..{packet.period.end_date}"
    audit.record(
        db,
        actor,
        "export",
        "supervision_packet",
        packet.supervisee.id if packet.supervisee else None,
        detail=f"{detail}, {len(packet.clients)} clients",
    )
    for figures in packet.clients:
        client = figures.client
        audit.record(db, actor, "export", "client", client.id, client_id=client.id, detail=detail)


# --------------------------------------------------------------------------------------------
# Plain-text pieces shared by the packet's PDF and CSV
# --------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    rounded = round(value, 1)
    return f"{rounded:.0f}" if rounded.is_integer() else f"{rounded:.1f}"


def measure_brief(row: MeasureRow) -> str:
    """One line per measure, e.g. PHQ-9 14 → 4: reliable improvement (RCI -3.1), clinically
    significant."""
    if row.change is None or row.latest.total is None or row.baseline.total is None:
        latest = "—" if row.latest.total is None else _number(row.latest.total)
        return f"{row.name} {latest} (one administration)"
    text = f"{row.name} {_number(row.baseline.total)} → {_number(row.latest.total)}"
    if row.rci is None or row.reliable_change is None:
        return f"{text}: no RCI (no reliability data)"
    verdict = RELIABLE_CHANGE_WORDS.get(row.reliable_change, row.reliable_change)
    text += f": {verdict} (RCI {row.rci:+.1f})"
    if row.clinically_significant:
        text += ", clinically significant"
    return text


# --------------------------------------------------------------------------------------------
# The packet as CSV
# --------------------------------------------------------------------------------------------

#: One row per practitioner (record = practitioner: their load as of the day it was made),
#: then one row per client (record = client: the period's figures). Shares are 0-1.
PACKET_CSV_COLUMNS: Final = (
    "record",
    "period_start",
    "period_end",
    "practitioner_id",
    "practitioner_name",
    "practitioner_role",
    "load_as_of",
    "load_active_caseload",
    "load_attended_sessions_last_7_days",
    "load_active_clients_with_alert",
    "load_latest_self_check_cbi_work_related",
    "load_flag_level",
    "load_flag_reasons",
    "client_id",
    "client_display_name",
    "client_external_ref",
    "client_status",
    "intake_date",
    "sessions_attended",
    "sessions_no_show",
    "sessions_late_cancel",
    "sessions_cancelled",
    "attendance_rate",
    "engagement_rating_mean",
    "homework_done_rate",
    "attendance_rate_last_6_due",
    "days_since_last_attended",
    "episodes",
    "check_ins",
    "recovery_median_minutes",
    "recovery_median_minutes_last_28_days",
    "recovery_baseline_median_minutes",
    "recovery_last_28_days_vs_baseline",
    "recovery_trend",
    "recovery_trend_slope_minutes_per_week",
    "recovery_trend_p",
    "unrecovered_share",
    "recognition_median_minutes",
    "recognition_median_minutes_last_28_days",
    "recognition_trend",
    "activation_median",
    "activation_median_last_28_days",
    "activation_last_28_days_vs_baseline",
    "capacity_mean_rating",
    "capacity_mean_rating_last_28_days",
    "capacity_trend",
    "time_in_window",
    "time_in_window_last_28_days",
    "tolerated_activation_last_28_days",
    "measures",
    "flags",
    "flag_reasons",
)
# A cell a spreadsheet would run as a formula (OWASP "CSV injection") is quoted as text.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 4)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def packet_csv(packet: SupervisionPacket) -> str:
    """The packet as CSV text (UTF-8; the caller adds a byte-order mark if it wants one)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PACKET_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    period = {
        "period_start": packet.period.start_date.isoformat(),
        "period_end": packet.period.end_date.isoformat(),
    }
    for section in packet.practitioners:
        who = {
            "practitioner_id": str(section.practitioner_id),
            "practitioner_name": section.full_name,
            "practitioner_role": section.role,
        }
        load = section.load
        flag = load.get("flag")
        writer.writerow(
            {
                k: _cell(v)
                for k, v in {
                    "record": "practitioner",
                    **period,
                    **who,
                    "load_as_of": packet.generated_at.date().isoformat(),
                    "load_active_caseload": load.get("active_caseload"),
                    "load_attended_sessions_last_7_days": load.get("attended_sessions_last_7_days"),
                    "load_active_clients_with_alert": load.get("active_clients_with_alert"),
                    "load_latest_self_check_cbi_work_related": load.get(
                        "latest_self_check_cbi_work_related"
                    ),
                    "load_flag_level": flag["level"] if flag else None,
                    "load_flag_reasons": " / ".join(flag["reasons"]) if flag else None,
                }.items()
            }
        )
    for section in packet.practitioners:
        for f in section.clients:
            writer.writerow({k: _cell(v) for k, v in {**_client_cells(f), **period}.items()})
    return out.getvalue()


def _client_cells(f: ClientFigures) -> dict[str, Any]:
    a, m = f.attendance, f.metrics
    rec, act = f.row("recovery"), f.row("activation")
    client = f.client
    return {
        "record": "client",
        "practitioner_id": str(f.practitioner_id),
        "practitioner_name": f.practitioner_name,
        "client_id": str(client.id),
        "client_display_name": client.display_name,
        "client_external_ref": client.external_ref,
        "client_status": client.status.value,
        "intake_date": client.intake_date.isoformat(),
        "sessions_attended": a.attended,
        "sessions_no_show": a.no_show,
        "sessions_late_cancel": a.late_cancel,
        "sessions_cancelled": a.cancelled,
        "attendance_rate": a.rate,
        "engagement_rating_mean": a.engagement_mean,
        "homework_done_rate": a.homework_rate,
        "attendance_rate_last_6_due": a.recent_rate,
        "days_since_last_attended": a.days_since_last_attended,
        "episodes": f.episodes_in_period,
        "check_ins": f.observations_in_period,
        "recovery_median_minutes": rec.period,
        "recovery_median_minutes_last_28_days": rec.recent,
        "recovery_baseline_median_minutes": rec.baseline,
        "recovery_last_28_days_vs_baseline": rec.comparison,
        "recovery_trend": m.recovery.trend.direction,
        "recovery_trend_slope_minutes_per_week": m.recovery.trend.slope_per_week,
        "recovery_trend_p": m.recovery.trend.p_value,
        "unrecovered_share": f.row("unrecovered").period,
        "recognition_median_minutes": f.row("recognition").period,
        "recognition_median_minutes_last_28_days": f.row("recognition").recent,
        "recognition_trend": m.recognition.trend.direction,
        "activation_median": act.period,
        "activation_median_last_28_days": act.recent,
        "activation_last_28_days_vs_baseline": act.comparison,
        "capacity_mean_rating": f.row("capacity").period,
        "capacity_mean_rating_last_28_days": f.row("capacity").recent,
        "capacity_trend": m.capacity.trend.direction,
        "time_in_window": f.row("time_in_window").period,
        "time_in_window_last_28_days": f.row("time_in_window").recent,
        "tolerated_activation_last_28_days": f.row("tolerated_activation").recent,
        "measures": "; ".join(measure_brief(r) for r in f.measures),
        "flags": "; ".join(
            f"{x.code}:{x.level}{':acknowledged' if x.acknowledged else ''}" for x in f.flags
        ),
        "flag_reasons": " | ".join(f"{x.name}: {' / '.join(x.reasons)}" for x in f.flags),
    }
