"""Field types: what one input (or one date-time pair) is called, shows and accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from practice_dashboard.web.forms.ranges import limits

# "datetime" is a date-time pair: a date input and a time input, read together.
Kind = Literal[
    "datetime", "date", "int", "float", "text", "textarea", "choice", "radio", "bool", "list"
]

DATE_PART = "_date"
TIME_PART = "_time"


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
    min_length: int | None = None
    max_length: int | None = None

    @property
    def anchor(self) -> str:
        """The id the error summary links to: the input, a group's first radio, a pair's date."""
        return f"f-{self.name}-0" if self.kind == "radio" else f"f-{self.name}"

    @property
    def date_name(self) -> str:
        """The posted name of a date-time pair's date."""
        return self.name + DATE_PART

    @property
    def time_name(self) -> str:
        """The posted name of a date-time pair's time."""
        return self.name + TIME_PART

    def range_text(self) -> str:
        """What to type in a number field, with its range when it has one."""
        lo, hi = _num(self.lo), _num(self.hi)
        whole = "a whole number" if self.kind in ("int", "radio") else "a number"
        if lo is not None and hi is not None:
            return f"Enter {whole} from {lo} to {hi}."
        return f"Enter {whole}."

    def required_text(self) -> str:
        """The message for a required field left blank."""
        if self.kind in ("choice", "radio"):
            return "Please choose one."
        if self.kind == "datetime":
            return "Enter a date and time."
        if self.kind == "date":
            return "Enter a date."
        if self.kind in ("int", "float"):
            return self.range_text()
        return "Please fill this in."


def from_schema(
    schema: type[BaseModel], name: str, label: str, kind: Kind, **extra: Any
) -> FieldSpec:
    """A field whose range (ge/le, max_length) is the one the input schema declares."""
    bounds = limits(schema, name)
    return FieldSpec(
        name,
        label,
        kind,
        lo=bounds.lo,
        hi=bounds.hi,
        min_length=bounds.min_length if kind in ("text", "textarea") else None,
        max_length=bounds.max_length if kind in ("text", "textarea") else None,
        **extra,
    )


def _num(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)
