from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.schemas.common import InputSchema, LongText, NotNull, Record

# A date outside these is a typing slip (year 20266, birth year 0202), never a real client's.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def _plausible(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


def _born(value: date) -> date:
    # A day of slack: "today" differs across time zones.
    if value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("a date of birth cannot be in the future")
    return value


PlausibleDate = Annotated[date, AfterValidator(_plausible)]
BirthDate = Annotated[PlausibleDate, AfterValidator(_born)]


class ClientCreate(InputSchema):
    display_name: str = Field(
        min_length=1, max_length=120, description="Name, pseudonym or initials"
    )
    external_ref: str | None = Field(default=None, max_length=120)
    date_of_birth: BirthDate | None = None
    status: ClientStatus = ClientStatus.ACTIVE
    intake_date: PlausibleDate | None = Field(default=None, description="Defaults to today")
    discharged_on: PlausibleDate | None = None
    goals: LongText | None = None
    session_cadence_days: int = Field(
        default=7, ge=1, le=365, description="Expected days between sessions"
    )

    # A field validator so that the 422 names discharged_on, not the whole body.
    @field_validator("discharged_on")
    @classmethod
    def _not_before_intake(cls, value: date | None, info: ValidationInfo) -> date | None:
        intake_date = info.data.get("intake_date")
        if value is not None and intake_date is not None and value < intake_date:
            raise ValueError("must not be before intake_date")
        return value


class ClientUpdate(InputSchema):
    display_name: Annotated[str | None, NotNull] = Field(default=None, min_length=1, max_length=120)
    external_ref: str | None = Field(default=None, max_length=120)
    date_of_birth: BirthDate | None = None
    status: Annotated[ClientStatus | None, NotNull] = None
    intake_date: Annotated[PlausibleDate | None, NotNull] = None
    discharged_on: PlausibleDate | None = None
    goals: LongText | None = None
    session_cadence_days: Annotated[int | None, NotNull] = Field(default=None, ge=1, le=365)
    version: int = Field(description="The version this change is based on")


class ClientRead(Record):
    practitioner_id: uuid.UUID
    display_name: str
    external_ref: str | None
    date_of_birth: date | None
    status: ClientStatus
    intake_date: date
    discharged_on: date | None
    goals: str | None
    session_cadence_days: int
    archived_at: datetime | None
    version: int
