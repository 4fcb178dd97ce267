"""Every problem as a per-field message: from a schema's ValidationError or a service's Invalid."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from practice_dashboard.errors import Invalid
from practice_dashboard.web.forms.fields import FieldSpec


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


def find_spec(specs: Sequence[FieldSpec], name: str) -> FieldSpec | None:
    """The field called `name`, if the form has one."""
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
        spec = find_spec(specs, name)
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
