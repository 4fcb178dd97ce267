"""The plain, frozen inputs of every analytics function.

Services read rows from the database and turn them into these facts; the domain never sees an
ORM object, so every metric and flag can be tested with hand-built data.
All datetimes are timezone-aware (UTC from the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import Final

#: How far ahead of the server's clock a record's time may be: a phone or laptop clock that
#: runs a few minutes fast must not turn "just now" into a rejected future time.
CLOCK_SLACK: Final = timedelta(minutes=10)


class Zone(StrEnum):
    """Window-of-tolerance position (polyvagal words in brackets are display-only)."""

    WITHIN = "within"  # ventral
    HYPER = "hyper"  # sympathetic
    HYPO = "hypo"  # dorsal


class Attendance(StrEnum):
    SCHEDULED = "scheduled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    LATE_CANCEL = "late_cancel"
    CANCELLED = "cancelled"


#: The sessions attendance is counted over: the client was expected (DESIGN.md "engagement").
#: Cancelled in good time and not yet recorded sessions are not due.
DUE_ATTENDANCE: Final = frozenset({Attendance.ATTENDED, Attendance.NO_SHOW, Attendance.LATE_CANCEL})


class HomeworkCompletion(StrEnum):
    YES = "yes"
    PARTIAL = "partial"
    NO = "no"


#: How much of the homework one review counts as done (0-1); completion is their mean.
HOMEWORK_SCORE: Final = MappingProxyType(
    {HomeworkCompletion.YES: 1.0, HomeworkCompletion.PARTIAL: 0.5, HomeworkCompletion.NO: 0.0}
)


class ClientStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISCHARGED = "discharged"


class Source(StrEnum):
    PRACTITIONER = "practitioner"
    CLIENT = "client"


def minutes_between(start: datetime, later: datetime | None) -> float | None:
    """Minutes from ``start`` to ``later`` (None when ``later`` is unknown, negative if earlier).

    The one formula behind recovery (onset to baseline) and recognition (onset to noticing).
    """
    if later is None:
        return None
    if start.tzinfo is UTC and later.tzinfo is UTC:  # as loaded: already the UTC difference
        return (later - start).total_seconds() / 60
    # In UTC: Python subtracts two times of one zone on the wall clock, which is an hour off
    # across a daylight-saving change.
    return (later.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60


@dataclass(frozen=True, slots=True)
class EpisodeFact:
    started_at: datetime
    peak_intensity: int
    recognized_at: datetime | None = None
    baseline_at: datetime | None = None  # None = not back to baseline, or unknown (censored)
    source: Source = Source.PRACTITIONER

    @property
    def recovery_minutes(self) -> float | None:
        """Onset to back at baseline, in minutes (None while not recovered)."""
        return minutes_between(self.started_at, self.baseline_at)

    @property
    def recognition_minutes(self) -> float | None:
        """Onset to noticing the activation, in minutes (None when not recorded)."""
        return minutes_between(self.started_at, self.recognized_at)


@dataclass(frozen=True, slots=True)
class ObservationFact:
    observed_at: datetime
    zone: Zone
    activation: int
    capacity: int | None = None
    safety: int | None = None
    body_connection: int | None = None
    source: Source = Source.PRACTITIONER


@dataclass(frozen=True, slots=True)
class SessionFact:
    starts_at: datetime
    attendance: Attendance
    engagement: int | None = None
    homework_assigned: bool = False
    homework_completed: HomeworkCompletion | None = None


@dataclass(frozen=True, slots=True)
class MeasureFact:
    instrument: str
    administered_at: datetime
    items: tuple[int | None, ...] | None = None  # None for total-only instruments (ORS, SRS)
    total: float | None = None  # practitioner-entered total for ORS/SRS
    source: Source = Source.CLIENT  # a questionnaire is the client's own answer by default


@dataclass(frozen=True, slots=True)
class AssignmentFact:
    """One live (not archived) questionnaire assignment (domain/assignments.py has the rule)."""

    instrument: str
    every_days: int
    starts_on: date
    ends_on: date | None = None


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """Everything the analytics need about one client, sorted by time ascending."""

    status: ClientStatus
    intake_date: date
    session_cadence_days: int = 7
    episodes: tuple[EpisodeFact, ...] = field(default_factory=tuple)
    observations: tuple[ObservationFact, ...] = field(default_factory=tuple)
    sessions: tuple[SessionFact, ...] = field(default_factory=tuple)
    measures: tuple[MeasureFact, ...] = field(default_factory=tuple)
    # When observations and episodes were loaded only for a recent period (the caseload
    # summary), the time of the client's latest one of either, so "days since last data" holds.
    last_data_at: datetime | None = None
    # Times of the client's "care change" notes: the monitoring charts restart from the latest
    # (DOMAIN.md §5.5), so an alert after a change of plan means new evidence.
    care_changes: tuple[datetime, ...] = field(default_factory=tuple)

    # Questionnaires the client is asked to answer through their check-in link.
    assignments: tuple[AssignmentFact, ...] = field(default_factory=tuple)
    # The practice's time zone: where its calendar days begin (due dates, quiet days).
    timezone: tzinfo = UTC
    # Set when the episodes were read only up to the end of the personal baseline period and
    # from this time on (a view with a monitoring checkpoint taken at this cut, which stands in
    # for the years between): the figures that look further back than the view are then not
    # computable from these facts, and the monitoring charts need the checkpoint.
    episodes_from: datetime | None = None


def known_at(at: datetime | None, moment: datetime) -> datetime | None:
    """A record's time as it was known at ``moment``: None if it had not happened yet."""
    return at if at is not None and at <= moment else None


def facts_from_source(facts: ClientFacts, source: Source) -> ClientFacts:
    """Only the episodes, observations and measures reported by ``source`` (the client's own
    check-ins, or what the practitioner entered), for metrics filtered by source. Sessions are
    the practitioner's record of care and are kept whole.
    """
    return replace(
        facts,
        episodes=tuple(e for e in facts.episodes if e.source == source),
        observations=tuple(o for o in facts.observations if o.source == source),
        measures=tuple(m for m in facts.measures if m.source == source),
    )


def facts_as_of(facts: ClientFacts, moment: datetime) -> ClientFacts:
    """What was known at ``moment``: every record timed after it is left out.

    Episodes with onset up to ``moment`` are kept; a return to baseline or a recognition timed
    after it was not known yet, so it becomes None (not back yet, not noticed yet).
    Observations, sessions (by start) and measures (by administration) are kept up to
    ``moment``, inclusive. The client's status and the records' corrections are today's: the
    facts carry no history of either.
    """
    return replace(
        facts,
        episodes=tuple(
            replace(
                e,
                recognized_at=known_at(e.recognized_at, moment),
                baseline_at=known_at(e.baseline_at, moment),
            )
            for e in facts.episodes
            if e.started_at <= moment
        ),
        observations=tuple(o for o in facts.observations if o.observed_at <= moment),
        sessions=tuple(s for s in facts.sessions if s.starts_at <= moment),
        measures=tuple(m for m in facts.measures if m.administered_at <= moment),
        last_data_at=known_at(facts.last_data_at, moment),
        care_changes=tuple(c for c in facts.care_changes if c <= moment),
    )
