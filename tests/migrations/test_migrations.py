"""One Alembic history: upgrades an empty database, matches the models, downgrades cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

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


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_history_has_a_single_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1


def test_upgrade_from_empty_creates_every_table(empty_engine: Engine) -> None:
    assert _tables(empty_engine) == set()
    migrate.upgrade(empty_engine)
    assert _tables(empty_engine) == set(Base.metadata.tables)


def test_models_match_the_migrated_schema(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert _tables(empty_engine) == set()
    migrate.upgrade(empty_engine)
    assert _tables(empty_engine) == set(Base.metadata.tables)


def test_every_revision_steps_down_and_up(empty_engine: Engine) -> None:
    """Walk the history one revision at a time, so each downgrade is exercised on its own."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        migrate.upgrade(empty_engine, revision)
    for _ in revisions:
        migrate.downgrade(empty_engine, "-1")
    assert _tables(empty_engine) == set()


def test_upgrade_keeps_existing_rows(empty_engine: Engine) -> None:
    """Data written at the first revision survives every later migration (batch rebuilds too)."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    first = next(r.revision for r in script.walk_revisions() if r.down_revision is None)
    migrate.upgrade(empty_engine, first)
    user_id, client_id = uuid.uuid4(), uuid.uuid4()
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
                "failed_login_count, version, created_at, updated_at) VALUES "
                "(:id, 'a@example.org', 'A', 'therapist', 'x', :t, 0, 1, :now, :now)"
            ),
            {"id": _uuid_param(empty_engine, user_id), "t": True, "now": datetime.now(UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
                "session_cadence_days, version, created_at, updated_at) VALUES "
                "(:id, :pid, 'C', 'active', '2026-01-05', 7, 1, :now, :now)"
            ),
            {
                "id": _uuid_param(empty_engine, client_id),
                "pid": _uuid_param(empty_engine, user_id),
                "now": datetime.now(UTC),
            },
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        names = connection.execute(
            text(
                "SELECT c.display_name, u.email FROM client c "
                'JOIN "user" u ON u.id = c.practitioner_id'
            )
        ).all()
    assert [tuple(row) for row in names] == [("C", "a@example.org")]


def test_accounts_from_before_token_generations_start_at_generation_0(
    empty_engine: Engine,
) -> None:
    """A user written at the revision before `token_generation` survives with generation 0."""
    migrate.upgrade(empty_engine, "80eae5dfa212")  # login sessions and zone vocabulary
    user_id = uuid.uuid4()
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
                "failed_login_count, zone_vocabulary, version, created_at, updated_at) VALUES "
                "(:id, 'b@example.org', 'B', 'coach', 'x', :t, 0, 'plain', 3, :now, :now)"
            ),
            {"id": _uuid_param(empty_engine, user_id), "t": True, "now": datetime.now(UTC)},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        rows = connection.execute(
            text('SELECT email, zone_vocabulary, version, token_generation FROM "user"')
        ).all()
    assert [tuple(row) for row in rows] == [("b@example.org", "plain", 3, 0)]


def test_records_from_before_corrections_are_recorded_at_version_1(empty_engine: Engine) -> None:
    """Records written before `status` existed survive as `recorded`; new versions start at 1."""
    migrate.upgrade(empty_engine, "86e8b8a96095")  # flag un-acknowledgement: the previous head
    user_id, client_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    ids = {name: _uuid_param(empty_engine, uuid.uuid4()) for name in ("obs", "measure", "session")}
    params = {
        "uid": _uuid_param(empty_engine, user_id),
        "cid": _uuid_param(empty_engine, client_id),
        "t": True,
        "now": now,
        **ids,
    }
    with empty_engine.begin() as connection:
        for statement in (
            'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
            "failed_login_count, zone_vocabulary, token_generation, version, created_at, "
            "updated_at) VALUES (:uid, 'c@example.org', 'C', 'therapist', 'x', :t, 0, 'plain', "
            "0, 1, :now, :now)",
            "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
            "session_cadence_days, version, created_at, updated_at) VALUES "
            "(:cid, :uid, 'K', 'active', '2026-01-05', 7, 1, :now, :now)",
            "INSERT INTO observation (id, client_id, observed_at, source, zone, activation, "
            "created_at, updated_at) VALUES (:obs, :cid, :now, 'practitioner', 'hyper', 7, "
            ":now, :now)",
            "INSERT INTO measure (id, client_id, instrument, administered_at, source, total, "
            "created_at, updated_at) VALUES (:measure, :cid, 'ors', :now, 'client', 21.5, "
            ":now, :now)",
            "INSERT INTO session (id, client_id, practitioner_id, starts_at, duration_minutes, "
            "kind, modality, attendance, homework_assigned, version, created_at, updated_at) "
            "VALUES (:session, :cid, :uid, :now, 50, 'therapy', 'video', 'attended', :t, 4, "
            ":now, :now)",
        ):
            connection.execute(text(statement), params)
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        rows = {
            table: tuple(
                connection.execute(
                    text(f"SELECT status, status_reason, version FROM {table}")
                ).one()
            )
            for table in ("observation", "measure", "session")
        }
    assert rows == {
        "observation": ("recorded", None, 1),
        "measure": ("recorded", None, 1),
        "session": ("recorded", None, 4),  # an existing version is kept
    }


def test_acknowledgements_and_summaries_from_before_withdrawal_survive(
    empty_engine: Engine,
) -> None:
    """An acknowledgement stays in force (not withdrawn); old summaries are dated back."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    before = script.get_revision("86e8b8a96095").down_revision  # withdrawal and raised rank
    assert isinstance(before, str)
    migrate.upgrade(empty_engine, before)
    user_id, client_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    ids = {"uid": _uuid_param(empty_engine, user_id), "cid": _uuid_param(empty_engine, client_id)}
    with empty_engine.begin() as connection:
        for statement in (
            'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
            "failed_login_count, version, created_at, updated_at) VALUES "
            "(:uid, 'c@example.org', 'C', 'therapist', 'x', :t, 0, 1, :now, :now)",
            "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
            "session_cadence_days, version, created_at, updated_at) VALUES "
            "(:cid, :uid, 'D', 'active', '2026-01-05', 7, 1, :now, :now)",
            "INSERT INTO flag_acknowledgement (id, client_id, code, level, fingerprint, "
            "evidence, acknowledged_by_id, at, note, created_at, updated_at) VALUES "
            "(:aid, :cid, 'stale_data', 'watch', 'f', '{}', :uid, :now, 'rang', :now, :now)",
            "INSERT INTO client_summary (client_id, as_of, computed_at, recovery_direction, "
            "flag_rank, flag_codes, headline, flags) VALUES "
            "(:cid, '2026-12-01', :now, 'insufficient_data', 0, ' ', '{}', '[]')",
        ):
            connection.execute(
                text(statement),
                {**ids, "aid": _uuid_param(empty_engine, uuid.uuid4()), "t": True, "now": now},
            )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        ack = connection.execute(
            text("SELECT note, withdrawn_at, withdrawn_by_id FROM flag_acknowledgement")
        ).one()
        summary = connection.execute(text("SELECT as_of, raised_rank FROM client_summary")).one()
    assert tuple(ack) == ("rang", None, None)
    assert str(summary[0]) == "2000-01-01"  # recomputed on the next read
    assert summary[1] == 0


