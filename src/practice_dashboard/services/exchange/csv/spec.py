"""The column specification of each record kind: one source for the export and the import.

Each kind lists its columns in file order; each column has a cell type that says how a value
is written (`format`) and how the import reads the cell back (`parse`). The header, the
required columns, the derived ones, the free-text ones and the natural key are all derived
from here once. docs/csv-format.md describes the same columns for people.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import Enum, StrEnum
from typing import Any, Final

from pydantic import BaseModel

from practice_dashboard.domain.periods import local
from practice_dashboard.models import Annotation, Client, Episode, Measure, Observation, Session
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.schemas.client import ClientCreate
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.schemas.session import SessionCreate
from practice_dashboard.services.exchange.csv.guard import neutralise, restore
from practice_dashboard.services.exchange.csv.reader import shown


class CsvKind(StrEnum):
    """The record kinds a CSV file can hold: one kind per file."""

    CLIENTS = "clients"
    SESSIONS = "sessions"
    OBSERVATIONS = "observations"
    EPISODES = "episodes"
    MEASURES = "measures"
    ANNOTATIONS = "annotations"


def format_number(value: float | None) -> str:
    """Whole numbers without a decimal point; other floats in their shortest exact form."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _plain(value: Any, _tz: tzinfo) -> str:
    return "" if value is None else str(value)


def _text(value: str | None, _tz: tzinfo) -> str:
    return "" if value is None else neutralise(value)


def _code(value: Enum | str | None, _tz: tzinfo) -> str:
    if value is None:
        return ""
    return str(value.value) if isinstance(value, Enum) else value


def _number(value: float | None, _tz: tzinfo) -> str:
    return format_number(value)


def _bool(value: bool | None, _tz: tzinfo) -> str:
    if value is None:
        return ""
    return "true" if value else "false"


def _date(value: date | None, _tz: tzinfo) -> str:
    return "" if value is None else value.isoformat()


