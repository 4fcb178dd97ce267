"""CSV import: the files the CSV export writes (docs/csv-format.md), checked row by row.

One file holds one kind of record. The import is all-or-nothing: it streams the file, checks
each row with the same Pydantic input schemas as the API plus the services' rules, and
writes valid rows in chunks inside a savepoint of the caller's one transaction. Any problem,
or a dry run, rolls the savepoint back, so nothing is written; the report names every problem
by row (the header is row 1, as a spreadsheet numbers them) and column. The audit event is
written outside the savepoint, so failed and dry-run imports are audited too.

Duplicates. A row whose `id` (or, without an id, whose natural key: client plus the kind's
time and values, see `_KEY_COLUMNS`) is already stored is skipped and counted as already
present, so importing the same file twice adds nothing. A row that repeats an earlier row of
the same file is a problem. To know the earlier rows without holding them, the importer keeps
a 16-byte key and a row number per row (`SeenKeys`): about 20 MB per million rows, the only
memory that grows with the file. Everything else is bounded by the chunk size.

Bounded reading. The file is read line by line as bytes: a line or a record longer than
`MAX_RECORD_BYTES` stops the import without reading the rest of it into memory, and the csv
module's field limit (128 KiB) bounds any one cell. Text must be UTF-8 (a byte-order mark is
allowed); any other encoding is reported at the first line that is not UTF-8.

Writing. Rows go straight to the driver: PostgreSQL `COPY`, SQLite `executemany` with the
column types' own SQLAlchemy bind processors, or faster functions checked against them when
the import starts (so values are stored exactly as the ORM stores them). These bypass the
ORM, so the client summaries are refreshed here (`summary.refresh`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import IO, Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import psycopg
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import JSON, Connection, DateTime, Table, TypeDecorator, Uuid, select
from sqlalchemy import Enum as SaEnum
from sqlalchemy.exc import DBAPIError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import CLOCK_SLACK, DUE_ATTENDANCE
from practice_dashboard.domain.instruments import INSTRUMENTS
from practice_dashboard.errors import Invalid
from practice_dashboard.models import (
    Annotation,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
)
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Attendance, Role
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.schemas.client import ClientCreate
from practice_dashboard.schemas.common import UtcDatetime
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.schemas.session import SessionCreate
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv_export import (
    COLUMNS,
    DERIVED,
    ENTITY,
    TEXT_COLUMNS,
    CsvKind,
    restore_text,
)
from practice_dashboard.services.records import measure as measure_service

MAX_RECORD_BYTES: Final = 1024 * 1024
CHUNK_ROWS: Final = 5_000
PROBLEM_LIMIT: Final = 1_000
# Sessions already known to belong to a client; cleared when it grows past this.
_SESSION_CACHE_LIMIT: Final = 100_000
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_INT = re.compile(r"[+-]?[0-9]{1,9}")  # ASCII digits only: int() would take "٣" too
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_EXAMPLE_TIME: Final = "2026-03-01T14:30:00+00:00"

# Columns that must be in the header (record kinds also need client_id or client_external_ref).
_REQUIRED: dict[CsvKind, tuple[str, ...]] = {
    CsvKind.CLIENTS: ("display_name", "intake_date"),
    CsvKind.SESSIONS: ("starts_at",),
    CsvKind.OBSERVATIONS: ("observed_at", "zone", "activation"),
    CsvKind.EPISODES: ("started_at", "peak_intensity"),
    CsvKind.MEASURES: ("instrument", "administered_at"),
    CsvKind.ANNOTATIONS: ("at", "kind", "label"),
}
# A row without an `id` is the same record as a stored one when these agree (and the client).
_KEY_COLUMNS: dict[CsvKind, tuple[str, ...]] = {
    CsvKind.SESSIONS: ("starts_at",),
    CsvKind.OBSERVATIONS: ("observed_at", "source", "zone", "activation"),
    CsvKind.EPISODES: ("started_at", "peak_intensity"),
    CsvKind.MEASURES: ("administered_at", "instrument"),
    CsvKind.ANNOTATIONS: ("at", "kind", "label"),
}
_SCHEMAS: dict[CsvKind, type[BaseModel]] = {
    CsvKind.CLIENTS: ClientCreate,
    CsvKind.SESSIONS: SessionCreate,
    CsvKind.OBSERVATIONS: ObservationCreate,
    CsvKind.EPISODES: EpisodeCreate,
    CsvKind.MEASURES: MeasureCreate,
    CsvKind.ANNOTATIONS: AnnotationCreate,
}
_TABLES: dict[CsvKind, Any] = {
    CsvKind.CLIENTS: Client,
    CsvKind.SESSIONS: Session,
    CsvKind.OBSERVATIONS: Observation,
    CsvKind.EPISODES: Episode,
    CsvKind.MEASURES: Measure,
    CsvKind.ANNOTATIONS: Annotation,
}
# The columns each kind writes per row, in the order of the value tuples the row builders
# return; `_constants` adds those that are the same for every row of an import.
_INSERT_COLUMNS: dict[CsvKind, tuple[str, ...]] = {
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
        "client_id",
        "practitioner_id",
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
        "client_id",
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
        "client_id",
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
    ),
    CsvKind.MEASURES: (
        "id",
        "client_id",
        "instrument",
        "administered_at",
        "items",
        "source",
        "total",
        "subscales",
        "severity",
    ),
    CsvKind.ANNOTATIONS: (
        "id",
        "client_id",
        "at",
        "kind",
        "label",
        "notes",
        "archived_at",
    ),
}
_RECORDED_BY = {
    CsvKind.CLIENTS: "practitioner_id",  # the importer owns the clients they import
    CsvKind.OBSERVATIONS: "recorded_by_id",
    CsvKind.EPISODES: "recorded_by_id",
    CsvKind.MEASURES: "recorded_by_id",
    CsvKind.ANNOTATIONS: "created_by_id",
}
_VERSIONED = frozenset({CsvKind.CLIENTS, CsvKind.SESSIONS, CsvKind.EPISODES, CsvKind.ANNOTATIONS})


def _constants(kind: CsvKind, user_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The values every row of one import shares: who, when, and the first version."""
    values: dict[str, Any] = {"created_at": now, "updated_at": now}
    if kind in _RECORDED_BY:
        values[_RECORDED_BY[kind]] = user_id.hex
    if kind in _VERSIONED:
        values["version"] = 1
    return values


