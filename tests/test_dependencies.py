"""Request dependencies: the ones that only look at what is already loaded are coroutines, so
they run on the event loop without a hop to the thread pool; nothing that reads or writes the
database ever runs there (it would stall every other request of the worker)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event

from practice_dashboard import dependencies
from practice_dashboard.api import deps as api_deps
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models.enums import Role
from practice_dashboard.web import deps as web_deps
from tests.builders import auth_headers, make_client, make_observation, make_user, supervise
from tests.web.test_caseload_page import get

# Each reads only the request, the settings or the login already resolved: no database.
ON_THE_LOOP: list[Callable[..., Any]] = [
    dependencies.get_settings,
    web_deps.require_any_login,
    web_deps.web_actor,
    web_deps.require_admin_page,
    web_deps.page_context,
    api_deps.get_actor,
    api_deps.require_admin,
    api_deps.get_paging,
]
# Each asks the database: run by FastAPI in its thread pool.
IN_THE_POOL: list[Callable[..., Any]] = [
    dependencies.get_db,
    web_deps.get_optional_login,
    web_deps.require_login,
    api_deps.get_current_user,
]


@pytest.mark.parametrize("dependency", ON_THE_LOOP, ids=lambda d: d.__name__)
def test_what_reads_nothing_runs_on_the_event_loop(dependency: Callable[..., Any]) -> None:
    assert inspect.iscoroutinefunction(dependency)


@pytest.mark.parametrize("dependency", IN_THE_POOL, ids=lambda d: d.__name__)
def test_what_asks_the_database_runs_in_the_thread_pool(dependency: Callable[..., Any]) -> None:
    assert not inspect.iscoroutinefunction(dependency)
    assert not inspect.isasyncgenfunction(dependency)


@pytest.fixture
def statements_on_the_loop(connection: Connection) -> Iterator[list[str]]:
    """Every statement sent from a thread running an event loop (the server's own)."""
    sent: list[str] = []

    def note(*args: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a thread-pool thread, or the test's own thread
        sent.append(str(args[2]))

    event.listen(connection, "before_cursor_execute", note)
    yield sent
    event.remove(connection, "before_cursor_execute", note)


def test_no_page_or_api_call_asks_the_database_from_the_event_loop(
    api: TestClient, db: DbSession, settings: Settings, statements_on_the_loop: list[str]
) -> None:
    therapist = make_user(db, settings)
    supervisor = make_user(db, settings, Role.SUPERVISOR)
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, supervisor, therapist)
    client = make_client(db, therapist)
    make_observation(db, client)
    for user, path in (
        (therapist, "/"),
        (therapist, f"/clients/{client.id}"),
        (therapist, "/self-check"),
        (supervisor, "/supervision"),
        (admin, "/admin/users"),
    ):
        response = get(api, db, settings, user, path)
        assert response.status_code == 200, (path, response.status_code)
    api.cookies.clear()
    for user, path in (
        (therapist, "/api/v1/clients?limit=5"),
        (therapist, f"/api/v1/clients/{client.id}/metrics"),
        (admin, "/api/v1/audit-events?limit=5"),
    ):
        response = api.get(path, headers=auth_headers(settings, user))
        assert response.status_code == 200, (path, response.status_code)
    assert statements_on_the_loop == []