def _time(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return ""
    # A time the practice's clock cannot show (year 1 stored by an old release) is written in
    # UTC: one bad cell must not cut the rest of a streamed file off.
    return (local(value, tz) or value).isoformat()


def _json(value: Any, _tz: tzinfo) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _text_list(value: list[str] | None, tz: tzinfo) -> str:
    return _json(list(value or []), tz)  # an empty list is written `[]`, never left empty


class CellError(ValueError):
    """A cell the import cannot read as its column's type; the message is for people."""


def _trimmed(cell: str) -> str:
    return cell.strip()  # the input schema parses it (times, codes, ids, booleans, numbers)


_WHOLE = re.compile(r"[+-]?[0-9]{1,9}")  # ASCII digits only: int() would take "٣" too


def _whole(cell: str) -> int:
    """A whole number (the schemas are strict: "5" is not a rating)."""
    text = cell.strip()
    if (text.isascii() and text.isdigit()) or _WHOLE.fullmatch(text):
        return int(text)
    raise CellError(f"is not a whole number{shown(cell)}")


def _json_list(cell: str) -> list[Any]:
    text = cell.strip()
    if not text.startswith("["):
        raise CellError(f"must be a JSON list like [1, 0, 2]{shown(cell)}")
    try:
        value = json.loads(text)
    except ValueError:
        raise CellError(f"is not a JSON list like [1, 0, 2]{shown(cell)}") from None
    if not isinstance(value, list):
        raise CellError("must be a list")
    return value


def _text_list_cell(cell: str) -> list[Any]:
    """A JSON list, or for people typing by hand `walk; cold water`."""
    if cell.strip().startswith("["):
        return _json_list(cell)
    return [part.strip() for part in cell.split(";") if part.strip()]


@dataclass(frozen=True, slots=True)
class CellType:
    """A type of cell, named as docs/csv-format.md names it: how it is written and read."""

    name: str
    format: Callable[[Any, tzinfo], str]
    parse: Callable[[str], Any]  # a non-empty cell → the input schema's value; or CellError


ID = CellType("UUID", _plain, _trimmed)
TEXT = CellType("text", _text, restore)
CODE = CellType("code", _code, _trimmed)
INT = CellType("number", _plain, _whole)
NUMBER = CellType("number", _number, _trimmed)
BOOL = CellType("boolean", _bool, _trimmed)
DATE = CellType("date", _date, _trimmed)
TIME = CellType("time", _time, _trimmed)
TEXT_LIST = CellType("list of text", _text_list, _text_list_cell)
NUMBER_LIST = CellType("list of numbers", _json, _json_list)
JSON_OBJECT = CellType("JSON", _json, _trimmed)


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header name and type; `required` in the header and every row.

    `derived`: computed by the server, written for the reader and ignored by the import.
    `minutes`: not stored; the export computes the minutes between these two time columns.
    """

    name: str
    type: CellType
    required: bool = False
    derived: bool = False
    minutes: tuple[str, str] | None = None


# Every record kind but clients says whether it counts (DESIGN.md "Corrections and history").
RECORD_STATUS: Final = (Column("status", CODE), Column("status_reason", TEXT))

# Every record kind but clients names its client three ways (see "Which client" in the docs).
CLIENT_REF: Final = (
    Column("client_id", ID),
    Column("client_external_ref", TEXT),
    Column("client_display_name", TEXT),
)


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind: its table, input schema, columns in file order and natural key."""

    kind: CsvKind
    entity: str  # the audit trail's word for one record
    model: type[Any]
    schema: type[BaseModel]
    columns: tuple[Column, ...]
    # A row without an id is a stored record when these agree (and the client).
    natural_key: tuple[str, ...]

    @property
    def time(self) -> str | None:
        """The record's time, which orders a client's rows: the natural key starts with it."""
        return self.natural_key[0] if self.natural_key else None


SPECS: Final[dict[CsvKind, KindSpec]] = {
    CsvKind.CLIENTS: KindSpec(
        CsvKind.CLIENTS,
        "client",
        Client,
        ClientCreate,
        (
            Column("id", ID),
            Column("display_name", TEXT, required=True),
            Column("external_ref", TEXT),
            Column("date_of_birth", DATE),
            Column("status", CODE),
            Column("intake_date", DATE, required=True),
            Column("discharged_on", DATE),
            Column("goals", TEXT),
            Column("session_cadence_days", INT),
            Column("archived_at", TIME),
        ),
        # Clients are matched among the importer's own clients instead (importer/keys.py).
        (),
    ),
    CsvKind.SESSIONS: KindSpec(
        CsvKind.SESSIONS,
        "session",
        Session,
        SessionCreate,
        (
            Column("id", ID),
            *CLIENT_REF,
            Column("starts_at", TIME, required=True),
            Column("duration_minutes", INT),
            Column("kind", CODE),
            Column("modality", CODE),
            Column("attendance", CODE),
            Column("engagement", INT),
            Column("homework_assigned", BOOL),
            Column("homework_completed", CODE),
            Column("notes", TEXT),
            Column("archived_at", TIME),
            *RECORD_STATUS,
        ),
        ("starts_at",),
    ),
    CsvKind.OBSERVATIONS: KindSpec(
        CsvKind.OBSERVATIONS,
        "observation",
        Observation,
        ObservationCreate,
        (
            Column("id", ID),
            *CLIENT_REF,
            Column("session_id", ID),
            Column("observed_at", TIME, required=True),
            Column("source", CODE),
            Column("zone", CODE, required=True),
            Column("activation", INT, required=True),
            Column("capacity", INT),
            Column("safety", INT),
            Column("body_connection", INT),
            Column("notes", TEXT),
            *RECORD_STATUS,
        ),
        ("observed_at", "source", "zone", "activation"),
    ),
    CsvKind.EPISODES: KindSpec(
        CsvKind.EPISODES,
        "episode",
        Episode,
        EpisodeCreate,
        (
            Column("id", ID),
            *CLIENT_REF,
            Column("session_id", ID),
            Column("started_at", TIME, required=True),
            Column("source", CODE),
            Column("recognized_at", TIME),
            Column("peak_intensity", INT, required=True),
            Column("baseline_at", TIME),
            Column("trigger", TEXT),
            Column("trigger_category", TEXT),
            Column("strategies", TEXT_LIST),
            Column("self_compassion", INT),
            Column("notes", TEXT),
            *RECORD_STATUS,
            Column("recovery_minutes", NUMBER, derived=True, minutes=("started_at", "baseline_at")),
            Column(
                "recognition_minutes", NUMBER, derived=True, minutes=("started_at", "recognized_at")
            ),
        ),
        ("started_at", "peak_intensity"),
    ),
    CsvKind.MEASURES: KindSpec(
        CsvKind.MEASURES,
        "measure",
        Measure,
        MeasureCreate,
        (
            Column("id", ID),
            *CLIENT_REF,
            Column("instrument", CODE, required=True),
            Column("administered_at", TIME, required=True),
            Column("source", CODE),
            Column("items", NUMBER_LIST),
            Column("total", NUMBER),  # an input for total-only instruments, else derived
            Column("severity", CODE, derived=True),
            Column("subscales", JSON_OBJECT, derived=True),
            *RECORD_STATUS,
        ),
        ("administered_at", "instrument"),
    ),
    CsvKind.ANNOTATIONS: KindSpec(
        CsvKind.ANNOTATIONS,
        "annotation",
        Annotation,
        AnnotationCreate,
        (
            Column("id", ID),
            *CLIENT_REF,
            Column("at", TIME, required=True),
            Column("kind", CODE, required=True),
            Column("label", TEXT, required=True),
            Column("notes", TEXT),
            Column("archived_at", TIME),
            *RECORD_STATUS,
        ),
        ("at", "kind", "label"),
    ),
}

# The order in which a full set of files must be imported (later kinds point at earlier ones).
IMPORT_ORDER: Final = tuple(SPECS)

# Derived once from SPECS, for the export, the import and the pages.
COLUMNS: Final = {k: tuple(c.name for c in s.columns) for k, s in SPECS.items()}
REQUIRED: Final = {k: tuple(c.name for c in s.columns if c.required) for k, s in SPECS.items()}
DERIVED: Final = {k: frozenset(c.name for c in s.columns if c.derived) for k, s in SPECS.items()}
ENTITY: Final = {k: s.entity for k, s in SPECS.items()}
TEXT_COLUMNS: Final = frozenset(c.name for s in SPECS.values() for c in s.columns if c.type is TEXT)
