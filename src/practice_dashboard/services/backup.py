"""Backups that restore: SQLite through its online backup API, PostgreSQL through pg_dump.

A backup is one consistent snapshot taken while the app keeps writing: SQLite copies the
database in a single backup step inside one read transaction (WAL lets writers go on), and
pg_dump reads the snapshot exported by the transaction that also counts the rows, so the
counts printed are exactly what the file holds. A restore goes into an empty database only,
then `verify_restored` checks what came back. Backup files hold health data: they are created
readable by their owner only (0600), written beside the target and renamed into place.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, and_, exists, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from practice_dashboard import __version__, migrate
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine
from practice_dashboard.models import Base
from practice_dashboard.services import audit

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
GZIP_MAGIC = b"\x1f\x8b"


class BackupError(Exception):
    """A refused or failed backup or restore; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds: its schema revision and the rows of every table at the snapshot."""

    engine: str
    path: Path
    size_bytes: int
    revision: str | None
    app_version: str
    taken_at: datetime
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class RestoreCheck:
    """What `verify_restored` found: problems (empty when sound), revision, row counts."""

    revision: str | None
    head: str
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def needs_migrate(self) -> bool:
        """The backup came from an older schema: `practice-dashboard migrate` brings it up."""
        return self.revision != self.head and not self.problems


def backup(settings: Settings, out: Path) -> BackupSummary:
    """Write a consistent backup of the configured database to `out` (owner-only).

    SQLite: a database file (gzip-compressed when `out` ends in `.gz`); PostgreSQL: a pg_dump
    custom-format archive (already compressed).
    """
    url = make_url(settings.database_url)
    gzipped = out.name.endswith(".gz")
    if url.get_backend_name() == "sqlite":
        return _sqlite_backup(_sqlite_path(url), out, gzipped=gzipped)
    if gzipped:
        raise BackupError("a PostgreSQL backup is a compressed pg_dump archive: drop the .gz")
    return _postgres_backup(settings, url, out)


def restore(settings: Settings, source: Path) -> RestoreCheck:
    """Restore a backup into the configured database, which must be empty, and check it."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    url = make_url(settings.database_url)
    kind = _backup_kind(source)
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and kind == "postgresql":
        raise BackupError(f"{source} is a PostgreSQL backup; DATABASE_URL is SQLite")
    if not sqlite and kind != "postgresql":
        raise BackupError(f"{source} is a SQLite backup; DATABASE_URL is PostgreSQL")
    if sqlite:
        _create_owner_only(_sqlite_path(url))
    engine = create_db_engine(settings)
    try:
        _refuse_non_empty(engine)
        # Nothing of ours stays connected while the restore replaces the contents.
        engine.dispose()
        if sqlite:
            _sqlite_restore(source, _sqlite_path(url), gzipped=kind == "sqlite.gz")
        else:
            _postgres_restore(url, source)
        return verify_restored(engine)
    finally:
        engine.dispose()


def verify_restored(engine: Engine) -> RestoreCheck:
    """Check a restored database: engine integrity, foreign keys, schema revision; count rows.

    An empty `problems` means the database is sound. Foreign keys are checked by query on both
    engines (every reference must find its row), besides SQLite's own integrity checks.
    """
    head = _head_revision()
    problems: list[str] = []
    with engine.connect() as connection:
        revision = _revision(connection)
        if revision is None:
            problems.append("no schema revision (alembic_version): this is not a backup of ours")
        elif revision != head and not _known_revision(revision):
            problems.append(
                f"schema revision {revision} is newer than this app knows (head {head}): "
                "restore with the app version that took the backup"
            )
        if connection.dialect.name == "sqlite":
            problems.extend(_sqlite_integrity(connection))
        present = set(inspect(connection).get_table_names())
        if revision == head:
            missing = sorted(set(Base.metadata.tables) - present)
            problems.extend(f"table {name} is missing" for name in missing)
            problems.extend(_broken_references(connection))
        counts = _row_counts(connection, sorted(present))
    if revision == head:
        # The audit trail must still be whole: a restore whose chain does not verify fails
        # like a corrupt page does (`practice-dashboard audit verify` walks the same chain).
        with Session(engine) as db:
            chain = audit.verify_chain(db)
        if not chain.ok:
            problems.append(
                f"audit trail broken at seq {chain.broken_seq} (id {chain.broken_id}): "
                f"{chain.problem}"
            )
    return RestoreCheck(revision=revision, head=head, counts=counts, problems=problems)