# Parsed here before the schema sees them: the schemas take strict integers and JSON lists.
_INT_COLUMNS = frozenset(
    {
        "activation",
        "capacity",
        "safety",
        "body_connection",
        "duration_minutes",
        "engagement",
        "peak_intensity",
        "self_compassion",
        "session_cadence_days",
    }
)
_LIST_COLUMNS = frozenset({"strategies", "items"})


class _Cell(Enum):
    """How a cell becomes schema input."""

    RAW = "raw"  # the text, trimmed: the schema parses it (times, enums, ids, booleans)
    TEXT = "text"  # free text: the formula guard undone
    INT = "int"  # a whole number (the schemas are strict)
    LIST = "list"  # a JSON list (or strategies as `a; b`)


def _cell_kind(name: str) -> _Cell:
    if name in TEXT_COLUMNS:
        return _Cell.TEXT
    if name in _INT_COLUMNS:
        return _Cell.INT
    if name in _LIST_COLUMNS:
        return _Cell.LIST
    return _Cell.RAW


_archived_at = TypeAdapter(UtcDatetime)


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its row (1 = the header; 0 = the file as a whole) and column."""

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = "file" if self.row == 0 else f"row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import found and did. `problems` lists the first `PROBLEM_LIMIT` problems."""

    kind: CsvKind
    filename: str | None
    dry_run: bool
    rows: int = 0
    new: int = 0
    already_present: int = 0
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False
    clients: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def unlisted(self) -> int:
        return self.problem_count - len(self.problems)

    def summary(self) -> str:
        """One line for people: what was (or would be) written."""
        if self.committed:
            done = f"imported {self.new} new {self.kind.value}"
        elif self.ok:
            done = f"dry run: {self.new} new {self.kind.value} would be imported"
        else:
            done = f"nothing imported: {self.problem_count} problem(s)"
        return (
            f"{done}; {self.rows} data rows read, {self.already_present} already present, "
            f"{self.clients} client(s)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "filename": self.filename,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "rows": self.rows,
            "new": self.new,
            "already_present": self.already_present,
            "clients": self.clients,
            "problem_count": self.problem_count,
            "problems": [
                {"row": p.row, "column": p.column, "message": p.message} for p in self.problems
            ],
        }


class _Stop(Exception):
    """A problem with the file as a whole: reading cannot go on."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# --------------------------------------------------------------------------------------------
# Reading: bytes → bounded, decoded lines → CSV records
# --------------------------------------------------------------------------------------------


class _Reader:
    """CSV records from a binary stream, never holding more than one record in memory."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.bytes_read = 0
        self.row = 0  # the record being read (1 = the header)
        self._record_bytes = 0

    def _lines(self) -> Iterator[str]:
        first = True
        while True:
            line = self.stream.readline(MAX_RECORD_BYTES + 1)
            if not line:
                return
            self.bytes_read += len(line)
            self._record_bytes += len(line)
            if self._record_bytes > MAX_RECORD_BYTES:
                raise _Stop(
                    Problem(
                        self.row + 1,
                        None,
                        f"this row is longer than {MAX_RECORD_BYTES:,} bytes; reading stopped "
                        "(is this a CSV file?)",
                    )
                )
            if first:
                first = False
                if line.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise _Stop(Problem(0, None, "the file is UTF-16 text; save it as CSV UTF-8"))
                line = line.removeprefix(_UTF8_BOM)
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Stop(
                    Problem(
                        self.row + 1,
                        None,
                        f"the file is not UTF-8 text (byte 0x{line[exc.start]:02x} cannot be "
                        "read); save it as CSV UTF-8 and import it again",
                    )
                ) from exc

    def records(self) -> Iterator[list[str] | Problem]:
        """Each record's cells, or the csv module's complaint about it."""
        reader = csv.reader(self._lines(), strict=True)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.row += 1
                self._record_bytes = 0
                yield Problem(self.row, None, f"not valid CSV: {exc}")
                continue
            self.row += 1
            self._record_bytes = 0
            yield cells


# --------------------------------------------------------------------------------------------
# Duplicate detection across the whole file
# --------------------------------------------------------------------------------------------

_U64 = npt.NDArray[np.uint64]


