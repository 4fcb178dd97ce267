"""The suite's shared app (tests/conftest.py): each test gets it as a new app would start."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.config import Settings
from practice_dashboard.dependencies import get_settings
from practice_dashboard.middleware import InFlightLimit
from tests.conftest import reset_app


def _in_flight_guard(app: FastAPI) -> InFlightLimit:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, InFlightLimit):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, InFlightLimit)
    return layer


def test_what_a_test_changes_is_undone_for_the_next(
    app: FastAPI, settings: Settings, session_factory: sessionmaker[OrmSession]
) -> None:
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/login").status_code == 200
    guard = _in_flight_guard(app)
    guard.hold_seconds = 9.0  # a measurement a later test must not inherit

    # What tests do to the app: other settings, an override, another session factory.
    app.state.settings = settings.model_copy(update={"summary_refresh_budget": 1})
    app.dependency_overrides[get_settings] = lambda: settings
    app.state.session_factory = sessionmaker()

    assert reset_app(app, settings, session_factory) is app
    assert app.state.settings is settings
    assert app.state.session_factory is session_factory
    assert app.dependency_overrides == {}
    with TestClient(app) as client:
        assert client.get("/login").status_code == 200
    assert _in_flight_guard(app) is not guard
    assert _in_flight_guard(app).hold_seconds != 9.0