def _summary(
    engine: str, out: Path, revision: str | None, taken_at: datetime, counts: dict[str, int]
) -> BackupSummary:
    """What a finished backup holds, for the command to print."""
    return BackupSummary(
        engine=engine,
        path=out,
        size_bytes=out.stat().st_size,
        revision=revision,
        app_version=__version__,
        taken_at=taken_at,
        counts=counts,
    )


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): the backup step is its own read transaction, and
    # pragmas run outside any transaction. The timeout rides out a checkpoint's brief lock.
    return sqlite3.connect(path, timeout=30, isolation_level=None)


def _sqlite_backup(db_path: Path, out: Path, *, gzipped: bool) -> BackupSummary:
    if not db_path.is_file():
        raise BackupError(f"no SQLite database at {db_path}")
    if out.resolve() in {db_path.resolve(), *_sqlite_companions(db_path.resolve())}:
        raise BackupError(f"{out} is the database itself: choose another file for the backup")
    taken_at = datetime.now(UTC)
    with _owner_only_temp(out.parent, out.name) as copy_path:
        with (
            closing(_sqlite_connect(db_path)) as source,
            closing(_sqlite_connect(copy_path)) as copy,
        ):
            # pages=-1: one step, one snapshot; a multi-step copy would restart on every write.
            source.backup(copy, pages=-1)
            # A self-contained file: no -wal beside it to copy along or lose.
            copy.execute("PRAGMA journal_mode=DELETE")
            problems = _sqlite_pragma_problems(copy)
            if problems:
                raise BackupError(f"the copy failed its integrity check: {'; '.join(problems)}")
            counts, revision = _sqlite_counts_and_revision(copy)
        if gzipped:
            with _owner_only_temp(out.parent, out.name) as packed:
                with copy_path.open("rb") as raw, gzip.open(packed, "wb") as zipped:
                    shutil.copyfileobj(raw, zipped)
                os.replace(packed, out)
        else:
            os.replace(copy_path, out)
    return _summary("sqlite", out, revision, taken_at, counts)


