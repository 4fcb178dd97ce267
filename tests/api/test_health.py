"""Liveness and readiness: /readyz answers ok only when the database takes a write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session as OrmSession

from practice_dashboard.app import create_app
from practice_dashboard.db import create_db_engine
from practice_dashboard.models import Heartbeat
from tests.conftest import make_settings
from tests.databases import migrated_database


@pytest.fixture
def own_database() -> Iterator[str]:
    """A migrated database of its own: the shared test connection holds SQLite's write lock
    for the whole test, and /readyz writes on the app's own engine."""
    with migrated_database() as url:
        yield url


def _app(url: str) -> FastAPI:
    return create_app(make_settings(url))


def _read_only(engine: Engine) -> None:
    """Every new connection of `engine` refuses writes, as a read-only database would."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        cursor.close()


def _beats(url: str) -> list[Heartbeat]:
    engine = create_db_engine(make_settings(url))
    try:
        with OrmSession(engine) as db:
            return list(db.scalars(select(Heartbeat)))
    finally:
        engine.dispose()


class TestHealth:
    def test_liveness(self, api: TestClient) -> None:
        assert api.get("/healthz").json() == {"status": "ok"}

    def test_ready_when_the_database_takes_a_write(self, own_database: str) -> None:
        with TestClient(_app(own_database)) as client:
            for _ in range(2):
                response = client.get("/readyz")
                assert response.status_code == 200
                assert response.json() == {"status": "ok", "database": "ok"}
        [beat] = _beats(own_database)  # one row, rewritten
        assert beat.probe == "readyz"
        assert beat.updated_at >= beat.created_at

    def test_a_database_that_cannot_be_written_is_not_ready(self, own_database: str) -> None:
        app = _app(own_database)
        _read_only(app.state.engine)
        with TestClient(app) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": "unwritable"}
        assert _beats(own_database) == []
