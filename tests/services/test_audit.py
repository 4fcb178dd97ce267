"""The audit trail: every read of a client's record, every write and every refusal; chained.

A failed write (422, 409) leaves no audit event; a refusal (403, 404, a failed login) leaves
one "denied"/"login_failed" row and the same answer; a write whose audit event cannot be
recorded is not written either. Every row is hash-chained and UPDATE/DELETE are refused.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, Observation, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services import audit
from tests.builders import (
    NOW,
    PASSWORD,
    auth_headers,
    login_cookies,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)

AT = (NOW - timedelta(hours=1)).isoformat()
# (action, entity, entity_id, client_id): what one event says happened to which record.
Event = tuple[str, str, str | None, uuid.UUID | None]


@dataclass
class Practice:
    owner: User
    supervisor: User
    admin: User
    client: Client
    session_id: uuid.UUID
    episode_id: uuid.UUID
    settings: Settings

    def headers(self, user: User | None = None) -> dict[str, str]:
        return auth_headers(self.settings, user or self.owner)

    @property
    def c(self) -> str:
        return f"/api/v1/clients/{self.client.id}"


@pytest.fixture
def practice(db: DbSession, settings: Settings) -> Practice:
    owner = make_user(db, settings, Role.THERAPIST)
    boss = make_user(db, settings, Role.SUPERVISOR)
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, boss, owner)
    client = make_client(db, owner)
    session = make_session(db, client)
    episode = make_episode(db, client)
    make_observation(db, client)
    make_measure(db, client)
    db.commit()
    return Practice(owner, boss, admin, client, session.id, episode.id, settings)


class AuditLog:
    """Reads the audit events added since it was created (or last reset)."""

    def __init__(self, db: DbSession) -> None:
        self.db = db
        self.reset()

    def reset(self) -> None:
        self.seen = set(self.db.scalars(select(AuditEvent.id)))

    def new(self) -> list[AuditEvent]:
        self.db.expire_all()
        return [e for e in self.db.scalars(select(AuditEvent)) if e.id not in self.seen]

    def summary(self) -> list[Event]:
        return sorted(
            ((e.action, e.entity, e.entity_id, e.client_id) for e in self.new()),
            key=repr,
        )

    def count(self) -> int:
        return self.db.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.fixture
def log(db: DbSession, practice: Practice) -> AuditLog:
    return AuditLog(db)


class TestReadsAreAudited:
    def test_reading_a_client(self, api: TestClient, practice: Practice, log: AuditLog) -> None:
        assert api.get(practice.c, headers=practice.headers()).status_code == 200
        [event] = log.new()
        assert (event.actor_id, event.action, event.entity) == (practice.owner.id, "read", "client")
        assert (event.entity_id, event.client_id) == (str(practice.client.id), practice.client.id)
        assert event.ip == "testclient"
        assert event.at is not None

    @pytest.mark.parametrize(
        ("path", "entity"),
        [
            ("/sessions", "session"),
            ("/observations", "observation"),
            ("/episodes", "episode"),
            ("/measures", "measure"),
        ],
    )
    def test_listing_a_clients_records(
        self, api: TestClient, practice: Practice, log: AuditLog, path: str, entity: str
    ) -> None:
        assert api.get(practice.c + path, headers=practice.headers()).status_code == 200
        assert log.summary() == [("list", entity, None, practice.client.id)]
        assert log.new()[0].actor_id == practice.owner.id

    def test_listing_clients(self, api: TestClient, practice: Practice, log: AuditLog) -> None:
        response = api.get("/api/v1/clients", headers=practice.headers())
        assert response.json()["total"] == 1
        [event] = log.new()
        assert (event.actor_id, event.action, event.entity, event.client_id) == (
            practice.owner.id,
            "list",
            "client",
            None,
        )
        assert event.detail == "1 of 1"

    def test_a_supervisors_reads_are_audited_as_theirs(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        assert api.get(practice.c, headers=practice.headers(practice.supervisor)).status_code == 200
        [event] = log.new()
        assert (event.actor_id, event.action) == (practice.supervisor.id, "read")

    def test_every_read_is_a_new_event(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        for _ in range(3):
            api.get(practice.c, headers=practice.headers())
        assert len(log.new()) == 3


def _writes(p: Practice) -> list[tuple[str, str, Any, Callable[[Response], list[Event]]]]:
    """(method, url, body, expected events given the response) for every write route."""
    c, cid = p.c, p.client.id

    def one(action: str, entity: str) -> Callable[[Response], list[Event]]:
        def expected(response: Response) -> list[Event]:
            body = response.json()
            client_id = uuid.UUID(body["id"]) if entity == "client" else cid
            return [(action, entity, body["id"], client_id)]

        return expected

    def batch(response: Response) -> list[Event]:
        return sorted((("create", "observation", o["id"], cid) for o in response.json()), key=repr)

    return [
        ("POST", "/api/v1/clients", {"display_name": "NEW"}, one("create", "client")),
        ("PATCH", c, {"goals": "g", "version": 1}, one("update", "client")),
        ("DELETE", c, None, one("archive", "client")),
        ("POST", f"{c}/sessions", {"starts_at": AT}, one("create", "session")),
        (
            "PATCH",
            f"/api/v1/sessions/{p.session_id}",
            {"notes": "n", "version": 1},
            one("update", "session"),
        ),
        ("DELETE", f"/api/v1/sessions/{p.session_id}", None, one("delete", "session")),
        (
            "POST",
            f"{c}/observations",
            {"observed_at": AT, "zone": "within", "activation": 2},
            one("create", "observation"),
        ),
        (
            "POST",
            f"{c}/observations",
            [{"observed_at": AT, "zone": "hyper", "activation": a} for a in (7, 8, 9)],
            batch,
        ),
        (
            "POST",
            f"{c}/episodes",
            {"started_at": AT, "peak_intensity": 6},
            one("create", "episode"),
        ),
        (
            "PATCH",
            f"/api/v1/episodes/{p.episode_id}",
            {"peak_intensity": 5, "version": 1},
            one("update", "episode"),
        ),
        (
            "POST",
            f"{c}/measures",
            {"instrument": "ors", "administered_at": AT, "total": 22},
            one("create", "measure"),
        ),
    ]


WRITE_IDS = [
    "create-client",
    "update-client",
    "archive-client",
    "create-session",
    "update-session",
    "delete-session",
    "create-observation",
    "create-observation-batch",
    "create-episode",
    "update-episode",
    "create-measure",
]


class TestWritesAreAudited:
    @pytest.mark.parametrize("case", range(len(WRITE_IDS)), ids=WRITE_IDS)
    def test_each_write_records_one_event_per_row(
        self, api: TestClient, practice: Practice, log: AuditLog, case: int
    ) -> None:
        method, url, body, expected = _writes(practice)[case]
        response = api.request(method, url, json=body, headers=practice.headers())
        assert response.status_code in (200, 201), response.text
        assert log.summary() == sorted(expected(response), key=repr)
        assert {e.actor_id for e in log.new()} == {practice.owner.id}

    def test_update_names_the_changed_fields(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        api.patch(
            practice.c,
            json={"goals": "g", "display_name": "NEW NAME", "version": 1},
            headers=practice.headers(),
        )
        [event] = log.new()
        assert event.detail == "display_name,goals"

    def test_restore(self, api: TestClient, practice: Practice, log: AuditLog) -> None:
        api.delete(practice.c, headers=practice.headers())
        log.reset()
        assert api.post(f"{practice.c}/restore", headers=practice.headers()).status_code == 200
        cid = practice.client.id
        assert log.summary() == [("restore", "client", str(cid), cid)]

    def test_account_writes(self, api: TestClient, practice: Practice, log: AuditLog) -> None:
        headers = practice.headers(practice.admin)
        created = api.post(
            "/api/v1/users",
            json={
                "email": "n@example.org",
                "full_name": "N",
                "role": "coach",
                "password": "a long enough passphrase",
            },
            headers=headers,
        ).json()
        link = api.post(
            f"/api/v1/users/{practice.supervisor.id}/supervisees",
            json={"supervisee_id": created["id"]},
            headers=headers,
        ).json()
        assert log.summary() == sorted(
            [("create", "user", created["id"], None), ("create", "supervision", link["id"], None)],
            key=repr,
        )

    def test_logins_and_failed_logins(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        email = practice.owner.email
        assert (
            api.post("/api/v1/auth/token", data={"username": email, "password": "nope"}).status_code
            == 401
        )
        assert (
            api.post(
                "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
            ).status_code
            == 200
        )
        owner = str(practice.owner.id)
        assert log.summary() == sorted(
            [("login_failed", "user", owner, None), ("login", "user", owner, None)], key=repr
        )

    def test_a_no_op_update_records_nothing(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        response = api.patch(
            practice.c,
            json={"display_name": practice.client.display_name, "version": 1},
            headers=practice.headers(),
        )
        assert response.status_code == 200
        assert response.json()["version"] == 1
        assert log.new() == []


class TestFailedWritesLeaveNoEvent:
    @pytest.mark.parametrize(
        ("method", "path", "body", "status"),
        [
            ("POST", "/observations", {"observed_at": AT, "zone": "within", "activation": 11}, 422),
            (
                "POST",
                "/observations",
                [
                    {"observed_at": AT, "zone": "within", "activation": 1},
                    {"observed_at": "2999-01-01T00:00:00Z", "zone": "within", "activation": 1},
                ],
                422,
            ),
            (
                "POST",
                "/measures",
                {"instrument": "phq9", "administered_at": AT, "items": [0] * 8},
                422,
            ),
            (
                "POST",
                "/episodes",
                {"started_at": AT, "peak_intensity": 4, "baseline_at": "2000-01-01T00:00:00Z"},
                422,
            ),
            (
                "PATCH",
                "",
                {"intake_date": "2030-01-01", "discharged_on": "2029-01-01", "version": 1},
                422,
            ),
            ("PATCH", "", {"goals": "stale", "version": 7}, 409),
            ("DELETE", "?version=7", None, 409),
            ("POST", "/restore?version=7", None, 409),
        ],
        ids=[
            "observation-range",
            "batch-future-row",
            "measure-items",
            "episode-order",
            "client-dates",
            "client-stale",
            "archive-stale",
            "restore-stale",
        ],
    )
    def test_client_scoped_failures(
        self,
        api: TestClient,
        practice: Practice,
        log: AuditLog,
        method: str,
        path: str,
        body: Any,
        status: int,
    ) -> None:
        response = api.request(method, practice.c + path, json=body, headers=practice.headers())
        assert response.status_code == status, response.text
        assert log.new() == []

    @pytest.mark.parametrize(
        ("kind", "body"),
        [
            ("sessions", {"notes": "stale", "version": 9}),
            ("episodes", {"peak_intensity": 1, "version": 9}),
        ],
    )
    def test_stale_record_patch(
        self, api: TestClient, practice: Practice, log: AuditLog, kind: str, body: Any
    ) -> None:
        record_id = practice.session_id if kind == "sessions" else practice.episode_id
        response = api.patch(f"/api/v1/{kind}/{record_id}", json=body, headers=practice.headers())
        assert response.status_code == 409
        assert log.new() == []

    def test_supervisor_write_is_403_with_only_the_refusal_recorded(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        response = api.post(
            f"{practice.c}/episodes",
            json={"started_at": AT, "peak_intensity": 3},
            headers=practice.headers(practice.supervisor),
        )
        assert response.status_code == 403
        [event] = log.new()
        assert (event.actor_id, event.action, event.entity, event.client_id) == (
            practice.supervisor.id,
            "denied",
            "request",
            None,
        )
        assert event.detail == f"403 POST {practice.c}/episodes"
        assert event.ip == "testclient"

    def test_duplicate_user_is_422_without_an_event(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        response = api.post(
            "/api/v1/users",
            json={
                "email": practice.owner.email.upper(),
                "full_name": "X",
                "role": "coach",
                "password": "a long enough passphrase",
            },
            headers=practice.headers(practice.admin),
        )
        assert response.status_code == 422
        assert log.new() == []


class TestAuditSharesTheTransaction:
    """If the audit event cannot be written, neither is the record (nor is the read answered)."""

    @pytest.fixture
    def broken_audit(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def fail(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("audit store unavailable")

        monkeypatch.setattr(audit, "record", fail)
        monkeypatch.setattr(audit, "record_many", fail)

    @pytest.mark.usefixtures("broken_audit")
    def test_create_client_is_rolled_back(
        self, api: TestClient, db: DbSession, practice: Practice, log: AuditLog
    ) -> None:
        with pytest.raises(RuntimeError, match="audit store unavailable"):
            api.post("/api/v1/clients", json={"display_name": "NEW"}, headers=practice.headers())
        assert db.scalar(select(func.count()).select_from(Client)) == 1
        assert log.new() == []

    @pytest.mark.usefixtures("broken_audit")
    def test_observation_batch_is_rolled_back(
        self, api: TestClient, db: DbSession, practice: Practice, log: AuditLog
    ) -> None:
        rows = [{"observed_at": AT, "zone": "within", "activation": a} for a in (1, 2)]
        with pytest.raises(RuntimeError):
            api.post(f"{practice.c}/observations", json=rows, headers=practice.headers())
        assert db.scalar(select(func.count()).select_from(Observation)) == 1

    @pytest.mark.usefixtures("broken_audit")
    def test_update_is_rolled_back(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        original = practice.client.display_name
        with pytest.raises(RuntimeError):
            api.patch(
                practice.c,
                json={"display_name": "CHANGED", "version": 1},
                headers=practice.headers(),
            )
        db.expire_all()
        stored = db.get(Client, practice.client.id)
        assert stored is not None
        assert (stored.display_name, stored.version) == (original, 1)
        assert original != "CHANGED"

    @pytest.mark.usefixtures("broken_audit")
    def test_an_unauditable_read_is_not_answered(self, api: TestClient, practice: Practice) -> None:
        with pytest.raises(RuntimeError):
            api.get(practice.c, headers=practice.headers())


class TestRefusalsAreRecorded:
    """A refusal leaves one row, written after the rollback; the answer is unchanged."""

    @pytest.fixture
    def stranger(self, db: DbSession, settings: Settings) -> User:
        user = make_user(db, settings, Role.THERAPIST)
        db.commit()
        return user

    def test_404_for_another_practitioners_client(
        self, api: TestClient, practice: Practice, log: AuditLog, stranger: User
    ) -> None:
        headers = practice.headers(stranger)
        nobody = f"/api/v1/clients/{uuid.uuid4()}/metrics"
        # The same answer as for a client that does not exist: the row is no oracle.
        expected = api.get(nobody, headers=headers)
        log.reset()
        response = api.get(f"{practice.c}/metrics", headers=headers)
        assert (response.status_code, response.json()) == (404, expected.json())
        [event] = log.new()
        assert (event.actor_id, event.action, event.entity, event.client_id) == (
            stranger.id,
            "denied",
            "request",
            None,
        )
        assert event.detail == f"404 GET {practice.c}/metrics"

    def test_404_on_a_page_is_recorded_too(
        self, api: TestClient, db: DbSession, practice: Practice, log: AuditLog, stranger: User
    ) -> None:
        cookies, _csrf = login_cookies(db, practice.settings, stranger)
        db.commit()
        log.reset()
        api.cookies.update(cookies)
        response = api.get(f"/clients/{practice.client.id}")
        assert response.status_code == 404
        assert [(e.action, e.detail) for e in log.new()] == [
            ("denied", f"404 GET /clients/{practice.client.id}")
        ]

    def test_a_head_request_is_recorded_as_head(
        self, api: TestClient, practice: Practice, log: AuditLog, stranger: User
    ) -> None:
        # Routed as its GET (middleware.HeadAsGet), but the trail names what was sent.
        log.reset()
        response = api.head(f"{practice.c}/metrics", headers=practice.headers(stranger))
        assert (response.status_code, response.content) == (404, b"")
        assert [(e.action, e.detail) for e in log.new()] == [
            ("denied", f"404 HEAD {practice.c}/metrics")
        ]

    def test_wrong_password(self, api: TestClient, practice: Practice, log: AuditLog) -> None:
        response = api.post(
            "/api/v1/auth/token", data={"username": practice.owner.email, "password": "wrong"}
        )
        assert response.status_code == 401
        assert log.summary() == [("login_failed", "user", str(practice.owner.id), None)]

    def test_unknown_account_is_recorded_without_the_address(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        known = api.post(
            "/api/v1/auth/token", data={"username": practice.owner.email, "password": "wrong"}
        )
        log.reset()
        response = api.post(
            "/api/v1/auth/token", data={"username": "nobody@example.org", "password": "wrong"}
        )
        assert (response.status_code, response.json()) == (401, known.json())
        [event] = log.new()
        assert (event.actor_id, event.action, event.entity_id, event.ip) == (
            None,
            "login_failed",
            None,
            "testclient",
        )
        assert "nobody" not in repr([event.detail, event.entity_id])

    def test_missing_token_is_not_a_refusal_row(
        self, api: TestClient, practice: Practice, log: AuditLog
    ) -> None:
        assert api.get(practice.c).status_code == 401
        assert log.new() == []


class TestListViewsNameTheClientsShown:
    @pytest.fixture
    def second(self, db: DbSession, practice: Practice) -> Client:
        client = make_client(db, practice.owner, display_name="Zed")
        db.commit()
        return client

    def test_client_list(
        self, api: TestClient, practice: Practice, log: AuditLog, second: Client
    ) -> None:
        response = api.get("/api/v1/clients", params={"limit": 1}, headers=practice.headers())
        shown = [item["id"] for item in response.json()["items"]]
        assert len(shown) == 1
        [event] = log.new()
        assert (event.action, event.entity, event.client_ids) == ("list", "client", shown)

    def test_caseload(
        self, api: TestClient, practice: Practice, log: AuditLog, second: Client
    ) -> None:
        response = api.get("/api/v1/caseload", headers=practice.headers())
        assert response.status_code == 200, response.text
        [event] = [e for e in log.new() if e.entity == "caseload"]
        assert sorted(event.client_ids or []) == sorted(
            str(i) for i in (practice.client.id, second.id)
        )


class TestTheChain:
    def test_rows_are_chained_in_order_and_verify(
        self, api: TestClient, db: DbSession, practice: Practice, log: AuditLog
    ) -> None:
        for _ in range(3):
            api.get(practice.c, headers=practice.headers())
        api.post(f"{practice.c}/episodes", json={"started_at": AT, "peak_intensity": 3})
        rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0].prev_hash == audit.GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
        report = audit.verify_chain(db, batch=2)
        assert (report.ok, report.checked) == (True, len(rows))

    def test_verify_names_the_first_changed_row(
        self, api: TestClient, db: DbSession, practice: Practice, log: AuditLog
    ) -> None:
        for _ in range(3):
            api.get(practice.c, headers=practice.headers())
        target = db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).offset(1)).first()
        assert target is not None
        seq, target_id = target.seq, target.id
        savepoint = db.begin_nested()
        try:
            _drop_append_only_triggers(db)
            db.execute(update(AuditEvent).where(AuditEvent.id == target_id).values(detail="x"))
            report = audit.verify_chain(db)
        finally:
            savepoint.rollback()  # the triggers come back
        assert (report.ok, report.broken_seq, report.broken_id) == (False, seq, target_id)
        assert report.checked == seq - 1
        assert "changed" in (report.problem or "")

    @pytest.mark.parametrize("change", ["update", "delete"])
    def test_the_database_refuses_to_change_audit_rows(
        self, api: TestClient, db: DbSession, practice: Practice, change: str
    ) -> None:
        api.get(practice.c, headers=practice.headers())
        statement = (
            update(AuditEvent).values(detail="edited") if change == "update" else delete(AuditEvent)
        )
        with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
            db.execute(statement)
        assert audit.verify_chain(db).ok


def _drop_append_only_triggers(db: DbSession) -> None:
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("DROP TRIGGER audit_event_no_update"))
    else:
        db.execute(text("DROP TRIGGER audit_event_no_change ON audit_event"))
