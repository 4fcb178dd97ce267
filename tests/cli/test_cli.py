"""The `practice-dashboard` CLI against a real, fresh database."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from practice_dashboard.cli.main import app
from practice_dashboard.config import get_settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import Supervision, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.security import verify_password
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.reports import pdf
from tests.builders import cli_environment, make_client, make_user, supervise
from tests.databases import fresh_database, migrated_database

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database."""
    with fresh_database() as url, cli_environment(monkeypatch, url):
        yield url


@pytest.fixture
def migrated_cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database at the newest revision, for tests about what comes after `migrate`."""
    with migrated_database() as url, cli_environment(monkeypatch, url):
        yield url


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


class TestExportsAreOwnerOnly:
    """Every file the CLI writes with clinical data is 0600 from creation (defect 3)."""

    @pytest.fixture
    def seeded(self, migrated_cli_env: str) -> Iterator[str]:
        """A therapist with one client, supervised; yields the client's id."""
        settings = get_settings()
        engine = create_db_engine(settings)
        with session_scope(create_session_factory(engine)) as db:
            therapist = make_user(db, settings, email="t@example.org")
            boss = make_user(db, settings, Role.SUPERVISOR, email="boss@example.org")
            supervise(db, boss, therapist)
            client_id = str(make_client(db, therapist).id)
        engine.dispose()
        # A common umask that leaves new files readable by everyone.
        previous = os.umask(0o022)
        yield client_id
        os.umask(previous)

    EXPORTS = {
        "records csv": ["export", "csv", "--kind", "clients", "--as", "t@example.org", "--out"],
        "packet csv": ["export", "packet", "--as", "boss@example.org", "--out"],
        "fhir": ["export", "fhir", "--client", "{client}", "--as", "t@example.org", "--out"],
        "summary pdf": ["export", "summary", "--client", "{client}", "--as", "t@example.org"],
    }

    @pytest.mark.parametrize("kind", EXPORTS)
    @pytest.mark.parametrize("existing", [False, True], ids=["new file", "over a 0644 file"])
    def test_export_file_is_created_owner_only(
        self, seeded: str, tmp_path: Path, kind: str, existing: bool
    ) -> None:
        if kind == "summary pdf" and shutil.which(pdf.chromium_path()) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true needs Chromium at {pdf.chromium_path()}")
            pytest.skip(f"no Chromium at {pdf.chromium_path()}")
        out = tmp_path / ("export.pdf" if kind.endswith("pdf") else "export.csv")
        if existing:
            out.write_text("an older export, readable by everyone\n")
            out.chmod(0o644)
        args = [arg.format(client=seeded) for arg in self.EXPORTS[kind]]
        if kind == "summary pdf":
            args.append("--out")
        result = runner.invoke(app, [*args, str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_mode & 0o777 == 0o600
        assert "older export" not in out.read_bytes().decode("utf-8", errors="replace")
        assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left over

    def test_failed_write_leaves_no_file(self, seeded: str, tmp_path: Path) -> None:
        out = tmp_path / "missing-folder" / "export.csv"
        args = ["export", "csv", "--kind", "clients", "--as", "t@example.org", "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert f"error: cannot write {out}" in result.output
        assert not out.parent.exists()

    def test_pipe_is_written_through_not_replaced(self, seeded: str, tmp_path: Path) -> None:
        # `--out /dev/stdout` or a named pipe: written into, never renamed over.
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
        reader.start()
        args = ["export", "csv", "--kind", "clients", "--as", "t@example.org", "--out", str(fifo)]
        result = runner.invoke(app, args)
        reader.join(timeout=30)
        assert result.exit_code == 0, result.output
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        assert received[0].startswith(b"id,")


class TestServe:
    """`serve` leaves forwarded headers to the app, which believes only the configured proxy."""

    def _serve(self, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, object], str]:
        import uvicorn

        seen: dict[str, object] = {}

        def run(target: str, **options: object) -> None:
            seen.update(options, target=target)

        monkeypatch.setattr(uvicorn, "run", run)
        result = runner.invoke(app, ["serve", "--no-migrate"])
        assert result.exit_code == 0, result.output
        return seen, result.output

    def test_uvicorn_does_not_believe_forwarded_headers_itself(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
        options, output = self._serve(monkeypatch)
        assert options["proxy_headers"] is False
        assert "forwarded_allow_ips" not in options
        assert "warning" not in output

    def test_uvicorns_old_variable_is_ignored_with_a_warning(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
        options, output = self._serve(monkeypatch)
        assert options["proxy_headers"] is False
        assert "FORWARDED_ALLOW_IPS is ignored" in output
        assert "PRACTICE_DASHBOARD_FORWARDED_ALLOW_IPS" in output

    @pytest.mark.parametrize(
        ("args", "stand_in", "paused"),
        [([], False, True), (["--reload"], False, False), ([], True, False)],
        ids=["serves", "reloader", "app-stood-in-for"],
    )
    def test_a_process_that_serves_starts_with_the_collector_paused(
        self, monkeypatch: pytest.MonkeyPatch, args: list[str], stand_in: bool, paused: bool
    ) -> None:
        # Until its first answer: loading the app starts the warm-up that resumes it
        # (warmup.py). A reloader only watches files and starts a process that serves, so its
        # own collector runs; so does a process whose app module something stands in for (as
        # bench/ceiling_app.py does), which would never resume it.
        import gc
        import sys
        import types

        import uvicorn

        if stand_in:
            stand_in_module = types.ModuleType("practice_dashboard.asgi")
            monkeypatch.setitem(sys.modules, "practice_dashboard.asgi", stand_in_module)
        else:
            monkeypatch.delitem(sys.modules, "practice_dashboard.asgi", raising=False)
        enabled: list[bool] = []
        monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: enabled.append(gc.isenabled()))
        assert gc.isenabled()
        result = runner.invoke(app, ["serve", "--no-migrate", *args])
        assert result.exit_code == 0, result.output
        assert enabled == [not paused]
        # This server stopped before it answered: resumed on the way out.
        assert gc.isenabled()

    def test_more_than_one_worker_serves_through_the_worker_pool(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from practice_dashboard.cli import worker_pool

        seen: list[tuple[str, int, int, float]] = []

        def serve_workers(host: str, port: int, workers: int, *, timeout: float) -> int:
            seen.append((host, port, workers, timeout))
            return 0

        monkeypatch.setattr(worker_pool, "serve_workers", serve_workers)
        monkeypatch.setenv("PRACTICE_DASHBOARD_WORKER_TIMEOUT_SECONDS", "45")
        monkeypatch.setenv("SECRET_KEY", "serve-test-" + "k" * 32)
        get_settings.cache_clear()
        result = runner.invoke(app, ["serve", "--no-migrate", "--workers", "3", "--port", "9"])
        get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert seen == [("127.0.0.1", 9, 3, 45.0)]

    @pytest.mark.parametrize(
        ("args", "reason"),
        [
            (["--workers", "0"], "at least 1"),
            (["--workers", "2", "--reload"], "--reload serves with one worker"),
        ],
    )
    def test_impossible_worker_counts_are_refused(self, args: list[str], reason: str) -> None:
        result = runner.invoke(app, ["serve", "--no-migrate", *args])
        assert result.exit_code == 2
        assert "--workers" in result.output
        assert reason in result.output


def test_reset_mfa(cli_env: str) -> None:
    from practice_dashboard.models import AuditEvent, MfaAuthenticator
    from practice_dashboard.services.accounts import mfa
    from tests.builders import make_mfa, make_user

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = create_db_engine(get_settings())
    factory = create_session_factory(engine)
    with session_scope(factory) as db:
        user = make_user(db, get_settings(), email="lost.phone@example.org")
        make_mfa(db, get_settings(), user)
    result = runner.invoke(app, ["reset-mfa", "--email", "Lost.Phone@example.org"])
    assert result.exit_code == 0, result.output
    assert "reset for lost.phone@example.org" in result.output
    with session_scope(factory) as db:
        assert db.scalars(select(MfaAuthenticator)).all() == []
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == mfa.RESET)).one()
        assert event.actor_id is None  # the operator at the command line
        assert db.scalars(select(User)).one().token_generation == 1
    result = runner.invoke(app, ["reset-mfa", "--email", "nobody@example.org"])
    assert result.exit_code == 1
    assert "no account with e-mail nobody@example.org" in result.output
    engine.dispose()


def test_migrate_seals_authenticator_keys_stored_in_plain_text(cli_env: str) -> None:
    """Keys from before sealing are sealed at the next start (serve migrates first), so no
    deployment keeps them in plain text for want of running reseal-mfa."""
    import pyotp

    from practice_dashboard.models import MfaAuthenticator
    from practice_dashboard.security import SEALED_PREFIX, open_mfa_secret
    from tests.builders import make_mfa, make_user

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = create_db_engine(get_settings())
    factory = create_session_factory(engine)
    plain = pyotp.random_base32()
    with session_scope(factory) as db:
        sealed_already = make_mfa(db, get_settings(), make_user(db, get_settings()))
        make_mfa(db, get_settings(), make_user(db, get_settings()), secret=plain)
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "1 authenticator key(s) stored in plain text are now sealed" in result.output
    with session_scope(factory) as db:
        stored = db.scalars(select(MfaAuthenticator.secret)).all()
    assert all(s.startswith(SEALED_PREFIX) for s in stored)
    assert {open_mfa_secret(get_settings(), s) for s in stored} == {plain, sealed_already.secret}
    again = runner.invoke(app, ["migrate"])
    assert again.exit_code == 0
    assert "sealed" not in again.output
    engine.dispose()


def test_reseal_mfa_moves_keys_to_a_new_mfa_key_and_refuses_keys_it_cannot_open(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from practice_dashboard.models import MfaAuthenticator
    from practice_dashboard.security import open_mfa_secret
    from tests.builders import make_mfa, make_user

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = create_db_engine(get_settings())
    factory = create_session_factory(engine)
    with session_scope(factory) as db:
        setup = make_mfa(db, get_settings(), make_user(db, get_settings()))
    new_key = base64.urlsafe_b64encode(b"n" * 32).decode()
    monkeypatch.setenv("PRACTICE_DASHBOARD_MFA_KEYS", new_key)
    get_settings.cache_clear()
    result = runner.invoke(app, ["reseal-mfa"])
    assert result.exit_code == 0, result.output
    assert "1 authenticator key(s) sealed" in result.output
    # The new key alone opens it now, whatever SECRET_KEY becomes.
    monkeypatch.setenv("SECRET_KEY", "d" * 40)
    get_settings.cache_clear()
    with session_scope(factory) as db:
        stored = db.scalars(select(MfaAuthenticator.secret)).one()
    assert open_mfa_secret(get_settings(), stored) == setup.secret
    # Without that key nothing opens it: an error, and nothing changes.
    monkeypatch.delenv("PRACTICE_DASHBOARD_MFA_KEYS")
    get_settings.cache_clear()
    result = runner.invoke(app, ["reseal-mfa"])
    assert result.exit_code == 1
    assert "cannot be opened" in result.output
    assert "nothing was changed" in result.output
    with session_scope(factory) as db:
        assert db.scalars(select(MfaAuthenticator.secret)).one() == stored
    engine.dispose()


def test_audit_verify_reports_ok_then_the_first_changed_row(cli_env: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    for n in range(3):  # each new account writes one audit row
        args = ["create-user", "--email", f"u{n}@example.org", "--role", "coach"]
        result = runner.invoke(app, [*args, "--full-name", "U", "--password", "a long passphrase"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["audit", "verify", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "OK: 3 audit rows" in result.output

    # Tamper with the second row behind the app's back (the trigger dropped first).
    engine = create_db_engine(get_settings())
    with engine.begin() as connection:
        sqlite = engine.dialect.name == "sqlite"
        connection.execute(
            text(
                "DROP TRIGGER audit_event_no_update"
                if sqlite
                else "DROP TRIGGER audit_event_no_change ON audit_event"
            )
        )
        connection.execute(text("UPDATE audit_event SET ip = '10.9.9.9' WHERE seq = 2"))
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "audit chain broken at seq 2" in result.output
    assert "the row was changed" in result.output
    assert "1 rows before it are intact" in result.output


def test_refresh_summaries_writes_every_summary_in_short_batches(cli_env: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    settings = get_settings()
    engine = create_db_engine(settings)
    # No summary hooks on this factory: the clients start without summaries.
    with session_scope(create_session_factory(engine)) as db:
        therapist = make_user(db, settings)
        for _ in range(3):
            make_client(db, therapist)
    result = runner.invoke(app, ["refresh-summaries"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("refreshed 3 client summaries in 1 batch ")
    assert "longest write lock" in result.output
    # Today's row for each client (in the last hour before the practice's midnight the
    # rebuild also rolls each client over to tomorrow's row: summary_batches).
    today = practice_today(settings, utcnow())
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT client_id, as_of FROM client_summary")).all()
    assert len({client_id for client_id, _ in rows}) == 3
    assert sum(1 for _, as_of in rows if str(as_of) == today.isoformat()) == 3
    engine.dispose()
