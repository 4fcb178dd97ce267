"""Questionnaire assignments: the practitioner assigns an instrument on a rhythm; the client
answers it through their check-in link when it is due.

Validated on every write: the instrument is in the registry, has items to answer, and is not
ORS/SRS (their licence forbids electronic forms); the rhythm is 1–365 days (the schema); the
dates are plausible. Scoped through `access` (404 for a client the caller may not see) and
audited. Deleting archives. Where an assignment stands (next due, overdue) is the domain's
rule (`domain/assignments.py`), read from the client's administrations in one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.assignments import (
    NEVER_ASSIGNED,
    AssignmentStatus,
    assignment_status,
)
from practice_dashboard.domain.facts import AssignmentFact
from practice_dashboard.domain.instruments import INSTRUMENTS
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import Assignment, Client, Measure
from practice_dashboard.models.base import utcnow
from practice_dashboard.schemas.assignment import AssignmentCreate, AssignmentUpdate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import apply_update, check_version

#: How far from today a start may lie: further is a typing slip, not a plan.
START_HORIZON = timedelta(days=365)

Problems = list[tuple[tuple[str, ...], str]]


@dataclass(frozen=True, slots=True)
class AssignmentView:
    """An assignment with where it stands today."""

    assignment: Assignment
    status: AssignmentStatus


def assignable(code: str) -> bool:
    """Whether a client may be asked to answer this instrument through their link."""
    instrument = INSTRUMENTS.get(code)
    return (
        instrument is not None
        and code not in NEVER_ASSIGNED
        and not instrument.total_only
        and instrument.item_text is not None
    )


def assignable_codes() -> tuple[str, ...]:
    """The registry's instruments a practitioner may assign, in registry order."""
    return tuple(code for code in INSTRUMENTS if assignable(code))


def _instrument_problems(code: str) -> Problems:
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        return [(("instrument",), f"unknown instrument {code!r}")]
    if code in NEVER_ASSIGNED:
        return [
            (
                ("instrument",),
                f"{instrument.short_name} cannot be assigned: its licence forbids electronic "
                "forms (it may only be entered as a total under the practitioner's own licence)",
            )
        ]
    if not assignable(code):
        return [(("instrument",), f"{instrument.short_name} has no items a client can answer")]
    return []


def _date_problems(starts_on: date, ends_on: date | None, today: date) -> Problems:
    problems: Problems = []
    if abs(starts_on - today) > START_HORIZON:
        problems.append((("starts_on",), "must be within a year of today"))
    if ends_on is not None and ends_on < starts_on:
        problems.append((("ends_on",), "must not be before starts_on"))
    return problems


def _live(db: DbSession, client_id: uuid.UUID) -> list[Assignment]:
    return list(
        db.scalars(
            select(Assignment)
            .where(Assignment.client_id == client_id, Assignment.archived_at.is_(None))
            .order_by(Assignment.starts_on, Assignment.instrument, Assignment.id)
        )
    )


def with_status(
    db: DbSession,
    client_id: uuid.UUID,
    assignments: Sequence[Assignment],
    *,
    today: date,
    grace_days: int,
    zone: tzinfo,
) -> list[AssignmentView]:
    """Each assignment with its status; one query for the client's administrations."""
    codes = sorted({a.instrument for a in assignments})
    times: dict[str, list[datetime]] = {code: [] for code in codes}
    if codes:
        for code, at in db.execute(
            select(Measure.instrument, Measure.administered_at).where(
                Measure.client_id == client_id,
                Measure.instrument.in_(codes),
                Measure.counted(),
            )
        ):
            times[code].append(at)
    return [
        AssignmentView(
            a,
            assignment_status(
                AssignmentFact(a.instrument, a.every_days, a.starts_on, a.ends_on),
                times.get(a.instrument, []),
                today=today,
                grace_days=grace_days,
                zone=zone,
            ),
        )
        for a in assignments
    ]


def list_assignments(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    today: date,
    grace_days: int,
    zone: tzinfo,
) -> list[AssignmentView]:
    """The client's live assignments, by start date."""
    client = access.get_visible_client(db, actor.user, client_id)
    audit.record(db, actor, "list", "assignment", client_id=client.id)
    return with_status(
        db, client.id, _live(db, client.id), today=today, grace_days=grace_days, zone=zone
    )


def create_assignment(
    db: DbSession, *, client_id: uuid.UUID, data: AssignmentCreate, actor: Actor, today: date
) -> Assignment:
    """Assign an instrument on a rhythm; one live assignment per instrument and client."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    problems = _instrument_problems(data.instrument)
    problems += _date_problems(data.starts_on, data.ends_on, today)
    if client.archived_at is not None:
        problems.append((("client_id",), "the client is archived; restore them first"))
    if not problems and any(a.instrument == data.instrument for a in _live(db, client.id)):
        name = INSTRUMENTS[data.instrument].short_name
        problems.append(
            (("instrument",), f"{name} is already assigned; change that assignment's rhythm")
        )
    if problems:
        raise Invalid(problems)
    assignment = Assignment(client_id=client.id, created_by_id=actor.user.id, **data.model_dump())
    db.add(assignment)
    db.flush()
    audit.record(db, actor, "create", "assignment", assignment.id, client_id=client.id)
    return assignment


def _get(db: DbSession, actor: Actor, assignment_id: uuid.UUID) -> tuple[Assignment, Client]:
    assignment, client = access.get_visible_child(
        db, actor.user, Assignment, assignment_id, for_write=True
    )
    if assignment.archived_at is not None:
        raise NotFound("Assignment not found")
    return assignment, client


def update_assignment(
    db: DbSession,
    *,
    assignment_id: uuid.UUID,
    data: AssignmentUpdate,
    actor: Actor,
    today: date,
) -> Assignment:
    """Change the rhythm or the dates (with the `version` read)."""
    assignment, client = _get(db, actor, assignment_id)
    check_version(assignment, data.version)
    sent = data.model_dump(exclude_unset=True)
    starts_on = sent.get("starts_on", assignment.starts_on)
    ends_on = sent["ends_on"] if "ends_on" in sent else assignment.ends_on
    # A start left as it was may lie further back than a year: only a new start is checked.
    date_problems = _date_problems(starts_on, ends_on, today)
    if "starts_on" not in sent:
        date_problems = [p for p in date_problems if p[0] != ("starts_on",)]
    if date_problems:
        raise Invalid(date_problems)
    changed = apply_update(assignment, data)
    db.flush()
    if changed:
        audit.record(
            db,
            actor,
            "update",
            "assignment",
            assignment.id,
            client_id=client.id,
            detail=", ".join(sorted(changed)),
        )
    return assignment


def archive_assignment(
    db: DbSession, *, assignment_id: uuid.UUID, actor: Actor, version: int | None
) -> Assignment:
    """Stop an assignment: nothing more is due; it stays in the record, archived."""
    assignment, client = _get(db, actor, assignment_id)
    check_version(assignment, version)
    assignment.archived_at = utcnow()
    db.flush()
    audit.record(db, actor, "delete", "assignment", assignment.id, client_id=client.id)
    return assignment


def due_for_client(
    db: DbSession, client_id: uuid.UUID, *, today: date, grace_days: int, zone: tzinfo
) -> list[AssignmentView]:
    """What the client is asked to answer now (for their check-in pages), most overdue first."""
    views = with_status(
        db, client_id, _live(db, client_id), today=today, grace_days=grace_days, zone=zone
    )
    due = [v for v in views if v.status.due_now and assignable(v.assignment.instrument)]
    return sorted(due, key=lambda v: (-v.status.overdue_days, v.assignment.instrument))