def test_episodes_from_before_check_ins_are_practitioner_entered(empty_engine: Engine) -> None:
    """An episode written before `episode.source` existed reads `practitioner`; the new
    check-in tables start empty and allow one unrevoked link per client."""
    migrate.upgrade(empty_engine, "cefa5899abe1")  # record status: the previous head
    now = datetime.now(UTC)
    ids = {
        name: _uuid_param(empty_engine, uuid.uuid4()) for name in ("uid", "cid", "eid", "l1", "l2")
    }
    with empty_engine.begin() as connection:
        for statement in (
            'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
            "failed_login_count, zone_vocabulary, token_generation, version, created_at, "
            "updated_at) VALUES (:uid, 'e@example.org', 'E', 'therapist', 'x', :t, 0, 'plain', "
            "0, 1, :now, :now)",
            "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
            "session_cadence_days, version, created_at, updated_at) VALUES "
            "(:cid, :uid, 'E', 'active', '2026-01-05', 7, 1, :now, :now)",
            "INSERT INTO episode (id, client_id, started_at, peak_intensity, strategies, "
            "status, version, created_at, updated_at) VALUES "
            "(:eid, :cid, :now, 6, '[]', 'recorded', 2, :now, :now)",
        ):
            connection.execute(text(statement), {**ids, "t": True, "now": now})
    migrate.upgrade(empty_engine)
    link = (
        "INSERT INTO checkin_link (id, client_id, token_hash, code_hash, created_by_id, "
        "expires_at, revoked_at, failed_code_attempts, show_progress, created_at, updated_at) "
        "VALUES (:id, :cid, :hash, 'x', :uid, :now, :revoked, 0, :f, :now, :now)"
    )
    with empty_engine.connect() as connection:
        episode = connection.execute(text("SELECT source, version FROM episode")).one()
        params = {**ids, "now": now, "f": False}
        connection.execute(text(link), {**params, "id": ids["l1"], "hash": "a", "revoked": now})
        connection.execute(text(link), {**params, "id": ids["l2"], "hash": "b", "revoked": None})
        second_live = {**params, "id": _uuid_param(empty_engine, uuid.uuid4()), "hash": "c"}
        with pytest.raises(IntegrityError):
            connection.execute(text(link), {**second_live, "revoked": None})
        connection.rollback()
    assert tuple(episode) == ("practitioner", 2)


