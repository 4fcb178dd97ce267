from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from practice_dashboard.models.annotation import AnnotationKind
from practice_dashboard.schemas.common import (
    Correctable,
    CorrectionInput,
    InputSchema,
    LongText,
    NotNull,
    UtcDatetime,
)


class AnnotationCreate(InputSchema):
    at: UtcDatetime = Field(description="When it happened")
    kind: AnnotationKind = Field(description="life_event, medication, care_change or other")
    label: str = Field(min_length=1, max_length=200, description="Shown on the charts")
    notes: LongText | None = None


class AnnotationUpdate(CorrectionInput):
    at: Annotated[UtcDatetime | None, NotNull] = None
    kind: Annotated[AnnotationKind | None, NotNull] = None
    label: Annotated[str | None, NotNull] = Field(default=None, min_length=1, max_length=200)
    notes: LongText | None = None


class AnnotationRead(Correctable):
    client_id: uuid.UUID
    created_by_id: uuid.UUID | None
    at: datetime
    kind: AnnotationKind
    label: str
    notes: str | None
    archived_at: datetime | None
