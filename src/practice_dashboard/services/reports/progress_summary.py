"""Progress summaries: one client's figures for a chosen period.

A **progress summary** is one client over a period ``[start, end)``: attendance and
engagement, recovery / recognition / capacity against the personal baseline with their
direction, measure progress (change, RCI, clinical significance), flags with reasons and the
period's annotations. The supervision packet (``supervision_packet.py``) shows the same
headline figures (:func:`client_figures`) for many clients.

Definitions follow DESIGN.md "Metrics". Counts and medians are given for the whole period;
the domain's metrics of the **last 28 days to the period's end** give the comparison with the
personal baseline (which never overlaps those 28 days, so a period that starts at intake still
compares its end with its start), the trends (its last 12 weeks), engagement, measure
progress and flags, all as of the period's end, exactly as the client page computes them for
"now". The windows and attendance are pure domain functions (``domain.windows``,
``domain.attendance``). A figure that cannot be computed is None, never 0.

These functions only read. Callers record the export with :func:`audit_summary_export` once
the file was made, so a failed export leaves no trail of a disclosure that did not happen.
A fixed number of queries whatever the data: one per record kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.attendance import AttendanceFigures, period_attendance
from practice_dashboard.domain.facts import ClientFacts
from practice_dashboard.domain.flags import Flag, flag_name, flag_sort_key
from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    Instrument,
    Reliability,
    score_of,
)
from practice_dashboard.domain.labels import latest_remarks, verdict_remarks
from practice_dashboard.domain.metrics import (
    ClientMetrics,
    MeasureProgress,
    MeasureSnapshot,
    compute_client_metrics,
)
from practice_dashboard.domain.periods import ReportPeriod
from practice_dashboard.domain.windows import ChangeRow, baseline_period, change_rows
from practice_dashboard.models import Client, User
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics.acknowledgements import (
    flag_views,
    latest_acknowledgements,
    monitoring_restart,
)
from practice_dashboard.services.analytics.client_view import (
    AnnotationMark,
    ClientView,
    period_marks,
)
from practice_dashboard.services.analytics.fact_loading import load_facts
from practice_dashboard.services.analytics.metrics import DEFAULT_PERIOD
from practice_dashboard.services.audit import Actor

# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


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
    # The latest administration's own signals ("positive screen (>= 10)", "prorated total
    # ...") and how the change was judged (convention, unverified constant, confirmation).
    latest_remarks: tuple[str, ...] = ()
    verdict_remarks: tuple[str, ...] = ()


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


# --------------------------------------------------------------------------------------------
# Figures for one client
# --------------------------------------------------------------------------------------------


def _ts(value: datetime) -> float:
    return value.timestamp()


def _band(instrument: Instrument, code: str | None) -> str | None:
    return next((b.label for b in instrument.severity_bands if b.code == code), None)


def _measure_rows(
    facts: ClientFacts, metrics: ClientMetrics, period: ReportPeriod
) -> tuple[MeasureRow, ...]:
    lo, hi = _ts(period.start), _ts(period.end)
    in_period: dict[str, int] = {}
    for m in facts.measures:
        if lo <= _ts(m.administered_at) < hi and m.instrument in INSTRUMENTS:
            if score_of(m).valid:
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
    note = None
    if reliability is not None and p.convention == "jacobson_truax":
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
        minimum_reliable_change=p.minimum_reliable_change,
        anchor=instrument.reliable_change_anchor,
        cutoff=f"{cutoff.label} ({cutoff.operator} {fmt})" if cutoff else None,
        reliability_note=note,
        administrations_in_period=count,
        latest_remarks=latest_remarks(p),
        verdict_remarks=verdict_remarks(p),
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


def client_figures(
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
    restart = monitoring_restart(acknowledgements, client.id)
    metrics = compute_client_metrics(
        facts,
        start=period.end - DEFAULT_PERIOD,
        end=period.end,
        now=now,
        thresholds=th,
        monitoring_restart_at=restart if restart is not None and restart < period.end else None,
        monitoring_points_from=period.end,  # figures and flags; the charts come from the view
    )
    lo, hi = _ts(period.start), _ts(period.end)
    return ClientFigures(
        client=client,
        practitioner_id=client.practitioner_id,
        practitioner_name=practitioner_name,
        metrics=metrics,
        baseline_period=baseline_period(metrics),
        attendance=period_attendance(
            facts, metrics, start=period.start, end=period.end, now=now, thresholds=th
        ),
        change=change_rows(facts, metrics, start=period.start, end=period.end, thresholds=th),
        measures=_measure_rows(facts, metrics, period),
        flags=_flag_lines(metrics, client.id, acknowledgements, people),
        episodes_in_period=sum(1 for e in facts.episodes if lo <= _ts(e.started_at) < hi),
        observations_in_period=sum(1 for o in facts.observations if lo <= _ts(o.observed_at) < hi),
    )


def user_names(db: DbSession, ids: Iterable[uuid.UUID]) -> dict[str, str]:
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
    facts = load_facts(db, [client], [client.id], timezone=settings.timezone)[client.id]
    acknowledgements = latest_acknowledgements(db, [client.id])
    people = user_names(
        db, {client.practitioner_id} | {a.acknowledged_by_id for a in acknowledgements.values()}
    )
    figures = client_figures(
        client,
        people.get(str(client.practitioner_id), "—"),
        facts,
        period=period,
        settings=settings,
        now=now,
        acknowledgements=acknowledgements,
        people=people,
    )
    # The period's marks and episodes as the client page reads them (self-reports drawn open).
    annotations, episodes = period_marks(db, client.id, period.start, period.end)
    # The charts are the client page's; their sentences speak of the last 28 days of the
    # period, whose metrics the figures already hold (as the client page does).
    view = ClientView(
        client=client,
        practitioner_name=figures.practitioner_name,
        can_write=False,
        start=period.start,
        end=period.end,
        as_of=None,
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
