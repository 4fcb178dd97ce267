"""CSV export through the API and the CLI: format, scope, formula guard, streaming, audit."""

from __future__ import annotations

import csv
import gzip
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from practice_dashboard.cli.main import app as cli_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, Observation, User
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import RecordStatus, Role
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv.export import iter_csv, plan_export
from practice_dashboard.services.exchange.csv.guard import neutralise as neutralise_text
from practice_dashboard.services.exchange.csv.guard import restore as restore_text
from practice_dashboard.services.exchange.csv.spec import COLUMNS, CsvKind
from tests.builders import (
    NOW,
    auth_headers,
    cli_environment,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.databases import fresh_database

BST = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)  # 10:30 in London (summer time)
GMT = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)  # 09:30 in London (winter)


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def _export(
    api: TestClient, settings: Settings, user: User, url: str
) -> tuple[int, bytes, dict[str, str]]:
    response = api.get(url, headers=auth_headers(settings, user))
    return response.status_code, response.content, dict(response.headers)


def _exports(db: DbSession) -> list[tuple[str, uuid.UUID | None, str | None]]:
    return [
        (e.entity, e.client_id, e.detail)
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.at)
        )
    ]


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    return make_client(db, owner, display_name="Ana P", external_ref="R-1")


class TestFormat:
    def test_observations_file(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        session = make_session(db, client, starts_at=GMT - timedelta(hours=1))
        late = make_observation(
            db,
            client,
            observed_at=BST,
            activation=7,
            capacity=4,
            notes='a, "b"\nc',
            status=RecordStatus.ENTERED_IN_ERROR,
            status_reason="logged for the wrong client",
        )
        early = make_observation(db, client, observed_at=GMT, session_id=session.id, safety=9)
        db.commit()

        status, body, headers = _export(
            api, settings, owner, f"/api/v1/clients/{client.id}/export.csv?kind=observations"
        )

        assert status == 200
        assert headers["content-type"] == "text/csv; charset=utf-8"
        assert headers["content-disposition"] == (
            f'attachment; filename="client-{client.id}-observations.csv"'
        )
        assert headers["cache-control"] == "no-store"
        assert not body.startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark
        assert body.count(b"\r\n") == 3  # CRLF ends the header and both rows
        assert _rows(body) == [
            list(COLUMNS[CsvKind.OBSERVATIONS]),
            [
                str(early.id),
                str(client.id),
                "R-1",
                "Ana P",
                str(session.id),
                "2026-01-20T09:30:00+00:00",
                "practitioner",
                "within",
                "3",
                "",
                "9",
                "",
                "",
                "recorded",
                "",
            ],
            [
                str(late.id),
                str(client.id),
                "R-1",
                "Ana P",
                "",
                "2026-05-20T10:30:00+01:00",
                "practitioner",
                "within",
                "7",
                "4",
                "",
                "",
                'a, "b"\nc',
                "entered_in_error",
                "logged for the wrong client",
            ],
        ]
        # RFC 4180: the cell with a comma, quotes and a line break is quoted, quotes doubled.
        assert b'"a, ""b""\nc",' in body

    def test_every_kind_has_its_header_and_rows(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        session = make_session(db, client, starts_at=BST, notes="homework set")
        session.archived_at = BST + timedelta(days=1)
        make_episode(db, client, started_at=BST, strategies=["walk", "cold water; ice"])
        make_measure(db, client, administered_at=BST)
        db.commit()
        url = f"/api/v1/clients/{client.id}/export.csv?kind="

        rows = {k: _rows(_export(api, settings, owner, url + k.value)[1]) for k in CsvKind}

        for kind, table in rows.items():
            assert table[0] == list(COLUMNS[kind]), kind
        assert rows[CsvKind.CLIENTS][1][:3] == [str(client.id), "Ana P", "R-1"]
        sessions = dict(zip(COLUMNS[CsvKind.SESSIONS], rows[CsvKind.SESSIONS][1], strict=True))
        # A deleted (archived) session is still part of the record, and says so.
        assert sessions["archived_at"] == "2026-05-21T10:30:00+01:00"
        assert sessions["homework_assigned"] == "false"
        episode = dict(zip(COLUMNS[CsvKind.EPISODES], rows[CsvKind.EPISODES][1], strict=True))
        assert episode["strategies"] == '["walk", "cold water; ice"]'
        assert (episode["recognition_minutes"], episode["recovery_minutes"]) == ("5", "40")
        measure = dict(zip(COLUMNS[CsvKind.MEASURES], rows[CsvKind.MEASURES][1], strict=True))
        assert (measure["items"], measure["total"]) == ("[1, 1, 1, 1, 1, 1, 1, 1, 0]", "8")
        assert len(rows[CsvKind.ANNOTATIONS]) == 1  # header only

    def test_unknown_kind_is_a_422(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        db.commit()
        status, _body, _headers = _export(
            api, settings, owner, f"/api/v1/clients/{client.id}/export.csv?kind=flags"
        )
        assert status == 422


class TestFormulaGuard:
    @pytest.mark.parametrize(
        ("text", "cell"),
        [
            ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
            ("+44 7700", "'+44 7700"),
            ("-3 after the call", "'-3 after the call"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tindented", "'\tindented"),
            ("\rreturn", "'\rreturn"),
            ("'=already quoted", "''=already quoted"),
            ("'tis fine", "'tis fine"),
            ("a = b", "a = b"),
            ("", ""),
        ],
    )
    def test_neutralise_and_restore_are_exact_inverses(self, text: str, cell: str) -> None:
        assert neutralise_text(text) == cell
        assert restore_text(cell) == text

    def test_text_cells_are_neutralised_numbers_are_not(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User
    ) -> None:
        client = make_client(db, owner, display_name="=cmd|' /C calc'!A0", external_ref="-7")
        make_observation(db, client, notes="@risk", activation=0)
        db.commit()
        _s, body, _h = _export(
            api, settings, owner, f"/api/v1/clients/{client.id}/export.csv?kind=observations"
        )
        row = dict(zip(COLUMNS[CsvKind.OBSERVATIONS], _rows(body)[1], strict=True))
        assert row["client_display_name"] == "'=cmd|' /C calc'!A0"
        assert row["client_external_ref"] == "'-7"
        assert row["notes"] == "'@risk"
        assert row["activation"] == "0"


class TestOneGuardForEveryCsv:
    """The records CSV guards what the audit CSV guards (defect 4: it used to guard less)."""

    @pytest.mark.parametrize(
        ("text", "cell"),
        [
            ("\n=1+1", "'\n=1+1"),
            (" =1+1", "' =1+1"),
            ("  -3 after the call", "'  -3 after the call"),
            ("＝HYPERLINK(1)", "'＝HYPERLINK(1)"),
            ("＋44", "'＋44"),
            ("－3", "'－3"),
            ("＠SUM(A1)", "'＠SUM(A1)"),
            # Issue 12: every form NFKC folds to a formula start, not only the full-width ones.
            ("﹦HYPERLINK(1)", "'﹦HYPERLINK(1)"),
            ("﹢44", "'﹢44"),
            ("﹣3", "'﹣3"),
            ("﹫SUM(A1)", "'﹫SUM(A1)"),
            ("⁼1+1", "'⁼1+1"),
            ("₊1", "'₊1"),
            (" ﹦1", "' ﹦1"),
            ("'﹦x", "''﹦x"),
            ("\u3000＝1", "'\u3000＝1"),
            ("−3 (a minus sign, not a hyphen)", "−3 (a minus sign, not a hyphen)"),
            ("'＝x", "''＝x"),
            ("' =x", "'' =x"),
            (" plain", " plain"),
            ("'", "'"),
        ],
    )
    def test_starts_the_audit_guard_knows_are_guarded_and_restored(
        self, text: str, cell: str
    ) -> None:
        assert neutralise_text(text) == cell
        assert restore_text(cell) == text

    def test_a_full_width_formula_in_a_note_is_written_as_text(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User
    ) -> None:
        client = make_client(db, owner, display_name="＠risk", external_ref="－7")
        make_observation(db, client, notes='＝HYPERLINK("http://x")', activation=0)
        db.commit()
        _s, body, _h = _export(
            api, settings, owner, f"/api/v1/clients/{client.id}/export.csv?kind=observations"
        )
        row = dict(zip(COLUMNS[CsvKind.OBSERVATIONS], _rows(body)[1], strict=True))
        assert row["notes"] == '\'＝HYPERLINK("http://x")'
        assert row["client_display_name"] == "'＠risk"
        assert row["client_external_ref"] == "'－7"
        assert row["activation"] == "0"


class TestScope:
    def test_another_practitioners_client_is_not_found(
        self, api: TestClient, db: DbSession, settings: Settings, client: Client
    ) -> None:
        stranger = make_user(db, settings)
        admin = make_user(db, settings, Role.ADMIN)
        db.commit()
        for user in (stranger, admin):
            status, _b, _h = _export(api, settings, user, f"/api/v1/clients/{client.id}/export.csv")
            assert status == 404
        status, _b, _h = _export(api, settings, stranger, f"/api/v1/clients/{uuid7()}/export.csv")
        assert status == 404
        assert api.get(f"/api/v1/clients/{client.id}/export.csv").status_code == 401
        assert _exports(db) == []

    def test_caseload_is_every_visible_client_in_client_order(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        second = make_client(db, owner, display_name="Ben")
        stranger_client = make_client(db, make_user(db, settings))
        for c in (second, client, stranger_client):
            make_observation(db, c, observed_at=BST)
            make_observation(db, c, observed_at=GMT)
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, owner)
        db.commit()

        status, body, headers = _export(api, settings, owner, "/api/v1/export.csv")

        assert status == 200
        assert headers["content-disposition"].startswith(
            'attachment; filename="caseload-observations-'
        )
        rows = _rows(body)[1:]
        ids = sorted([client.id, second.id])
        assert [(r[1], r[5][:10]) for r in rows] == [
            (str(ids[0]), "2026-01-20"),
            (str(ids[0]), "2026-05-20"),
            (str(ids[1]), "2026-01-20"),
            (str(ids[1]), "2026-05-20"),
        ]
        # Each exported client's record read is audited, as the practitioner's.
        assert sorted(_exports(db), key=str) == sorted(
            [("observation", i, "csv caseload") for i in ids], key=str
        )
        # A supervisor exports their supervisees' clients (read access), nobody else's.
        _s, body, _h = _export(api, settings, supervisor, "/api/v1/export.csv?kind=clients")
        assert sorted(r[0] for r in _rows(body)[1:]) == [str(i) for i in ids]

    def test_one_client_export_is_audited(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        db.commit()
        _export(api, settings, owner, f"/api/v1/clients/{client.id}/export.csv?kind=episodes")
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
        assert (event.actor_id, event.entity, event.client_id, event.detail) == (
            owner.id,
            "episode",
            client.id,
            "csv client",
        )


class TestStreaming:
    def test_keyset_batches_lose_and_repeat_nothing(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: sessionmaker[OrmSession],
        owner: User,
        client: Client,
    ) -> None:
        """2,500 rows, many sharing one time: batches of 7 page by (time, id) exactly."""
        now = utcnow()
        times = [NOW - timedelta(minutes=i // 10) for i in range(2_500)]
        rows = [
            {
                "id": uuid7(),
                "client_id": client.id,
                "observed_at": at,
                "source": "client",
                "zone": "within",
                "activation": i % 11,
                "created_at": now,
                "updated_at": now,
            }
            for i, at in enumerate(times)
        ]
        db.execute(insert(Observation), rows)
        db.commit()
        plan = plan_export(
            db, actor=Actor(owner), kind=CsvKind.OBSERVATIONS, client_id=client.id, today=NOW
        )
        pieces = list(iter_csv(session_factory, plan, tz=settings.timezone, batch=7))

        assert len(pieces) == 2_500 // 7 + 1
        exported = [r[0] for r in _rows("".join(pieces).encode())[1:]]
        expected = sorted(rows, key=lambda r: (r["observed_at"], r["id"]))
        assert exported == [str(r["id"]) for r in expected]

    def test_the_api_streams_in_pieces(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        now = utcnow()
        db.execute(
            insert(Observation),
            [
                {
                    "id": uuid7(),
                    "client_id": client.id,
                    "observed_at": NOW - timedelta(minutes=i),
                    "source": "client",
                    "zone": "hyper",
                    "activation": 8,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(4_100)
            ],
        )
        db.commit()
        with api.stream(
            "GET",
            f"/api/v1/clients/{client.id}/export.csv",
            headers=auth_headers(settings, owner),
        ) as response:
            assert response.status_code == 200
            # As sent: gzipped piece by piece (compression.py), still one piece per batch.
            encoding = response.headers.get("content-encoding")
            chunks = list(response.iter_raw())
        body = b"".join(chunks)
        if encoding == "gzip":
            body = gzip.decompress(body)
        assert len(chunks) >= 3  # one piece per batch of 2,000 rows
        assert len(_rows(body)) == 4_101


@pytest.fixture
def cli_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    password = {"PRACTICE_DASHBOARD_PASSWORD": "a long enough password"}
    with fresh_database() as url, cli_environment(monkeypatch, url, **password):
        yield url


def test_cli_export_refuses_unknown_users_and_clients(cli_database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli_app, ["migrate"]).exit_code == 0
    args = ["create-user", "--email", "t@example.org", "--role", "therapist", "--full-name", "T"]
    assert runner.invoke(cli_app, args).exit_code == 0
    out = tmp_path / "o.csv"
    base = ["export", "csv", "--kind", "observations", "--out", str(out)]

    result = runner.invoke(cli_app, [*base, "--as", "nobody@example.org"])
    assert (result.exit_code, result.output) == (
        1,
        "error: no active account with e-mail nobody@example.org\n",
    )

    result = runner.invoke(cli_app, [*base, "--as", "t@example.org", "--client", str(uuid7())])
    assert (result.exit_code, result.output) == (1, "error: Client not found\n")
    assert not out.exists()

    result = runner.invoke(cli_app, [*base, "--as", "t@example.org"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (",".join(COLUMNS[CsvKind.OBSERVATIONS]) + "\r\n").encode()
    assert not (tmp_path / "o.csv.part").exists()
