"""What a client answers through their check-in link: the questionnaires due, and a calm view
of their own progress.

Answers are stored as a measure with `source = client`, scored by the registry
(`domain/instruments.py`): unanswered items follow the instrument's own missing-item rule, and
an answer set that cannot be scored is refused whole (nothing is saved). Only an instrument
that is assigned and due now can be answered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import MeasureFact
from practice_dashboard.domain.instruments import INSTRUMENTS, score_measure, validate_measure
from practice_dashboard.domain.metrics import compute_client_metrics
from practice_dashboard.domain.windows import weekly_recovery
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import CheckinLink, Client, Measure
from practice_dashboard.models.enums import Source
from practice_dashboard.services import audit
from practice_dashboard.services.analytics.fact_loading import load_facts
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.audit import LinkActor
from practice_dashboard.services.checkins import assignments, links
from practice_dashboard.services.checkins.assignments import AssignmentView


@dataclass(frozen=True, slots=True)
class Answered:
    """A saved administration, and whether the page must show the crisis text at once."""

    measure: Measure
    show_crisis_text: bool


def due(
    db: DbSession, settings: Settings, link: CheckinLink, now: datetime
) -> list[AssignmentView]:
    """The questionnaires the client is asked to answer now, most overdue first."""
    return assignments.due_for_client(
        db,
        link.client_id,
        today=practice_today(settings, now),
        grace_days=settings.thresholds.assessment_grace_days,
        zone=settings.timezone,
    )


def due_one(
    db: DbSession, settings: Settings, link: CheckinLink, code: str, now: datetime
) -> AssignmentView:
    """The one due questionnaire with this code, or NotFound (not assigned, or not due now)."""
    view = next((v for v in due(db, settings, link, now) if v.assignment.instrument == code), None)
    if view is None:
        raise NotFound("This questionnaire is not due now")
    return view


def crisis_answer(code: str, items: Sequence[int | None], now: datetime) -> bool:
    """Whether these answers put the instrument's safety item above 0 (PHQ-9 item 9), saved
    or not: the crisis text is shown even when the answers cannot be scored."""
    instrument = INSTRUMENTS.get(code)
    if instrument is None or instrument.safety_item is None:
        return False
    score = score_measure(MeasureFact(code, now, tuple(items)))
    return (score.safety_item_score or 0) > 0


def answer(
    db: DbSession,
    settings: Settings,
    *,
    link: CheckinLink,
    code: str,
    items: list[int | None],
    now: datetime,
    ip: str | None,
) -> Answered:
    """Save the client's answers to a due questionnaire as a self-reported measure."""
    due_one(db, settings, link, code, now)
    problems = [(p.loc, p.msg) for p in validate_measure(code, items, None)]
    if problems:
        raise Invalid(problems)
    score = score_measure(MeasureFact(code, now, tuple(items)))
    if not score.valid:
        raise Invalid([(("items",), message) for message in score.problems])
    measure = Measure(
        client_id=link.client_id,
        instrument=code,
        administered_at=now,
        items=items,
        source=Source.CLIENT,
        total=score.total,
        subscales=score.subscales or None,
        severity=score.severity,
    )
    db.add(measure)
    db.flush()
    actor = LinkActor(link_id=link.id, client_id=link.client_id, ip=ip)
    audit.record(db, actor, "create", "measure", measure.id, client_id=link.client_id)
    links.touch(db, link, now)
    return Answered(measure, (score.safety_item_score or 0) > 0)


# --- Your progress ---------------------------------------------------------------------------

#: The client sees three four-week periods, oldest first.
PROGRESS_PERIOD = timedelta(days=28)
PROGRESS_PERIODS = 3


@dataclass(frozen=True, slots=True)
class ProgressPeriod:
    start: datetime
    end: datetime
    recovery_median_minutes: float | None  # None: no recovered episode in the period
    episodes: int
    time_in_window: float | None  # None: no check-in with a zone in the period


@dataclass(frozen=True, slots=True)
class Progress:
    periods: tuple[ProgressPeriod, ...]
    weekly_recovery: tuple[float | None, ...]  # 12 weeks, oldest first


def own_progress(
    db: DbSession, settings: Settings, *, link: CheckinLink, now: datetime, ip: str | None
) -> Progress:
    """The client's recovery time and time in window over the last periods, from the metrics
    the practitioner sees (no flags, no labels); the read is audited with the link as actor."""
    client = db.get_one(Client, link.client_id)
    facts = load_facts(db, [client], [client.id], timezone=settings.timezone)[client.id]
    periods = []
    for k in range(PROGRESS_PERIODS, 0, -1):
        end = now - (k - 1) * PROGRESS_PERIOD
        start = end - PROGRESS_PERIOD
        metrics = compute_client_metrics(
            facts,
            start=start,
            end=end,
            now=now,
            thresholds=settings.thresholds,
            monitoring_points_from=end,  # figures only
        )
        periods.append(
            ProgressPeriod(
                start=start,
                end=end,
                recovery_median_minutes=metrics.recovery.median_minutes,
                episodes=sum(1 for e in facts.episodes if start <= e.started_at < end),
                time_in_window=metrics.capacity.time_in_window,
            )
        )
    actor = LinkActor(link_id=link.id, client_id=link.client_id, ip=ip)
    audit.record(db, actor, "read", "progress", client_id=link.client_id)
    links.touch(db, link, now)
    return Progress(tuple(periods), tuple(weekly_recovery(facts, now)))
