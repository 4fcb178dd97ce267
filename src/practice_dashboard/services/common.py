"""Small shared pieces of the services: pagination, optimistic updates, time filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, select

from practice_dashboard.db import DbSession
from practice_dashboard.errors import Conflict, Invalid

T = TypeVar("T")


def page(
    db: DbSession,
    stmt: Select[T],
    *,
    order_by: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[list[T], int]:
    """One page of `stmt` plus the total: always exactly two queries."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(db.scalars(stmt.order_by(*order_by).limit(limit).offset(offset)))
    return items, total


def in_time_range(
    column: Any, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """Half-open [start, end): a row at `end` belongs to the next range."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise Invalid([(("end",), "end must be after start")], location="query")


def check_version(record: Any, version: int | None) -> None:
    """409 when the caller's `version` is not the stored one (None: the caller did not say)."""
    if version is not None and version != record.version:
        raise Conflict(
            f"This record is at version {record.version}, your change was based on version "
            f"{version}; reload it and try again"
        )


def apply_update(record: Any, change: BaseModel, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Copy the fields the caller sent onto `record`, refusing a stale `version`.

    Returns the changed fields. Fields the caller did not send are left as they are; an explicit
    null clears an optional field (the schemas refuse null for a required one: `NotNull`).
    """
    data = change.model_dump(exclude_unset=True, exclude={"version", *exclude})
    check_version(record, getattr(change, "version", None))
    changed = {}
    for name, value in data.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed[name] = value
    return changed