class SeenKeys:
    """The 16-byte keys of the rows taken so far, and the row each came from.

    Kept as sorted runs merged like a binary counter, so a lookup is a few binary searches and
    each key is merged O(log n) times. 20 bytes a key (two 64-bit halves and a 32-bit row
    number): 20 MB per million rows, briefly twice that while the two largest runs merge.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[_U64, _U64, npt.NDArray[np.uint32]]] = []

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self._runs)

    def check_and_add(self, keys: Sequence[bytes], rows: Sequence[int]) -> list[int | None]:
        """For each (distinct) key, the row it was first seen on, or None; adds the new ones."""
        if not keys:
            return []
        halves = np.frombuffer(b"".join(keys), dtype=">u8").reshape(-1, 2)
        hi = halves[:, 0].astype(np.uint64)
        lo = halves[:, 1].astype(np.uint64)
        earlier: list[int | None] = [None] * len(keys)
        for run_hi, run_lo, run_row in self._runs:
            left = np.searchsorted(run_hi, hi, "left")
            right = np.searchsorted(run_hi, hi, "right")
            for i in np.nonzero(right > left)[0]:
                for j in range(int(left[i]), int(right[i])):
                    if run_lo[j] == lo[i]:
                        earlier[i] = int(run_row[j])
                        break
        fresh = np.array([e is None for e in earlier], dtype=bool)
        new_hi = hi[fresh]
        order = np.argsort(new_hi, kind="stable")
        self._runs.append(
            (
                new_hi[order],
                lo[fresh][order],
                np.asarray(rows, dtype=np.uint32)[fresh][order],
            )
        )
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= len(self._runs[-1][0]):
            (a_hi, a_lo, a_row), (b_hi, b_lo, b_row) = self._runs[-2], self._runs[-1]
            merged = np.concatenate((a_hi, b_hi))
            # A stable sort of two sorted runs: timsort merges them in linear time.
            order = np.argsort(merged, kind="stable")
            lows, rows_ = np.concatenate((a_lo, b_lo)), np.concatenate((a_row, b_row))
            self._runs[-2:] = [(merged[order], lows[order], rows_[order])]
        return earlier


def _norm(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, datetime):
        return str((value - _EPOCH) // _MICROSECOND)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def natural_key(scope: str | None, values: Iterable[Any]) -> bytes:
    """A 16-byte digest of a row's natural key within `scope` (a client's hex id).

    A 128-bit BLAKE2b digest: two different keys collide with negligible probability
    (about n²/2^129 among n rows: 10^-27 for a million).
    """
    text = "\x1f".join((scope or "", *(_norm(v) for v in values)))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


# --------------------------------------------------------------------------------------------
# Writing straight to the driver
# --------------------------------------------------------------------------------------------


class _Refused(Exception):
    """The database refused a chunk."""


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is not UTC:  # the schemas hand back UTC already
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


_SAMPLE_ID = uuid.UUID(int=0x0123456789ABCDEF0123456789ABCDEF)
_SAMPLE_TIMES = (datetime(2026, 3, 1, 14, 30, tzinfo=UTC), datetime(2026, 3, 1, 14, 30, 0, 5, UTC))


def _sqlite_converter(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """How a (non-null) value of this column becomes what SQLAlchemy would bind on SQLite.

    None: the value is already in that form. Ids travel as 32 hex digits, which is how the
    `Uuid` type stores them on SQLite; times use a faster function proven to give the type's
    own result. Each assumption is checked here, with the type's processor as the fallback.
    """
    if isinstance(type_, SaEnum):
        return None  # the schemas have checked the value; it is stored as its string
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    base = type_.impl if isinstance(type_, TypeDecorator) else type_
    if isinstance(base, Uuid):
        if processor(_SAMPLE_ID) == _SAMPLE_ID.hex:
            return None
        return lambda value: processor(uuid.UUID(hex=value))
    if isinstance(base, DateTime) and all(processor(t) == _sqlite_time(t) for t in _SAMPLE_TIMES):
        return _sqlite_time
    return processor  # type: ignore[no-any-return]


class _Writer:
    """Reads and writes one table at driver level: COPY on PostgreSQL, executemany on SQLite.

    The ORM and SQLAlchemy's per-value processing cost more than the database does at a
    million rows; values stay exactly as the column types would bind them (checked above).
    """

    def __init__(
        self,
        connection: Connection,
        table: Table,
        columns: Sequence[str],
        constants: Mapping[str, Any],
    ) -> None:
        """`columns` vary by row; `constants` (column → value) are the same for every row."""
        self.connection = connection
        dialect = connection.dialect
        self.quote = dialect.identifier_preparer.quote
        every = [*columns, *constants]
        names = ", ".join(self.quote(c) for c in every)
        self.target = dialect.identifier_preparer.format_table(table)
        self.postgres = dialect.name == "postgresql"
        types = [table.c[c].type for c in columns]
        self.json: list[int] = []
        self.converters: list[tuple[int, Callable[[Any], Any]]] = []  # (column, how) SQLite
        if self.postgres:
            self.sql = f"COPY {self.target} ({names}) FROM STDIN"
            # COPY's text format takes JSON as text; psycopg adapts everything else itself.
            self.json = [i for i, t in enumerate(types) if isinstance(t, JSON)]
            self.tail = tuple(constants.values())
        else:
            marks = ", ".join("?" * len(every))
            self.sql = f"INSERT INTO {self.target} ({names}) VALUES ({marks})"
            self.converters = [
                (i, convert)
                for i, type_ in enumerate(types)
                if (convert := _sqlite_converter(type_, dialect)) is not None
            ]
            # Converted once, appended to every row.
            self.tail = tuple(
                value if (convert := _sqlite_converter(table.c[name].type, dialect)) is None
                else convert(value)
                for name, value in constants.items()
            )  # fmt: skip

    def owners(self, owner: str, ids: Sequence[str]) -> dict[str, uuid.UUID]:
        """{hex id: owner id} for the ids already stored: one array parameter, not thousands."""
        columns = f"{self.quote('id')}, {self.quote(owner)}"
        if self.postgres:
            result = self.connection.exec_driver_sql(
                f"SELECT {columns} FROM {self.target} WHERE {self.quote('id')} = ANY(%s::uuid[])",
                (list(ids),),
            )
            return {row[0].hex: row[1] for row in result}
        result = self.connection.exec_driver_sql(
            f"SELECT {columns} FROM {self.target} "
            f"WHERE {self.quote('id')} IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return {rid: uuid.UUID(hex=oid) for rid, oid in result}

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.postgres:
            self._copy(rows)
            return
        converters, tail = self.converters, self.tail
        converted = []
        for row in rows:
            values = list(row)
            for i, convert in converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
            converted.append((*values, *tail))
        try:
            self.connection.exec_driver_sql(self.sql, converted)
        except DBAPIError as exc:
            raise _Refused(str(exc.orig) if exc.orig else str(exc)) from exc

    def _copy(self, rows: Sequence[tuple[Any, ...]]) -> None:
        driver = self.connection.connection.driver_connection
        assert driver is not None
        try:
            with driver.cursor() as cursor, cursor.copy(self.sql) as copy:
                tail = self.tail
                for row in rows:
                    if self.json:
                        values = list(row)
                        for i in self.json:
                            if values[i] is not None:
                                values[i] = json.dumps(values[i])
                        row = tuple(values)
                    copy.write_row(row + tail)
        except psycopg.Error as exc:
            raise _Refused(str(exc)) from exc


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    """The offending value, when short enough to help: strings quoted, numbers as they are."""
    text = str(value)
    if not 0 < len(text) <= 40:
        return ""
    return f" (got {text!r})" if isinstance(value, str) else f" (got {text})"


def _message(error: ErrorDetails) -> str:
    """Pydantic's error in the words of a person reading their spreadsheet."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = _shown(error.get("input", "")) if not isinstance(error.get("input"), dict) else ""
    if kind == "missing":
        return "is required"
    if kind == "timezone_aware":
        return f"needs a UTC offset, as in {_EXAMPLE_TIME}{got}"
    if kind.startswith("datetime"):
        return f"is not a date and time like {_EXAMPLE_TIME}{got}"
    if kind.startswith("date"):
        return f"is not a date like 2026-03-01{got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}{got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}{got}"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "uuid_parsing" or kind == "uuid_type":
        return f"is not a valid id (a UUID){got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "too_long":
        return f"has too many entries (at most {ctx.get('max_length')})"
    if kind.startswith("bool"):
        return f"must be true or false{got}"
    if kind.startswith(("float", "int")):
        return f"is not a number{got}"
    return str(error["msg"]).removeprefix("Value error, ") + got