def test_login_failures_and_heartbeat_start_empty_and_accounts_survive(
    empty_engine: Engine,
) -> None:
    """Accounts from before the login-throttle tables keep working; the new tables start
    empty, and a throttling key is counted in one row only."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    before = script.get_revision("9523a37104c2").down_revision  # login failures, heartbeat
    assert isinstance(before, str)
    migrate.upgrade(empty_engine, before)
    now = datetime.now(UTC)
    uid = _uuid_param(empty_engine, uuid.uuid4())
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
                "failed_login_count, last_failed_login_at, zone_vocabulary, token_generation, "
                "version, created_at, updated_at) VALUES (:uid, 'f@example.org', 'F', "
                "'therapist', 'x', :t, 3, :now, NULL, 2, 1, :now, :now)"
            ),
            {"uid": uid, "t": True, "now": now},
        )
    migrate.upgrade(empty_engine, "9523a37104c2")  # the old columns go in a later revision
    failure = (
        "INSERT INTO login_failure (id, key, failures, last_failed_at, created_at, updated_at) "
        "VALUES (:id, :key, 1, :now, :now, :now)"
    )
    with empty_engine.connect() as connection:
        user = connection.execute(
            text('SELECT email, token_generation, failed_login_count FROM "user"')
        ).one()
        assert connection.execute(text("SELECT count(*) FROM login_failure")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM heartbeat")).scalar() == 0
        first = {"id": _uuid_param(empty_engine, uuid.uuid4()), "key": "k" * 64, "now": now}
        connection.execute(text(failure), first)
        with pytest.raises(IntegrityError):
            connection.execute(
                text(failure), {**first, "id": _uuid_param(empty_engine, uuid.uuid4())}
            )
        connection.rollback()
    assert tuple(user) == ("f@example.org", 2, 3)


def test_accounts_from_before_two_factor_start_without_it(empty_engine: Engine) -> None:
    """An account written before the MFA tables existed survives untouched and starts with no
    second factor; the new tables hold one authenticator per account and unique code hashes."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    before = script.get_revision("06bc0e884fa6").down_revision  # MFA tables
    assert isinstance(before, str)
    migrate.upgrade(empty_engine, before)
    now = datetime.now(UTC)
    uid = _uuid_param(empty_engine, uuid.uuid4())
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
                "failed_login_count, zone_vocabulary, token_generation, version, created_at, "
                "updated_at) VALUES (:uid, 'm@example.org', 'M', 'admin', 'x', :t, 0, NULL, "
                "4, 2, :now, :now)"
            ),
            {"uid": uid, "t": True, "now": now},
        )
    migrate.upgrade(empty_engine)
    authenticator = (
        "INSERT INTO mfa_authenticator (id, user_id, secret, failed_count, created_at, "
        "updated_at) VALUES (:id, :uid, 'ABC', 0, :now, :now)"
    )
    with empty_engine.connect() as connection:
        account = connection.execute(
            text('SELECT email, role, token_generation, version FROM "user"')
        ).one()
        assert connection.execute(text("SELECT count(*) FROM mfa_authenticator")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM mfa_recovery_code")).scalar() == 0
        first = {"id": _uuid_param(empty_engine, uuid.uuid4()), "uid": uid, "now": now}
        connection.execute(text(authenticator), first)
        second = {**first, "id": _uuid_param(empty_engine, uuid.uuid4())}
        with pytest.raises(IntegrityError):
            connection.execute(text(authenticator), second)
        connection.rollback()
    assert tuple(account) == ("m@example.org", "admin", 4, 2)


def _uuid_param(engine: Engine, value: uuid.UUID) -> object:
    # SQLAlchemy's Uuid stores 32 hex characters on SQLite and a native uuid on PostgreSQL.
    return value.hex if engine.dialect.name == "sqlite" else value


def test_audit_rows_from_before_the_chain_are_chained_and_append_only(
    empty_engine: Engine,
) -> None:
    """Audit rows written at the previous head survive, chained in (at, id) order; the chain
    verifies, and the database then refuses to change or delete them."""
    from sqlalchemy.orm import Session

    from practice_dashboard.services import audit

    migrate.upgrade(empty_engine, "06bc0e884fa6")  # MFA: the previous head
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    written = [  # inserted out of time order, with a detail that needs escaping
        (uuid.uuid4(), base.replace(hour=11), "read", 'said "hi" é'),
        (uuid.uuid4(), base.replace(hour=9, microsecond=123456), "login", None),
        (uuid.uuid4(), base.replace(hour=10), "list", "3 of 3"),
    ]
    with empty_engine.begin() as connection:
        for event_id, at, action, detail in written:
            connection.execute(
                text(
                    "INSERT INTO audit_event (id, action, entity, at, ip, detail) "
                    "VALUES (:id, :action, 'client', :at, '10.0.0.1', :detail)"
                ),
                {
                    "id": _uuid_param(empty_engine, event_id),
                    "action": action,
                    "at": at.replace(tzinfo=None) if _is_sqlite(empty_engine) else at,
                    "detail": detail,
                },
            )
    migrate.upgrade(empty_engine)
    with Session(empty_engine) as db:
        rows = db.execute(text("SELECT action, seq FROM audit_event ORDER BY seq")).all()
        assert [tuple(r) for r in rows] == [("login", 1), ("list", 2), ("read", 3)]
        report = audit.verify_chain(db)
        assert (report.ok, report.checked) == (True, 3)
    for statement in ("UPDATE audit_event SET detail = 'x'", "DELETE FROM audit_event"):
        with empty_engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement))


