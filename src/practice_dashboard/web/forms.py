"""Dashboard forms: typed text in, schema input out, and every problem as a per-field message.

A form is a tuple of `FieldSpec`s. `parse_fields` turns the submitted strings into Python
values (times typed in the practice time zone become aware UTC datetimes), `validate` hands them
to a Pydantic input schema, and `messages_from_validation` / `messages_from_invalid` turn a
`ValidationError` or a service's `Invalid` into `{field name: message}`. `FormState` carries
what a template needs to draw the form again: the values exactly as typed and the messages.

Local times and daylight saving (documented rule, tested in tests/web/test_log_forms.py):
a `datetime-local` value has no offset, so it is read as wall-clock time in the practice time
zone with zoneinfo's `fold=0`:
* in the autumn overlap (a wall time that happens twice) it means the FIRST occurrence, the
  one before the clocks went back;
* in the spring gap (a wall time that never happens) it is read with the offset in force
  before the change, so it lands on the real instant the same distance after the last valid
  minute (Europe/London 01:30 on the spring-forward day is stored as 01:30 UTC, shown later
  as 02:30 BST). Nobody is refused for typing the time on an unchanged clock.
A value that carries its own offset (pasted ISO 8601) keeps it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from practice_dashboard.errors import Invalid

Kind = Literal["datetime", "int", "float", "text", "textarea", "choice", "radio", "bool", "list"]
M = TypeVar("M", bound=BaseModel)

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
_INT = re.compile(r"[+-]?\d{1,6}")
_TRUE = {"on", "true", "1", "yes"}


class FieldProblem(ValueError):
    """A typed value that cannot be read at all (not a date, not a number)."""


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input: its name (the schema's field name), label, how to read it, and its range."""

    name: str
    label: str
    kind: Kind
    required: bool = False
    lo: float | None = None
    hi: float | None = None
    hint: str | None = None
    choices: tuple[Choice, ...] = ()
    in_schema: bool = True  # False for form-only inputs (a confirmation checkbox)

    @property
    def anchor(self) -> str:
        """The id the error summary links to: the input, or a group's first radio."""
        return f"f-{self.name}-0" if self.kind == "radio" else f"f-{self.name}"

    def range_text(self) -> str:
        lo, hi = _num(self.lo), _num(self.hi)
        whole = "a whole number" if self.kind == "int" else "a number"
        if lo is not None and hi is not None:
            return f"Enter {whole} from {lo} to {hi}."
        return f"Enter {whole}."

    def required_text(self) -> str:
        if self.kind in ("choice", "radio"):
            return "Please choose one."
        if self.kind == "datetime":
            return "Enter a date and time."
        if self.kind in ("int", "float"):
            return self.range_text()
        return "Please fill this in."


