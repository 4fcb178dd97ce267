"""A worker's start: what importing the app loads, and the warm-up after it serves."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
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
# segno draws QR codes (web.qr): a check-in link's page and MFA enrolment only.
LAZY_PACKAGES = ("alembic", "psycopg", "jwt", "cryptography", "segno")
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

    def test_building_every_route_leaves_pydantic_v1_unloaded(self, tmp_path: Path) -> None:
        # app.py marks it absent; FastAPI would otherwise load it as it builds every route
        # (what the warm-up does).
        code = (
            "import sys\n"
            "from fastapi.routing import iter_route_contexts\n"
            "from practice_dashboard.app import create_app\n"
            "app = create_app()\n"
            "built = sum(1 for _ in iter_route_contexts(app.routes))\n"
            "print(built > 100, 'pydantic.v1' in sys.modules, sys.modules.get('pydantic.v1'))"
        )
        assert _last_line(code, tmp_path / "app.db") == "True True None"


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
    # (warmup.py): a full collection then walks only what requests leave behind. Until then
    # the collector is paused, from before the app's modules load.
    probe = (
        "import gc, threading\n"
        "before = gc.get_freeze_count()\n"
        "from practice_dashboard.asgi import app\n"
        "loaded = [gc.isenabled(), gc.get_count()[0]]\n"
        "from fastapi.testclient import TestClient\n"
        "with TestClient(app) as client:\n"
        "    assert client.get('/healthz').status_code == 200\n"
        "[t.join(60) for t in threading.enumerate() if t.name == 'warm-up']\n"
        "print(before, *loaded, gc.isenabled(), gc.get_freeze_count())"
    )
    line = _last_line(probe, tmp_path / "app.db").split()
    before, enabled_once_loaded, young_once_loaded, enabled_once_warm, after = line
    assert int(before) == 0
    # Paused: no young collection ran while the app loaded, so what it allocated is still
    # counted as young (a running collector keeps that count under its threshold, 700).
    assert (enabled_once_loaded, enabled_once_warm) == ("False", "True")
    assert int(young_once_loaded) > 50_000
    assert int(after) > 50_000


class TestCollectorPause:
    @pytest.fixture(autouse=True)
    def _collector_as_it_was(self) -> Iterator[None]:
        was_enabled = gc.isenabled()
        yield
        warmup._paused = False
        if was_enabled:
            gc.enable()
        else:
            gc.disable()

    def test_pauses_and_resumes_the_collector(self) -> None:
        gc.enable()
        warmup.pause_collector()
        warmup.pause_collector()  # the entry point and then the app's module: one pause
        assert not gc.isenabled()
        warmup.resume_collector()
        assert gc.isenabled()

    def test_leaves_a_collector_turned_off_by_someone_else_off(self) -> None:
        gc.disable()
        warmup.pause_collector()
        warmup.resume_collector()
        assert not gc.isenabled()

    def test_resuming_without_a_pause_changes_nothing(self) -> None:
        gc.enable()
        warmup.resume_collector()
        assert gc.isenabled()

    def test_loading_the_pause_loads_nothing_of_the_app(self) -> None:
        # The entry points pause before the app's modules load: the pause's own module must
        # not load them first.
        code = (
            "import sys\nimport practice_dashboard.warmup\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'starlette', 'sqlalchemy', 'pydantic', 'numpy')))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]"


class TestWarmUpInBackground:
    @pytest.fixture
    def steps(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        done: list[str] = []
        monkeypatch.setattr(warmup, "warm_up", lambda _app: done.append("warm up"))
        monkeypatch.setattr(warmup, "freeze_long_lived", lambda: done.append("freeze"))
        monkeypatch.setattr(warmup, "resume_collector", lambda: done.append("resume"))
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
        assert steps == ["warm up", "freeze", "resume"]

    def test_with_no_request_warms_up_anyway(
        self, settings: Settings, steps: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(warmup, "WARM_UP_AFTER_SECONDS", 0.05)
        thread = warm_up_in_background(create_app(settings))
        thread.join(10)
        assert steps == ["warm up", "freeze", "resume"]


def test_the_suites_shared_app_is_warm(app: FastAPI, route_builds: list[str]) -> None:
    # tests/conftest.py builds the run's app's routes once, so no test pays for them.
    with TestClient(app) as client:
        assert client.get("/no-such-page").status_code == 404
    assert route_builds == []
