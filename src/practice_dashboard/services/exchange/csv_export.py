"""CSV export of a client's (or a whole caseload's) records, in the format the import reads.

The format is the contract in docs/csv-format.md: UTF-8 without a byte-order mark, RFC 4180
quoting, CRLF line ends, one header row, times in ISO 8601 with the practice's UTC offset.
Free-text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
tab or carriage return) are prefixed with a single quote; `restore_text` undoes exactly that,
so export → import → export gives the same bytes. Numbers are written as plain numbers.

Exports are scoped by services.access (outside scope = not found) and audited per client
before the first byte is sent. Rows are read in small keyset-paginated batches, each in its
own short transaction: memory stays constant, and on SQLite (where every transaction takes the
write lock) a slow download never holds other writers up.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_

from practice_dashboard.db import DbSession, SessionFactory
from practice_dashboard.models import Annotation, Client, Episode, Measure, Observation, Session
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor


class CsvKind(StrEnum):
    """The record kinds a CSV file can hold: one kind per file."""

    CLIENTS = "clients"
    SESSIONS = "sessions"
    OBSERVATIONS = "observations"
    EPISODES = "episodes"
    MEASURES = "measures"
    ANNOTATIONS = "annotations"


# The order in which a full set of files must be imported (later kinds point at earlier ones).
IMPORT_ORDER = (
    CsvKind.CLIENTS,
    CsvKind.SESSIONS,
    CsvKind.OBSERVATIONS,
    CsvKind.EPISODES,
    CsvKind.MEASURES,
    CsvKind.ANNOTATIONS,
)

# The audit trail's entity word for each kind.
ENTITY = {
    CsvKind.CLIENTS: "client",
    CsvKind.SESSIONS: "session",
    CsvKind.OBSERVATIONS: "observation",
    CsvKind.EPISODES: "episode",
    CsvKind.MEASURES: "measure",
    CsvKind.ANNOTATIONS: "annotation",
}

CLIENT_REF = ("client_id", "client_external_ref", "client_display_name")

COLUMNS: dict[CsvKind, tuple[str, ...]] = {
    CsvKind.CLIENTS: (
        "id",
        "display_name",
        "external_ref",
        "date_of_birth",
        "status",
        "intake_date",
        "discharged_on",
        "goals",
        "session_cadence_days",
        "archived_at",
    ),
    CsvKind.SESSIONS: (
        "id",
        *CLIENT_REF,
        "starts_at",
        "duration_minutes",
        "kind",
        "modality",
        "attendance",
        "engagement",
        "homework_assigned",
        "homework_completed",
        "notes",
        "archived_at",
    ),
    CsvKind.OBSERVATIONS: (
        "id",
        *CLIENT_REF,
        "session_id",
        "observed_at",
        "source",
        "zone",
        "activation",
        "capacity",
        "safety",
        "body_connection",
        "notes",
    ),
    CsvKind.EPISODES: (
        "id",
        *CLIENT_REF,
        "session_id",
        "started_at",
        "recognized_at",
        "peak_intensity",
        "baseline_at",
        "trigger",
        "trigger_category",
        "strategies",
        "self_compassion",
        "notes",
        "recovery_minutes",
        "recognition_minutes",
    ),
    CsvKind.MEASURES: (
        "id",
        *CLIENT_REF,
        "instrument",
        "administered_at",
        "source",
        "items",
        "total",
        "severity",
        "subscales",
    ),
    CsvKind.ANNOTATIONS: (
        "id",
        *CLIENT_REF,
        "at",
        "kind",
        "label",
        "notes",
        "archived_at",
    ),
}

# Computed by the server: written for the reader's convenience, ignored (recomputed) on import.
DERIVED: dict[CsvKind, frozenset[str]] = {
    CsvKind.EPISODES: frozenset({"recovery_minutes", "recognition_minutes"}),
    CsvKind.MEASURES: frozenset({"severity", "subscales"}),
}

# Free text typed by people: the only cells that can start with a formula character.
TEXT_COLUMNS = frozenset(
    {
        "display_name",
        "external_ref",
        "goals",
        "notes",
        "trigger",
        "trigger_category",
        "label",
        "client_external_ref",
        "client_display_name",
    }
)

# OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets.
FORMULA_TRIGGERS = frozenset({"=", "+", "-", "@", "\t", "\r"})
_QUOTE = "'"


def neutralise_text(text: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula.

    Text that already starts with quotes followed by a trigger gets one more quote, so that
    `restore_text` can always take exactly one off: the pair is a bijection.
    """
    if text[:1] in FORMULA_TRIGGERS or (
        text[:1] == _QUOTE and text.lstrip(_QUOTE)[:1] in FORMULA_TRIGGERS
    ):
        return _QUOTE + text
    return text


