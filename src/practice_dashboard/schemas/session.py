from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, StrictInt

from practice_dashboard.models.enums import Attendance, HomeworkCompletion, Modality, SessionKind
from practice_dashboard.schemas.common import (
    Correctable,
    CorrectionInput,
    InputSchema,
    LongText,
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
    starts_at: UtcDatetime | None = None
    duration_minutes: StrictInt | None = Field(default=None, ge=1, le=480)
    kind: SessionKind | None = None
    modality: Modality | None = None
    attendance: Attendance | None = None
    engagement: Scale | None = None
    homework_assigned: bool | None = None
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
