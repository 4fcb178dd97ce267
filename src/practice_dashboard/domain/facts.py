"""The plain, frozen inputs of every analytics function.

Services read rows from the database and turn them into these facts; the domain never sees an
ORM object, so every metric and flag can be tested with hand-built data.
All datetimes are timezone-aware (UTC from the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


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


class HomeworkCompletion(StrEnum):
    YES = "yes"
    PARTIAL = "partial"
    NO = "no"


class ClientStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISCHARGED = "discharged"


class Source(StrEnum):
    PRACTITIONER = "practitioner"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class EpisodeFact:
    started_at: datetime
    peak_intensity: int
    recognized_at: datetime | None = None
    baseline_at: datetime | None = None  # None = not back to baseline, or unknown (censored)


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
