"""Editing a record someone else may have changed: the values as drawn, and a conflict view.

An edit form carries the record's `version` and, hidden, every value as it was drawn
(`orig.NAME`). When the posted version is stale nothing is saved: for each field whose value
now differs from the submitted one, the page shows both values (yours and the one saved
meanwhile) and asks which to keep, preselecting the side that alone changed it. The choice is
posted with the new version; a further change in the meantime shows the conflict again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import Enum
from typing import Any, Literal

from practice_dashboard.web.forms.fields import FieldSpec
from practice_dashboard.web.forms.parsing import TRUE_WORDS, local_input_values

ORIG = "orig."
KEEP = "keep."
CONFLICTS = "conflicts"
Side = Literal["mine", "theirs"]


def record_values(specs: Sequence[FieldSpec], record: Any, tz: tzinfo) -> dict[str, str]:
    """The record's current values as a form would show them (posted names to text)."""
    values: dict[str, str] = {}
    for spec in specs:
        value = getattr(record, spec.name)
        if spec.kind == "datetime":
            if isinstance(value, datetime):
                values.update(local_input_values(spec.name, value, tz))
            else:
                values.update({spec.date_name: "", spec.time_name: ""})
        elif spec.kind == "bool":
            values[spec.name] = "on" if value else ""
        elif value is None:
            values[spec.name] = ""
        elif isinstance(value, Enum):
            values[spec.name] = str(value.value)
        elif isinstance(value, date):
            values[spec.name] = value.isoformat()
        else:
            values[spec.name] = str(value)
    return values


def _names(spec: FieldSpec) -> tuple[str, ...]:
    return (spec.date_name, spec.time_name) if spec.kind == "datetime" else (spec.name,)


def field_key(spec: FieldSpec, values: Mapping[str, str]) -> tuple[str, ...]:
    """What a field holds in `values`, normalised so that equal values compare equal."""
    if spec.kind == "bool":
        return ("on" if values.get(spec.name, "").strip().lower() in TRUE_WORDS else "",)
    return tuple(values.get(n, "").strip() for n in _names(spec))


def shown(spec: FieldSpec, values: Mapping[str, str]) -> str:
    """A field's value in words, for the conflict view."""
    key = field_key(spec, values)
    if spec.kind == "bool":
        return "Yes" if key[0] else "No"
    text = " ".join(part for part in key if part)
    if spec.choices:
        text = next((c.label for c in spec.choices if c.value == text), text)
    return text or "(blank)"


def originals(values: Mapping[str, str]) -> dict[str, str]:
    """The hidden copies of the values as drawn."""
    return {ORIG + name: value for name, value in values.items()}


@dataclass(frozen=True, slots=True)
class ConflictRow:
    """One field that differs between what you sent and what is stored now."""

    spec: FieldSpec
    mine: str
    theirs: str
    keep: Side | None  # preselected side; None when both of you changed it

    @property
    def name(self) -> str:
        return self.spec.name


def conflicts(
    specs: Sequence[FieldSpec], raw: Mapping[str, str], current: Mapping[str, str]
) -> list[ConflictRow]:
    """The fields where your values and the stored ones differ, each with a suggested side."""
    drawn = {name[len(ORIG) :]: value for name, value in raw.items() if name.startswith(ORIG)}
    rows = []
    for spec in specs:
        mine, theirs = field_key(spec, raw), field_key(spec, current)
        if mine == theirs:
            continue
        orig = field_key(spec, drawn)
        keep: Side | None = "theirs" if mine == orig else "mine" if theirs == orig else None
        rows.append(ConflictRow(spec, shown(spec, raw), shown(spec, current), keep))
    return rows


def resolve(
    specs: Sequence[FieldSpec], raw: Mapping[str, str], current: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(the values to save, {field: message}) after the choices made in a conflict view."""
    chosen = dict(raw)
    errors: dict[str, str] = {}
    listed = {n for n in raw.get(CONFLICTS, "").split(",") if n}
    for spec in specs:
        if spec.name not in listed:
            continue
        side = raw.get(KEEP + spec.name, "")
        if side == "theirs":
            for name in _names(spec):
                chosen[name] = current.get(name, "")
        elif side != "mine":
            errors[spec.name] = "Choose which value to keep."
    return chosen, errors
