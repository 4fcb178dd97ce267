"""The schedule: book one session or a series, see the bookings, complete a booking."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Query, status
from pydantic import BaseModel

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.api.responses import AUTHENTICATED, CLIENT_WRITE, VERSIONED_WRITE
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.errors import Invalid
from practice_dashboard.routing import Router
from practice_dashboard.schemas.common import UtcDatetime
from practice_dashboard.schemas.session import (
    ScheduleEntry,
    SessionCompletion,
    SessionRead,
    SessionSeriesCreate,
)
from practice_dashboard.services.records import session as session_service

router = Router(tags=["schedule"])
# One schedule request covers at most this long, so a single answer stays small.
MAX_SCHEDULE_SPAN = timedelta(days=62)


class SeriesRead(BaseModel):
    """The bookings a series made, first to last."""

    items: list[SessionRead]
    total: int


class ScheduleRead(BaseModel):
    """The sessions in a period across the caller's caseload, by start time."""

    start: UtcDatetime
    end: UtcDatetime
    items: list[ScheduleEntry]


@router.post(
    "/clients/{client_id}/sessions/series",
    response_model=SeriesRead,
    status_code=status.HTTP_201_CREATED,
    responses=CLIENT_WRITE,
)
def book_series(
    client_id: uuid.UUID,
    data: SessionSeriesCreate,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> SeriesRead:
    """Book one session, or a series at the client's rhythm (`every_days`); all or nothing."""
    sessions = session_service.book_sessions(
        db, client_id=client_id, data=data, actor=actor, tz=settings.timezone
    )
    return SeriesRead(items=[SessionRead.model_validate(s) for s in sessions], total=len(sessions))


@router.get("/schedule", response_model=ScheduleRead, responses=AUTHENTICATED)
def schedule(
    actor: CurrentActor,
    db: DbDep,
    start: Annotated[UtcDatetime, Query(description="From (inclusive, ISO 8601 with offset)")],
    end: Annotated[UtcDatetime, Query(description="Up to (exclusive); at most 62 days later")],
) -> ScheduleRead:
    """Every session in the period across the caller's visible caseload, bookings included."""
    if end - start > MAX_SCHEDULE_SPAN:
        raise Invalid([(("end",), "at most 62 days after start")], location="query")
    rows = session_service.week_schedule(db, actor=actor, start=start, end=end)
    return ScheduleRead(
        start=start,
        end=end,
        items=[
            ScheduleEntry.model_validate(
                {
                    **SessionRead.model_validate(s).model_dump(),
                    "client_display_name": c.display_name,
                }
            )
            for s, c in rows
        ],
    )


@router.post(
    "/sessions/{session_id}/attendance", response_model=SessionRead, responses=VERSIONED_WRITE
)
def complete_booking(
    session_id: uuid.UUID, data: SessionCompletion, actor: CurrentActor, db: DbDep
) -> SessionRead:
    """Complete a booking: attended, no-show, late cancel or cancelled; send its `version`."""
    return SessionRead.model_validate(
        session_service.complete_booking(db, session_id=session_id, data=data, actor=actor)
    )