def _is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def test_client_summaries_are_keyed_by_practice_day(empty_engine: Engine) -> None:
    """A summary written at the previous head survives; a client can then keep tomorrow's row
    beside today's; downgrading keeps today's and restores the one-row-per-client key."""
    migrate.upgrade(empty_engine, "b07084c13366")
    now = datetime.now(UTC)
    ids = {
        "uid": _uuid_param(empty_engine, uuid.uuid4()),
        "cid": _uuid_param(empty_engine, uuid.uuid4()),
    }
    summary_row = (
        "INSERT INTO client_summary (client_id, as_of, computed_at, recovery_direction, "
        "flag_rank, raised_rank, flag_codes, headline, flags) VALUES "
        "(:cid, :day, :now, 'improving', 0, 0, ' ', '{}', '[]')"
    )
    with empty_engine.begin() as connection:
        for statement in (
            'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
            "failed_login_count, version, created_at, updated_at) VALUES "
            "(:uid, 'c@example.org', 'C', 'therapist', 'x', :t, 0, 1, :now, :now)",
            "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
            "session_cadence_days, version, created_at, updated_at) VALUES "
            "(:cid, :uid, 'D', 'active', '2026-01-05', 7, 1, :now, :now)",
            summary_row,
        ):
            connection.execute(text(statement), {**ids, "t": True, "now": now, "day": "2026-12-05"})
    migrate.upgrade(empty_engine)
    assert inspect(empty_engine).get_pk_constraint("client_summary")["constrained_columns"] == [
        "client_id",
        "as_of",
    ]
    with empty_engine.begin() as connection:
        connection.execute(text(summary_row), {**ids, "now": now, "day": "2026-12-06"})
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text(summary_row), {**ids, "now": now, "day": "2026-12-06"})
        days = connection.execute(
            text("SELECT as_of, recovery_direction FROM client_summary ORDER BY as_of")
        ).all()
    assert [(str(d), r) for d, r in days] == [
        ("2026-12-05", "improving"),
        ("2026-12-06", "improving"),
    ]
    migrate.downgrade(empty_engine, "b07084c13366")
    assert inspect(empty_engine).get_pk_constraint("client_summary")["constrained_columns"] == [
        "client_id"
    ]
    with empty_engine.connect() as connection:
        left = connection.execute(text("SELECT as_of FROM client_summary")).scalars().all()
    assert [str(d) for d in left] == ["2026-12-05"]


