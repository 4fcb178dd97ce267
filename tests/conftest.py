"""One migrated database per test run; each test inside a transaction that is rolled back.

The backend is chosen by TEST_DATABASE (sqlite | postgresql); the test command runs the whole
suite once per backend. A test that cannot reach a database (no ``database_url`` among its
fixtures; nothing from ``tests.databases`` in its module, nor named by the code of its
fixtures from other modules or the test helpers that code names: analytics, templates, the PDF
browser, imports) does the same on either engine, so the test command runs it once: with
TEST_ENGINE_INDEPENDENT_ELSEWHERE=1 (the PostgreSQL leg, whose SQLite twin runs the same
selection) such tests are left out, as are tests marked ``engine_independent``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.analytics.monitoring_memo import CHECKPOINTS
from practice_dashboard.warmup import warm_up
from tests import databases
from tests.databases import migrated_database, test_backend


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": "test-secret-key-" + "x" * 32,
        # OWASP's floor: the cheapest hashing the app accepts keeps the suite fast.
        "argon2_memory_kib": 19_456,
        "argon2_time_cost": 2,
        # Tests drive summary refreshes themselves; no background thread.
        "summary_refresh_interval_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


def pytest_report_header() -> str:
    return f"database backend: {test_backend()}"


# What a module holds when it reaches a database other than through `database_url`.
_ENGINE_AWARE = {id(databases)} | {
    id(value)
    for value in vars(databases).values()
    if getattr(value, "__module__", None) == databases.__name__
}


def _reaches_the_engine(module: ModuleType | None) -> bool:
    return module is not None and any(id(value) in _ENGINE_AWARE for value in vars(module).values())


def _calls_reach_the_engine(function: Any, seen: set[int]) -> bool:
    """Whether `function`, or a test helper it names, names something from tests.databases."""
    if id(function) in seen or not hasattr(function, "__code__"):
        return False
    seen.add(id(function))
    codes, names = [function.__code__], set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    for name in names:
        value = function.__globals__.get(name)
        if id(value) in _ENGINE_AWARE:
            return True
        helper = (getattr(value, "__module__", None) or "").startswith("tests.")
        if helper and _calls_reach_the_engine(value, seen):
            return True
    return False


def engine_independent(item: pytest.Item) -> bool:
    """True when `item` does the same whatever TEST_DATABASE says (see the module's doc)."""
    if item.get_closest_marker("engine_independent"):
        return True
    if "database_url" in getattr(item, "fixturenames", ()):
        return False
    module = getattr(item, "module", None)
    if _reaches_the_engine(module):
        return False
    # Fixtures from elsewhere (this module's reach the engine through `database_url` alone):
    # whether their code names something from tests.databases.
    info = getattr(item, "_fixtureinfo", None)
    definitions = [d for ds in info.name2fixturedefs.values() for d in ds] if info else []
    seen: set[int] = set()
    return not any(
        _calls_reach_the_engine(d.func, seen)
        for d in definitions
        if d.func.__module__ not in (__name__, getattr(module, "__name__", None))
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Collected: the modules, the app and the tests live as long as the run. They leave the
    collector's walk (frozen), and a full collection falls due a tenth as often: full
    collections walked a heap grown over the run and took 11 s of the 68 s of CPU that
    tests/services/ took on SQLite, and 2 s after (`gc.callbacks`; the CPU 68 s -> 56-59 s,
    two runs and more each). Young collections still take the garbage each test leaves."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TEST_ENGINE_INDEPENDENT_ELSEWHERE") != "1":
        return
    elsewhere = {id(item) for item in items if engine_independent(item)}
    config.hook.pytest_deselected(items=[item for item in items if id(item) in elsewhere])
    items[:] = [item for item in items if id(item) not in elsewhere]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings)  # database_url is a copy already at head
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """An outer transaction per test, rolled back at the end: nothing a test writes survives."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection, settings: Settings) -> sessionmaker[OrmSession]:
    # The app's commits only release savepoints inside the test's outer transaction.
    factory = sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )
    summary.install(factory, settings)
    return factory


@pytest.fixture(autouse=True)
def _no_monitoring_checkpoints_kept() -> Iterator[None]:
    """Each test starts as a fresh worker would: no client's monitoring checkpoint kept
    (services/analytics/monitoring_memo.py); the tests' clients never meet again anyway."""
    CHECKPOINTS.clear()
    yield
    CHECKPOINTS.clear()


@pytest.fixture
def db(session_factory: sessionmaker[OrmSession]) -> Iterator[OrmSession]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture(scope="session")
def assembled_app(settings: Settings) -> FastAPI:
    """One app for the run, its routes built up front: FastAPI builds an app's route handlers
    on first use (about 0.3 s for all of them), which a new app per test paid again each time."""
    app = create_app(settings)
    warm_up(app)
    return app


@pytest.fixture
def app(
    assembled_app: FastAPI, settings: Settings, session_factory: sessionmaker[OrmSession]
) -> FastAPI:
    """The run's app, set back to its start for this test: its settings and overrides, a
    middleware stack built afresh (no in-flight counts or hold estimates carried over), and
    this test's session factory, inside the test's transaction."""
    return reset_app(assembled_app, settings, session_factory)


def reset_app(
    app: FastAPI, settings: Settings, session_factory: sessionmaker[OrmSession]
) -> FastAPI:
    app.dependency_overrides.clear()
    app.middleware_stack = None  # Starlette builds it again at the next request
    app.state.settings = settings
    app.state.session_factory = session_factory
    return app


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


@dataclass
class QueryCounter:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def queries(connection: Connection) -> Iterator[QueryCounter]:
    """Counts SQL statements sent on the test connection (savepoint bookkeeping excluded)."""
    counter = QueryCounter()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            counter.statements.append(statement)

    event.listen(connection, "before_cursor_execute", before)
    yield counter
    event.remove(connection, "before_cursor_execute", before)
