"""Questionnaire assignments: when the next administration is due, and how late it is.

An assignment asks the client to answer one instrument on a rhythm (DESIGN.md "Client
check-ins"). Our definition (not a published rule; every number is configuration):

* The first administration is due on ``starts_on``. Each later one is due ``every_days``
  after the client's latest administration of that instrument on or after ``starts_on``
  (answered by the client through the link or entered by the practitioner: both count). The
  rhythm follows the answers, so a late answer moves the next one back and two are never
  owed at once. Administrations before ``starts_on`` do not count.
* Nothing is due after ``ends_on``: an administration falling due after it is not asked
  for, and once ``ends_on`` has passed nothing is due or overdue any more.
* Dates are days in the practice's time zone: an administration at 00:30 in London on a
  summer day belongs to that day, not to the previous UTC day.
* **Due now**: the next due date is today or earlier. **Overdue days** = today − due date
  (0 on the due day itself). **Overdue beyond the grace period**: overdue days > the grace
  period (``Thresholds.assessment_grace_days``, default 3), the ``assessment_overdue``
  engagement signal.

Pure: no database, no clock; "today" is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from practice_dashboard.domain.facts import AssignmentFact, MeasureFact
from practice_dashboard.domain.flags import OverdueAssessment
from practice_dashboard.domain.instruments import instrument_name

#: The shortest and longest rhythm (days): under a day or over a year is not a rhythm.
EVERY_DAYS_MIN = 1
EVERY_DAYS_MAX = 365
#: Instruments whose licence forbids electronic forms (DOMAIN.md §2.1: PCOMS): never assigned.
NEVER_ASSIGNED = frozenset({"ors", "srs"})


@dataclass(frozen=True, slots=True)
class AssignmentStatus:
    """Where one assignment stands on ``today``."""

    instrument: str
    next_due_on: date | None  # None: nothing more is due (the assignment has ended)
    last_administered_on: date | None  # the latest counted administration (on/after start)
    due_now: bool
    overdue_days: int  # 0 when not due yet or due today
    overdue_beyond_grace: bool
    ended: bool  # ends_on has passed


def local_day(moment: datetime, zone: tzinfo) -> date:
    """The practice-zone calendar day of a timezone-aware time."""
    if moment.tzinfo is None:
        raise ValueError("administration times must be timezone-aware")
    return moment.astimezone(zone).date()


def assignment_status(
    assignment: AssignmentFact,
    administered_at: Iterable[datetime],
    *,
    today: date,
    grace_days: int,
    zone: tzinfo = UTC,
) -> AssignmentStatus:
    """The next due date, whether it is due and how overdue (see the module docstring).

    ``administered_at``: the times of the client's administrations of this instrument (any
    order; those after ``today`` are ignored, as a point-in-time view must).
    """
    if not EVERY_DAYS_MIN <= assignment.every_days <= EVERY_DAYS_MAX:
        raise ValueError(f"every_days must be {EVERY_DAYS_MIN}-{EVERY_DAYS_MAX}")
    days = [local_day(t, zone) for t in administered_at]
    counted = [d for d in days if assignment.starts_on <= d <= today]
    last = max(counted) if counted else None
    due = assignment.starts_on if last is None else last + timedelta(days=assignment.every_days)
    ends_on = assignment.ends_on
    ended = ends_on is not None and today > ends_on
    if ended or (ends_on is not None and due > ends_on):
        return AssignmentStatus(
            instrument=assignment.instrument,
            next_due_on=None,
            last_administered_on=last,
            due_now=False,
            overdue_days=0,
            overdue_beyond_grace=False,
            ended=ended,
        )
    overdue = max(0, (today - due).days)
    return AssignmentStatus(
        instrument=assignment.instrument,
        next_due_on=due,
        last_administered_on=last,
        due_now=due <= today,
        overdue_days=overdue,
        overdue_beyond_grace=overdue > grace_days,
        ended=False,
    )


def overdue_assessments(
    assignments: Iterable[AssignmentFact],
    measures: Iterable[MeasureFact],
    *,
    today: date,
    grace_days: int,
    zone: tzinfo = UTC,
) -> tuple[OverdueAssessment, ...]:
    """The assigned questionnaires overdue beyond the grace period, most overdue first (the
    `assessment_overdue` engagement signal)."""
    measures = list(measures)
    found = []
    for assignment in assignments:
        times = [m.administered_at for m in measures if m.instrument == assignment.instrument]
        status = assignment_status(assignment, times, today=today, grace_days=grace_days, zone=zone)
        if status.overdue_beyond_grace and status.next_due_on is not None:
            found.append(
                OverdueAssessment(
                    instrument=assignment.instrument,
                    label=instrument_name(assignment.instrument),
                    due_on=status.next_due_on,
                    days_overdue=status.overdue_days,
                )
            )
    return tuple(sorted(found, key=lambda o: (-o.days_overdue, o.instrument)))
