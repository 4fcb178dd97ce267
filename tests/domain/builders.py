"""Small typed builders for domain facts (tests only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from practice_dashboard.domain.facts import (
    Attendance,
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    HomeworkCompletion,
    MeasureFact,
    ObservationFact,
    SessionFact,
    Zone,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import ClientMetrics, compute_client_metrics

#: A Monday at midnight UTC; "day -3" means three days before it.
END = datetime(2026, 4, 6, tzinfo=UTC)


def at(day: float, *, hours: float = 0.0, minutes: float = 0.0) -> datetime:
    return END + timedelta(days=day, hours=hours, minutes=minutes)


def ep(
    day: float,
    recovery: float | None = None,
    *,
    recognition: float | None = None,
    peak: int = 5,
) -> EpisodeFact:
    """An episode starting on ``day`` with recovery/recognition in minutes (None = none)."""
    start = at(day)
    return EpisodeFact(
        started_at=start,
        peak_intensity=peak,
        recognized_at=None if recognition is None else start + timedelta(minutes=recognition),
        baseline_at=None if recovery is None else start + timedelta(minutes=recovery),
    )


def obs(
    day: float, zone: Zone = Zone.WITHIN, activation: int = 3, capacity: int | None = None
) -> ObservationFact:
    return ObservationFact(observed_at=at(day), zone=zone, activation=activation, capacity=capacity)


def sess(
    day: float,
    attendance: Attendance = Attendance.ATTENDED,
    *,
    engagement: int | None = None,
    homework_assigned: bool = False,
    homework_completed: HomeworkCompletion | None = None,
) -> SessionFact:
    return SessionFact(
        starts_at=at(day),
        attendance=attendance,
        engagement=engagement,
        homework_assigned=homework_assigned,
        homework_completed=homework_completed,
    )


def measure(
    day: float, code: str, items: tuple[int | None, ...] | None = None, total: float | None = None
) -> MeasureFact:
    return MeasureFact(instrument=code, administered_at=at(day), items=items, total=total)


def client(
    *,
    status: ClientStatus = ClientStatus.ACTIVE,
    intake: date = date(2025, 1, 6),
    cadence: int = 7,
    episodes: tuple[EpisodeFact, ...] = (),
    observations: tuple[ObservationFact, ...] = (),
    sessions: tuple[SessionFact, ...] = (),
    measures: tuple[MeasureFact, ...] = (),
    care_changes: tuple[datetime, ...] = (),
) -> ClientFacts:
    return ClientFacts(
        status=status,
        intake_date=intake,
        session_cadence_days=cadence,
        episodes=tuple(sorted(episodes, key=lambda e: e.started_at)),
        observations=tuple(sorted(observations, key=lambda o: o.observed_at)),
        sessions=tuple(sorted(sessions, key=lambda s: s.starts_at)),
        measures=tuple(sorted(measures, key=lambda m: m.administered_at)),
        care_changes=care_changes,
    )


def metrics(
    facts: ClientFacts,
    *,
    start: datetime | None = None,
    end: datetime = END,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
    monitoring_points_from: datetime | None = None,
) -> ClientMetrics:
    """Metrics over [end - 28 days, end) by default, with now = end."""
    return compute_client_metrics(
        facts,
        start=start if start is not None else end - timedelta(days=28),
        end=end,
        now=now if now is not None else end,
        thresholds=thresholds if thresholds is not None else Thresholds(),
        monitoring_points_from=monitoring_points_from,
    )
