from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictInt, ValidationInfo, field_validator

from practice_dashboard.models.enums import Attendance, HomeworkCompletion, Modality, SessionKind
from practice_dashboard.schemas.common import (
    Correctable,
    CorrectionInput,
    InputSchema,
    LongText,
    NotNull,
    Scale,
    UtcDatetime,
)


class SessionCreate(InputSchema):
    starts_at: UtcDatetime
    duration_minutes: StrictInt = Field(default=50, ge=1, le=480)
    kind: SessionKind = SessionKind.THERAPY
    modality: Modality = Modality.IN_PERSON
    attendance: Attendance = Attendance.SCHEDULED
    engagement: Scale | None = Field(
        default=None, description="Practitioner-rated engagement, 0–10; attended sessions only"
    )
    homework_assigned: bool = False
    homework_completed: HomeworkCompletion | None = Field(
        default=None, description="How much of the previous session's homework was done"
    )
    notes: LongText | None = None


class SessionUpdate(CorrectionInput):
    starts_at: Annotated[UtcDatetime | None, NotNull] = None
    duration_minutes: Annotated[StrictInt | None, NotNull] = Field(default=None, ge=1, le=480)
    kind: Annotated[SessionKind | None, NotNull] = None
    modality: Annotated[Modality | None, NotNull] = None
    attendance: Annotated[Attendance | None, NotNull] = None
    engagement: Scale | None = None
    homework_assigned: Annotated[bool | None, NotNull] = None
    homework_completed: HomeworkCompletion | None = None
    notes: LongText | None = None


class SessionRead(Correctable):
    client_id: uuid.UUID
    practitioner_id: uuid.UUID
    starts_at: datetime
    duration_minutes: int
    kind: SessionKind
    modality: Modality
    attendance: Attendance
    engagement: int | None
    homework_assigned: bool
    homework_completed: HomeworkCompletion | None
    notes: str | None
    archived_at: datetime | None


class SessionSeriesCreate(InputSchema):
    """A booking, or a series of bookings at a fixed rhythm (all booked, or none)."""

    starts_at: UtcDatetime = Field(description="The first booking")
    weeks: StrictInt | None = Field(
        default=None, ge=1, le=520, description="Book for this many weeks (or give `count`)"
    )
    count: StrictInt | None = Field(
        default=None, ge=1, le=520, description="Book this many sessions (or give `weeks`)"
    )
    every_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Days between bookings (default: the client's rhythm)",
    )
    duration_minutes: StrictInt = Field(default=50, ge=1, le=480)
    kind: SessionKind = SessionKind.THERAPY
    modality: Modality = Modality.IN_PERSON

    # A field validator, so the 422 names `count` rather than the whole body.
    @field_validator("count")
    @classmethod
    def _weeks_or_count(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("weeks") is not None:
            raise ValueError("give weeks or count, not both")
        return value


class SessionCompletion(InputSchema):
    """What became of a booking: attended, no-show, late cancel or cancelled."""

    attendance: Attendance = Field(description="Anything but `scheduled`")
    version: int = Field(description="The version this change is based on")

    @field_validator("attendance")
    @classmethod
    def _not_scheduled(cls, value: Attendance) -> Attendance:
        if value == Attendance.SCHEDULED:
            raise ValueError("choose what happened: attended, no_show, late_cancel or cancelled")
        return value


class ScheduleEntry(SessionRead):
    """A session on the schedule, with the name of its client."""

    client_display_name: str
