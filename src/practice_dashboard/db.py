"""Engines per dialect, the unit of work, and the `DbSession` type alias.

The request dependency and `session_scope()` share one rule: commit when the work returns,
roll back when it raises. Services only ever `flush()`, so a failed batch writes nothing.

A unit of work is either *reading* (a GET page or API call) or *writing*. A reading one runs in
a deferred SQLite transaction, so it never holds the write lock while it works; the small writes
a read still causes (its audit rows, a login's "last seen" touch) are queued with
`defer_write()` and written last: on SQLite in one short write transaction after the read, on
PostgreSQL (no database-wide lock) in the read's own transaction before it commits. A writing
unit of work runs the same queue just before it commits. Flushing or executing a write while
reading raises `WriteWhileReading`: such a write would take SQLite's lock in the middle of the
read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.util import immutabledict

from practice_dashboard.config import Settings

DbSession = Session
SessionFactory = sessionmaker[Session]

# Connection execution option read by the SQLite begin listener: BEGIN (deferred) when true.
_DEFERRED_BEGIN = "practice_dashboard_deferred_begin"
# Session.info keys: whether the unit of work is reading, and its queued writes.
_READING = "practice_dashboard.reading"
_QUEUED = "practice_dashboard.queued_writes"

QueuedWrite = Callable[[Session], None]


class WriteWhileReading(RuntimeError):
    """A read request tried to write inside its read transaction (use `defer_write`)."""


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Make SQLite fit a multi-user server: WAL, foreign keys, busy timeout, BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so our BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front: they then wait on busy_timeout instead of failing
        # with "database is locked" when a deferred transaction tries to upgrade. Readers begin
        # deferred (a snapshot, no lock) and never upgrade: their writes are queued (above).
        deferred = connection.get_execution_options().get(_DEFERRED_BEGIN, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def create_db_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=settings.log_sql,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
            **_pool_arguments(settings),
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(
        url,
        echo=settings.log_sql,
        pool_pre_ping=True,
        **_pool_arguments(settings),
    )
    if url.get_backend_name() == "postgresql":
        _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    """Sessions in UTC. Stored times are instants whatever the session's zone, and no SQL here
    depends on it; in UTC the driver hands each back with `datetime.UTC` itself, so turning it
    to UTC (fact_loading, UTCDateTime) returns it as it is instead of converting from the
    server's zone (often 'Etc/UTC': a zone lookup, about 0.5 µs a value, thousands a page).
    A SET on each new connection, not a startup option, which some connection poolers refuse."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()  # a SET that is not rolled back lasts for the session


def _pool_arguments(settings: Settings) -> dict[str, Any]:
    # Sized from settings so that (workers x (size + overflow)) fits the server's connection
    # limit, and bounded in time so a starved request fails fast instead of hanging.
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }


@contextmanager
def reading_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transactions begin deferred on SQLite: it reads without the write lock."""
    with engine.connect() as connection:
        yield connection.execution_options(**{_DEFERRED_BEGIN: True})


def create_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def finishing(
    db: Session, *, keep_on_error: Callable[[BaseException], bool] = lambda _exc: False
) -> Iterator[Session]:
    """The one rule of a unit of work: commit when the block returns, roll back when it raises
    (unless `keep_on_error` says the error keeps the changes), then close the session."""
    try:
        yield db
    except BaseException as exc:
        end_unit_of_work(db, keep_changes=keep_on_error(exc))
        raise
    else:
        end_unit_of_work(db, keep_changes=True)
    finally:
        db.close()


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work for the CLI and the demo loader: commit on success, roll back on error."""
    with finishing(factory()) as db:
        yield db


def start_reading(db: Session) -> None:
    """Make `db` a reading unit of work: deferred transactions, writes queued to the end."""
    _set_reading(db, reading=True)


def is_reading(db: Session) -> bool:
    return bool(db.info.get(_READING))


def _set_reading(db: Session, *, reading: bool) -> None:
    db.info[_READING] = reading
    # Applied by the Session to the connection of each new transaction (SQLAlchemy 2.1).
    db.execution_options = immutabledict({_DEFERRED_BEGIN: reading})


def defer_write(db: Session, write: QueuedWrite, *, durable: bool = False) -> None:
    """Run `write(db)` at the end of the unit of work, in its write transaction.

    A writing unit of work runs it just before it commits; a reading one at the end of the
    read (`end_unit_of_work`: on SQLite in a short write transaction after it, elsewhere in
    the read's own transaction). `durable` writes (denials, failed logins) are made even when
    the unit of work is rolled back, in a transaction of their own.
    """
    db.info.setdefault(_QUEUED, []).append((write, durable))


