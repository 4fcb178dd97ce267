"""Questionnaire assignments: which instrument a client answers through their check-in link,
and on what rhythm."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

from practice_dashboard.domain.assignments import EVERY_DAYS_MAX, EVERY_DAYS_MIN
from practice_dashboard.schemas.common import InputSchema, NotNull, PlausibleDate, Schema


def _rhythm(value: int) -> int:
    if not EVERY_DAYS_MIN <= value <= EVERY_DAYS_MAX:
        raise ValueError(
            f"the rhythm must be between {EVERY_DAYS_MIN} and {EVERY_DAYS_MAX} days "
            "(under a day or over a year is not a rhythm)"
        )
    return value


# The range is checked by _rhythm (for its plain message) and published in the JSON schema.
EveryDays = Annotated[
    StrictInt,
    AfterValidator(_rhythm),
    Field(
        description=f"Days between administrations, {EVERY_DAYS_MIN}–{EVERY_DAYS_MAX}",
        json_schema_extra={"minimum": EVERY_DAYS_MIN, "maximum": EVERY_DAYS_MAX},
    ),
]


class AssignmentCreate(InputSchema):
    instrument: str = Field(
        max_length=40, description="Registry code: phq9, gad7 or cbi (never ors/srs)"
    )
    every_days: EveryDays
    starts_on: PlausibleDate = Field(description="The first administration is due on this day")
    ends_on: PlausibleDate | None = Field(default=None, description="Nothing is due after this day")


class AssignmentUpdate(InputSchema):
    """A change of rhythm or dates; another instrument is a new assignment."""

    version: int
    every_days: Annotated[EveryDays | None, NotNull] = None
    starts_on: Annotated[PlausibleDate | None, NotNull] = None
    ends_on: PlausibleDate | None = None


class AssignmentRead(Schema):
    id: uuid.UUID
    client_id: uuid.UUID
    instrument: str
    every_days: int
    starts_on: date
    ends_on: date | None
    version: int
    created_at: datetime
    created_by_id: uuid.UUID
    archived_at: datetime | None
    # Where it stands today (practice time zone; domain/assignments.py has the rule).
    next_due_on: date | None = Field(default=None, description="None: nothing more is due")
    last_administered_on: date | None = None
    due_now: bool = False
    overdue_days: int = 0
    overdue_beyond_grace: bool = Field(
        default=False, description="Overdue by more than the practice's grace period"
    )
