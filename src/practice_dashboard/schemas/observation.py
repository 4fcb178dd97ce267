from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from practice_dashboard.models.enums import Source, Zone
from practice_dashboard.schemas.common import (
    Correctable,
    CorrectionInput,
    InputSchema,
    LongText,
    NotNull,
    Scale,
    UtcDatetime,
)


class ObservationCreate(InputSchema):
    observed_at: UtcDatetime
    session_id: uuid.UUID | None = Field(default=None, description="The session it was made in")
    source: Source = Source.PRACTITIONER
    zone: Zone = Field(description="within (ventral), hyper (sympathetic) or hypo (dorsal)")
    activation: Scale
    capacity: Scale | None = Field(default=None, description="How much could be felt, 0–10")
    safety: Scale | None = None
    body_connection: Scale | None = None
    notes: LongText | None = None


class ObservationUpdate(CorrectionInput):
    observed_at: Annotated[UtcDatetime | None, NotNull] = None
    session_id: uuid.UUID | None = None
    source: Annotated[Source | None, NotNull] = None
    zone: Annotated[Zone | None, NotNull] = None
    activation: Annotated[Scale | None, NotNull] = None
    capacity: Scale | None = None
    safety: Scale | None = None
    body_connection: Scale | None = None
    notes: LongText | None = None


class ObservationRead(Correctable):
    client_id: uuid.UUID
    session_id: uuid.UUID | None
    recorded_by_id: uuid.UUID | None
    observed_at: datetime
    source: Source
    zone: Zone
    activation: int
    capacity: int | None
    safety: int | None
    body_connection: int | None
    notes: str | None