def _problems_from(exc: ValidationError, row: int, prefix: str | None = None) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        column = prefix or (str(loc[0]) if loc else None)
        message = _message(error)
        index = loc[1] if len(loc) > 1 and not prefix else None
        if isinstance(index, int):
            message = f"entry {index + 1} {message}"
        problems.append(Problem(row, column, message))
    return problems


# --------------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    """A valid row waiting for its chunk to be checked against the database and written."""

    row: int
    key: bytes
    by_id: bool
    client_id: uuid.UUID | None
    natural: tuple[Any, ...]
    session_id: uuid.UUID | None
    values: tuple[Any, ...]


class _ClientRef(NamedTuple):
    """What the rows need of a client the importer may change (plain values: fast to read)."""

    id: uuid.UUID
    hex: str  # the id as the writer takes it
    practitioner_hex: str
    external_ref: str | None
    display_name: str
    intake_date: date


_ClientLookup = _ClientRef | Problem


class _Import:
    """One import under way: the header's layout, the chunk being gathered, what was seen."""

    def __init__(
        self,
        db: DbSession,
        *,
        actor: Actor,
        kind: CsvKind,
        report: ImportReport,
        on_problem: Callable[[Problem], None] | None,
        problem_limit: int,
        chunk_rows: int,
        now: datetime,
    ) -> None:
        self.db = db
        self.actor = actor
        self.kind = kind
        self.report = report
        self.on_problem = on_problem
        self.problem_limit = problem_limit
        self.chunk_rows = chunk_rows
        self.now = now
        self.future_limit = now + CLOCK_SLACK
        self.model = _TABLES[kind]
        self.table: Table = self.model.__table__
        self.schema = _SCHEMAS[kind]
        self.seen = SeenKeys()
        self.chunk: list[_Pending] = []
        self.chunk_keys: dict[bytes, int] = {}
        self.chunk_problems: list[Problem] = []
        self.rows_in_chunk = 0
        self.per_client: dict[uuid.UUID, list[int]] = {}  # client id → [new, already present]
        self.sessions: dict[uuid.UUID, uuid.UUID] = {}  # session id → its client id
        self.client_lookups: dict[tuple[str, str], _ClientLookup] = {}
        self.writer: _Writer | None = None
        # Every client the importer may change: record rows must name one of them.
        self.user_id: uuid.UUID = actor.user.id
        self.clients = {
            c.id: _ClientRef(
                c.id, c.id.hex, c.practitioner_id.hex, c.external_ref, c.display_name, c.intake_date
            )
            for c in db.scalars(access.visible_clients(actor.user, include_archived=True))
            if access.can_write(actor.user, c)
        }
        self.by_ref: dict[str, list[_ClientRef]] = {}
        for c in self.clients.values():
            if c.external_ref:
                self.by_ref.setdefault(c.external_ref, []).append(c)
        self.header: list[str] = []
        self.fields: list[tuple[int, str, _Cell]] = []  # (cell index, field, how to read it)
        self.index: dict[str, int] = {}
        self.id_at: int | None = None  # where the id and client columns are, if present
        self.client_id_at: int | None = None
        self.ref_at: int | None = None

    # -- problems ------------------------------------------------------------------------------

    def emit(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.report.problem_count += 1
            if len(self.report.problems) < self.problem_limit:
                self.report.problems.append(problem)
            if self.on_problem is not None:
                self.on_problem(problem)

    # -- the header ----------------------------------------------------------------------------

    def read_header(self, row: int, cells: list[str]) -> bool:
        names = [c.strip().lower() for c in cells]
        known = COLUMNS[self.kind]
        problems = []
        seen: set[str] = set()
        for name in names:
            if name in seen:
                problems.append(Problem(row, name, "this column appears twice"))
            elif name not in known:
                problems.append(
                    Problem(row, name or None, f"unknown column {name!r} for {self.kind.value}")
                )
            seen.add(name)
        for name in _REQUIRED[self.kind]:
            if name not in seen:
                problems.append(Problem(row, name, "missing column"))
        if self.kind != CsvKind.CLIENTS and not {"client_id", "client_external_ref"} & seen:
            problems.append(Problem(row, "client_id", "missing column (or client_external_ref)"))
        if problems:
            self.emit(problems)
            return False
        self.header = names
        self.index = {name: i for i, name in enumerate(names)}
        self.id_at = self.index.get("id")
        self.client_id_at = self.index.get("client_id")
        self.ref_at = self.index.get("client_external_ref")
        schema_fields = set(self.schema.model_fields)
        derived = DERIVED.get(self.kind, frozenset())
        for i, name in enumerate(names):
            if name in schema_fields and name not in derived:
                self.fields.append((i, name, _cell_kind(name)))
        return True

    # -- one row -------------------------------------------------------------------------------

    def cell(self, cells: Sequence[str], name: str) -> str:
        i = self.index.get(name)
        return "" if i is None else cells[i]

    def _inputs(self, row: int, cells: Sequence[str], problems: list[Problem]) -> dict[str, Any]:
        """The row's cells as the schema's input: empty cells left out (the schema's default)."""
        data: dict[str, Any] = {}
        for i, name, how in self.fields:
            cell = cells[i]
            if not cell:
                continue
            if how is _Cell.RAW:
                data[name] = cell.strip()
            elif how is _Cell.INT:
                text = cell.strip()
                if (text.isascii() and text.isdigit()) or _INT.fullmatch(text):
                    data[name] = int(text)
                else:
                    problems.append(Problem(row, name, f"is not a whole number{_shown(cell)}"))
            elif how is _Cell.TEXT:
                data[name] = restore_text(cell)
            else:
                parsed = _parse_list(cell, name)
                if isinstance(parsed, str):
                    problems.append(Problem(row, name, parsed))
                else:
                    data[name] = parsed
        return data

    def _client(self, row: int, cells: Sequence[str]) -> _ClientRef | Problem:
        id_cell = "" if self.client_id_at is None else cells[self.client_id_at].strip()
        ref_cell = "" if self.ref_at is None else restore_text(cells[self.ref_at])
        cache_key = (id_cell, ref_cell)
        found = self.client_lookups.get(cache_key)
        if found is None:
            found = self._resolve_client(id_cell, ref_cell)
            if len(self.client_lookups) > 10_000:
                self.client_lookups.clear()
            self.client_lookups[cache_key] = found
        if isinstance(found, Problem):
            return Problem(row, found.column, found.message)
        return found

    def _resolve_client(self, id_cell: str, ref_cell: str) -> _ClientRef | Problem:
        """client_id decides when given (the external_ref must then agree); else external_ref."""
        if id_cell:
            try:
                client_id = uuid.UUID(id_cell)
            except ValueError:
                return Problem(0, "client_id", f"is not a valid id (a UUID){_shown(id_cell)}")
            client = self.clients.get(client_id)
            if client is None:
                return Problem(
                    0, "client_id", "no client with this id among the clients you can change"
                )
            if ref_cell and client.external_ref != ref_cell:
                return Problem(
                    0,
                    "client_external_ref",
                    f"does not match the client with this client_id "
                    f"(its external_ref is {client.external_ref or 'empty'})",
                )
            return client
        if ref_cell:
            matches = self.by_ref.get(ref_cell, [])
            if not matches:
                return Problem(
                    0,
                    "client_external_ref",
                    "no client with this external_ref among the clients you can change",
                )
            if len(matches) > 1:
                return Problem(
                    0,
                    "client_external_ref",
                    f"{len(matches)} of your clients have this external_ref; give client_id",
                )
            return matches[0]
        return Problem(0, "client_id", "is required (or give client_external_ref)")

    def take(self, row: int, cells: list[str]) -> None:
        """Check one data row; a valid one joins the chunk."""
        self.report.rows += 1
        self.rows_in_chunk += 1
        problems: list[Problem] = []
        if len(cells) != len(self.header):
            problems.append(
                Problem(row, None, f"has {len(cells)} cells; the header has {len(self.header)}")
            )
        else:
            pending = self._build(row, cells, problems)
            if pending is not None and not problems:
                first = self.chunk_keys.get(pending.key)
                if first is not None:
                    problems.append(self._duplicate(row, first, pending.by_id))
                else:
                    self.chunk_keys[pending.key] = row
                    self.chunk.append(pending)
        self.chunk_problems.extend(problems)
        if self.rows_in_chunk >= self.chunk_rows:
            self.flush()

    def _duplicate(self, row: int, first: int, by_id: bool) -> Problem:
        if by_id:
            return Problem(row, "id", f"duplicate row: the same id is on row {first}")
        if self.kind == CsvKind.CLIENTS:
            what = "external_ref (or display_name and intake_date)"
        else:
            what = ", ".join(("client", *_KEY_COLUMNS[self.kind]))
        return Problem(row, None, f"duplicate row: same {what} as row {first}")

    def _build(self, row: int, cells: list[str], problems: list[Problem]) -> _Pending | None:
        # The record's own id when the file gives one (the row's duplicate key), else a new one.
        text = cells[self.id_at].strip() if self.id_at is not None else ""
        by_id = bool(text)
        if by_id:
            record_id = _hex_id(text)
            if record_id is None:
                problems.append(Problem(row, "id", f"is not a valid id (a UUID){_shown(text)}"))
        else:
            record_id = uuid7().hex
        client: _ClientRef | None = None
        if self.kind != CsvKind.CLIENTS:
            found = self._client(row, cells)
            if isinstance(found, Problem):
                problems.append(found)
            else:
                client = found
        data = self._inputs(row, cells, problems)
        if self.kind == CsvKind.MEASURES:
            data.pop("total", None)
        try:
            model = self.schema.model_validate(data)
        except ValidationError as exc:
            # A cell that could not be read at all is reported once, not again as "required".
            unread = {p.column for p in problems}
            problems.extend(p for p in _problems_from(exc, row) if p.column not in unread)
            return None
        if problems:
            return None
        assert record_id is not None
        return BUILDERS[self.kind](self, row, cells, model, record_id, by_id, client, problems)

    def archived_at(self, row: int, cells: Sequence[str], problems: list[Problem]) -> Any:
        text = self.cell(cells, "archived_at").strip()
        if not text:
            return None
        try:
            return _archived_at.validate_python(text)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, row, "archived_at"))
            return None

    def not_future(self, row: int, column: str, value: datetime, problems: list[Problem]) -> None:
        if value > self.future_limit:
            problems.append(Problem(row, column, "must not be in the future"))

    def pending(
        self,
        row: int,
        record_id: str,
        by_id: bool,
        client: _ClientRef | None,
        natural: tuple[Any, ...],
        values: tuple[Any, ...],
        session_id: uuid.UUID | None = None,
    ) -> _Pending:
        if by_id:
            key = bytes.fromhex(record_id)
        else:
            key = natural_key(client.hex if client else None, natural)
        client_id = client.id if client else None
        return _Pending(row, key, by_id, client_id, natural, session_id, values)

    # -- a chunk -------------------------------------------------------------------------------

    def flush(self) -> None:
        chunk, problems = self.chunk, self.chunk_problems
        self.chunk, self.chunk_problems, self.chunk_keys = [], [], {}
        self.rows_in_chunk = 0
        if chunk:
            chunk = self._check_sessions(chunk, problems)
            earlier = self.seen.check_and_add([p.key for p in chunk], [p.row for p in chunk])
            fresh = []
            for pending, first in zip(chunk, earlier, strict=True):
                if first is None:
                    fresh.append(pending)
                else:
                    problems.append(self._duplicate(pending.row, first, pending.by_id))
            new = self._not_stored(fresh, problems)
            self.report.new += len(new)
            for client_id, count in Counter(p.client_id for p in new).items():
                self._count(client_id, 0, count)
            if new and self.report.problem_count == 0 and not problems:
                self._write(new)
        problems.sort(key=lambda p: p.row)
        self.emit(problems)

    def _count(self, client_id: uuid.UUID | None, which: int, n: int = 1) -> None:
        """Add `n` to a client's count of new (0) or already present (1) rows."""
        if client_id is not None:
            self.per_client.setdefault(client_id, [0, 0])[which] += n

    def _check_sessions(self, chunk: list[_Pending], problems: list[Problem]) -> list[_Pending]:
        wanted = {p.session_id for p in chunk if p.session_id and p.session_id not in self.sessions}
        if wanted:
            if len(self.sessions) > _SESSION_CACHE_LIMIT:
                self.sessions.clear()
            self.sessions.update(
                (sid, cid)
                for sid, cid in self.db.execute(
                    select(Session.id, Session.client_id).where(Session.id.in_(wanted))
                )
            )
        kept = []
        for p in chunk:
            if p.session_id is not None and self.sessions.get(p.session_id) != p.client_id:
                problems.append(
                    Problem(p.row, "session_id", "no session with this id for this client")
                )
            else:
                kept.append(p)
        return kept

    def _not_stored(self, chunk: list[_Pending], problems: list[Problem]) -> list[_Pending]:
        """The rows not stored yet; stored ones are counted as already present."""
        by_id = [p.values[0] for p in chunk if p.by_id]
        owner = "practitioner_id" if self.kind == CsvKind.CLIENTS else "client_id"
        stored_owner = self._writer().owners(owner, by_id) if by_id else {}
        natural = [p for p in chunk if not p.by_id]
        stored_keys = self._stored_natural_keys(natural) if natural else set()
        new = []
        for p in chunk:
            if p.by_id and p.values[0] in stored_owner:
                expected = self.user_id if self.kind == CsvKind.CLIENTS else p.client_id
                if stored_owner[p.values[0]] == expected:
                    self.report.already_present += 1
                    self._count(p.client_id, 1)
                else:
                    problems.append(
                        Problem(p.row, "id", "this id is already used by another record")
                    )
            elif not p.by_id and p.key in stored_keys:
                self.report.already_present += 1
                self._count(p.client_id, 1)
            else:
                new.append(p)
        return new

    def _stored_natural_keys(self, chunk: list[_Pending]) -> set[bytes]:
        if self.kind == CsvKind.CLIENTS:
            return {_client_key(c) for c in self.clients.values()}
        columns = _KEY_COLUMNS[self.kind]
        table = self.table
        time = table.c[columns[0]]
        rows = self.db.execute(
            select(table.c.client_id, *(table.c[c] for c in columns)).where(
                table.c.client_id.in_({p.client_id for p in chunk}),
                time.in_({p.natural[0] for p in chunk}),
            )
        )
        return {natural_key(r[0].hex, r[1:]) for r in rows}

    def _writer(self) -> _Writer:
        if self.writer is None:
            self.writer = _Writer(
                self.db.connection(),
                self.table,
                _INSERT_COLUMNS[self.kind],
                _constants(self.kind, self.user_id, self.now),
            )
        return self.writer

    def _write(self, chunk: list[_Pending]) -> None:
        try:
            with self.db.begin_nested():  # a refused chunk leaves the transaction usable
                self._writer().write([p.values for p in chunk])
        except _Refused as exc:
            # Every rule the database checks is checked above; this is a race or a bug.
            detail = (str(exc).strip().splitlines() or ["no reason given"])[0]
            first, last = chunk[0].row, chunk[-1].row
            self.emit([Problem(first, None, f"the database refused rows {first}–{last}: {detail}")])


