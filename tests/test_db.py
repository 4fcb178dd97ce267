"""The unit of work: reads take no write lock, their writes are queued to the end; pools fit."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import (
    WriteWhileReading,
    create_db_engine,
    create_session_factory,
    defer_write,
    end_unit_of_work,
    session_scope,
    start_reading,
)
from practice_dashboard.models import AuditEvent, Client, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services import access
from tests import databases
from tests.builders import auth_headers, make_client, make_user
from tests.conftest import make_settings
from tests.databases import migrated_database

sqlite_only = pytest.mark.skipif(databases.test_backend() != "sqlite", reason="SQLite's write lock")
postgresql_only = pytest.mark.skipif(
    databases.test_backend() != "postgresql", reason="PostgreSQL's session time zone"
)


@pytest.fixture
def served() -> Iterator[tuple[Settings, Engine, TestClient]]:
    """The real app on its own committed database (no test transaction around it)."""
    with migrated_database() as url:
        settings = make_settings(url, sqlite_busy_timeout_ms=3_000)
        engine = create_db_engine(settings)
        app = create_app(settings)
        with TestClient(app) as api:
            yield settings, engine, api
        app.state.engine.dispose()
        engine.dispose()


def _owner_and_client(settings: Settings, engine: Engine) -> tuple[User, Client]:
    with session_scope(create_session_factory(engine)) as db:
        owner = make_user(db, settings, Role.THERAPIST)
        client = make_client(db, owner)
    return owner, client


def _audit_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@sqlite_only
def test_a_read_request_holds_no_write_lock_while_it_works(
    served: tuple[Settings, Engine, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine, api = served
    owner, client = _owner_and_client(settings, engine)
    database = str(engine.url.database)
    free: list[bool] = []
    original = access.get_visible_client

    def probe(*args: Any, **kwargs: Any) -> Client:
        found = original(*args, **kwargs)
        # In the middle of the request's read: may another connection write right now?
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        finally:
            other.close()
        return found

    monkeypatch.setattr(access, "get_visible_client", probe)
    response = api.get(f"/api/v1/clients/{client.id}", headers=auth_headers(settings, owner))
    assert response.status_code == 200
    assert free == [True]
    assert _audit_rows(engine) == 1  # written after the read, before the answer


@sqlite_only
def test_a_read_works_while_another_connection_holds_the_write_lock(
    served: tuple[Settings, Engine, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine, api = served
    owner, client = _owner_and_client(settings, engine)
    read_at: list[float] = []
    read = threading.Event()
    original = access.get_visible_client

    def timed(*args: Any, **kwargs: Any) -> Client:
        found = original(*args, **kwargs)
        read_at.append(time.perf_counter())
        read.set()
        return found

    monkeypatch.setattr(access, "get_visible_client", timed)
    writer = sqlite3.connect(
        str(engine.url.database), isolation_level=None, check_same_thread=False
    )
    writer.execute("BEGIN IMMEDIATE")
    released_at: list[float] = []

    def release() -> None:
        # The lock is held until the read has finished, however slow the machine: a read
        # that waited for the lock can only finish after this (30 s later), and fails below.
        read.wait(timeout=30)
        released_at.append(time.perf_counter())
        writer.execute("COMMIT")

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        response = api.get(f"/api/v1/clients/{client.id}", headers=auth_headers(settings, owner))
    finally:
        releaser.join()
        writer.close()
    assert response.status_code == 200
    # The read ran while the lock was held; only its audit row waited for the lock.
    assert read_at[0] < released_at[0]
    assert _audit_rows(engine) == 1


def test_a_reads_queued_writes_take_a_transaction_of_their_own_only_on_sqlite(
    served: tuple[Settings, Engine, TestClient],
) -> None:
    settings, engine, api = served
    owner, client = _owner_and_client(settings, engine)
    app_engine: Engine = api.app.state.engine  # type: ignore[attr-defined]
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(app_engine, "commit", committed)
    try:
        response = api.get(f"/api/v1/clients/{client.id}", headers=auth_headers(settings, owner))
    finally:
        event.remove(app_engine, "commit", committed)
    assert response.status_code == 200
    assert _audit_rows(engine) == 1
    # SQLite: the read's deferred transaction, then a short one that takes the write lock for
    # the audit row. PostgreSQL locks no more than the row: it is written in the read's own.
    assert len(commits) == (2 if databases.test_backend() == "sqlite" else 1)


def test_a_write_inside_a_read_is_refused(engine: Engine, settings: Settings) -> None:
    factory = create_session_factory(engine)
    with factory() as db:
        start_reading(db)
        db.add(User(email="x@example.org", full_name="X", role=Role.COACH, password_hash="x"))
        with pytest.raises(WriteWhileReading):
            db.flush()
        db.rollback()


def test_queued_writes_run_after_the_read_and_only_durable_ones_after_a_rollback(
    engine: Engine, settings: Settings
) -> None:
    factory = create_session_factory(engine)
    ran: list[tuple[str, bool]] = []

    def note(name: str) -> Any:
        def write(db: Any) -> None:
            # Run in a writing transaction: a flush here would be allowed.
            ran.append((name, bool(db.info.get("practice_dashboard.reading"))))

        return write

    with factory() as db:
        start_reading(db)
        db.scalar(select(func.count()).select_from(User))
        defer_write(db, note("kept"))
        assert ran == []  # nothing yet: queued to the end
        end_unit_of_work(db, keep_changes=True)
    with factory() as db:
        start_reading(db)
        defer_write(db, note("dropped"))
        defer_write(db, note("refusal"), durable=True)
        end_unit_of_work(db, keep_changes=False)
    assert ran == [("kept", False), ("refusal", False)]


@postgresql_only
def test_postgresql_sessions_are_in_utc_and_hand_back_utc_itself(settings: Settings) -> None:
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            zone = connection.exec_driver_sql("SHOW TIME ZONE").scalar()
            at = connection.exec_driver_sql("SELECT timestamptz '2026-03-29 01:30+02'").scalar()
    finally:
        engine.dispose()
    assert zone == "UTC"
    # The same instant, with `datetime.UTC` itself: turning it to UTC costs nothing (db.py).
    assert at == datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert at.tzinfo is UTC


def test_pool_sizes_come_from_settings(database_url: str) -> None:
    settings = make_settings(
        database_url, db_pool_size=3, db_max_overflow=2, max_requests_in_flight=5
    )
    engine = create_db_engine(settings)
    try:
        pool: Any = engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 5.0)
    finally:
        engine.dispose()


def test_requests_in_flight_must_fit_the_pool(database_url: str) -> None:
    with pytest.raises(ValueError, match="max_requests_in_flight"):
        make_settings(database_url, db_pool_size=4, db_max_overflow=0, max_requests_in_flight=5)


def test_requests_in_flight_default_by_engine(database_url: str) -> None:
    """One at a time on SQLite (all its work is Python in the worker), two on PostgreSQL;
    a configured number wins."""
    assert make_settings("sqlite:///x.db").requests_in_flight == 1
    assert make_settings("postgresql+psycopg://h/db").requests_in_flight == 2
    assert make_settings(database_url, max_requests_in_flight=3).requests_in_flight == 3
