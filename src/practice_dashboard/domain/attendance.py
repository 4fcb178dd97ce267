"""Attendance over a period: sessions due, attended and missed, engagement and homework.

Definitions follow DESIGN.md "Metrics" (engagement): a session is *due* when it was attended,
missed (no-show) or cancelled late; a cancellation in good time is not due. Homework reported
done scores yes 1, partly 0.5, no 0. Rates are None (never 0) when nothing was due or rated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from practice_dashboard.domain.facts import (
    DUE_ATTENDANCE,
    HOMEWORK_SCORE,
    Attendance,
    ClientFacts,
    SessionFact,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import ClientMetrics


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
        """The sessions the client was expected at (``facts.DUE_ATTENDANCE``)."""
        return self.attended + self.no_show + self.late_cancel


def _ts(value: datetime) -> float:
    return value.timestamp()


def period_attendance(
    facts: ClientFacts,
    metrics: ClientMetrics,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    thresholds: Thresholds,
) -> AttendanceFigures:
    """Counts and rates of the sessions in ``[start, end)`` up to now, beside the engagement
    metrics as of the period's end (`metrics`: the domain's metrics of its last 28 days)."""
    th = thresholds
    lo, hi = _ts(start), _ts(min(end, now))
    sessions = [s for s in facts.sessions if lo <= _ts(s.starts_at) < hi]
    counts = {a: sum(1 for s in sessions if s.attendance == a) for a in Attendance}
    due = sum(counts[a] for a in DUE_ATTENDANCE)
    ratings = [float(s.engagement) for s in sessions if s.engagement is not None]
    homework = [
        HOMEWORK_SCORE[s.homework_completed]
        for s in sessions
        if s.attendance == Attendance.ATTENDED and s.homework_completed is not None
    ]
    as_of = _ts(min(end, now))
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


def attendance_counts(
    sessions: Sequence[SessionFact], as_of: float, th: Thresholds
) -> tuple[int, int]:
    """(attended, due) among the last due sessions before `as_of`: the attendance rate's
    numerator and denominator (DESIGN.md "engagement"), for saying "5 of the last 6"."""
    due = [
        s
        for s in sorted(sessions, key=lambda s: s.starts_at)
        if _ts(s.starts_at) < as_of and s.attendance in DUE_ATTENDANCE
    ][-th.attendance_window :]
    return sum(1 for s in due if s.attendance == Attendance.ATTENDED), len(due)