def _client_key(client: _ClientRef) -> bytes:
    if client.external_ref:
        return natural_key(None, ("ref", client.external_ref))
    return natural_key(None, ("name", client.display_name, client.intake_date))


_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _hex_id(text: str) -> str | None:
    """A UUID as 32 lower-case hex digits (the export's form quickly, others via `uuid`)."""
    if _CANONICAL_ID.fullmatch(text):
        return text.replace("-", "")
    try:
        return uuid.UUID(text).hex
    except ValueError:
        return None


def _parse_list(cell: str, column: str) -> list[Any] | str:
    """A JSON list; strategies may also be written as `one; two`. A str is the problem."""
    text = cell.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            return f"is not a JSON list like [1, 0, 2]{_shown(cell)}"
        if not isinstance(value, list):
            return "must be a list"
        return value
    if column == "strategies":
        return [part.strip() for part in text.split(";") if part.strip()]
    return f"must be a JSON list like [1, 0, 2]{_shown(cell)}"


# --------------------------------------------------------------------------------------------
# Row builders: the validated schema → the values written (and the kind's own rules)
# --------------------------------------------------------------------------------------------

_Builder = Callable[
    [_Import, int, list[str], Any, str, bool, _ClientRef | None, list[Problem]],
    _Pending | None,
]


