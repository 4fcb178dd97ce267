"""Backups that restore: one snapshot under concurrent writes, into empty databases only."""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from practice_dashboard import migrate
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import AuditEvent, Client, Observation, User
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Zone
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.services import audit, backup
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import observation
from tests import databases
from tests.builders import make_client, make_user
from tests.conftest import make_settings
from tests.databases import fresh_database, migrated_database

sqlite_only = pytest.mark.skipif(
    databases.test_backend() != "sqlite", reason="a SQLite backup format"
)
postgres_only = pytest.mark.skipif(
    databases.test_backend() != "postgresql", reason="pg_dump's format"
)


@pytest.fixture
def source() -> Iterator[Settings]:
    """A migrated database with one therapist and one client (the app's own database)."""
    with migrated_database() as url:
        settings = make_settings(url)
        engine = create_db_engine(settings)
        with session_scope(create_session_factory(engine)) as db:
            make_client(db, make_user(db, settings, email="t@example.org"))
        engine.dispose()
        yield settings


@pytest.fixture
def target() -> Iterator[Settings]:
    """A new, empty database to restore into."""
    with fresh_database() as url:
        yield make_settings(url)


def _engine(settings: Settings) -> Engine:
    return create_db_engine(settings)


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _previous_revision() -> str:
    """The revision just before head: a backup taken by the previous release."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    head = script.get_revision(script.get_current_head() or "head")
    assert head is not None
    assert isinstance(head.down_revision, str)
    return head.down_revision


class Writer(threading.Thread):
    """Keeps logging observations through the product's service, one transaction each.

    An id is *attempted* before its transaction and *acknowledged* once the commit returned,
    as a client of the app would see it.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.attempted: list[uuid.UUID] = []
        self.acknowledged: list[uuid.UUID] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        engine = create_db_engine(self.settings)
        factory = create_session_factory(engine)
        summary.install(factory, self.settings)
        try:
            while not self.stop.is_set():
                record_id = uuid7()
                self.attempted.append(record_id)
                with session_scope(factory) as db:
                    user = db.scalars(select(User)).one()
                    client = db.scalars(select(Client)).one()
                    row = ObservationCreate(
                        observed_at=utcnow() - timedelta(minutes=1),
                        zone=Zone.HYPER,
                        activation=len(self.attempted) % 11,
                    )
                    observation.create_observations(
                        db,
                        client_id=client.id,
                        data=[row],
                        actor=Actor(user),
                        batch=False,
                        record_ids=[record_id],
                    )
                self.acknowledged.append(record_id)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            engine.dispose()


def _observation_ids(engine: Engine) -> set[uuid.UUID]:
    with engine.connect() as connection:
        return set(connection.scalars(select(Observation.id)))


def _audited_observation_ids(engine: Engine) -> set[uuid.UUID]:
    with engine.connect() as connection:
        rows = connection.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.entity == "observation", AuditEvent.action == "create"
            )
        )
        return {uuid.UUID(value) for value in rows if value is not None}


