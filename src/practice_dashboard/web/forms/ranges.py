"""Field ranges read from the Pydantic input schemas, so each range is written once (there)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Limits:
    """A field's bounds as the schema declares them (None where it declares none)."""

    lo: float | None = None
    hi: float | None = None
    min_length: int | None = None
    max_length: int | None = None


@cache
def _properties(schema: type[BaseModel]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.model_json_schema()["properties"]
    return properties


def _branch(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field (`X | None` is anyOf [X, null])."""
    for option in prop.get("anyOf", ()):
        if option.get("type") != "null":
            return {**prop, **option}
    return prop


def limits(schema: type[BaseModel], name: str) -> Limits:
    """The bounds of `schema.name`: numbers (ge/le), text length, or list length."""
    prop = _branch(_properties(schema)[name])
    if prop.get("type") == "array":
        return Limits(max_length=prop.get("maxItems"), min_length=prop.get("minItems"))
    return Limits(
        lo=prop.get("minimum"),
        hi=prop.get("maximum"),
        min_length=prop.get("minLength"),
        max_length=prop.get("maxLength"),
    )
