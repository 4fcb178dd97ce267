"""Reading typed text: numbers, choices, lists and date-time pairs, then the input schema.

Local times and daylight saving (documented rule, tested in tests/web/test_log_forms.py):
a date and a time typed into a form have no offset, so they are read as wall-clock time in
the practice time zone with zoneinfo's `fold=0`:
* in the autumn overlap (a wall time that happens twice) it means the FIRST occurrence, the
  one before the clocks went back;
* in the spring gap (a wall time that never happens) it is read with the offset in force
  before the change, so it lands on the real instant the same distance after the last valid
  minute (Europe/London 01:30 on the spring-forward day is stored as 01:30 UTC, shown later
  as 02:30 BST). Nobody is refused for typing the time on an unchanged clock.
A value that carries its own offset (pasted ISO 8601) keeps it.

A date-time pair with only one half typed is a field error, never a blank: a half-typed
"Back to baseline at" must not save the episode as not recovered. Both halves are typed text
(not the browser's pickers, whose arrow keys change a value unseen and which post a partly
typed time as blank): the date as YYYY-MM-DD, the time on a 24-hour clock (14:30, 9:05, 1430).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from practice_dashboard.domain import periods
from practice_dashboard.web.forms.fields import DATE_PART, TIME_PART, FieldSpec
from practice_dashboard.web.forms.messages import messages_from_validation

M = TypeVar("M", bound=BaseModel)

DATE_FORMAT = "%Y-%m-%d"
TIME_FORMAT = "%H:%M"
BOTH_OR_NEITHER = "Enter both the date and the time, or neither."
BOTH = "Enter both the date and the time."
_INT = re.compile(r"[+-]?\d{1,6}")
# A time typed relative to another: "+25" / "25" / "25 min" (minutes after it) or "14:30".
_MINUTES_AFTER = re.compile(r"\+?\s*(\d{1,3})\s*(?:min|mins|minutes|m)?", re.IGNORECASE)
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")
# A time typed into a date-time pair: 14:30, 9:05, 14.30 or 1430 (24-hour clock).
_TIME = re.compile(r"(\d{1,2})[:.]?(\d{2})")
TIME_PROBLEM = "Enter the time on a 24-hour clock, like 14:30."
AFTER_PROBLEM = "Enter minutes after onset, like +25, or a time, like 14:30."
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})


class FieldProblem(ValueError):
    """A typed value that cannot be read at all (not a date, not a number, half a date-time)."""


def parse_local_datetime(raw: str, tz: tzinfo) -> datetime:
    """A local date-time ("2026-05-31T14:30"; practice time zone, fold=0) as aware UTC."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FieldProblem("Enter a date and time like 2026-05-31 14:30.") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz, fold=0)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01 00:00 east of UTC has no UTC time
        raise FieldProblem(periods.TIME_OUT_OF_RANGE) from None


def local_input_values(name: str, value: datetime, tz: tzinfo) -> dict[str, str]:
    """An aware datetime as the two halves of the date-time pair called `name`."""
    local = periods.local(value, tz) or value  # a stored year-1 time: its UTC halves
    return {
        name + DATE_PART: local.strftime(DATE_FORMAT),
        name + TIME_PART: local.strftime(TIME_FORMAT),
    }


def parse_after(raw: str, start: datetime, tz: tzinfo) -> datetime | None:
    """A time typed relative to `start`: minutes after it ("+25"), or a clock time on its day.

    None when blank. The clock time is read on `start`'s calendar day in the practice time
    zone (the DST rule above); one before `start` is left for the schema to refuse.
    """
    text = raw.strip()
    if not text:
        return None
    try:
        if minutes := _MINUTES_AFTER.fullmatch(text):
            return start + timedelta(minutes=int(minutes[1]))
        clock = _CLOCK.fullmatch(text)
        if clock is None or int(clock[1]) > 23 or int(clock[2]) > 59:
            raise FieldProblem(AFTER_PROBLEM)
        day = start.astimezone(tz).date()
        local = datetime.combine(day, time(int(clock[1]), int(clock[2])))
        return local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    except OverflowError:  # after an onset at the very end of year 9999
        raise FieldProblem(periods.TIME_OUT_OF_RANGE) from None


def parse_pair(spec: FieldSpec, raw: Mapping[str, str], tz: tzinfo) -> datetime | None:
    """A date-time pair as aware UTC; None when both halves are blank, an error when one is."""
    date = raw.get(spec.date_name, "").strip()
    time = raw.get(spec.time_name, "").strip()
    if not date and not time:
        return None
    if not date or not time:
        raise FieldProblem(BOTH if spec.required else BOTH_OR_NEITHER)
    clock = _TIME.fullmatch(time)
    if clock is None or int(clock[1]) > 23 or int(clock[2]) > 59:
        raise FieldProblem(TIME_PROBLEM)
    return parse_local_datetime(f"{date}T{int(clock[1]):02d}:{clock[2]}", tz)


def _parse_int(raw: str, spec: FieldSpec) -> int:
    if not _INT.fullmatch(raw):
        raise FieldProblem(spec.range_text())
    return int(raw)


def _parse_float(raw: str, spec: FieldSpec) -> float:
    try:
        value = float(raw.replace(",", "."))  # a decimal comma is a common way to type 32,5
    except ValueError as exc:
        raise FieldProblem(spec.range_text()) from exc
    if not math.isfinite(value):
        raise FieldProblem(spec.range_text())
    return value


def parse_value(spec: FieldSpec, raw: str) -> Any:
    """One single-input field's typed text as a Python value; None when left blank."""
    if spec.kind == "bool":
        return raw.strip().lower() in TRUE_WORDS
    if spec.kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    text = raw.strip()
    if not text:
        return None
    # A rating offered as radio buttons (its range read from the schema) is a whole number.
    if spec.kind == "int" or (spec.kind == "radio" and spec.lo is not None):
        return _parse_int(text, spec)
    if spec.kind == "float":
        return _parse_float(text, spec)
    if spec.kind == "date":
        try:
            if len(text) != len("2026-05-31"):
                raise ValueError(text)
            return datetime.fromisoformat(text).date()
        except ValueError as exc:
            raise FieldProblem("Enter a date like 2026-05-31.") from exc
    # Text is passed on as typed (the schemas trim it); choices are checked by the schema.
    return raw if spec.kind in ("text", "textarea") else text


def parse_fields(
    specs: Iterable[FieldSpec], raw: Mapping[str, str], tz: tzinfo
) -> tuple[dict[str, Any], dict[str, str]]:
    """(values of the fields that could be read, {name: message} for the rest).

    A blank optional field is left out, so the schema's default applies.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        try:
            if spec.kind == "datetime":
                value = parse_pair(spec, raw, tz)
            else:
                value = parse_value(spec, raw.get(spec.name, ""))
        except FieldProblem as exc:
            errors[spec.name] = str(exc)
            continue
        if value is None:
            if spec.required:
                errors[spec.name] = spec.required_text()
            continue
        values[spec.name] = value
    return values, errors


def validate(
    schema: type[M],
    values: Mapping[str, Any],
    specs: Sequence[FieldSpec],
    errors: dict[str, str],
) -> M | None:
    """The schema built from `values`; on failure its messages are added to `errors`.

    A field that already has a message (it could not be read) keeps that one message.
    """
    in_schema = {s.name for s in specs if s.in_schema}
    payload = {n: v for n, v in values.items() if n in in_schema and n not in errors}
    try:
        model = schema.model_validate(payload)
    except ValidationError as exc:
        for name, message in messages_from_validation(exc, specs).items():
            if name not in errors:
                errors[name] = message
        return None
    return None if errors else model
