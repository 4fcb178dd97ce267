from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from practice_dashboard.schemas.common import InputSchema, Record, UtcDatetime


class SelfCheckCreate(InputSchema):
    instrument: str = Field(default="cbi", max_length=40, description="Registry code, e.g. cbi")
    administered_at: UtcDatetime
    items: list[int | None] | None = Field(default=None, max_length=200)
    total: float | None = None


class SelfCheckRead(Record):
    practitioner_id: uuid.UUID
    instrument: str
    administered_at: datetime
    items: list[int | None] | None
    total: float | None
    subscales: dict[str, Any] | None
    severity: str | None
