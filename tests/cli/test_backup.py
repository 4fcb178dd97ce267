"""`practice-dashboard backup` and `restore` against real, fresh databases."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from practice_dashboard import migrate
from practice_dashboard.cli.main import app
from practice_dashboard.config import get_settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from tests.builders import make_client, make_user
from tests.conftest import make_settings
from tests.databases import fresh_database, migrated_database

runner = CliRunner()
UseDatabase = Callable[[str], None]


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[UseDatabase]:
    """Point the CLI's settings at a database URL (call it again to switch)."""
    monkeypatch.setenv("SECRET_KEY", "c" * 40)
    monkeypatch.setenv("PRACTICE_DASHBOARD_ENVIRONMENT", "test")
    monkeypatch.setenv("PRACTICE_DASHBOARD_ARGON2_MEMORY_KIB", "19456")
    monkeypatch.setenv("PRACTICE_DASHBOARD_ARGON2_TIME_COST", "2")

    def use(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@pytest.fixture
def practice(use_database: UseDatabase) -> Iterator[str]:
    """A migrated database with a therapist and two clients; yields its URL."""
    with migrated_database() as url:
        settings = make_settings(url)
        engine = create_db_engine(settings)
        with session_scope(create_session_factory(engine)) as db:
            therapist = make_user(db, settings, email="t@example.org")
            make_client(db, therapist)
            make_client(db, therapist)
        engine.dispose()
        yield url


def test_backup_then_restore_into_an_empty_database(
    practice: str, use_database: UseDatabase, tmp_path: Path
) -> None:
    out = tmp_path / "practice.backup"
    use = use_database
    use(practice)
    previous = os.umask(0o022)
    try:
        result = runner.invoke(app, ["backup", str(out)])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert "readable by its owner only" in result.output
    assert "client 2" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    with fresh_database() as empty:
        use(empty)
        result = runner.invoke(app, ["restore", str(out)])
        assert result.exit_code == 0, result.output
        assert "integrity and foreign keys checked" in result.output
        assert "client 2, " in result.output
        assert "user 1" in result.output
        assert "migrate" not in result.output

        # A second restore finds the database in use and refuses.
        result = runner.invoke(app, ["restore", str(out)])
        assert result.exit_code == 1
        assert "restore only into an empty one" in result.output


def test_a_backup_of_an_older_schema_says_to_migrate(
    use_database: UseDatabase, tmp_path: Path
) -> None:
    use = use_database
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_revision(script.get_current_head() or "head")
    assert head is not None
    assert isinstance(head.down_revision, str)
    out = tmp_path / "old.backup"
    with fresh_database() as old:
        use(old)
        assert runner.invoke(app, ["migrate", head.down_revision]).exit_code == 0
        assert runner.invoke(app, ["backup", str(out)]).exit_code == 0
    with fresh_database() as empty:
        use(empty)
        result = runner.invoke(app, ["restore", str(out)])
    assert result.exit_code == 0, result.output
    assert "run `practice-dashboard migrate` before serving" in result.output


def test_restore_refuses_a_file_that_is_not_a_backup(
    use_database: UseDatabase, tmp_path: Path
) -> None:
    use = use_database
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with fresh_database() as empty:
        use(empty)
        result = runner.invoke(app, ["restore", str(notes)])
        missing = runner.invoke(app, ["restore", str(tmp_path / "nothing.backup")])
    assert result.exit_code == 1
    assert "is not a backup" in result.output
    assert missing.exit_code == 1
    assert "no backup file at" in missing.output


def test_backup_into_a_missing_folder_fails_clearly(
    practice: str, use_database: UseDatabase
) -> None:
    use = use_database
    use(practice)
    result = runner.invoke(app, ["backup", "/nonexistent-folder/practice.backup"])
    assert result.exit_code == 1
    assert "cannot use /nonexistent-folder" in result.output


def test_restore_into_a_database_that_does_not_answer_fails_clearly(
    practice: str, use_database: UseDatabase, tmp_path: Path
) -> None:
    out = tmp_path / "practice.backup"
    use_database(practice)
    assert runner.invoke(app, ["backup", str(out)]).exit_code == 0
    if practice.startswith("sqlite"):
        # A folder where the database file should be: SQLite cannot open it.
        (tmp_path / "taken.db").mkdir()
        use_database(f"sqlite:///{tmp_path / 'taken.db'}")
    else:
        use_database(practice.rsplit("/", 1)[0] + "/no_such_database_here")
    result = runner.invoke(app, ["restore", str(out)])
    assert result.exit_code == 1
    assert "error: cannot use the database" in result.output
