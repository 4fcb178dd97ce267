"""Writing checked rows straight to the driver: PostgreSQL `COPY`, SQLite `executemany`.

The ORM and SQLAlchemy's per-value processing cost more than the database does at a million
rows. Values stay exactly as the column types would bind them: SQLite gets the types' own
bind processors, or faster functions checked against them when the import starts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table, TypeDecorator, Uuid
from sqlalchemy import Enum as SaEnum
from sqlalchemy.exc import DBAPIError


class Refused(Exception):
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


class BulkWriter:
    """Reads and writes one table at driver level: COPY on PostgreSQL, executemany on SQLite."""

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
        """Insert `rows` (values in `columns` order); `Refused` when the database says no."""
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
            raise Refused(str(exc.orig) if exc.orig else str(exc)) from exc

    def _copy(self, rows: Sequence[tuple[Any, ...]]) -> None:
        # Imported here: a SQLite server never loads the PostgreSQL driver (9 MiB per worker).
        import psycopg

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
            raise Refused(str(exc)) from exc