def _client_row(
    imp: _Import,
    row: int,
    cells: list[str],
    m: ClientCreate,
    record_id: str,
    by_id: bool,
    _client: _ClientRef | None,
    problems: list[Problem],
) -> _Pending | None:
    archived_at = imp.archived_at(row, cells, problems)
    if m.intake_date is None:
        problems.append(Problem(row, "intake_date", "is required"))
    if problems or m.intake_date is None:
        return None
    natural = ("ref", m.external_ref) if m.external_ref else ("name", m.display_name, m.intake_date)
    values = (
        record_id,
        m.display_name,
        m.external_ref,
        m.date_of_birth,
        m.status.value,
        m.intake_date,
        m.discharged_on,
        m.goals,
        m.session_cadence_days,
        archived_at,
    )
    pending = imp.pending(row, record_id, by_id, None, natural, values)
    pending.client_id = uuid.UUID(hex=record_id)  # the new client's own id
    return pending


def _session_row(
    imp: _Import,
    row: int,
    cells: list[str],
    m: SessionCreate,
    record_id: str,
    by_id: bool,
    client: _ClientRef | None,
    problems: list[Problem],
) -> _Pending | None:
    assert client is not None
    archived_at = imp.archived_at(row, cells, problems)
    # The same rules as services.session (one place would be better: see the report).
    if m.attendance in DUE_ATTENDANCE and m.starts_at > imp.now + CLOCK_SLACK:
        problems.append(
            Problem(
                row,
                "attendance",
                f"a session in the future cannot be marked {m.attendance.value}",
            )
        )
    if m.engagement is not None and m.attendance != Attendance.ATTENDED:
        problems.append(
            Problem(row, "engagement", "engagement can only be rated for an attended session")
        )
    if m.homework_completed is not None and m.attendance != Attendance.ATTENDED:
        problems.append(
            Problem(
                row, "homework_completed", "homework can only be reviewed in an attended session"
            )
        )
    if problems:
        return None
    values = (
        record_id,
        client.hex,
        client.practitioner_hex,
        m.starts_at,
        m.duration_minutes,
        m.kind.value,
        m.modality.value,
        m.attendance.value,
        m.engagement,
        m.homework_assigned,
        m.homework_completed.value if m.homework_completed else None,
        m.notes,
        archived_at,
    )
    return imp.pending(row, record_id, by_id, client, (m.starts_at,), values)


