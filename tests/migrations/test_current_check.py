"""`upgrade` to head: one query when the database is current, Alembic for everything else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, event, inspect, text

from practice_dashboard import migrate
from practice_dashboard.db import create_db_engine
from practice_dashboard.models import Base
from tests.conftest import make_settings
from tests.databases import fresh_database


@pytest.fixture
def empty_engine() -> Iterator[Engine]:
    with fresh_database() as url:
        engine = create_db_engine(make_settings(url))
        yield engine
        engine.dispose()


def _alembic_head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


def _stamped(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _write_revision(folder: Path, revision: str, down: str) -> None:
    # The lines Alembic's script template writes (migrations/script.py.mako).
    (folder / f"{revision}_step.py").write_text(
        f'"""step"""\n\nrevision: str = "{revision}"\ndown_revision: str | None = {down}\n'
    )


class TestScriptHead:
    def test_is_the_head_alembic_finds(self) -> None:
        assert migrate.script_head() == _alembic_head()

    def test_a_straight_history_has_its_last_revision_as_head(self, tmp_path: Path) -> None:
        _write_revision(tmp_path, "aaa111", "None")
        _write_revision(tmp_path, "bbb222", '"aaa111"')
        _write_revision(tmp_path, "ccc333", '"bbb222"')
        assert migrate.head_in(tmp_path) == "ccc333"

    def test_two_heads_leave_the_answer_to_alembic(self, tmp_path: Path) -> None:
        _write_revision(tmp_path, "aaa111", "None")
        _write_revision(tmp_path, "bbb222", '"aaa111"')
        _write_revision(tmp_path, "ccc333", '"aaa111"')
        assert migrate.head_in(tmp_path) is None

    def test_a_merge_revision_leaves_the_answer_to_alembic(self, tmp_path: Path) -> None:
        _write_revision(tmp_path, "aaa111", "None")
        _write_revision(tmp_path, "bbb222", '("aaa111", "xxx999")')
        assert migrate.head_in(tmp_path) is None

    def test_a_parent_missing_from_the_files_leaves_the_answer_to_alembic(
        self, tmp_path: Path
    ) -> None:
        _write_revision(tmp_path, "bbb222", '"aaa111"')
        assert migrate.head_in(tmp_path) is None


class TestUpgradeToHead:
    def test_a_current_database_costs_one_query_and_no_alembic_run(
        self, empty_engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        migrate.upgrade(empty_engine)
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # SQLite's BEGIN is sent by the engine's begin hook (db.py), not by the check.
            if statement.strip().upper() != "BEGIN":
                statements.append(statement)

        def refuse(*_args: Any, **_kwargs: Any) -> None:
            raise AssertionError("Alembic ran for a database already at head")

        monkeypatch.setattr(command, "upgrade", refuse)
        event.listen(empty_engine, "before_cursor_execute", count)
        try:
            migrate.upgrade(empty_engine)
        finally:
            event.remove(empty_engine, "before_cursor_execute", count)
        assert statements == ["SELECT version_num FROM alembic_version"]

    def test_a_database_one_revision_behind_is_migrated(self, empty_engine: Engine) -> None:
        script = ScriptDirectory.from_config(migrate.alembic_config())
        head = script.get_revision(_alembic_head())
        assert head is not None
        assert isinstance(head.down_revision, str)
        migrate.upgrade(empty_engine, head.down_revision)
        migrate.upgrade(empty_engine)
        assert _stamped(empty_engine) == [head.revision]
        tables = set(inspect(empty_engine).get_table_names()) - {"alembic_version"}
        assert tables == set(Base.metadata.tables)

    def test_an_empty_database_is_built(self, empty_engine: Engine) -> None:
        migrate.upgrade(empty_engine)
        assert _stamped(empty_engine) == [_alembic_head()]

    def test_an_unknown_revision_is_refused(self, empty_engine: Engine) -> None:
        migrate.upgrade(empty_engine)
        with empty_engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedf00d'"))
        with pytest.raises(CommandError, match="f00dfeedf00d"):
            migrate.upgrade(empty_engine)
        assert _stamped(empty_engine) == ["f00dfeedf00d"]
