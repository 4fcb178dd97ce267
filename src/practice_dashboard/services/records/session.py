"""Sessions (the client's meetings with their practitioner)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import CLOCK_SLACK, DUE_ATTENDANCE
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Client, Session
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Attendance, HomeworkCompletion
from practice_dashboard.schemas.session import SessionCreate, SessionUpdate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import (
    apply_update,
    check_range,
    check_version,
    in_time_range,
    page,
)

REQUIRED = ("starts_at", "duration_minutes", "kind", "modality", "attendance", "homework_assigned")


def attendance_problems(
    *,
    starts_at: datetime,
    attendance: Attendance,
    engagement: int | None,
    homework_completed: HomeworkCompletion | None,
    now: datetime,
) -> list[tuple[tuple[str, ...], str]]:
    """What the attendance rules refuse, as (field, message): for the API and the CSV import."""
    problems: list[tuple[tuple[str, ...], str]] = []
    # Attendance can only be known once a session has begun; allow for clocks a little apart.
    if attendance in DUE_ATTENDANCE and starts_at > now + CLOCK_SLACK:
        problems.append(
            (("attendance",), f"a session in the future cannot be marked {attendance.value}")
        )
    if engagement is not None and attendance != Attendance.ATTENDED:
        problems.append((("engagement",), "engagement can only be rated for an attended session"))
    if homework_completed is not None and attendance != Attendance.ATTENDED:
        problems.append(
            (("homework_completed",), "homework can only be reviewed in an attended session")
        )
    return problems


def _validate(session: Session, now: datetime) -> None:
    problems = attendance_problems(
        starts_at=session.starts_at,
        attendance=session.attendance,
        engagement=session.engagement,
        homework_completed=session.homework_completed,
        now=now,
    )
    if problems:
        raise Invalid(problems)


def list_sessions(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    start: datetime | None,
    end: datetime | None,
    attendance: Attendance | None,
    limit: int,
    offset: int,
) -> tuple[list[Session], int]:
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    stmt = select(Session).where(
        Session.client_id == client.id,
        Session.archived_at.is_(None),
        *in_time_range(Session.starts_at, start, end),
    )
    if attendance is not None:
        stmt = stmt.where(Session.attendance == attendance)
    items, total = page(
        db, stmt, order_by=(Session.starts_at.desc(), Session.id.desc()), limit=limit, offset=offset
    )
    audit.record(db, actor, "list", "session", client_id=client.id)
    return items, total


def create_session(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    data: SessionCreate,
    actor: Actor,
    record_id: uuid.UUID | None = None,
) -> Session:
    """`record_id` lets a form choose the new row's key, so a repeated submit saves once."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    session = Session(
        id=record_id or uuid7(),
        client_id=client.id,
        practitioner_id=client.practitioner_id,
        **data.model_dump(),
    )
    _validate(session, utcnow())
    db.add(session)
    db.flush()
    audit.record(db, actor, "create", "session", session.id, client_id=client.id)
    return session


def update_session(
    db: DbSession, *, session_id: uuid.UUID, data: SessionUpdate, actor: Actor
) -> Session:
    session, client = access.get_visible_child(db, actor.user, Session, session_id, for_write=True)
    if session.archived_at is not None:
        raise Invalid([(("session_id",), "this session was deleted")])
    changed = apply_update(session, data, required=REQUIRED)
    _validate(session, utcnow())
    if changed:
        db.flush()
        audit.record(
            db,
            actor,
            "update",
            "session",
            session.id,
            client_id=client.id,
            detail=",".join(sorted(changed)),
        )
    return session


def delete_session(
    db: DbSession, *, session_id: uuid.UUID, actor: Actor, version: int | None
) -> Session:
    """Soft delete: nothing clinical is hard-deleted; the session is hidden from lists."""
    session, client = access.get_visible_child(db, actor.user, Session, session_id, for_write=True)
    check_version(session, version)
    if session.archived_at is None:
        session.archived_at = utcnow()
        db.flush()
        audit.record(db, actor, "delete", "session", session.id, client_id=client.id)
    return session


def missing_sessions(db: DbSession, client: Client, session_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The ids in `session_ids` that are not (undeleted) sessions of this client."""
    if not session_ids:
        return set()
    found = set(
        db.scalars(
            select(Session.id).where(
                Session.id.in_(session_ids),
                Session.client_id == client.id,
                Session.archived_at.is_(None),
            )
        )
    )
    return session_ids - found


def check_session_belongs(db: DbSession, client: Client, session_ids: set[uuid.UUID]) -> None:
    """Observations and episodes may only point at a session of the same client."""
    missing = missing_sessions(db, client, session_ids)
    if missing:
        raise Invalid(
            [
                (("session_id",), f"no session {sid} for this client")
                for sid in sorted(map(str, missing))
            ]
        )
