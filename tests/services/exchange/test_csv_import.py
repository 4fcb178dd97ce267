"""CSV import through the API, the service and the CLI; and the export → import round trip.

A problem is (row, column, message): row 1 is the header, as a spreadsheet numbers rows, and
row 0 the file as a whole. Every failed import is checked to have written nothing.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from practice_dashboard.cli.main import app as cli_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    Annotation,
    AuditEvent,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    User,
)
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import Attendance, Role, Source, Zone
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv.importer import (
    MAX_RECORD_BYTES,
    SeenKeys,
    import_csv,
    natural_key,
)
from practice_dashboard.services.exchange.csv.importer.bulk import BulkWriter, Refused
from practice_dashboard.services.exchange.csv.spec import COLUMNS, IMPORT_ORDER, SPECS, CsvKind
from tests.builders import (
    NOW,
    auth_headers,
    cli_environment,
    make_client,
    make_user,
    supervise,
)
from tests.databases import fresh_database

OBS = COLUMNS[CsvKind.OBSERVATIONS]
Problems = list[tuple[int, str | None, str]]


def _csv(header: Sequence[str], *rows: Sequence[object]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _obs(client: Client | None = None, **values: object) -> list[object]:
    """An observation row in export column order; `client` fills the client columns."""
    row: dict[str, object] = {
        "client_id": client.id if client else "",
        "client_external_ref": (client.external_ref or "") if client else "",
        "client_display_name": client.display_name if client else "",
        "observed_at": "2026-05-20T10:30:00+01:00",
        "source": "client",
        "zone": "within",
        "activation": 4,
    }
    row.update(values)
    return [row.get(name, "") for name in OBS]


def _post(
    api: TestClient,
    settings: Settings,
    user: User,
    kind: str,
    content: bytes,
    *,
    dry_run: bool = False,
) -> tuple[int, dict[str, Any]]:
    response = api.post(
        f"/api/v1/import.csv?kind={kind}&dry_run={'true' if dry_run else 'false'}",
        files={"file": ("upload.csv", content, "text/csv")},
        headers=auth_headers(settings, user),
    )
    return response.status_code, response.json()


def _problems(body: Mapping[str, Any]) -> Problems:
    return [(p["row"], p["column"], p["message"]) for p in body["problems"]]


def _count(db: DbSession, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def _audit(db: DbSession, entity: str) -> list[tuple[str, uuid.UUID | None, str | None]]:
    return [
        (e.action, e.client_id, e.detail)
        for e in db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith("import"), AuditEvent.entity == entity)
            .order_by(AuditEvent.client_id.is_not(None), AuditEvent.client_id)
        )
    ]


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner, display_name="Ana P", external_ref="R-1")
    db.commit()
    return client


class TestObservations:
    def test_imports_every_row_and_audits_it(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        given = uuid7()
        no_id = {"client_id": "", "client_display_name": ""}  # found by external_ref alone
        content = _csv(
            OBS,
            _obs(client, id=given, activation=7, capacity=3, notes="'=after work"),
            _obs(client, observed_at="2026-01-20T09:30:00Z", zone="hyper", **no_id),
        )

        status, body = _post(api, settings, owner, "observations", content)

        assert status == 200, body
        assert {k: body[k] for k in ("committed", "rows", "new", "already_present")} == {
            "committed": True,
            "rows": 2,
            "new": 2,
            "already_present": 0,
        }
        stored = db.scalars(select(Observation).order_by(Observation.observed_at)).all()
        assert [(o.zone, o.observed_at, o.client_id, o.recorded_by_id) for o in stored] == [
            (Zone.HYPER, datetime(2026, 1, 20, 9, 30, tzinfo=UTC), client.id, owner.id),
            (Zone.WITHIN, datetime(2026, 5, 20, 9, 30, tzinfo=UTC), client.id, owner.id),
        ]
        assert (stored[1].id, stored[1].activation, stored[1].capacity) == (given, 7, 3)
        assert stored[1].notes == "=after work"  # the formula guard's quote is taken off
        assert stored[1].source == Source.CLIENT
        assert _audit(db, "observation") == [
            # Never the file's name: it can carry a client's name (issue 12, item 8).
            ("import", None, "csv: 2 rows, 2 new, 0 already present, 0 problems"),
            ("import", client.id, "csv: 2 new, 0 already present"),
        ]

    def test_the_guard_quote_comes_off_every_guarded_start(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        """Defect 4: the import reverses the one guard, full-width and indented starts too."""
        notes = ["'＝HYPERLINK(1)", "'＠risk", "''=x", "'tis fine"]
        content = _csv(
            OBS,
            *(
                _obs(client, observed_at=f"2026-05-2{i}T10:30:00+01:00", notes=n)
                for i, n in enumerate(notes)
            ),
        )
        status, body = _post(api, settings, owner, "observations", content)
        assert status == 200, body
        stored = db.scalars(select(Observation.notes).order_by(Observation.observed_at)).all()
        assert stored == ["＝HYPERLINK(1)", "＠risk", "'=x", "'tis fine"]

    def test_a_dry_run_reports_and_writes_nothing(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        status, body = _post(
            api, settings, owner, "observations", _csv(OBS, _obs(client)), dry_run=True
        )
        assert status == 200
        assert (body["dry_run"], body["committed"], body["new"]) == (True, False, 1)
        assert _count(db, Observation) == 0
        assert [a for a, _c, _d in _audit(db, "observation")] == ["import_dry_run"] * 2

    def test_importing_the_same_file_twice_adds_nothing(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        content = _csv(
            OBS,
            _obs(client, id=uuid7()),
            _obs(client, observed_at="2026-05-21T08:00:00+01:00"),  # no id: natural key
            _obs(client, observed_at="2026-05-21T08:00:00+01:00", activation=5),
        )
        assert _post(api, settings, owner, "observations", content)[1]["new"] == 3

        status, body = _post(api, settings, owner, "observations", content)

        assert status == 200
        assert (body["committed"], body["new"], body["already_present"]) == (True, 0, 3)
        assert _count(db, Observation) == 3

    def test_an_id_in_another_spelling_is_the_same_id(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        given = uuid7()
        first = _csv(OBS, _obs(client, id=str(given).upper()))
        assert _post(api, settings, owner, "observations", first)[1]["new"] == 1
        assert db.scalars(select(Observation.id)).one() == given
        again = _csv(OBS, _obs(client, id=given.hex), _obs(client, id=f"{{{given}}}"))
        status, body = _post(api, settings, owner, "observations", again)
        assert (status, _problems(body)) == (
            422,
            [(3, "id", "duplicate row: the same id is on row 2")],
        )

    def test_duplicate_rows_within_a_file(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        same = uuid7()
        content = _csv(
            OBS,
            _obs(client, id=same),
            _obs(client, observed_at="2026-05-22T08:00:00+01:00"),
            _obs(client, id=same, activation=9),
            _obs(client, observed_at="2026-05-22T07:00:00Z"),  # the same instant as row 3
        )
        status, body = _post(api, settings, owner, "observations", content)
        assert status == 422
        assert _problems(body) == [
            (4, "id", "duplicate row: the same id is on row 2"),
            (5, None, "duplicate row: same client, observed_at, source, zone, activation as row 3"),
        ]
        assert _count(db, Observation) == 0


class TestBadFiles:
    def _refused(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        user: User,
        content: bytes,
        kind: str = "observations",
    ) -> Problems:
        before = _count(db, Observation)
        status, body = _post(api, settings, user, kind, content)
        assert status == 422, body
        assert (body["committed"], body["problem_count"]) == (False, len(body["problems"]))
        assert _count(db, Observation) == before
        assert _audit(db, "observation")[0][0] == "import_refused"
        return _problems(body)

    def test_header_problems(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        header = ["client_id", "observed_at", "zone", "zone", "Mood"]
        assert self._refused(api, db, settings, owner, _csv(header, [client.id])) == [
            (1, "zone", "this column appears twice"),
            (1, "mood", "unknown column 'mood' for observations"),
            (1, "activation", "missing column"),
        ]
        no_client = _csv(["observed_at", "zone", "activation"], ["2026-05-01T10:00:00Z", "hypo", 1])
        assert self._refused(api, db, settings, owner, no_client) == [
            (1, "client_id", "missing column (or client_external_ref)")
        ]

    def test_every_bad_cell_is_reported_by_row_and_column(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        content = _csv(
            OBS,
            _obs(client),  # fine
            _obs(client, observed_at="20/05/2026 10:30"),
            _obs(client, observed_at="2026-05-20T10:30:00"),
            _obs(client, activation=11, capacity=-1),
            _obs(client, activation="4.5", zone="calm"),
            _obs(client, observed_at="2099-01-01T00:00:00Z", id="not-an-id"),
            _obs(client, session_id=uuid7(), observed_at="2026-05-02T10:00:00Z"),
            _obs(client)[:5],
        )
        assert self._refused(api, db, settings, owner, content) == [
            (3, "observed_at", "is not a date and time like 2026-03-01T14:30:00+00:00 "
             "(got '20/05/2026 10:30')"),
            (4, "observed_at", "needs a UTC offset, as in 2026-03-01T14:30:00+00:00 "
             "(got '2026-05-20T10:30:00')"),
            (5, "activation", "must be at most 10 (got 11)"),
            (5, "capacity", "must be at least 0 (got -1)"),
            (6, "activation", "is not a whole number (got '4.5')"),
            (6, "zone", "must be one of 'within', 'hyper' or 'hypo' (got 'calm')"),
            (7, "id", "is not a valid id (a UUID) (got 'not-an-id')"),
            (8, "session_id", "no session with this id for this client"),
            (9, None, "has 5 cells; the header has 15"),
        ]  # fmt: skip

    def test_an_implausible_time_is_refused_naming_its_column(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        """Issue 12: a year-1 time used to be stored, then broke that client's exports."""
        content = _csv(
            OBS,
            _obs(client, observed_at="0001-01-01T00:00:00Z"),
            _obs(client, observed_at="9999-12-31T23:59:59+05:00"),
            _obs(client, observed_at="9999-12-31T23:59:59-05:00"),
            _obs(client, observed_at="1899-12-31T12:00:00Z"),
        )
        problems = self._refused(api, db, settings, owner, content)
        assert [(row, column) for row, column, _msg in problems] == [
            (2, "observed_at"),
            (3, "observed_at"),
            (4, "observed_at"),
            (5, "observed_at"),
        ]
        assert "between 1900-01-01 and 2100-12-31" in problems[0][2]

    def test_an_annotation_beyond_the_planning_horizon_is_refused(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        header = COLUMNS[CsvKind.ANNOTATIONS]
        row = {"client_id": client.id, "at": "2099-01-01T00:00:00Z", "kind": "other", "label": "x"}
        content = _csv(header, [row.get(name, "") for name in header])
        status, body = _post(api, settings, owner, "annotations", content)
        assert status == 422, body
        assert _problems(body) == [(2, "at", "must not be more than five years ahead")]

    def test_a_future_time_is_refused_like_the_api_does(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        content = _csv(OBS, _obs(client, observed_at="2099-01-01T00:00:00Z"))
        assert self._refused(api, db, settings, owner, content) == [
            (2, "observed_at", "must not be in the future")
        ]

    def test_clients_the_importer_may_not_change(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        other = make_client(db, make_user(db, settings), external_ref="R-9")
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, owner)
        twin = make_client(db, owner, external_ref="TWIN")
        make_client(db, owner, external_ref="TWIN")
        db.commit()
        content = _csv(
            OBS,
            _obs(other),
            _obs(None, client_id=uuid7()),
            _obs(None, client_external_ref="R-9"),
            _obs(client, client_external_ref="R-2"),
            _obs(None, client_external_ref="TWIN"),
            _obs(None, client_display_name=twin.display_name),
        )
        mine = "among the clients you can change"
        assert self._refused(api, db, settings, owner, content) == [
            (2, "client_id", f"no client with this id {mine}"),
            (3, "client_id", f"no client with this id {mine}"),
            (4, "client_external_ref", f"no client with this external_ref {mine}"),
            (5, "client_external_ref",
             "does not match the client with this client_id (its external_ref is R-1)"),
            (6, "client_external_ref", "2 of your clients have this external_ref; give client_id"),
            (7, "client_id", "is required (or give client_external_ref)"),
        ]  # fmt: skip
        # Supervision is read-only: a supervisor cannot import into a supervisee's client.
        assert self._refused(api, db, settings, supervisor, _csv(OBS, _obs(client))) == [
            (2, "client_id", f"no client with this id {mine}")
        ]

    def test_encodings(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        latin = _csv(OBS, _obs(client), _obs(client, notes="café")).decode().encode("cp1252")
        assert self._refused(api, db, settings, owner, latin) == [
            (3, None, "the file is not UTF-8 text (byte 0xe9 cannot be read); save it as CSV "
             "UTF-8 and import it again"),
        ]  # fmt: skip
        utf16 = _csv(OBS, _obs(client)).decode().encode("utf-16")
        assert self._refused(api, db, settings, owner, utf16) == [
            (0, None, "the file is UTF-16 text; save it as CSV UTF-8")
        ]
        with_bom = b"\xef\xbb\xbf" + _csv(OBS, _obs(client, notes="café ☕"))
        status, body = _post(api, settings, owner, "observations", with_bom)
        assert (status, body["new"]) == (200, 1)
        assert db.scalars(select(Observation.notes)).one() == "café ☕"

    def test_empty_and_malformed_files(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        assert self._refused(api, db, settings, owner, b"") == [
            (0, None, "the file is empty: a header row is needed")
        ]
        assert self._refused(api, db, settings, owner, b"\r\n\r\n") == [
            (0, None, "the file is empty: a header row is needed")
        ]
        bad_quotes = _csv(OBS, _obs(client)) + b'"x"y,z\r\n'
        assert self._refused(api, db, settings, owner, bad_quotes) == [
            (3, None, "not valid CSV: ',' expected after '\"'")
        ]

    def test_a_line_over_the_limit_stops_the_import(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        huge = _csv(OBS, _obs(client)) + b"x" * (MAX_RECORD_BYTES + 10) + b"\r\n"
        assert self._refused(api, db, settings, owner, huge) == [
            (3, None, "this row is longer than 1,048,576 bytes; reading stopped "
             "(is this a CSV file?)"),
        ]  # fmt: skip

    def test_a_100_mb_line_is_refused_after_reading_about_1_mb(
        self, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        class Endless(io.RawIOBase):
            """A 100 MB file of one line, made up as it is read."""

            def __init__(self) -> None:
                self.left = 100 * 1024 * 1024
                self.served = 0

            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                n = min(len(buffer), self.left)
                buffer[:n] = b"a" * n
                self.left -= n
                self.served += n
                return n

        source = Endless()
        report = import_csv(
            db,
            actor=Actor(owner),
            kind=CsvKind.OBSERVATIONS,
            stream=io.BufferedReader(source),
            settings=settings,
            dry_run=False,
        )
        assert [str(p) for p in report.problems] == [
            "row 1: this row is longer than 1,048,576 bytes; reading stopped (is this a CSV file?)"
        ]
        assert source.served < MAX_RECORD_BYTES + 64 * 1024


class TestOtherKinds:
    def test_sessions(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        header = COLUMNS[CsvKind.SESSIONS]

        def row(**values: object) -> list[object]:
            base: dict[str, object] = {
                "client_id": client.id,
                "starts_at": "2026-05-01T09:00:00+01:00",
                "attendance": "attended",
                "engagement": 6,
                "homework_assigned": "true",
            }
            return [{**base, **values}.get(name, "") for name in header]

        bad = _csv(
            header,
            row(attendance="cancelled"),
            row(duration_minutes=0, engagement=""),
            row(homework_assigned="maybe", engagement=""),
        )
        status, body = _post(api, settings, owner, "sessions", bad)
        assert status == 422
        assert _problems(body) == [
            (2, "engagement", "engagement can only be rated for an attended session"),
            (3, "duration_minutes", "must be at least 1 (got 0)"),
            (4, "homework_assigned", "must be true or false (got 'maybe')"),
        ]
        good = _csv(header, row(archived_at="2026-05-02T09:00:00+01:00", notes="late"))
        status, body = _post(api, settings, owner, "sessions", good)
        assert (status, body["new"]) == (200, 1)
        session = db.scalars(select(Session)).one()
        assert (session.practitioner_id, session.attendance, session.homework_assigned) == (
            owner.id,
            Attendance.ATTENDED,
            True,
        )
        assert session.archived_at == datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
        assert session.version == 1

    def test_episodes(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        header = ["client_external_ref", "started_at", "recognized_at", "peak_intensity",
                  "strategies", "recovery_minutes"]  # fmt: skip
        content = _csv(
            header,
            ["R-1", "2026-05-01T09:00:00Z", "2026-05-01T09:05:00Z", 8, "walk; cold water", 999],
            ["R-1", "2026-05-02T09:00:00Z", "", 5, '["breathing", "call a friend"]', ""],
            ["R-1", "2026-05-03T09:00:00Z", "2026-05-03T08:00:00Z", 5, "[1", ""],
        )
        status, body = _post(api, settings, owner, "episodes", content)
        assert _problems(body) == [
            (4, "strategies", "is not a JSON list like [1, 0, 2] (got '[1')"),
            (4, "recognized_at", "must not be before started_at (got '2026-05-03T08:00:00Z')"),
        ]
        content = _csv(header, *_rows_of(content)[1:3])
        status, body = _post(api, settings, owner, "episodes", content)
        assert (status, body["new"]) == (200, 2)
        episodes = db.scalars(select(Episode).order_by(Episode.started_at)).all()
        assert [e.strategies for e in episodes] == [
            ["walk", "cold water"],
            ["breathing", "call a friend"],
        ]
        assert episodes[0].recovery_minutes is None  # derived columns are never imported
        before = _csv(header[:4], ["R-1", "2026-05-03T09:00:00Z", "2026-05-03T08:00:00Z", 5])
        assert _problems(_post(api, settings, owner, "episodes", before)[1]) == [
            (2, "recognized_at", "must not be before started_at (got '2026-05-03T08:00:00Z')")
        ]

    def test_measures_are_scored_as_the_api_scores_them(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        header = COLUMNS[CsvKind.MEASURES]

        def row(instrument: str, items: str, total: str = "", severity: str = "") -> list[str]:
            values = {
                "client_id": str(client.id),
                "instrument": instrument,
                "administered_at": "2026-05-01T09:00:00Z",
                "items": items,
                "total": total,
                "severity": severity,
            }
            return [values.get(name, "") for name in header]

        bad = _csv(header, row("phq9", "[1, 4, 0, 0, 0, 0, 0, 0, 0]"), row("ors", "", "41"))
        assert _problems(_post(api, settings, owner, "measures", bad)[1]) == [
            (2, "items", "item 2 must be between 0 and 3"),
            (3, "total", "ORS total must be between 0 and 40"),
        ]
        good = _csv(
            header,
            row("phq9", "[2, 2, 2, 2, 2, 2, 2, 2, 1]", total="3", severity="minimal"),
            row("ors", "", "32.5"),
        )
        status, body = _post(api, settings, owner, "measures", good)
        assert (status, body["new"]) == (200, 2)
        phq9, ors = db.scalars(select(Measure).order_by(Measure.instrument.desc())).all()
        assert (phq9.total, phq9.severity) == (17.0, "moderately_severe")  # scored, not copied
        assert ors.total == 32.5

    def test_annotations(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        header = ["client_id", "at", "kind", "label", "notes"]
        content = _csv(
            header,
            [client.id, "2026-04-01T12:00:00+01:00", "medication", "Started sertraline", ""],
            [client.id, "2026-04-02T12:00:00+01:00", "holiday", "", ""],
        )
        assert _problems(_post(api, settings, owner, "annotations", content)[1]) == [
            (3, "kind",
             "must be one of 'life_event', 'medication', 'care_change' or 'other' (got 'holiday')"),
            (3, "label", "is required"),
        ]  # fmt: skip
        assert _count(db, Annotation) == 0

    def test_clients_are_created_for_the_importer(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User
    ) -> None:
        header = COLUMNS[CsvKind.CLIENTS]
        taken = make_client(db, make_user(db, settings))
        db.commit()

        def row(**values: object) -> list[object]:
            base = {"display_name": "New One", "intake_date": "2026-02-01", "status": "active"}
            return [{**base, **values}.get(name, "") for name in header]

        content = _csv(header, row(id=uuid7(), external_ref="N-1"), row(display_name="Second"))
        status, body = _post(api, settings, owner, "clients", content)
        assert (status, body["new"]) == (200, 2)
        created = db.scalars(
            select(Client).where(Client.practitioner_id == owner.id).order_by(Client.display_name)
        ).all()
        assert [(c.display_name, c.external_ref, c.intake_date) for c in created] == [
            ("New One", "N-1", date(2026, 2, 1)),
            ("Second", None, date(2026, 2, 1)),
        ]
        assert _post(api, settings, owner, "clients", content)[1]["already_present"] == 2
        clash = _csv(header, row(id=taken.id), row(intake_date="", discharged_on="2026-01-01"))
        assert _problems(_post(api, settings, owner, "clients", clash)[1]) == [
            (2, "id", "this id is already used by another record"),
            (3, "intake_date", "is required"),
        ]
        admin = make_user(db, settings, Role.ADMIN)
        db.commit()
        assert _problems(_post(api, settings, admin, "clients", content)[1]) == [
            (0, None, "admin accounts cannot import clinical records")
        ]


def _rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(), newline="")))


class TestDocumentedFormat:
    def test_the_documented_headers_and_template_are_what_the_code_does(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User
    ) -> None:
        docs = Path(__file__).resolve().parents[3] / "docs" / "csv-format.md"
        example, headers = re.findall(r"```csv\n(.*?)```", docs.read_text(), re.DOTALL)
        assert headers.splitlines() == [",".join(COLUMNS[k]) for k in IMPORT_ORDER]
        make_client(db, owner, external_ref="AB-12")
        db.commit()
        status, body = _post(api, settings, owner, "observations", example.encode())
        assert (status, body["new"]) == (200, 2)
        notes = db.scalars(select(Observation.notes).order_by(Observation.observed_at)).all()
        assert notes == ["after a walk", "argument with partner, slept badly"]

    def test_the_documented_column_types_and_required_columns_are_the_spec(self) -> None:
        docs = (Path(__file__).resolve().parents[3] / "docs" / "csv-format.md").read_text()
        tables = docs.split("## The columns", 1)[1].split("## Templates", 1)[0]
        for section in tables.split("### ")[1:]:
            kind, _, body = section.partition("\n")
            spec = SPECS[CsvKind(kind.strip())]
            documented: dict[str, tuple[str, bool]] = {}
            for line in body.splitlines():
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) != 3 or not cells[0].startswith("`"):
                    continue
                for name in re.findall(r"`([a-z_]+)`", cells[0]):
                    documented[name] = (cells[1], cells[2].startswith("required"))
            assert list(documented) == [c.name for c in spec.columns], kind
            for column in spec.columns:
                doc_type, doc_required = documented[column.name]
                assert doc_required == column.required, (kind, column.name)
                if doc_type:  # the client columns and derived measure columns name no type
                    assert doc_type == column.type.name, (kind, column.name)


class TestLargeFiles:
    def test_streams_in_chunks_with_duplicates_found_across_them(
        self, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        rows = [
            _obs(client, id=uuid7(), observed_at=(NOW - timedelta(minutes=i)).isoformat())
            for i in range(3_000)
        ]
        rows[2_898] = rows[8]  # row 2,900 repeats row 10 (the header is row 1)

        def run(content: bytes) -> tuple[Any, list[int]]:
            seen: list[int] = []
            report = import_csv(
                db,
                actor=Actor(owner),
                kind=CsvKind.OBSERVATIONS,
                stream=io.BytesIO(content),
                settings=settings,
                dry_run=False,
                on_progress=seen.append,
                chunk_rows=500,
            )
            return report, seen

        report, _seen = run(_csv(OBS, *rows))
        assert [str(p) for p in report.problems] == [
            "row 2900, column id: duplicate row: the same id is on row 10"
        ]
        assert (report.committed, _count(db, Observation)) == (False, 0)

        rows[2_898] = _obs(client, observed_at="2026-05-01T00:00:00Z")
        content = _csv(OBS, *rows)
        report, seen = run(content)
        assert (report.committed, report.new, _count(db, Observation)) == (True, 3_000, 3_000)
        assert seen == sorted(seen)
        assert (len(seen), seen[-1]) == (7, len(content))

    def test_a_chunk_the_database_refuses_fails_the_import(
        self,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Every rule is checked before writing; if the database still says no, it is a problem."""
        written: list[int] = []
        real_write = BulkWriter.write

        def write(self: Any, rows: Sequence[tuple[Any, ...]]) -> None:
            if written:
                raise Refused("deadlock detected\nDETAIL: …")
            written.append(len(rows))
            real_write(self, rows)

        monkeypatch.setattr(BulkWriter, "write", write)
        rows = [
            _obs(client, observed_at=(NOW - timedelta(minutes=i)).isoformat()) for i in range(250)
        ]
        report = import_csv(
            db,
            actor=Actor(owner),
            kind=CsvKind.OBSERVATIONS,
            stream=io.BytesIO(_csv(OBS, *rows)),
            settings=settings,
            dry_run=False,
            chunk_rows=100,
        )
        assert [str(p) for p in report.problems] == [
            "row 102: the database refused rows 102–201: deadlock detected"
        ]
        assert (written, report.committed, _count(db, Observation)) == ([100], False, 0)

    def test_seen_keys_finds_every_repeat_and_its_first_row(self) -> None:
        rng = random.Random(7)
        keys = [rng.randbytes(16) for _ in range(20_000)]
        seen = SeenKeys()
        found: dict[int, int] = {}
        row = 1
        for start in range(0, 30_000, 1_000):
            chunk = [keys[(start + i) % 20_000] for i in range(1_000)]
            rows = list(range(row + 1, row + 1 + len(chunk)))
            for r, first in zip(rows, seen.check_and_add(chunk, rows), strict=True):
                if first is not None:
                    found[r] = first
            row += len(chunk)
        assert len(seen) == 20_000
        assert found == {r: r - 20_000 for r in range(20_002, 30_002)}

    def test_natural_keys_ignore_how_a_time_was_written(self) -> None:
        client_id = uuid7().hex
        summer = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
        local = summer.astimezone(ZoneInfo("Europe/London"))
        assert natural_key(client_id, (summer, "client")) == natural_key(
            client_id, (local, Source.CLIENT)
        )
        assert natural_key(client_id, (summer, "client")) != natural_key(
            uuid7().hex, (summer, "client")
        )


# --------------------------------------------------------------------------------------------
# The CLI and the round trip into an empty database
# --------------------------------------------------------------------------------------------


@pytest.fixture
def empty_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second, empty database that the CLI uses (through the environment)."""
    password = {"PRACTICE_DASHBOARD_PASSWORD": "a long enough password"}
    with fresh_database() as url, cli_environment(monkeypatch, url, **password):
        runner = CliRunner()
        assert runner.invoke(cli_app, ["migrate"]).exit_code == 0
        create = ["create-user", "--email", "new@example.org", "--role", "therapist"]
        assert runner.invoke(cli_app, [*create, "--full-name", "New"]).exit_code == 0
        yield url


def _record(api: TestClient, headers: dict[str, str], path: str, body: object) -> Any:
    response = api.post(f"/api/v1/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _a_full_record(api: TestClient, headers: dict[str, str]) -> str:
    """A client with every kind of record, through the API, with awkward values everywhere."""
    client = _record(
        api,
        headers,
        "clients",
        {
            "display_name": '=Zoë, "Z" O\'Neil',
            "external_ref": "-042",
            "date_of_birth": "1990-02-03",
            "intake_date": "2026-01-05",
            "goals": "Sleep better;\nnotice activation sooner\r\n+ rest",
            "session_cadence_days": 14,
        },
    )
    cid = client["id"]
    first = _record(
        api,
        headers,
        f"clients/{cid}/sessions",
        {"starts_at": "2026-03-29T00:30:00Z", "attendance": "attended", "engagement": 7,
         "homework_assigned": True, "notes": "@home, \"tired\""},
    )  # fmt: skip
    gone = _record(
        api, headers, f"clients/{cid}/sessions", {"starts_at": "2026-04-05T09:00:00+01:00"}
    )
    api.delete(f"/api/v1/sessions/{gone['id']}", headers=headers).raise_for_status()
    _record(
        api,
        headers,
        f"clients/{cid}/observations",
        [
            {"observed_at": "2026-03-29T00:30:00Z", "session_id": first["id"], "zone": "hyper",
             "activation": 8, "capacity": 2, "safety": 9, "body_connection": 3,
             "notes": "-2 hours of sleep"},
            {"observed_at": "2026-06-01T08:15:30.250000+01:00", "source": "client",
             "zone": "within", "activation": 0, "notes": "\tcalm ☀"},
            {"observed_at": "2026-06-02T08:00:00+01:00", "zone": "hypo", "activation": 2},
        ],
    )  # fmt: skip
    _record(
        api,
        headers,
        f"clients/{cid}/episodes",
        {"started_at": "2026-04-01T10:00:00Z", "recognized_at": "2026-04-01T10:07:30Z",
         "baseline_at": "2026-04-01T11:00:00Z", "peak_intensity": 9, "trigger": "=row",
         "trigger_category": "conflict", "strategies": ["walk", "cold; water", "'=x"],
         "self_compassion": 4, "session_id": first["id"]},
    )  # fmt: skip
    for body in (
        {"instrument": "phq9", "administered_at": "2026-02-01T09:00:00Z",
         "items": [2, 2, 1, 1, 0, 1, 2, None, 1]},
        {"instrument": "gad7", "administered_at": "2026-02-01T09:05:00Z",
         "items": [1, 1, 1, 1, 1, 1, 1], "source": "practitioner"},
        {"instrument": "ors", "administered_at": "2026-03-01T09:00:00Z", "total": 27.4},
    ):  # fmt: skip
        measure = _record(api, headers, f"clients/{cid}/measures", body)
    # Entered in error, with a reason the formula guard must carry across: kept both ways.
    api.patch(
        f"/api/v1/measures/{measure['id']}",
        json={"status": "entered_in_error", "status_reason": '=typo, "wrong" client',
              "version": 1},
        headers=headers,
    ).raise_for_status()  # fmt: skip
    note = _record(
        api,
        headers,
        f"clients/{cid}/annotations",
        {"at": "2026-02-14T12:00:00Z", "kind": "medication", "label": "+ sertraline 50 mg"},
    )
    _record(
        api,
        headers,
        f"clients/{cid}/annotations",
        {"at": "2026-05-01T12:00:00Z", "kind": "life_event", "label": "Moved", "notes": "é"},
    )
    api.delete(f"/api/v1/annotations/{note['id']}", headers=headers).raise_for_status()
    return str(cid)


def test_round_trip_into_an_empty_database_gives_identical_files(
    api: TestClient, db: DbSession, settings: Settings, owner: User, empty_database: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    headers = auth_headers(settings, owner)
    cid = _a_full_record(api, headers)
    exported = {}
    for kind in IMPORT_ORDER:
        response = api.get(f"/api/v1/clients/{cid}/export.csv?kind={kind.value}", headers=headers)
        assert response.status_code == 200
        exported[kind] = response.content
        (tmp_path / f"{kind.value}.csv").write_bytes(response.content)
    assert [len(_rows_of(exported[k])) - 1 for k in IMPORT_ORDER] == [1, 2, 3, 1, 3, 2]

    runner = CliRunner()
    for kind in IMPORT_ORDER:
        file = str(tmp_path / f"{kind.value}.csv")
        args = ["import", "csv", file, "--kind", kind.value, "--as", "new@example.org"]
        result = runner.invoke(cli_app, [*args, "--progress"])
        assert result.exit_code == 0, result.output
        assert "problem" not in result.output
    for kind in IMPORT_ORDER:
        out = tmp_path / f"again-{kind.value}.csv"
        result = runner.invoke(
            cli_app,
            ["export", "csv", "--kind", kind.value, "--client", cid, "--out", str(out),
             "--as", "new@example.org"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == exported[kind], kind

    # And again: every row is already there, so nothing is added.
    args = ["import", "csv", str(tmp_path / "observations.csv"), "--kind", "observations"]
    result = runner.invoke(cli_app, [*args, "--as", "new@example.org"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == (
        "imported 0 new observations; 3 data rows read, 3 already present, 1 client(s)"
    )


def test_cli_dry_run_prints_every_problem_and_writes_nothing(
    empty_database: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    file = tmp_path / "clients.csv"
    header = COLUMNS[CsvKind.CLIENTS]
    file.write_bytes(
        _csv(
            header,
            ["", "A", "", "", "active", "2026-01-01"] + [""] * 4,
            ["", "", "", "", "retired", "2026-01-01"] + [""] * 4,
        )
    )
    base = ["import", "csv", str(file), "--kind", "clients", "--as", "new@example.org"]

    result = runner.invoke(cli_app, [*base, "--dry-run"])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "problem: row 3, column display_name: is required",
        "problem: row 3, column status: must be one of 'active', 'paused' or 'discharged' "
        "(got 'retired')",
        "nothing imported: 2 problem(s); 2 data rows read, 0 already present, 1 client(s)",
    ]
    file.write_bytes(_csv(header, ["", "A", "", "", "active", "2026-01-01"] + [""] * 4))
    result = runner.invoke(cli_app, [*base, "--dry-run"])
    assert (result.exit_code, result.output.splitlines()[-1]) == (
        0,
        "dry run: 1 new clients would be imported; 1 data rows read, 0 already present, "
        "1 client(s)",
    )
    result = runner.invoke(cli_app, [*base, "--dry-run"])  # still nothing written
    assert "1 new clients would be imported" in result.output
    assert os.environ["DATABASE_URL"] == empty_database
