"""The `practice-dashboard` CLI against a real, fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from practice_dashboard.cli.main import app
from practice_dashboard.config import get_settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import Supervision, User
from practice_dashboard.security import verify_password
from tests.databases import fresh_database

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database() as url:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("SECRET_KEY", "c" * 40)
        monkeypatch.setenv("PRACTICE_DASHBOARD_ENVIRONMENT", "test")
        monkeypatch.setenv("PRACTICE_DASHBOARD_ARGON2_MEMORY_KIB", "19456")
        monkeypatch.setenv("PRACTICE_DASHBOARD_ARGON2_TIME_COST", "2")
        get_settings.cache_clear()
        yield url
        get_settings.cache_clear()


def _users(url: str) -> list[User]:
    settings = get_settings()
    engine = create_db_engine(settings)
    with session_scope(create_session_factory(engine)) as db:
        users = list(db.scalars(select(User).order_by(User.email)))
    engine.dispose()
    return users


def test_migrate_create_user_and_supervise(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("PRACTICE_DASHBOARD_PASSWORD", "from the environment")
    result = runner.invoke(
        app,
        [
            "create-user",
            "--email",
            "Ada@Example.org",
            "--role",
            "therapist",
            "--full-name",
            "Ada L",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "create-user",
            "--email",
            "boss@example.org",
            "--role",
            "supervisor",
            "--full-name",
            "B",
            "--password",
            "given on the command line",
        ],
    )
    assert result.exit_code == 0, result.output
    users = _users(cli_env)
    assert [u.email for u in users] == ["ada@example.org", "boss@example.org"]
    assert verify_password(get_settings(), users[0].password_hash, "from the environment")
    assert verify_password(get_settings(), users[1].password_hash, "given on the command line")

    result = runner.invoke(
        app, ["supervise", "--supervisor", "boss@example.org", "--supervisee", "ada@example.org"]
    )
    assert result.exit_code == 0, result.output
    assert "now supervises" in result.output
    engine = create_db_engine(get_settings())
    with session_scope(create_session_factory(engine)) as db:
        assert len(db.scalars(select(Supervision)).all()) == 1
    engine.dispose()


def test_create_user_reports_bad_input_and_writes_nothing(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    monkeypatch.setenv("PRACTICE_DASHBOARD_PASSWORD", "short")
    result = runner.invoke(
        app, ["create-user", "--email", "x@example.org", "--role", "coach", "--full-name", "X"]
    )
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output
    assert _users(cli_env) == []


def test_duplicate_user_and_unknown_supervisee_fail_clearly(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    monkeypatch.setenv("PRACTICE_DASHBOARD_PASSWORD", "a good long password")
    args = ["create-user", "--email", "x@example.org", "--role", "coach", "--full-name", "X"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "email: an account with this e-mail already exists" in result.output
    result = runner.invoke(
        app, ["supervise", "--supervisor", "x@example.org", "--supervisee", "nobody@example.org"]
    )
    assert result.exit_code == 1
    assert "no account with e-mail nobody@example.org" in result.output
