"""CSV export of a client's (or a whole caseload's) records, in the format the import reads.

The format is the contract in docs/csv-format.md and the columns are those of `spec`: UTF-8
without a byte-order mark, RFC 4180 quoting, CRLF line ends, one header row, times in ISO 8601
with the practice's UTC offset, free text through the formula guard, plain numbers.

Exports are scoped by services.access (outside scope = not found) and audited per client
before the first byte is sent. Rows are read in small keyset-paginated batches, each in its
own short transaction: memory stays constant, and on SQLite (where every transaction takes the
write lock) a slow download never holds other writers up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_

from practice_dashboard.db import DbSession, SessionFactory
from practice_dashboard.domain.facts import minutes_between
from practice_dashboard.models import Client
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv.spec import COLUMNS, ENTITY, SPECS, CsvKind, KindSpec
from practice_dashboard.services.exchange.csv.writer import csv_pieces

# The client columns of record kinds are read from the client row, joined.
_FROM_CLIENT = {
    "client_external_ref": Client.external_ref,
    "client_display_name": Client.display_name,
}


def _stored(spec: KindSpec) -> list[str]:
    """The columns read from the database (the others are computed from them)."""
    return [c.name for c in spec.columns if c.minutes is None]


def _select_columns(spec: KindSpec) -> tuple[Any, ...]:
    return tuple(
        _FROM_CLIENT[name] if name in _FROM_CLIENT else getattr(spec.model, name)
        for name in _stored(spec)
    )


def _minutes(start: datetime, later: datetime | None) -> float | None:
    minutes = minutes_between(start, later)
    return None if minutes is None else round(minutes, 2)


def row_formatter(kind: CsvKind, tz: tzinfo) -> Callable[[Sequence[Any]], list[str]]:
    """Turns one row of `_select_columns` into the kind's cells, in header order."""
    spec = SPECS[kind]
    stored = _stored(spec)
    # Computed columns come last in every spec, so a row plus its computed values is in order.
    assert [c.name for c in spec.columns[: len(stored)]] == stored, kind
    at = {name: i for i, name in enumerate(stored)}
    between = [(at[c.minutes[0]], at[c.minutes[1]]) for c in spec.columns if c.minutes]
    formats = [c.type.format for c in spec.columns]

    def format_row(row: Sequence[Any]) -> list[str]:
        if between:
            row = [*row, *(_minutes(row[start], row[end]) for start, end in between)]
        return [fmt(value, tz) for fmt, value in zip(formats, row, strict=True)]

    return format_row


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """What one export will read: checked against access and audited before streaming."""

    kind: CsvKind
    client_ids: tuple[uuid.UUID, ...]
    filename: str


def plan_export(
    db: DbSession,
    *,
    actor: Actor,
    kind: CsvKind,
    client_id: uuid.UUID | None,
    today: date,
    owned_only: bool = False,
) -> ExportPlan:
    """One client's records (NotFound outside scope) or the caller's whole caseload.

    The caseload is every client the caller may see, archived ones included: an export is a
    complete copy of the record, and archived rows carry their `archived_at`. With
    `owned_only` (the pages' downloads), only the caller's own clients: a supervisor's read
    access does not extend to taking a copy (Forbidden for one supervisee's client).
    """
    if client_id is not None:
        client = access.get_visible_client(db, actor.user, client_id)
        if owned_only:
            access.require_owner_copy(actor.user, client)
        ids: tuple[uuid.UUID, ...] = (client.id,)
        filename = f"client-{client.id}-{kind.value}.csv"
    else:
        visible = access.visible_client_ids(actor.user)
        if owned_only:
            visible = visible.where(Client.practitioner_id == actor.user.id)
        ids = tuple(db.scalars(visible.order_by(Client.id)))
        filename = f"caseload-{kind.value}-{today.isoformat()}.csv"
    scope = "client" if client_id is not None else "caseload"
    if ids:
        for cid in ids:
            audit.record(db, actor, "export", ENTITY[kind], client_id=cid, detail=f"csv {scope}")
    else:
        audit.record(db, actor, "export", ENTITY[kind], detail=f"csv {scope}, no clients")
    return ExportPlan(kind=kind, client_ids=ids, filename=filename)


def _batches(
    factory: SessionFactory, plan: ExportPlan, batch: int
) -> Iterator[Sequence[Sequence[Any]]]:
    """The plan's rows in (client id, time, id) order, `batch` rows per short transaction."""
    spec = SPECS[plan.kind]
    columns = _select_columns(spec)
    model = spec.model
    if spec.time is None:  # clients: one row each, read by id
        for i in range(0, len(plan.client_ids), batch):
            with factory() as db:
                yield db.execute(
                    select(*columns)
                    .where(Client.id.in_(plan.client_ids[i : i + batch]))
                    .order_by(Client.id)
                ).all()
        return
    time = getattr(model, spec.time)
    base: Select[Any] = select(*columns).join(Client, Client.id == model.client_id)
    time_index = _stored(spec).index(spec.time)
    for client_id in plan.client_ids:
        after: ColumnElement[bool] | None = None
        while True:
            stmt = base.where(model.client_id == client_id)
            if after is not None:
                stmt = stmt.where(after)
            with factory() as db:
                rows = db.execute(stmt.order_by(time, model.id).limit(batch)).all()
            if rows:
                yield rows
            if len(rows) < batch:
                break
            last = rows[-1]
            # Keyset pagination: the next batch starts after the last (time, id) sent.
            after = tuple_(time, model.id) > (last[time_index], last[0])


def iter_csv(
    factory: SessionFactory, plan: ExportPlan, *, tz: tzinfo, batch: int = 2_000
) -> Iterator[str]:
    """The CSV text of `plan`, header first, in pieces of at most `batch` rows."""
    format_row = row_formatter(plan.kind, tz)
    rows = ((format_row(r) for r in rows) for rows in _batches(factory, plan, batch))
    return csv_pieces(COLUMNS[plan.kind], rows)
