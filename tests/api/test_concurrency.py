"""Concurrent writers through a real server: every write lands, none fails with a lock error."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import AuditEvent, Client, Observation
from practice_dashboard.models.enums import Role
from tests.builders import auth_headers, make_client, make_user
from tests.conftest import make_settings
from tests.databases import migrated_database

THREADS = 8
WRITES_PER_THREAD = 25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server() -> Iterator[tuple[str, Settings]]:
    """The real app on a real database (committed data), served by uvicorn on loopback."""
    with migrated_database() as url:
        settings = make_settings(url)
        app = create_app(settings)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}", settings
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            app.state.engine.dispose()


@pytest.mark.slow
def test_eight_threads_writing_observations_all_land(live_server: tuple[str, Settings]) -> None:
    base_url, settings = live_server
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    with session_scope(factory) as db:
        owner = make_user(db, settings, Role.THERAPIST)
        client = make_client(db, owner)
        client_id, headers = client.id, auth_headers(settings, owner)

    start = datetime.now(UTC) - timedelta(days=1)

    def writer(thread_no: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            for i in range(WRITES_PER_THREAD):
                at = start + timedelta(seconds=thread_no * 1000 + i)
                response = http.post(
                    f"/api/v1/clients/{client_id}/observations",
                    json={"observed_at": at.isoformat(), "zone": "within", "activation": i % 11},
                )
                statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(writer, range(THREADS)))

    statuses = [s for thread in results for s in thread]
    assert statuses == [201] * (THREADS * WRITES_PER_THREAD)
    with session_scope(factory) as db:
        stored = db.scalar(
            select(func.count()).select_from(Observation).where(Observation.client_id == client_id)
        )
        audited = db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.client_id == client_id, AuditEvent.entity == "observation")
        )
        assert db.get(Client, client_id) is not None
    assert stored == THREADS * WRITES_PER_THREAD
    assert audited == THREADS * WRITES_PER_THREAD
    engine.dispose()


@pytest.mark.slow
def test_concurrent_updates_of_one_client_never_silently_overwrite(
    live_server: tuple[str, Settings],
) -> None:
    """Eight editors send a change based on the same version: exactly one wins, the rest get 409."""
    base_url, settings = live_server
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    with session_scope(factory) as db:
        owner = make_user(db, settings, Role.THERAPIST)
        client = make_client(db, owner)
        client_id, headers = client.id, auth_headers(settings, owner)

    barrier = threading.Barrier(THREADS)

    def editor(n: int) -> int:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            barrier.wait()
            response = http.patch(
                f"/api/v1/clients/{client_id}",
                json={"goals": f"goal from editor {n}", "version": 1},
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = sorted(pool.map(editor, range(THREADS)))
    assert statuses == [200] + [409] * (THREADS - 1)
    with session_scope(factory) as db:
        stored = db.get(Client, client_id)
        assert stored is not None
        assert stored.version == 2
    engine.dispose()
