"""Shared request/response building blocks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from practice_dashboard.domain.periods import (
    DAY_OUT_OF_RANGE,
    TIME_OUT_OF_RANGE,
    plausible,
    plausible_time,
)
from practice_dashboard.models.base import STATUS_REASON_MAX
from practice_dashboard.models.enums import RecordStatus

T = TypeVar("T")


def _not_a_number(value: Any) -> Any:
    # Lax mode reads 0 or 1.7e9 as seconds since 1970 (and 20260131 as a date): a program
    # that sends a number meant something else. Dates and times are ISO 8601 text.
    if isinstance(value, int | float):
        raise ValueError("must be ISO 8601 text, not a number")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 has no UTC: a 422, not a 500
        raise ValueError("the time is out of range") from None
    # The one plausible range for every stored time (the services add each field's horizon:
    # no later than now for what happened, five years ahead for bookings): year 1 or 9999 would
    # break every conversion to the practice's clock downstream.
    if not plausible_time(value):
        raise ValueError(TIME_OUT_OF_RANGE)
    return value


def _plausible_day(value: date) -> date:
    if not plausible(value):
        raise ValueError(DAY_OUT_OF_RANGE)
    return value


def _born(value: date) -> date:
    # A day of slack: "today" differs across time zones.
    if value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("a date of birth cannot be in the future")
    return value


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refuse it on every database alike.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


# A time with an explicit offset (naive times and numbers are refused) within 1900-2100,
# stored and echoed back in UTC.
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_to_utc)]
# A calendar day (intake, discharge, an assignment's days) within 1900-2100: a date outside
# them is a typing slip (year 20266, 0202), never a real client's.
PlausibleDate = Annotated[date, BeforeValidator(_not_a_number), AfterValidator(_plausible_day)]
# A date of birth: from 1900 up to today.
BirthDate = Annotated[PlausibleDate, AfterValidator(_born)]
# Strict: "5" or true is not a rating.
Scale = Annotated[StrictInt, Field(ge=0, le=10, description="A 0–10 rating")]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
LongText = Annotated[str, Field(max_length=10_000), AfterValidator(_no_nul)]
# Why a record was entered in error; required then, and short enough to show in a list.
StatusReason = Annotated[
    str,
    Field(min_length=1, max_length=STATUS_REASON_MAX, description="Why it was entered in error"),
    AfterValidator(_no_nul),
]


class _NotNull:
    """Marks an update's field that may be left out (the stored value stays) but not be null.

    The field keeps `X | None = None` in Python, so "not sent" needs no sentinel; an explicit
    null is a 422 naming the field, and the OpenAPI document declares the field non-nullable,
    so a generated client never offers null where the server refuses it.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_refuse_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        branches = json_schema.pop("anyOf", None)
        if branches is None:
            return json_schema
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1:
            return {**json_schema, **kept[0]}
        return {**json_schema, "anyOf": kept}


def _refuse_null(value: Any) -> Any:
    # Defaults are not validated, so only a null the caller sent gets here.
    if value is None:
        raise PydanticCustomError("value_error", "may not be null")
    return value


# `name: Annotated[str | None, NotNull] = None`: optional in an update, never null.
NotNull = _NotNull()


def _allows_null(schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(_allows_null(branch) for branch in schema.get("anyOf", ()))


def _no_null_default(schema: dict[str, Any]) -> None:
    # A property that refuses null does not advertise null as its default ("left out").
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and not _allows_null(prop):
            del prop["default"]


class Schema(BaseModel):
    """Base for responses: read straight from ORM attributes."""

    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    """Base for request bodies: unknown fields are an error, strings are trimmed, no NULs, and
    numbers are finite (Python's JSON parser reads NaN and Infinity)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        allow_inf_nan=False,
        json_schema_extra=_no_null_default,
    )

    # PostgreSQL cannot store a NUL in text (SQLite would, silently): refuse it in every field.
    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain a NUL character")
        return value


class Page(Schema, Generic[T]):
    """One page of a list in a stable order."""

    items: list[T]
    total: int = Field(description="Rows matching the filters, over all pages")
    limit: int
    offset: int


class Record(Schema):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class Correctable(Record):
    """A client-scoped record that can be corrected: its version and whether it counts."""

    version: int
    status: RecordStatus = Field(description="recorded, or entered_in_error (counts nowhere)")
    status_reason: str | None


class CorrectionInput(InputSchema):
    """What every edit of a client-scoped record carries besides the fields it changes."""

    version: int = Field(description="The version this change is based on")
    status: Annotated[RecordStatus | None, NotNull] = Field(
        default=None, description="entered_in_error takes the record out of every figure"
    )
    status_reason: StatusReason | None = None


class TimeRange(BaseModel):
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