def _observation_row(
    imp: _Import,
    row: int,
    _cells: list[str],
    m: ObservationCreate,
    record_id: str,
    by_id: bool,
    client: _ClientRef | None,
    problems: list[Problem],
) -> _Pending | None:
    assert client is not None
    imp.not_future(row, "observed_at", m.observed_at, problems)
    if problems:
        return None
    source, zone = m.source.value, m.zone.value
    values = (
        record_id,
        client.hex,
        m.session_id.hex if m.session_id else None,
        m.observed_at,
        source,
        zone,
        m.activation,
        m.capacity,
        m.safety,
        m.body_connection,
        m.notes,
    )
    natural = (m.observed_at, source, zone, m.activation)
    return imp.pending(row, record_id, by_id, client, natural, values, m.session_id)


def _episode_row(
    imp: _Import,
    row: int,
    _cells: list[str],
    m: EpisodeCreate,
    record_id: str,
    by_id: bool,
    client: _ClientRef | None,
    problems: list[Problem],
) -> _Pending | None:
    assert client is not None
    imp.not_future(row, "started_at", m.started_at, problems)
    if problems:
        return None
    values = (
        record_id,
        client.hex,
        m.session_id.hex if m.session_id else None,
        m.started_at,
        m.recognized_at,
        m.peak_intensity,
        m.baseline_at,
        m.trigger,
        m.trigger_category,
        list(m.strategies),
        m.self_compassion,
        m.notes,
    )
    natural = (m.started_at, m.peak_intensity)
    return imp.pending(row, record_id, by_id, client, natural, values, m.session_id)