def _sqlite_companions(db_path: Path) -> list[Path]:
    return [db_path.with_name(db_path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _sqlite_counts_and_revision(db: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    counts = {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    revision = None
    if "alembic_version" in names:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return dict(sorted(counts.items())), revision


def _sqlite_pragma_problems(db: sqlite3.Connection) -> list[str]:
    problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if problems == ["ok"]:
        problems = []
    problems.extend(
        f"{table} row {rowid} refers to a missing {parent}"
        for table, rowid, parent, _fk in db.execute("PRAGMA foreign_key_check")
    )
    return problems


def _sqlite_integrity(connection: Connection) -> list[str]:
    raw = connection.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return _sqlite_pragma_problems(raw)


def _create_owner_only(target: Path) -> None:
    """Create a missing database file 0600 before SQLite does (with the umask's bits); its
    -wal and -shm files take the same permissions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _sqlite_restore(source: Path, target: Path, *, gzipped: bool) -> None:
    with _plain_sqlite_file(source, target.parent, gzipped=gzipped) as plain:
        with closing(_sqlite_connect(plain)) as backup_db:
            try:
                problems = _sqlite_pragma_problems(backup_db)
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source} is not a readable SQLite backup: {exc}") from exc
            if problems:
                raise BackupError(f"{source} failed its integrity check: {'; '.join(problems)}")
            with closing(_sqlite_connect(target)) as target_db:
                # Through SQLite's own locking and journal, so an empty WAL database is
                # replaced safely, never by renaming a file under its -wal.
                backup_db.backup(target_db, pages=-1)
                target_db.execute("PRAGMA journal_mode=WAL")


@contextmanager
def _plain_sqlite_file(source: Path, folder: Path, *, gzipped: bool) -> Iterator[Path]:
    """The backup as a plain SQLite file: unpacked (owner-only, beside the target) if gzipped."""
    if not gzipped:
        yield source
        return
    with _owner_only_temp(folder, source.name) as plain:
        try:
            with gzip.open(source, "rb") as zipped, plain.open("wb") as raw:
                shutil.copyfileobj(zipped, raw)
        except (OSError, EOFError) as exc:
            raise BackupError(f"{source} is not a readable gzip file: {exc}") from exc
        yield plain


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_connection(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it.

    The password goes in PGPASSWORD, never on the command line, where `ps` would show it.
    """
    from psycopg.conninfo import make_conninfo

    params: dict[str, str] = {
        key: value for key, value in url.query.items() if isinstance(value, str)
    }
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.database:
        params["dbname"] = url.database
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return make_conninfo(**params), env


def postgres_tool(name: str) -> str:
    """The PostgreSQL client program on PATH, or a refusal saying how to install it."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools of the server's "
            "major version (Debian: apt-get install postgresql-client)"
        )
    return found


def _postgres_backup(settings: Settings, url: URL, out: Path) -> BackupSummary:
    pg_dump = postgres_tool("pg_dump")
    conninfo, env = postgres_connection(url)
    engine = create_db_engine(settings)
    taken_at = datetime.now(UTC)
    try:
        with _owner_only_temp(out.parent, out.name) as archive, engine.connect() as connection:
            # A read-only repeatable-read transaction exports its snapshot to pg_dump, so the
            # counts and the revision below describe exactly the rows the archive holds.
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                revision = _revision(connection)
                counts = _row_counts(connection, sorted(inspect(connection).get_table_names()))
                with archive.open("wb") as handle:
                    _run(
                        [
                            pg_dump,
                            "--format=custom",
                            # Never wait for a password prompt (cron has no terminal).
                            "--no-password",
                            f"--snapshot={snapshot}",
                            "--dbname",
                            conninfo,
                        ],
                        env=env,
                        stdout=handle,
                    )
            _run([postgres_tool("pg_restore"), "--list", str(archive)], env=env)
            os.replace(archive, out)
    finally:
        engine.dispose()
    return _summary("postgresql", out, revision, taken_at, counts)


def _postgres_restore(url: URL, source: Path) -> None:
    pg_restore = postgres_tool("pg_restore")
    conninfo, env = postgres_connection(url)
    # One transaction: a restore that fails part way leaves the database empty. Ownership and
    # grants are the restoring role's, so a dump moves between servers and roles.
    _run(
        [
            pg_restore,
            "--exit-on-error",
            "--no-password",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            conninfo,
            str(source),
        ],
        env=env,
    )


def _run(args: list[str], *, env: dict[str, str], stdout: IO[bytes] | None = None) -> None:
    result = subprocess.run(
        args,
        env=env,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        program = Path(args[0]).name
        message = result.stderr.decode("utf-8", "replace").strip()
        raise BackupError(f"{program} failed: {message or f'exit status {result.returncode}'}")


# --- shared ---------------------------------------------------------------------------------


def _backup_kind(source: Path) -> str:
    with source.open("rb") as handle:
        start = handle.read(len(SQLITE_MAGIC))
    if start.startswith(SQLITE_MAGIC):
        return "sqlite"
    if start.startswith(GZIP_MAGIC):
        return "sqlite.gz"
    if start.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{source} is not a backup (neither a SQLite file nor a pg_dump archive)")


def _refuse_non_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            query = (
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            query = (
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
        names = sorted(connection.exec_driver_sql(query).scalars())
    if names:
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise BackupError(
            f"the database already has {len(names)} tables ({shown}); restore "
            "only into an empty one: create a new database (PostgreSQL: createdb NAME; SQLite: "
            "a new file name) and point DATABASE_URL at it"
        )


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _head_revision() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


def _known_revision(revision: str) -> bool:
    try:
        return (
            ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision) is not None
        )
    except CommandError:
        return False


def _row_counts(connection: Connection, tables: list[str]) -> dict[str, int]:
    preparer = connection.dialect.identifier_preparer
    return {
        name: int(
            connection.exec_driver_sql(f"SELECT count(*) FROM {preparer.quote(name)}").scalar_one()
        )
        for name in tables
    }


def _broken_references(connection: Connection) -> list[str]:
    """Rows whose foreign key finds no row, for every foreign key of the models."""
    problems = []
    for table in Base.metadata.sorted_tables:
        for constraint in table.foreign_key_constraints:
            # An alias, so a table referring to itself is not correlated with itself.
            parent = constraint.referred_table.alias("referred")
            pairs = [
                (element.parent, parent.c[element.column.name]) for element in constraint.elements
            ]
            orphans = connection.execute(
                select(func.count())
                .select_from(table)
                .where(
                    and_(*(child.is_not(None) for child, _ in pairs)),
                    ~exists().where(and_(*(child == referred for child, referred in pairs))),
                )
            ).scalar_one()
            if orphans:
                columns = ", ".join(child.name for child, _ in pairs)
                missing = constraint.referred_table.name
                problems.append(
                    f"{orphans} {table.name} rows refer by {columns} to a missing {missing}"
                )
    return problems


@contextmanager
def _owner_only_temp(folder: Path | None, name: str) -> Iterator[Path]:
    """A new empty file created 0600 (whatever the umask), removed unless renamed away."""
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.fchmod(fd, 0o600)
    os.close(fd)
    path = Path(temporary)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
