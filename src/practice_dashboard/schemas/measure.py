from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, StrictInt

from practice_dashboard.models.enums import Source
from practice_dashboard.schemas.common import InputSchema, Record, UtcDatetime


class MeasureCreate(InputSchema):
    instrument: str = Field(max_length=40, description="Registry code: phq9, gad7, cbi, ors, srs")
    administered_at: UtcDatetime
    # Strict: an answer is a whole number, never true/false, "2" or 2.0 coerced into one.
    items: list[StrictInt | None] | None = Field(
        default=None,
        max_length=200,
        description="Answers in the instrument's item order (null = unanswered)",
    )
    total: float | None = Field(
        default=None, description="Only for total-only instruments (ORS, SRS), 0–40"
    )
    source: Source = Source.CLIENT


class MeasureRead(Record):
    client_id: uuid.UUID
    instrument: str
    administered_at: datetime
    items: list[int | None] | None
    source: Source
    total: float | None
    subscales: dict[str, Any] | None
    severity: str | None
