"""Sessions (the client's meetings with their practitioner)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import CLOCK_SLACK, DUE_ATTENDANCE
from practice_dashboard.domain.periods import BEYOND_PLANNING_HORIZON, PLANNING_HORIZON
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Client, RecordKind, Session
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Attendance, ClientStatus, HomeworkCompletion
from practice_dashboard.schemas.session import (
    SessionCompletion,
    SessionCreate,
    SessionSeriesCreate,
    SessionUpdate,
)
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import (
    check_range,
    check_version,
    in_time_range,
    page,
)
from practice_dashboard.services.records import revisions


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
    if starts_at > now + PLANNING_HORIZON:
        problems.append((("starts_at",), BEYOND_PLANNING_HORIZON))
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
    """Complete or correct a session, or mark it entered in error, keeping its history."""
    session, client = access.get_visible_child(db, actor.user, Session, session_id, for_write=True)
    if session.archived_at is not None:
        raise Invalid([(("session_id",), "this session was deleted")])
    now = utcnow()
    revisions.correct(
        db,
        kind=RecordKind.SESSION,
        record=session,
        client=client,
        data=data,
        actor=actor,
        validate=lambda _sent: _validate(session, now),
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


# --------------------------------------------------------------------------------------------
# Schedule: bookings (sessions with attendance `scheduled`), the week, completing a booking
# --------------------------------------------------------------------------------------------

# "A series longer than a year" is refused: the days a series covers, at most.
MAX_SERIES_DAYS = 365


def series_starts(data: SessionSeriesCreate, cadence_days: int) -> list[datetime]:
    """The start of each booking in a series: every `every_days` (default the cadence)."""
    every = data.every_days or cadence_days
    if data.weeks is not None:
        # "For N weeks": every booking that starts within N × 7 days of the first.
        count = -(-data.weeks * 7 // every)
    else:
        count = data.count or 1
    return [data.starts_at + timedelta(days=every * i) for i in range(count)]


def _series_span_days(data: SessionSeriesCreate, cadence_days: int) -> int:
    every = data.every_days or cadence_days
    return data.weeks * 7 if data.weeks is not None else (data.count or 1) * every


def _check_bookable(client: Client, starts: list[datetime], tz: tzinfo, now: datetime) -> None:
    """Nothing is booked past the planning horizon, nor after a discharged client's discharge."""
    if starts and starts[-1] > now + PLANNING_HORIZON:
        raise Invalid([(("starts_at",), BEYOND_PLANNING_HORIZON)])
    if client.status != ClientStatus.DISCHARGED:
        return
    if client.discharged_on is not None:
        late = [s for s in starts if s.astimezone(tz).date() > client.discharged_on]
        when = f"after their discharge on {client.discharged_on.isoformat()}"
    else:
        late = [s for s in starts if s > now]
        when = "in the future"
    if late:
        raise Invalid(
            [(("starts_at",), f"this client is discharged: no session can be booked {when}")]
        )


def book_sessions(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    data: SessionSeriesCreate,
    actor: Actor,
    tz: tzinfo,
    first_id: uuid.UUID | None = None,
) -> list[Session]:
    """Book one session or a series at the client's rhythm: every booking is made, or none.

    `first_id` lets a form choose the first booking's key, so a repeated submit books once.
    """
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    if client.archived_at is not None:
        raise Invalid([(("client_id",), "this client is archived; restore them to book")])
    span = _series_span_days(data, client.session_cadence_days)
    if span > MAX_SERIES_DAYS:
        field = "weeks" if data.weeks is not None else "count"
        raise Invalid(
            [
                (
                    (field,),
                    f"a series may cover at most a year ({MAX_SERIES_DAYS} days), this is {span}",
                )
            ]
        )
    starts = series_starts(data, client.session_cadence_days)
    _check_bookable(client, starts, tz, utcnow())
    sessions = [
        Session(
            id=(first_id if i == 0 and first_id is not None else uuid7()),
            client_id=client.id,
            practitioner_id=client.practitioner_id,
            starts_at=start,
            duration_minutes=data.duration_minutes,
            kind=data.kind,
            modality=data.modality,
            attendance=Attendance.SCHEDULED,
            homework_assigned=False,
        )
        for i, start in enumerate(starts)
    ]
    db.add_all(sessions)
    db.flush()
    audit.record_many(db, actor, "book", "session", [s.id for s in sessions], client_id=client.id)
    return sessions


def week_schedule(
    db: DbSession, *, actor: Actor, start: datetime, end: datetime
) -> list[tuple[Session, Client]]:
    """Every session in [start, end) across the caller's visible caseload, in one query."""
    check_range(start, end)
    rows = db.execute(
        select(Session, Client)
        .join(Client, Client.id == Session.client_id)
        .where(
            Client.id.in_(access.visible_client_ids(actor.user)),
            Client.archived_at.is_(None),
            Session.archived_at.is_(None),
            *in_time_range(Session.starts_at, start, end),
        )
        .order_by(Session.starts_at, Client.display_name, Session.id)
    ).all()
    audit.record(
        db,
        actor,
        "list",
        "session",
        detail=f"schedule: {len(rows)}",
        client_ids=sorted({client.id for _session, client in rows}),
    )
    return [(session, client) for session, client in rows]


def complete_booking(
    db: DbSession, *, session_id: uuid.UUID, data: SessionCompletion, actor: Actor
) -> Session:
    """Mark a booking attended, no-show, late cancel or cancelled (version-checked)."""
    session, _client = access.get_visible_child(db, actor.user, Session, session_id, for_write=True)
    check_version(session, data.version)
    if session.attendance != Attendance.SCHEDULED:
        raise Invalid(
            [
                (
                    ("attendance",),
                    f"this session is already marked {session.attendance.value}; edit it to change",
                )
            ]
        )
    # Through the ordinary update, so the change is validated and recorded like any edit.
    return update_session(
        db,
        session_id=session.id,
        data=SessionUpdate(attendance=data.attendance, version=data.version),
        actor=actor,
    )


def booking_near(
    db: DbSession, *, client: Client, starts_at: datetime, slack: timedelta
) -> Session | None:
    """The client's booking closest to `starts_at`, if one is within `slack` of it."""
    rows = db.scalars(
        select(Session).where(
            Session.client_id == client.id,
            Session.archived_at.is_(None),
            Session.attendance == Attendance.SCHEDULED,
            Session.starts_at >= starts_at - slack,
            Session.starts_at <= starts_at + slack,
        )
    ).all()
    return min(rows, key=lambda s: (abs(s.starts_at - starts_at), s.id), default=None)


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