def test_plain_authenticator_keys_survive_sealing_and_block_a_downgrade_once_sealed(
    empty_engine: Engine,
) -> None:
    """An account and its plain base32 authenticator key from before sealing survive the
    upgrade (the unused login-failure columns go); the key still gives codes, `reseal_all`
    seals it, and the downgrade then refuses rather than leave a key the old code cannot open."""
    import pyotp
    from sqlalchemy.orm import Session

    from practice_dashboard.models import MfaAuthenticator
    from practice_dashboard.security import SEALED_PREFIX, open_mfa_secret
    from practice_dashboard.services.accounts import mfa

    sealing = "31fea10bedc0"
    before = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(sealing)
    assert isinstance(before.down_revision, str)
    migrate.upgrade(empty_engine, before.down_revision)
    now = datetime.now(UTC)
    uid = _uuid_param(empty_engine, uuid.uuid4())
    plain = pyotp.random_base32()
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
                "failed_login_count, last_failed_login_at, zone_vocabulary, token_generation, "
                "version, created_at, updated_at) VALUES (:uid, 's@example.org', 'S', "
                "'therapist', 'x', :t, 2, :now, NULL, 1, 3, :now, :now)"
            ),
            {"uid": uid, "t": True, "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO mfa_authenticator (id, user_id, secret, confirmed_at, failed_count, "
                "created_at, updated_at) VALUES (:id, :uid, :secret, :now, 0, :now, :now)"
            ),
            {
                "id": _uuid_param(empty_engine, uuid.uuid4()),
                "uid": uid,
                "secret": plain,
                "now": now,
            },
        )
    migrate.upgrade(empty_engine)
    columns = {c["name"] for c in inspect(empty_engine).get_columns("user")}
    assert {"failed_login_count", "last_failed_login_at"}.isdisjoint(columns)
    settings = make_settings(empty_engine.url.render_as_string(hide_password=False))
    with Session(empty_engine) as db:
        assert db.execute(text('SELECT email, version FROM "user"')).one() == ("s@example.org", 3)
        assert db.scalar(text("SELECT secret FROM mfa_authenticator")) == plain
        assert mfa.reseal_all(db, settings) == 1
        db.commit()
        stored = db.scalars(select(MfaAuthenticator.secret)).one()
    assert stored.startswith(SEALED_PREFIX)
    assert plain not in stored
    assert open_mfa_secret(settings, stored) == plain
    with pytest.raises(RuntimeError, match="reset-mfa"):
        migrate.downgrade(empty_engine, before.down_revision)
    with empty_engine.begin() as connection:
        connection.execute(text("DELETE FROM mfa_authenticator"))
    migrate.downgrade(empty_engine, before.down_revision)
    with empty_engine.connect() as connection:
        row = connection.execute(text('SELECT email, failed_login_count FROM "user"')).one()
    assert tuple(row) == ("s@example.org", 0)


_RECORD_ROWS = {
    "observation": (
        "INSERT INTO observation (id, client_id, observed_at, zone, activation, source, "
        "status, version, created_at, updated_at) VALUES "
        "(:rid, :cid, :now, 'within', 4, 'client', 'recorded', 1, :now, :now)",
        "SELECT activation, source FROM observation",
        (4, "client"),
    ),
    "episode": (
        "INSERT INTO episode (id, client_id, started_at, peak_intensity, strategies, "
        "source, status, version, created_at, updated_at) VALUES "
        "(:rid, :cid, :now, 6, '[]', 'practitioner', 'recorded', 1, :now, :now)",
        "SELECT peak_intensity, source FROM episode",
        (6, "practitioner"),
    ),
}