def restore_text(cell: str) -> str:
    """Undo `neutralise_text` (cells that were never neutralised pass unchanged)."""
    if cell[:1] == _QUOTE and cell.lstrip(_QUOTE)[:1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell


def format_number(value: float | None) -> str:
    """Whole numbers without a decimal point; other floats in their shortest exact form."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _text(value: str | None) -> str:
    return "" if value is None else neutralise_text(value)


def _time(value: datetime | None, tz: tzinfo) -> str:
    return "" if value is None else value.astimezone(tz).isoformat()


def _date(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def _enum(value: Enum | str | None) -> str:
    if value is None:
        return ""
    return str(value.value) if isinstance(value, Enum) else value


def _int(value: int | None) -> str:
    return "" if value is None else str(value)


def _bool(value: bool | None) -> str:
    if value is None:
        return ""
    return "true" if value else "false"


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _minutes(later: datetime | None, start: datetime) -> str:
    if later is None:
        return ""
    return format_number(round((later - start).total_seconds() / 60, 2))


@dataclass(frozen=True, slots=True)
class _Source:
    """What one kind reads: its columns, its time column (the order) and a row formatter."""

    model: Any
    columns: tuple[Any, ...]
    time: Any  # the time column rows are ordered by within a client
    format: Callable[[Sequence[Any], tzinfo], list[str]]


def _client_row(r: Sequence[Any], tz: tzinfo) -> list[str]:
    return [
        str(r[0]),
        _text(r[1]),
        _text(r[2]),
        _date(r[3]),
        _enum(r[4]),
        _date(r[5]),
        _date(r[6]),
        _text(r[7]),
        _int(r[8]),
        _time(r[9], tz),
    ]


def _session_row(r: Sequence[Any], tz: tzinfo) -> list[str]:
    return [
        str(r[0]),
        str(r[1]),
        _text(r[2]),
        _text(r[3]),
        _time(r[4], tz),
        _int(r[5]),
        _enum(r[6]),
        _enum(r[7]),
        _enum(r[8]),
        _int(r[9]),
        _bool(r[10]),
        _enum(r[11]),
        _text(r[12]),
        _time(r[13], tz),
    ]


def _observation_row(r: Sequence[Any], tz: tzinfo) -> list[str]:
    return [
        str(r[0]),
        str(r[1]),
        _text(r[2]),
        _text(r[3]),
        "" if r[4] is None else str(r[4]),
        _time(r[5], tz),
        _enum(r[6]),
        _enum(r[7]),
        _int(r[8]),
        _int(r[9]),
        _int(r[10]),
        _int(r[11]),
        _text(r[12]),
    ]


def _episode_row(r: Sequence[Any], tz: tzinfo) -> list[str]:
    started_at = r[5]
    return [
        str(r[0]),
        str(r[1]),
        _text(r[2]),
        _text(r[3]),
        "" if r[4] is None else str(r[4]),
        _time(started_at, tz),
        _time(r[6], tz),
        _int(r[7]),
        _time(r[8], tz),
        _text(r[9]),
        _text(r[10]),
        _json(list(r[11] or [])),
        _int(r[12]),
        _text(r[13]),
        _minutes(r[8], started_at),
        _minutes(r[6], started_at),
    ]


def _measure_row(r: Sequence[Any], tz: tzinfo) -> list[str]:
    return [
        str(r[0]),
        str(r[1]),
        _text(r[2]),
        _text(r[3]),
        r[4],
        _time(r[5], tz),
        _enum(r[6]),
        _json(r[7]),
        format_number(r[8]),
        r[9] or "",
        _json(r[10]),
    ]


def _annotation_row(r: Sequence[Any], tz: tzinfo) -> list[str]:
    return [
        str(r[0]),
        str(r[1]),
        _text(r[2]),
        _text(r[3]),
        _time(r[4], tz),
        _enum(r[5]),
        _text(r[6]),
        _text(r[7]),
        _time(r[8], tz),
    ]


_REF = (Client.external_ref, Client.display_name)

SOURCES: dict[CsvKind, _Source] = {
    CsvKind.CLIENTS: _Source(
        Client,
        (
            Client.id,
            Client.display_name,
            Client.external_ref,
            Client.date_of_birth,
            Client.status,
            Client.intake_date,
            Client.discharged_on,
            Client.goals,
            Client.session_cadence_days,
            Client.archived_at,
        ),
        None,
        _client_row,
    ),
    CsvKind.SESSIONS: _Source(
        Session,
        (
            Session.id,
            Session.client_id,
            *_REF,
            Session.starts_at,
            Session.duration_minutes,
            Session.kind,
            Session.modality,
            Session.attendance,
            Session.engagement,
            Session.homework_assigned,
            Session.homework_completed,
            Session.notes,
            Session.archived_at,
        ),
        Session.starts_at,
        _session_row,
    ),
    CsvKind.OBSERVATIONS: _Source(
        Observation,
        (
            Observation.id,
            Observation.client_id,
            *_REF,
            Observation.session_id,
            Observation.observed_at,
            Observation.source,
            Observation.zone,
            Observation.activation,
            Observation.capacity,
            Observation.safety,
            Observation.body_connection,
            Observation.notes,
        ),
        Observation.observed_at,
        _observation_row,
    ),
    CsvKind.EPISODES: _Source(
        Episode,
        (
            Episode.id,
            Episode.client_id,
            *_REF,
            Episode.session_id,
            Episode.started_at,
            Episode.recognized_at,
            Episode.peak_intensity,
            Episode.baseline_at,
            Episode.trigger,
            Episode.trigger_category,
            Episode.strategies,
            Episode.self_compassion,
            Episode.notes,
        ),
        Episode.started_at,
        _episode_row,
    ),
    CsvKind.MEASURES: _Source(
        Measure,
        (
            Measure.id,
            Measure.client_id,
            *_REF,
            Measure.instrument,
            Measure.administered_at,
            Measure.source,
            Measure.items,
            Measure.total,
            Measure.severity,
            Measure.subscales,
        ),
        Measure.administered_at,
        _measure_row,
    ),
    CsvKind.ANNOTATIONS: _Source(
        Annotation,
        (
            Annotation.id,
            Annotation.client_id,
            *_REF,
            Annotation.at,
            Annotation.kind,
            Annotation.label,
            Annotation.notes,
            Annotation.archived_at,
        ),
        Annotation.at,
        _annotation_row,
    ),
}


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
    source = SOURCES[plan.kind]
    model = source.model
    if source.time is None:  # clients: one row each, read by id
        for i in range(0, len(plan.client_ids), batch):
            with factory() as db:
                yield db.execute(
                    select(*source.columns)
                    .where(Client.id.in_(plan.client_ids[i : i + batch]))
                    .order_by(Client.id)
                ).all()
        return
    base: Select[Any] = select(*source.columns).join(Client, Client.id == model.client_id)
    time_index = next(i for i, c in enumerate(source.columns) if c is source.time)
    for client_id in plan.client_ids:
        after: ColumnElement[bool] | None = None
        while True:
            stmt = base.where(model.client_id == client_id)
            if after is not None:
                stmt = stmt.where(after)
            with factory() as db:
                rows = db.execute(stmt.order_by(source.time, model.id).limit(batch)).all()
            if rows:
                yield rows
            if len(rows) < batch:
                break
            last = rows[-1]
            # Keyset pagination: the next batch starts after the last (time, id) sent.
            after = tuple_(source.time, model.id) > (last[time_index], last[0])


def iter_csv(
    factory: SessionFactory, plan: ExportPlan, *, tz: tzinfo, batch: int = 2_000
) -> Iterator[str]:
    """The CSV text of `plan`, header first, in pieces of at most `batch` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS[plan.kind])
    format_row = SOURCES[plan.kind].format
    for rows in _batches(factory, plan, batch):
        writer.writerows(format_row(r, tz) for r in rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
