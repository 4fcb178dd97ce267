"""One import under way: the header, each row read and checked, chunks checked and written.

Rows are read into chunks; each chunk is checked against the rows taken before (duplicates),
the sessions it points at and the records already stored, then written, unless any problem
has been found so far. The caller rolls the writes back when the import fails.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table, select

from practice_dashboard.db import DbSession
from practice_dashboard.models import Session
from practice_dashboard.models.base import uuid7
from practice_dashboard.services import access
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv.guard import restore
from practice_dashboard.services.exchange.csv.importer.bulk import BulkWriter, Refused
from practice_dashboard.services.exchange.csv.importer.keys import (
    SeenKeys,
    client_natural,
    natural_key,
)
from practice_dashboard.services.exchange.csv.importer.report import ImportReport, problems_from
from practice_dashboard.services.exchange.csv.importer.rows import (
    BUILDERS,
    INSERT_COLUMNS,
    ClientRef,
    Pending,
    RowInput,
    constants,
)
from practice_dashboard.services.exchange.csv.reader import CsvReader, Problem, Unreadable, shown
from practice_dashboard.services.exchange.csv.spec import (
    COLUMNS,
    DERIVED,
    REQUIRED,
    SPECS,
    CellError,
    CsvKind,
)

CHUNK_ROWS: Final = 5_000
# Sessions already known to belong to a client; cleared when it grows past this.
_SESSION_CACHE_LIMIT: Final = 100_000
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _hex_id(text: str) -> str | None:
    """A UUID as 32 lower-case hex digits (the export's form quickly, others via `uuid`)."""
    if _CANONICAL_ID.fullmatch(text):
        return text.replace("-", "")
    try:
        return uuid.UUID(text).hex
    except ValueError:
        return None


_ClientLookup = ClientRef | Problem


class ImportRun:
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
        spec = SPECS[kind]
        self.key_columns = spec.natural_key
        self.table: Table = spec.model.__table__
        self.schema: type[BaseModel] = spec.schema
        self.seen = SeenKeys()
        self.chunk: list[Pending] = []
        self.chunk_keys: dict[bytes, int] = {}
        self.chunk_problems: list[Problem] = []
        self.rows_in_chunk = 0
        self.per_client: dict[uuid.UUID, list[int]] = {}  # client id → [new, already present]
        self.sessions: dict[uuid.UUID, uuid.UUID] = {}  # session id → its client id
        self.client_lookups: dict[tuple[str, str], _ClientLookup] = {}
        self.writer: BulkWriter | None = None
        # Every client the importer may change: record rows must name one of them.
        self.user_id: uuid.UUID = actor.user.id
        self.clients = {
            c.id: ClientRef(
                c.id, c.id.hex, c.practitioner_id.hex, c.external_ref, c.display_name, c.intake_date
            )
            for c in db.scalars(access.visible_clients(actor.user, include_archived=True))
            if access.can_write(actor.user, c)
        }
        self.by_ref: dict[str, list[ClientRef]] = {}
        for c in self.clients.values():
            if c.external_ref:
                self.by_ref.setdefault(c.external_ref, []).append(c)
        self.header: list[str] = []
        self.fields: list[tuple[int, str, Callable[[str], Any]]] = []  # (cell, field, parse)
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
        for name in REQUIRED[self.kind]:
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
        derived = DERIVED[self.kind]
        spec = SPECS[self.kind]
        parsers = {c.name: c.type.parse for c in spec.columns}
        for i, name in enumerate(names):
            if name in schema_fields and name not in derived:
                self.fields.append((i, name, parsers[name]))
        return True

    # -- one row -------------------------------------------------------------------------------

    def _inputs(self, row: int, cells: Sequence[str], problems: list[Problem]) -> dict[str, Any]:
        """The row's cells as the schema's input: empty cells left out (the schema's default)."""
        data: dict[str, Any] = {}
        for i, name, parse in self.fields:
            cell = cells[i]
            if not cell:
                continue
            try:
                data[name] = parse(cell)
            except CellError as exc:
                problems.append(Problem(row, name, str(exc)))
        return data

    def _client(self, row: int, cells: Sequence[str]) -> ClientRef | Problem:
        id_cell = "" if self.client_id_at is None else cells[self.client_id_at].strip()
        ref_cell = "" if self.ref_at is None else restore(cells[self.ref_at])
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

    def _resolve_client(self, id_cell: str, ref_cell: str) -> ClientRef | Problem:
        """client_id decides when given (the external_ref must then agree); else external_ref."""
        if id_cell:
            try:
                client_id = uuid.UUID(id_cell)
            except ValueError:
                return Problem(0, "client_id", f"is not a valid id (a UUID){shown(id_cell)}")
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
            what = ", ".join(("client", *self.key_columns))
        return Problem(row, None, f"duplicate row: same {what} as row {first}")

    def _build(self, row: int, cells: list[str], problems: list[Problem]) -> Pending | None:
        # The record's own id when the file gives one (the row's duplicate key), else a new one.
        text = cells[self.id_at].strip() if self.id_at is not None else ""
        by_id = bool(text)
        if by_id:
            record_id = _hex_id(text)
            if record_id is None:
                problems.append(Problem(row, "id", f"is not a valid id (a UUID){shown(text)}"))
        else:
            record_id = uuid7().hex
        client: ClientRef | None = None
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
            problems.extend(p for p in problems_from(exc, row) if p.column not in unread)
            return None
        if problems:
            return None
        assert record_id is not None
        row_input = RowInput(row, cells, self.index, record_id, by_id, client, self.now, problems)
        return BUILDERS[self.kind](row_input, model)

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

    def _check_sessions(self, chunk: list[Pending], problems: list[Problem]) -> list[Pending]:
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

    def _not_stored(self, chunk: list[Pending], problems: list[Problem]) -> list[Pending]:
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

    def _stored_natural_keys(self, chunk: list[Pending]) -> set[bytes]:
        if self.kind == CsvKind.CLIENTS:
            return {
                natural_key(None, client_natural(c.external_ref, c.display_name, c.intake_date))
                for c in self.clients.values()
            }
        columns = self.key_columns
        table = self.table
        time = table.c[columns[0]]
        rows = self.db.execute(
            select(table.c.client_id, *(table.c[c] for c in columns)).where(
                table.c.client_id.in_({p.client_id for p in chunk}),
                time.in_({p.natural[0] for p in chunk}),
            )
        )
        return {natural_key(r[0].hex, r[1:]) for r in rows}

    def _writer(self) -> BulkWriter:
        if self.writer is None:
            self.writer = BulkWriter(
                self.db.connection(),
                self.table,
                INSERT_COLUMNS[self.kind],
                constants(self.kind, self.user_id, self.now),
            )
        return self.writer

    def _write(self, chunk: list[Pending]) -> None:
        try:
            with self.db.begin_nested():  # a refused chunk leaves the transaction usable
                self._writer().write([p.values for p in chunk])
        except Refused as exc:
            # Every rule the database checks is checked above; this is a race or a bug.
            detail = (str(exc).strip().splitlines() or ["no reason given"])[0]
            first, last = chunk[0].row, chunk[-1].row
            self.emit([Problem(first, None, f"the database refused rows {first}–{last}: {detail}")])


def run(work: ImportRun, reader: CsvReader, on_progress: Callable[[int], None] | None) -> None:
    """Read every record of the file into `work`, reporting progress in bytes read."""
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
    except Unreadable as stop:
        work.chunk_problems.append(stop.problem)
    work.flush()
    if not header_read and work.report.problem_count == 0:
        work.emit([Problem(0, None, "the file is empty: a header row is needed")])
    if on_progress is not None:
        on_progress(reader.bytes_read)