@pytest.mark.parametrize(
    ("revision", "table", "time_column"),
    [
        ("2a233d689677", "observation", "observed_at"),
        ("95d43773cc63", "episode", "started_at"),
    ],
)
def test_records_survive_the_source_index_and_it_serves_the_latest_of_a_source(
    empty_engine: Engine, revision: str, table: str, time_column: str
) -> None:
    """Records written at the head before an index by client, source and time survive it,
    SQLite answers fact_loading's "the latest of one source before a time" through it (for
    a source the client never used), and the downgrade drops it."""
    before = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision)
    assert isinstance(before.down_revision, str)
    migrate.upgrade(empty_engine, before.down_revision)
    index = f"ix_{table}_client_source_{time_column}"
    insert_row, select_row, expected = _RECORD_ROWS[table]
    now = datetime.now(UTC)
    ids = {name: _uuid_param(empty_engine, uuid.uuid4()) for name in ("uid", "cid", "rid")}
    with empty_engine.begin() as connection:
        for statement in (
            'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
            "zone_vocabulary, token_generation, version, created_at, updated_at) VALUES "
            "(:uid, 'o@example.org', 'O', 'therapist', 'x', :t, 'plain', 0, 1, :now, :now)",
            "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
            "session_cadence_days, version, created_at, updated_at) VALUES "
            "(:cid, :uid, 'O', 'active', '2026-01-05', 7, 1, :now, :now)",
            insert_row,
        ):
            connection.execute(text(statement), {**ids, "t": True, "now": now})
    migrate.upgrade(empty_engine)
    indexes = {i["name"]: i["column_names"] for i in inspect(empty_engine).get_indexes(table)}
    assert indexes[index] == ["client_id", "source", time_column]
    unused = "practitioner" if expected[1] == "client" else "client"
    lookup = (
        f"SELECT {time_column} FROM {table} WHERE client_id = :cid AND status = 'recorded' "
        f"AND source = '{unused}' AND {time_column} < :now ORDER BY {time_column} DESC LIMIT 1"
    )
    with empty_engine.connect() as connection:
        assert tuple(connection.execute(text(select_row)).one()) == expected
        if empty_engine.dialect.name == "sqlite":
            plan = connection.execute(text("EXPLAIN QUERY PLAN " + lookup), {**ids, "now": now})
            assert index in " ".join(map(str, plan.all()))
    migrate.downgrade(empty_engine, before.down_revision)
    assert index not in {i["name"] for i in inspect(empty_engine).get_indexes(table)}


def test_episodes_survive_the_open_episode_index_and_it_finds_the_open_one(
    empty_engine: Engine,
) -> None:
    """Episodes written before 808b7fec10c8 survive it; the partial index holds the open
    episodes alone and answers `open_episode`'s lookup (SQLite's plan uses it); the
    downgrade drops it."""
    before = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("808b7fec10c8")
    assert isinstance(before.down_revision, str)
    migrate.upgrade(empty_engine, before.down_revision)
    now = datetime.now(UTC)
    ids = {n: _uuid_param(empty_engine, uuid.uuid4()) for n in ("uid", "cid", "open", "shut")}
    episode = (
        "INSERT INTO episode (id, client_id, started_at, baseline_at, peak_intensity, "
        "strategies, source, status, version, created_at, updated_at) VALUES "
        "(:rid, :cid, :start, :back, 6, '[]', 'client', 'recorded', 1, :now, :now)"
    )
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, full_name, role, password_hash, is_active, '
                "zone_vocabulary, token_generation, version, created_at, updated_at) VALUES "
                "(:uid, 'o@example.org', 'O', 'therapist', 'x', :t, 'plain', 0, 1, :now, :now)"
            ),
            {**ids, "t": True, "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO client (id, practitioner_id, display_name, status, intake_date, "
                "session_cadence_days, version, created_at, updated_at) VALUES "
                "(:cid, :uid, 'O', 'active', '2026-01-05', 7, 1, :now, :now)"
            ),
            {**ids, "now": now},
        )
        for rid, back in (("shut", now), ("open", None)):
            connection.execute(
                text(episode), {**ids, "rid": ids[rid], "start": now, "back": back, "now": now}
            )
    migrate.upgrade(empty_engine)
    [index] = [
        i
        for i in inspect(empty_engine).get_indexes("episode")
        if i["name"] == "ix_episode_client_open"
    ]
    assert index["column_names"] == ["client_id", "source", "started_at"]
    lookup = (
        "SELECT id FROM episode WHERE client_id = :cid AND source = 'client' "
        "AND baseline_at IS NULL AND status = 'recorded' ORDER BY started_at DESC, id DESC LIMIT 1"
    )
    with empty_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM episode")) == 2
        assert connection.scalar(text(lookup), ids) == ids["open"]
        if empty_engine.dialect.name == "sqlite":
            plan = connection.execute(text("EXPLAIN QUERY PLAN " + lookup), ids)
            assert "ix_episode_client_open" in " ".join(map(str, plan.all()))
        else:
            definition = connection.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_episode_client_open'")
            )
            assert "WHERE (baseline_at IS NULL)" in definition
    migrate.downgrade(empty_engine, before.down_revision)
    assert "ix_episode_client_open" not in {
        i["name"] for i in inspect(empty_engine).get_indexes("episode")
    }