def _num(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------------------------
# Reading typed values
# --------------------------------------------------------------------------------------------


def parse_local_datetime(raw: str, tz: tzinfo) -> datetime:
    """A `datetime-local` value (practice time zone, fold=0) as an aware UTC datetime."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FieldProblem("Enter a date and time like 2026-05-31 14:30.") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz, fold=0)
    return value.astimezone(UTC)


def local_input_value(value: datetime, tz: tzinfo) -> str:
    """An aware datetime as a `datetime-local` value in the practice time zone (minutes)."""
    return value.astimezone(tz).strftime(DATETIME_LOCAL_FORMAT)


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


def parse_value(spec: FieldSpec, raw: str, tz: tzinfo) -> Any:
    """One field's typed text as a Python value; None when left blank."""
    if spec.kind == "bool":
        return raw.strip().lower() in _TRUE
    if spec.kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    text = raw.strip()
    if not text:
        return None
    if spec.kind == "datetime":
        return parse_local_datetime(text, tz)
    if spec.kind == "int":
        return _parse_int(text, spec)
    if spec.kind == "float":
        return _parse_float(text, spec)
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
            value = parse_value(spec, raw.get(spec.name, ""), tz)
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


# --------------------------------------------------------------------------------------------
# Turning errors into per-field messages
# --------------------------------------------------------------------------------------------


def field_key(loc: Sequence[str | int]) -> tuple[str, int | None]:
    """(form field name, list index or None) for an error location (without "body")."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    if not parts:
        return "__all__", None
    name = str(parts[0])
    index = parts[1] if len(parts) > 1 and isinstance(parts[1], int) else None
    if name == "items" and index is not None:
        # Instrument answers are one input group each, named item_1 … item_n (1-based).
        return f"item_{index + 1}", None
    return name, index


def _spec(specs: Sequence[FieldSpec], name: str) -> FieldSpec | None:
    return next((s for s in specs if s.name == name), None)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def readable(message: str, specs: Sequence[FieldSpec]) -> str:
    """A service or schema message as a sentence that names fields by their labels."""
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    for spec in specs:
        message = re.sub(rf"\b{re.escape(spec.name)}\b", f"“{spec.label}”", message)
    return _sentence(message)


def _friendly(error: Mapping[str, Any], spec: FieldSpec | None, specs: Sequence[FieldSpec]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing" or kind == "string_too_short":
        return spec.required_text() if spec else "Please fill this in."
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if spec is not None and spec.lo is not None:
            return spec.range_text()
    if kind in ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"):
        return spec.range_text() if spec else "Enter a number."
    if kind in ("enum", "literal_error", "uuid_parsing", "uuid_type"):
        return "Please choose one of the options."
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        given = error.get("input")
        extra = f" (this has {len(given)})" if isinstance(given, str) else ""
        return f"Keep this to {limit} characters or fewer{extra}."
    if kind == "too_long":
        return f"At most {ctx.get('max_length')} entries."
    return readable(str(error.get("msg", "")), specs)


def _add(messages: dict[str, str], name: str, message: str) -> None:
    if name in messages:
        if message not in messages[name]:
            messages[name] = f"{messages[name]} {message}"
    else:
        messages[name] = message


def messages_from_validation(exc: ValidationError, specs: Sequence[FieldSpec]) -> dict[str, str]:
    """{field name: message} for a schema's ValidationError."""
    messages: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name, index = field_key(error["loc"])
        spec = _spec(specs, name)
        message = _friendly(error, spec, specs)
        if index is not None:
            message = f"Entry {index + 1}: {message[0].lower()}{message[1:]}"
        _add(messages, name, message)
    return messages


def messages_from_invalid(exc: Invalid, specs: Sequence[FieldSpec]) -> dict[str, str]:
    """{field name: message} for a service's 422 (`Invalid.problems`)."""
    messages: dict[str, str] = {}
    for problem in exc.problems:
        name, index = field_key(problem["loc"])
        message = readable(str(problem["msg"]), specs)
        if index is not None:
            message = f"Entry {index + 1}: {message[0].lower()}{message[1:]}"
        _add(messages, name, message)
    return messages


# --------------------------------------------------------------------------------------------
# What a template needs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryLine:
    anchor: str
    label: str
    message: str


@dataclass
class FormState:
    """One form as drawn: its fields, the values as typed, messages, and its one-time id."""

    specs: tuple[FieldSpec, ...]
    values: Mapping[str, str]
    form_id: str
    errors: dict[str, str] = field(default_factory=dict)
    # Where the summary links a message that belongs to no single input: {name: (id, label)}.
    anchors: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Fields marked at the field only: a general message in the summary already covers them.
    quiet: frozenset[str] = frozenset()

    def spec(self, name: str) -> FieldSpec:
        found = _spec(self.specs, name)
        if found is None:
            raise KeyError(name)
        return found

    def has(self, name: str) -> bool:
        return _spec(self.specs, name) is not None

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def checked(self, name: str) -> bool:
        return self.value(name).strip().lower() in _TRUE

    def described_by(self, name: str, *, hint: bool) -> str:
        """The ids of the field's hint and message, for `aria-describedby`."""
        ids = []
        if hint:
            ids.append(f"{name}-hint")
        if name in self.errors:
            ids.append(f"{name}-error")
        return " ".join(ids)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def first(self) -> str:
        return self.specs[0].name if self.specs else ""

    def autofocus(self, name: str) -> bool:
        """The first field gets the focus, unless the error summary needs it."""
        return not self.has_errors and name == self.first

    def summary(self) -> list[SummaryLine]:
        """Every message, each linking to its input: general ones first, then form order."""
        known = {s.name for s in self.specs}
        lines = [
            SummaryLine(*self.anchors.get(name, ("log-form", "")), message)
            for name, message in self.errors.items()
            if name not in known
        ]
        for spec in self.specs:
            message = self.errors.get(spec.name)
            if message and spec.name not in self.quiet:
                lines.append(SummaryLine(spec.anchor, spec.label, message))
        return lines
