from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.schemas.common import (
    BirthDate,
    InputSchema,
    LongText,
    NotNull,
    PlausibleDate,
    Record,
)


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