@contextmanager
def writing(db: Session) -> Iterator[Session]:
    """A short write transaction inside a reading unit of work (e.g. refreshing summaries).

    The read so far is committed (it wrote nothing), the block runs and commits in a write
    transaction, and reading resumes in a new deferred transaction. In a writing unit of work
    the block simply joins the current transaction.
    """
    if not is_reading(db):
        yield db
        return
    db.commit()
    _set_reading(db, reading=False)
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        _set_reading(db, reading=True)


def _one_writer(db: Session) -> bool:
    """Whether `db`'s database takes one write lock for the whole database (SQLite)."""
    return db.get_bind().dialect.name == "sqlite"


def end_unit_of_work(db: Session, *, keep_changes: bool) -> None:
    """Commit (`keep_changes`) or roll back, then make the queued writes that remain.

    After a rollback only the durable queued writes remain. A reading unit of work has kept
    its whole queue: it is written now, on SQLite in one short write transaction after the
    read's, elsewhere in the read's own transaction.
    """
    if keep_changes:
        if is_reading(db) and db.info.get(_QUEUED) and not _one_writer(db):
            # No database-wide write lock to keep clear of: the queue is written in the read's
            # own transaction (before_commit), one commit and one connection instead of two.
            _set_reading(db, reading=False)
        db.commit()
    else:
        db.rollback()
        queued = db.info.get(_QUEUED, [])
        db.info[_QUEUED] = [item for item in queued if item[1]]
    if db.info.get(_QUEUED):
        _set_reading(db, reading=False)
        try:
            db.commit()
        except BaseException:
            db.rollback()
            raise


@event.listens_for(Session, "before_commit")
def _run_queued_writes(db: Session) -> None:
    # Savepoints and reads keep the queue: it is written once, at the end of the unit of work.
    if is_reading(db) or db.in_nested_transaction():
        return
    for write, _durable in db.info.pop(_QUEUED, []):
        write(db)


@event.listens_for(Session, "before_flush")
def _refuse_flush_while_reading(db: Session, _context: Any, _instances: Any) -> None:
    if is_reading(db) and (db.new or db.deleted or any(db.is_modified(o) for o in db.dirty)):
        raise WriteWhileReading(
            "a read request flushed a write inside its read transaction; queue it with "
            "db.defer_write() or wrap it in db.writing()"
        )


@event.listens_for(Session, "do_orm_execute")
def _refuse_execute_while_reading(state: ORMExecuteState) -> None:
    if is_reading(state.session) and (state.is_insert or state.is_update or state.is_delete):
        raise WriteWhileReading(
            "a read request executed a write inside its read transaction; queue it with "
            "db.defer_write() or wrap it in db.writing()"
        )


@contextmanager
def separate_transaction(db: Session) -> Iterator[Session]:
    """A short transaction of its own on `db`'s database, committed when the block ends.

    For the few records that must outlive the request's rollback (failed logins). It must run
    while `db` holds no transaction: on SQLite that transaction would hold the write lock this
    one waits for; in the tests (one connection, savepoints) this one would nest inside it.
    """
    if db.in_transaction():
        raise RuntimeError("separate_transaction() while the unit of work is in a transaction")
    side = Session(
        bind=db.get_bind(),
        expire_on_commit=False,
        autoflush=False,
        # Tests bind the app to one connection: commit then only releases a savepoint.
        join_transaction_mode="create_savepoint",
    )
    try:
        yield side
        side.commit()
    except BaseException:
        side.rollback()
        raise
    finally:
        side.close()


# --------------------------------------------------------------------------------------------
# Statements kept once built
# --------------------------------------------------------------------------------------------

S = TypeVar("S")
_KEPT: dict[tuple[Any, ...], Any] = {}


def kept_statement(shape: tuple[Any, ...], build: Callable[[], S]) -> S:
    """The statement of this `shape`, built by `build` the first time and kept.

    A page that sends the same statements on every view, with other values, builds each once
    and binds its values when it runs (`bindparam`): building a SELECT and its cache key costs
    more than SQLite takes to run it. `shape` names everything the statement's text depends
    on (the dialect too, where `build` reads it). Built statements are immutable: threads
    share them."""
    kept = _KEPT.get(shape)
    if kept is None:
        kept = _KEPT[shape] = build()
    return kept
