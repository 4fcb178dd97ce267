"""A worker's start: what importing the app loads, and the warm-up after it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from practice_dashboard import warmup
from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.warmup import warm_up, warm_up_in_background

# Loaded only by the requests (or commands) that use them; see each import site.
# PyJWT loads cryptography (security.sign_claims); a practitioner's pages need neither.
LAZY_PACKAGES = ("alembic", "psycopg", "jwt", "cryptography")
LAZY_MODULES = ("practice_dashboard.services.exchange.csv.importer",)


def _last_line(code: str, database: Path) -> str:
    """The last line `code` prints in a fresh interpreter that serves `database`.

    On SQLite whatever the test run's engine: the question is what the app itself does, and
    a PostgreSQL engine loads psycopg for its own connections.
    """
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "startup-test-" + "k" * 32,
        "PRACTICE_DASHBOARD_ENVIRONMENT": "development",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def _loaded_after(code: str, database: Path) -> list[str]:
    """What of LAZY_PACKAGES and LAZY_MODULES is loaded after `code` ran."""
    lazy = set(LAZY_PACKAGES) | set(LAZY_MODULES)
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {lazy!r}"
        f" | set(sys.modules) & {lazy!r})))"
    )
    loaded: list[str] = json.loads(_last_line(probe, database))
    return loaded


class TestImports:
    def test_importing_the_app_loads_no_lazy_package(self, tmp_path: Path) -> None:
        assert _loaded_after("import practice_dashboard.asgi", tmp_path / "app.db") == []

    def test_the_start_up_migration_check_of_a_current_database_loads_no_alembic(
        self, tmp_path: Path
    ) -> None:
        database = tmp_path / "current.db"
        migrate = "from practice_dashboard.cli.serve import migrate\nmigrate()"
        # The first run builds the schema with Alembic; the second is a restart's check.
        assert _loaded_after(migrate, database) == ["alembic"]
        assert _loaded_after(migrate, database) == []


@pytest.fixture
def route_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths of the route handlers FastAPI builds while the test runs (its internal hook)."""
    built: list[str] = []
    original = fastapi.routing._populate_api_route_state

    def counting(route: Any, path: str, *args: Any, **kwargs: Any) -> None:
        built.append(path)
        original(route, path, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counting)
    return built


class TestWarmUp:
    @pytest.fixture
    def app(self, settings: Settings) -> FastAPI:
        # A new app, as a worker has at its start (the suite's shared app is already warm).
        return create_app(settings)

    def test_without_it_a_request_builds_the_routes_it_walks_past(
        self, app: FastAPI, route_builds: list[str]
    ) -> None:
        with TestClient(app) as client:
            assert client.get("/no-such-page").status_code == 404
        assert len(route_builds) > 100

    def test_after_it_no_request_builds_a_route(
        self, app: FastAPI, route_builds: list[str]
    ) -> None:
        warm_up(app)
        route_builds.clear()
        with TestClient(app) as client:
            assert client.get("/no-such-page").status_code == 404
            assert client.get("/healthz").status_code == 200
        assert route_builds == []


def test_the_served_app_freezes_what_it_built_once_warm(tmp_path: Path) -> None:
    # Once it has answered, the worker's modules, routes and app leave the collector's reach
    # (warmup.py): a full collection then walks only what requests leave behind.
    probe = (
        "import gc, threading\n"
        "before = gc.get_freeze_count()\n"
        "from practice_dashboard.asgi import app\n"
        "from fastapi.testclient import TestClient\n"
        "with TestClient(app) as client:\n"
        "    assert client.get('/healthz').status_code == 200\n"
        "[t.join(60) for t in threading.enumerate() if t.name == 'warm-up']\n"
        "print(before, gc.get_freeze_count())"
    )
    before, after = map(int, _last_line(probe, tmp_path / "app.db").split())
    assert before == 0
    assert after > 50_000


class TestWarmUpInBackground:
    @pytest.fixture
    def steps(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        done: list[str] = []
        monkeypatch.setattr(warmup, "warm_up", lambda _app: done.append("warm up"))
        monkeypatch.setattr(warmup, "freeze_long_lived", lambda: done.append("freeze"))
        return done

    def test_waits_for_the_first_answer(
        self, settings: Settings, steps: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Started at once, it shared the interpreter with the rest of the start and put off
        # the first 200 (bench.startup).
        monkeypatch.setattr(warmup, "WARM_UP_AFTER_SECONDS", 60.0)
        app = create_app(settings)
        thread = warm_up_in_background(app)
        thread.join(0.3)
        assert thread.is_alive()
        assert steps == []
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
        thread.join(10)
        assert not thread.is_alive()
        assert steps == ["warm up", "freeze"]

    def test_with_no_request_warms_up_anyway(
        self, settings: Settings, steps: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(warmup, "WARM_UP_AFTER_SECONDS", 0.05)
        thread = warm_up_in_background(create_app(settings))
        thread.join(10)
        assert steps == ["warm up", "freeze"]


def test_the_suites_shared_app_is_warm(app: FastAPI, route_builds: list[str]) -> None:
    # tests/conftest.py builds the run's app's routes once, so no test pays for them.
    with TestClient(app) as client:
        assert client.get("/no-such-page").status_code == 404
    assert route_builds == []