def _measure_row(
    imp: _Import,
    row: int,
    cells: list[str],
    m: MeasureCreate,
    record_id: str,
    by_id: bool,
    client: _ClientRef | None,
    problems: list[Problem],
) -> _Pending | None:
    assert client is not None
    # `total` is an input only for total-only instruments (ORS, SRS); otherwise it is derived.
    total: float | None = None
    instrument = INSTRUMENTS.get(m.instrument)
    total_cell = imp.cell(cells, "total").strip()
    if instrument is not None and instrument.total_only and total_cell:
        try:
            total = float(total_cell)
        except ValueError:
            problems.append(Problem(row, "total", f"is not a number{_shown(total_cell)}"))
            return None
    try:
        scored = measure_service.scored_fields(m.instrument, m.administered_at, m.items, total)
    except Invalid as exc:
        for problem in exc.problems:
            loc = problem["loc"][1:]
            message = str(problem["msg"])
            problems.append(Problem(row, str(loc[0]) if loc else None, message))
        return None
    values = (
        record_id,
        client.hex,
        scored["instrument"],
        scored["administered_at"],
        scored["items"],
        m.source.value,
        scored["total"],
        scored["subscales"],
        scored["severity"],
    )
    natural = (m.administered_at, m.instrument)
    return imp.pending(row, record_id, by_id, client, natural, values)


def _annotation_row(
    imp: _Import,
    row: int,
    cells: list[str],
    m: AnnotationCreate,
    record_id: str,
    by_id: bool,
    client: _ClientRef | None,
    problems: list[Problem],
) -> _Pending | None:
    assert client is not None
    archived_at = imp.archived_at(row, cells, problems)
    if problems:
        return None
    values = (
        record_id,
        client.hex,
        m.at,
        m.kind.value,
        m.label,
        m.notes,
        archived_at,
    )
    return imp.pending(row, record_id, by_id, client, (m.at, m.kind.value, m.label), values)


BUILDERS: dict[CsvKind, _Builder] = {
    CsvKind.CLIENTS: _client_row,
    CsvKind.SESSIONS: _session_row,
    CsvKind.OBSERVATIONS: _observation_row,
    CsvKind.EPISODES: _episode_row,
    CsvKind.MEASURES: _measure_row,
    CsvKind.ANNOTATIONS: _annotation_row,
}


# --------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------


def import_csv(
    db: DbSession,
    *,
    actor: Actor,
    kind: CsvKind,
    stream: IO[bytes],
    settings: Settings,
    dry_run: bool,
    filename: str | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    problem_limit: int = PROBLEM_LIMIT,
    chunk_rows: int = CHUNK_ROWS,
    now: datetime | None = None,
) -> ImportReport:
    """Import one CSV file of `kind` as `actor`: everything or (on any problem) nothing.

    Runs in the caller's transaction (the caller commits: the request boundary or
    `session_scope`); the rows are written inside a savepoint that a dry run or a problem
    rolls back, while the audit event stays.
    """
    report = ImportReport(kind=kind, filename=filename, dry_run=dry_run)
    if actor.user.role == Role.ADMIN or not actor.user.is_active:
        why = "this account is not active" if not actor.user.is_active else "admin accounts"
        problem = Problem(0, None, f"{why} cannot import clinical records")
        report.problem_count = 1
        report.problems.append(problem)
        if on_problem is not None:
            on_problem(problem)
        _audit(db, actor, report, {})
        return report
    savepoint = db.begin_nested()
    try:
        work = _Import(
            db,
            actor=actor,
            kind=kind,
            report=report,
            on_problem=on_problem,
            problem_limit=problem_limit,
            chunk_rows=chunk_rows,
            now=now or utcnow(),
        )
        _run(work, _Reader(stream), on_progress)
        report.clients = len(work.per_client)
        if report.ok and not dry_run:
            savepoint.commit()
            report.committed = True
        else:
            savepoint.rollback()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    _audit(db, actor, report, work.per_client)
    if report.committed:
        changed = sorted(cid for cid, (new, _present) in work.per_client.items() if new)
        if changed:
            summary.refresh(db, changed, settings=settings)
    return report


def _run(work: _Import, reader: _Reader, on_progress: Callable[[int], None] | None) -> None:
    header_read = False
    try:
        for record in reader.records():
            if isinstance(record, Problem):
                work.chunk_problems.append(record)
                if not header_read:
                    break
                continue
            if not any(record):  # a blank line (or a row of empty cells)
                continue
            if not header_read:
                header_read = True
                if not work.read_header(reader.row, record):
                    return
                continue
            work.take(reader.row, record)
            if on_progress is not None and work.rows_in_chunk == 0:
                on_progress(reader.bytes_read)
    except _Stop as stop:
        work.chunk_problems.append(stop.problem)
    work.flush()
    if not header_read and work.report.problem_count == 0:
        work.emit([Problem(0, None, "the file is empty: a header row is needed")])
    if on_progress is not None:
        on_progress(reader.bytes_read)


def _audit(
    db: DbSession, actor: Actor, report: ImportReport, per_client: Mapping[uuid.UUID, list[int]]
) -> None:
    """One event for the import, and one per client whose records it read or wrote."""
    action = "import" if report.committed else "import_dry_run" if report.ok else "import_refused"
    entity = ENTITY[report.kind]
    name = (report.filename or "upload")[:120]
    audit.record(
        db,
        actor,
        action,
        entity,
        detail=(
            f"csv {name}: {report.rows} rows, {report.new} new, "
            f"{report.already_present} already present, {report.problem_count} problems"
        ),
    )
    for client_id, (new, present) in sorted(per_client.items()):
        if report.kind == CsvKind.CLIENTS and not (report.committed and new):
            continue  # a client that was not written has no row for the event to point at
        audit.record(
            db,
            actor,
            action,
            entity,
            client_id=client_id,
            detail=f"csv: {new} new, {present} already present",
        )


__all__ = [
    "CHUNK_ROWS",
    "MAX_RECORD_BYTES",
    "CsvKind",
    "ImportReport",
    "Problem",
    "SeenKeys",
    "import_csv",
    "natural_key",
]