def _engine_checks(engine: Engine) -> list[str]:
    """The database engine's own view, independent of `verify_restored`."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            problems = [
                str(row[0])
                for row in connection.exec_driver_sql("PRAGMA integrity_check")
                if row[0] != "ok"
            ]
            problems += [str(row) for row in connection.exec_driver_sql("PRAGMA foreign_key_check")]
            return problems
        # Constraints restored NOT VALID would let orphans in; every foreign key is enforced.
        return list(
            connection.exec_driver_sql(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
            ).scalars()
        )


class TestBackupUnderConcurrentWrites:
    @pytest.mark.slow
    def test_restore_holds_every_write_acknowledged_before_the_backup(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        writer = Writer(source)
        writer.start()
        try:
            _wait_for(lambda: len(writer.acknowledged) >= 10)
            before = set(writer.acknowledged)
            taken = backup.backup(source, tmp_path / "practice.backup")
            after_backup = len(writer.acknowledged)
            # The writer is still going after the backup: it ran under concurrent writes.
            _wait_for(lambda: len(writer.acknowledged) >= after_backup + 5)
        finally:
            writer.stop.set()
            writer.join()
        assert writer.errors == []

        check = backup.restore(target, tmp_path / "practice.backup")

        assert check.problems == []
        assert check.revision == check.head
        engine = _engine(target)
        try:
            restored = _observation_ids(engine)
            assert before <= restored
            assert restored <= set(writer.attempted)
            # One snapshot: every restored write has its audit event, and no event lacks its row.
            assert _audited_observation_ids(engine) == restored
            assert check.counts == taken.counts
            assert check.counts["observation"] == len(restored)
            assert _engine_checks(engine) == []
            assert backup.verify_restored(engine).problems == []
        finally:
            engine.dispose()
        # Writes after the backup are in the source only.
        source_engine = _engine(source)
        try:
            assert len(_observation_ids(source_engine)) > len(restored)
        finally:
            source_engine.dispose()


class TestRestoreTarget:
    def test_refuses_a_database_that_is_not_empty_and_changes_nothing(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        out = tmp_path / "practice.backup"
        backup.backup(source, out)
        engine = _engine(target)
        try:
            migrate.upgrade(engine)
            with pytest.raises(backup.BackupError, match="restore only into an empty one"):
                backup.restore(target, out)
            with engine.connect() as connection:
                assert connection.scalar(select(func.count()).select_from(Client)) == 0
        finally:
            engine.dispose()

    def test_a_broken_backup_restores_nothing(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        out = tmp_path / "practice.backup"
        backup.backup(source, out)
        data = out.read_bytes()
        out.write_bytes(data[: len(data) // 2])
        with pytest.raises(backup.BackupError):
            backup.restore(target, out)
        engine = _engine(target)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()

    def test_a_file_that_is_not_a_backup_is_refused(self, target: Settings, tmp_path: Path) -> None:
        notes = tmp_path / "notes.txt"
        notes.write_text("not a backup")
        with pytest.raises(backup.BackupError, match="is not a backup"):
            backup.restore(target, notes)

    def test_an_older_schema_restores_and_asks_for_migrate(
        self, target: Settings, tmp_path: Path
    ) -> None:
        previous = _previous_revision()
        with fresh_database() as url:
            old = make_settings(url)
            engine = _engine(old)
            migrate.upgrade(engine, previous)
            engine.dispose()
            backup.backup(old, tmp_path / "old.backup")
        check = backup.restore(target, tmp_path / "old.backup")
        assert check.problems == []
        assert check.revision == previous
        assert check.needs_migrate


class TestVerifyRestored:
    def test_reports_a_reference_to_a_missing_row(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        backup.backup(source, tmp_path / "practice.backup")
        backup.restore(target, tmp_path / "practice.backup")
        engine = _engine(target)
        try:
            with engine.connect() as connection:
                # Delete a referenced account behind the foreign keys' back.
                if connection.dialect.name == "sqlite":
                    raw = connection.connection.driver_connection
                    assert raw is not None
                    raw.execute("PRAGMA foreign_keys=OFF")
                    raw.execute('DELETE FROM "user"')
                    raw.execute("PRAGMA foreign_keys=ON")
                else:
                    connection.exec_driver_sql("SET session_replication_role = replica")
                    connection.execute(text('DELETE FROM "user"'))
                    connection.commit()
            check = backup.verify_restored(engine)
        finally:
            engine.dispose()
        assert any(
            "client rows refer by practitioner_id to a missing user" in p for p in check.problems
        )
        assert not check.needs_migrate

    def test_reports_an_audit_trail_changed_after_the_backup(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        engine = _engine(source)
        with session_scope(create_session_factory(engine)) as db:
            for action in ("read", "create", "read"):
                audit.record(db, None, action, "client", uuid.uuid4())
        engine.dispose()
        backup.backup(source, tmp_path / "practice.backup")
        assert backup.restore(target, tmp_path / "practice.backup").problems == []
        engine = _engine(target)
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "sqlite":
                    connection.execute(text("DROP TRIGGER audit_event_no_update"))
                else:
                    connection.execute(text("DROP TRIGGER audit_event_no_change ON audit_event"))
                connection.execute(text("UPDATE audit_event SET action = 'export' WHERE seq = 2"))
            check = backup.verify_restored(engine)
        finally:
            engine.dispose()
        assert check.problems == [
            next(p for p in check.problems if p.startswith("audit trail broken at seq 2"))
        ]

    def test_reports_a_schema_revision_this_app_does_not_know(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        backup.backup(source, tmp_path / "practice.backup")
        backup.restore(target, tmp_path / "practice.backup")
        engine = _engine(target)
        try:
            with engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
            check = backup.verify_restored(engine)
        finally:
            engine.dispose()
        assert check.revision == "f00dfeed"
        assert any("newer than this app knows" in problem for problem in check.problems)
        assert not check.needs_migrate


class TestBackupFile:
    def test_is_owner_only_even_when_it_replaces_a_readable_file(
        self, source: Settings, tmp_path: Path
    ) -> None:
        out = tmp_path / "practice.backup"
        out.write_text("an older, world-readable file")
        out.chmod(0o644)
        previous = os.umask(0o022)
        try:
            backup.backup(source, out)
        finally:
            os.umask(previous)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        # Written beside the target and renamed: no partial file is left behind.
        assert [p.name for p in tmp_path.iterdir()] == ["practice.backup"]

    def test_counts_describe_the_snapshot(self, source: Settings, tmp_path: Path) -> None:
        taken = backup.backup(source, tmp_path / "practice.backup")
        assert taken.counts["user"] == 1
        assert taken.counts["client"] == 1
        assert taken.revision == backup.verify_restored(_engine(source)).head

    @sqlite_only
    def test_never_replaces_the_database_itself(self, source: Settings) -> None:
        database = Path(make_url(source.database_url).database or "")
        before = database.read_bytes()
        for out in (database, database.with_name(database.name + "-wal")):
            with pytest.raises(backup.BackupError, match="is the database itself"):
                backup.backup(source, out)
        assert database.read_bytes() == before

    @sqlite_only
    def test_gzipped_sqlite_backup_round_trips(
        self, source: Settings, target: Settings, tmp_path: Path
    ) -> None:
        out = tmp_path / "practice.db.gz"
        taken = backup.backup(source, out)
        assert out.read_bytes()[:2] == b"\x1f\x8b"
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        check = backup.restore(target, out)
        assert check.problems == []
        assert check.counts == taken.counts
        database = make_url(target.database_url).database
        assert database is not None
        assert stat.S_IMODE(Path(database).stat().st_mode) == 0o600

    @postgres_only
    def test_gzip_is_refused_for_postgresql(self, source: Settings, tmp_path: Path) -> None:
        with pytest.raises(backup.BackupError, match=r"drop the \.gz"):
            backup.backup(source, tmp_path / "practice.dump.gz")

    @postgres_only
    def test_without_pg_dump_the_error_says_what_to_install(
        self, source: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(backup.BackupError, match="pg_dump not found on PATH"):
            backup.backup(source, tmp_path / "practice.dump")
        assert list(tmp_path.iterdir()) == []


class TestPostgresConnection:
    def test_the_password_goes_in_the_environment_never_on_the_command_line(self) -> None:
        url = make_url("postgresql+psycopg://pd:s3cret@db.internal:5433/practice?sslmode=require")
        conninfo, env = backup.postgres_connection(url)
        assert "s3cret" not in conninfo
        assert env["PGPASSWORD"] == "s3cret"
        assert set(conninfo.split()) == {
            "host=db.internal",
            "port=5433",
            "user=pd",
            "dbname=practice",
            "sslmode=require",
        }
