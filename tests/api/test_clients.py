"""Clients through the JSON API: list (filters, stable paging), create, read, update, archive."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, User
from practice_dashboard.models.enums import ClientStatus, Role
from tests.builders import (
    NOW,
    auth_headers,
    make_client,
    make_observation,
    make_session,
    make_user,
    supervise,
)

CLIENTS = "/api/v1/clients"


@pytest.fixture
def therapist(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings, Role.THERAPIST)
    db.commit()
    return user


@pytest.fixture
def headers(settings: Settings, therapist: User) -> dict[str, str]:
    return auth_headers(settings, therapist)


def _client_count(db: DbSession) -> int:
    return db.scalar(select(func.count()).select_from(Client)) or 0


def _ids(response_json: dict[str, Any]) -> list[str]:
    return [item["id"] for item in response_json["items"]]


def _read(api: TestClient, headers: dict[str, str], client_id: uuid.UUID | str) -> Any:
    response = api.get(f"{CLIENTS}/{client_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestListPaging:
    # Upper-case ASCII names only: SQLite (binary) and PostgreSQL (locale) collations agree.
    NAMES = ("MAPLE", "ALDER", "BIRCH", "BIRCH", "BIRCH", "CEDAR", "ASPEN")

    def test_pages_cover_every_client_exactly_once_by_name_then_id(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        clients = [make_client(db, therapist, display_name=name) for name in self.NAMES]
        db.commit()
        expected = [str(c.id) for c in sorted(clients, key=lambda c: (c.display_name, str(c.id)))]

        seen: list[str] = []
        for offset in (0, 3, 6):
            response = api.get(CLIENTS, params={"limit": 3, "offset": offset}, headers=headers)
            assert response.status_code == 200
            body = response.json()
            assert (body["total"], body["limit"], body["offset"]) == (7, 3, offset)
            seen += _ids(body)

        assert seen == expected
        assert len(set(seen)) == 7

    def test_page_past_the_end_is_empty_with_the_total(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        make_client(db, therapist)
        db.commit()
        response = api.get(CLIENTS, params={"limit": 5, "offset": 5}, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 1, "limit": 5, "offset": 5}

    def test_default_page(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        make_client(db, therapist)
        db.commit()
        body = api.get(CLIENTS, headers=headers).json()
        assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (1, 50, 0, 1)


class TestListFilters:
    def test_status(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        make_client(db, therapist, display_name="ACTIVE ONE")
        paused = make_client(db, therapist, display_name="PAUSED", status=ClientStatus.PAUSED)
        make_client(
            db,
            therapist,
            display_name="DONE",
            status=ClientStatus.DISCHARGED,
            discharged_on=date(2026, 3, 1),
        )
        db.commit()
        body = api.get(CLIENTS, params={"status": "paused"}, headers=headers).json()
        assert _ids(body) == [str(paused.id)]
        assert body["total"] == 1

    def test_practitioner_id_narrows_a_supervisors_view(
        self, api: TestClient, db: DbSession, settings: Settings, therapist: User
    ) -> None:
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, therapist)
        own = make_client(db, boss, display_name="OWN")
        theirs = {make_client(db, therapist, display_name=n).id for n in ("ONE", "TWO")}
        db.commit()
        headers = auth_headers(settings, boss)

        everything = api.get(CLIENTS, headers=headers).json()
        by_therapist = api.get(
            CLIENTS, params={"practitioner_id": str(therapist.id)}, headers=headers
        ).json()
        by_self = api.get(CLIENTS, params={"practitioner_id": str(boss.id)}, headers=headers).json()

        assert everything["total"] == 3
        assert {uuid.UUID(i) for i in _ids(by_therapist)} == theirs
        assert by_therapist["total"] == 2
        assert _ids(by_self) == [str(own.id)]

    def test_practitioner_id_of_an_unrelated_practitioner_finds_nothing(
        self, api: TestClient, db: DbSession, settings: Settings, headers: dict[str, str]
    ) -> None:
        stranger = make_user(db, settings)
        make_client(db, stranger)
        db.commit()
        body = api.get(CLIENTS, params={"practitioner_id": str(stranger.id)}, headers=headers)
        assert body.json()["total"] == 0

    def test_search_is_case_insensitive_substring(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        alice = make_client(db, therapist, display_name="Alice")
        malik = make_client(db, therapist, display_name="MALIK")
        make_client(db, therapist, display_name="Bob")
        db.commit()
        body = api.get(CLIENTS, params={"search": "aLi"}, headers=headers).json()
        assert _ids(body) == [str(alice.id), str(malik.id)]

    @pytest.mark.parametrize(("search", "match"), [("%", "100% ME"), ("_", "A_B"), ("\\", "X\\Y")])
    def test_search_wildcards_are_literal(
        self,
        api: TestClient,
        db: DbSession,
        therapist: User,
        headers: dict[str, str],
        search: str,
        match: str,
    ) -> None:
        by_name = {
            name: make_client(db, therapist, display_name=name)
            for name in ("100% ME", "A_B", "X\\Y", "PLAIN")
        }
        db.commit()
        body = api.get(CLIENTS, params={"search": search}, headers=headers).json()
        assert _ids(body) == [str(by_name[match].id)]

    def test_archived_are_hidden_unless_asked_for(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        current = make_client(db, therapist)
        archived = make_client(db, therapist, archived_at=NOW)
        db.commit()
        assert _ids(api.get(CLIENTS, headers=headers).json()) == [str(current.id)]
        only_archived = api.get(CLIENTS, params={"archived": "true"}, headers=headers).json()
        assert _ids(only_archived) == [str(archived.id)]
        assert only_archived["total"] == 1

    def test_filters_combine(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        match = make_client(db, therapist, display_name="ANNA", status=ClientStatus.PAUSED)
        make_client(db, therapist, display_name="ANNE")  # active
        make_client(db, therapist, display_name="BERT", status=ClientStatus.PAUSED)
        db.commit()
        body = api.get(CLIENTS, params={"status": "paused", "search": "ann"}, headers=headers)
        assert _ids(body.json()) == [str(match.id)]

    def test_unknown_status_is_422(self, api: TestClient, headers: dict[str, str]) -> None:
        response = api.get(CLIENTS, params={"status": "closed"}, headers=headers)
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["query", "status"]]


class TestCreateClient:
    def test_minimal_body_gets_defaults_and_todays_intake(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        therapist: User,
        headers: dict[str, str],
    ) -> None:
        before = datetime.now(settings.timezone).date()
        response = api.post(CLIENTS, json={"display_name": "J.D."}, headers=headers)
        after = datetime.now(settings.timezone).date()

        assert response.status_code == 201
        body = response.json()
        assert date.fromisoformat(body["intake_date"]) in {before, after}
        assert body["practitioner_id"] == str(therapist.id)
        assert (body["status"], body["session_cadence_days"], body["version"]) == ("active", 7, 1)
        assert body["archived_at"] is None
        assert body["discharged_on"] is None
        assert _read(api, headers, body["id"]) == body
        assert _client_count(db) == 1

    def test_every_field_is_stored(self, api: TestClient, headers: dict[str, str]) -> None:
        sent = {
            "display_name": "  Robin  ",
            "external_ref": "EHR-17",
            "date_of_birth": "1990-02-03",
            "status": "paused",
            "intake_date": "2026-01-10",
            "discharged_on": None,
            "goals": "Notice activation sooner",
            "session_cadence_days": 14,
        }
        response = api.post(CLIENTS, json=sent, headers=headers)
        assert response.status_code == 201
        body = response.json()
        assert {k: body[k] for k in sent} == {**sent, "display_name": "Robin"}

    def test_discharge_before_intake_is_422_and_writes_nothing(
        self, api: TestClient, db: DbSession, headers: dict[str, str]
    ) -> None:
        response = api.post(
            CLIENTS,
            json={"display_name": "X", "intake_date": "2026-01-05", "discharged_on": "2026-01-04"},
            headers=headers,
        )
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert [e["loc"] for e in detail] == [["body", "discharged_on"]]
        assert "intake_date" in detail[0]["msg"]
        assert _client_count(db) == 0

    def test_discharge_before_the_default_intake_is_422(
        self, api: TestClient, db: DbSession, headers: dict[str, str]
    ) -> None:
        response = api.post(
            CLIENTS, json={"display_name": "X", "discharged_on": "2000-01-01"}, headers=headers
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "discharged_on"]]
        assert _client_count(db) == 0


class TestReadClient:
    def test_reads_one_client(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        client = make_client(db, therapist, display_name="KIM", goals="rest")
        db.commit()
        body = _read(api, headers, client.id)
        assert (body["id"], body["display_name"], body["goals"]) == (str(client.id), "KIM", "rest")

    def test_unknown_id_is_404(self, api: TestClient, headers: dict[str, str]) -> None:
        response = api.get(f"{CLIENTS}/{uuid.uuid4()}", headers=headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "Client not found"}

    def test_malformed_id_is_422(self, api: TestClient, headers: dict[str, str]) -> None:
        response = api.get(f"{CLIENTS}/not-a-uuid", headers=headers)
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["path", "client_id"]]


class TestUpdateClient:
    @pytest.fixture
    def client(self, db: DbSession, therapist: User) -> Client:
        client = make_client(db, therapist, display_name="BEFORE", goals="old goal")
        db.commit()
        return client

    def test_update_with_current_version(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.patch(
            f"{CLIENTS}/{client.id}",
            json={"display_name": "AFTER", "session_cadence_days": 14, "version": 1},
            headers=headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["display_name"], body["session_cadence_days"]) == ("AFTER", 14)
        assert body["goals"] == "old goal"  # not sent, not touched
        assert body["version"] == 2
        assert _read(api, headers, client.id) == body

    def test_explicit_null_clears_an_optional_field(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.patch(
            f"{CLIENTS}/{client.id}", json={"goals": None, "version": 1}, headers=headers
        )
        assert response.status_code == 200
        assert response.json()["goals"] is None

    def test_stale_version_is_409_and_changes_nothing(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        first = api.patch(
            f"{CLIENTS}/{client.id}", json={"display_name": "FIRST", "version": 1}, headers=headers
        )
        assert first.status_code == 200
        before = _read(api, headers, client.id)

        stale = api.patch(
            f"{CLIENTS}/{client.id}",
            json={"display_name": "SECOND", "goals": "new", "version": 1},
            headers=headers,
        )

        assert stale.status_code == 409
        assert "version 2" in stale.json()["detail"]
        assert _read(api, headers, client.id) == before
        assert (before["display_name"], before["goals"], before["version"]) == (
            "FIRST",
            "old goal",
            2,
        )

    def test_version_is_required(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.patch(f"{CLIENTS}/{client.id}", json={"display_name": "X"}, headers=headers)
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "version"]]
        assert _read(api, headers, client.id)["display_name"] == "BEFORE"

    def test_null_for_a_required_field_is_422(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.patch(
            f"{CLIENTS}/{client.id}", json={"display_name": None, "version": 1}, headers=headers
        )
        assert response.status_code == 422
        assert [(e["loc"], e["msg"]) for e in response.json()["detail"]] == [
            (["body", "display_name"], "may not be null")
        ]
        assert _read(api, headers, client.id)["version"] == 1

    def test_intake_after_stored_discharge_is_422_and_changes_nothing(
        self, api: TestClient, db: DbSession, therapist: User, headers: dict[str, str]
    ) -> None:
        client = make_client(
            db,
            therapist,
            status=ClientStatus.DISCHARGED,
            intake_date=date(2026, 1, 5),
            discharged_on=date(2026, 4, 1),
        )
        db.commit()
        before = _read(api, headers, client.id)
        response = api.patch(
            f"{CLIENTS}/{client.id}",
            json={"intake_date": "2026-05-01", "version": 1},
            headers=headers,
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "discharged_on"]]
        assert _read(api, headers, client.id) == before

    def test_unknown_client_is_404(self, api: TestClient, headers: dict[str, str]) -> None:
        response = api.patch(
            f"{CLIENTS}/{uuid.uuid4()}", json={"goals": "x", "version": 1}, headers=headers
        )
        assert response.status_code == 404


class TestArchiveAndRestore:
    @pytest.fixture
    def client(self, db: DbSession, therapist: User) -> Client:
        client = make_client(db, therapist, display_name="ARCHIE")
        make_session(db, client, starts_at=NOW - timedelta(days=3))
        make_observation(db, client, observed_at=NOW - timedelta(days=1))
        db.commit()
        return client

    def test_delete_archives_hides_from_lists_and_keeps_records(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.delete(f"{CLIENTS}/{client.id}", headers=headers)

        assert response.status_code == 200
        archived_at = response.json()["archived_at"]
        assert archived_at is not None
        assert api.get(CLIENTS, headers=headers).json()["total"] == 0
        assert _read(api, headers, client.id)["archived_at"] == archived_at
        listed = api.get(CLIENTS, params={"archived": "true"}, headers=headers).json()
        assert _ids(listed) == [str(client.id)]
        for path in ("sessions", "observations"):
            records = api.get(f"{CLIENTS}/{client.id}/{path}", headers=headers)
            assert records.status_code == 200
            assert records.json()["total"] == 1, path
        assert _client_count(db) == 1  # nothing hard-deleted

    def test_archiving_twice_keeps_the_first_time(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        first = api.delete(f"{CLIENTS}/{client.id}", headers=headers).json()
        second = api.delete(f"{CLIENTS}/{client.id}", headers=headers)
        assert second.status_code == 200
        assert second.json()["archived_at"] == first["archived_at"]
        assert second.json()["version"] == first["version"]

    def test_archive_with_stale_version_is_409_and_changes_nothing(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        api.patch(f"{CLIENTS}/{client.id}", json={"goals": "g", "version": 1}, headers=headers)
        response = api.delete(f"{CLIENTS}/{client.id}", params={"version": 1}, headers=headers)
        assert response.status_code == 409
        after = _read(api, headers, client.id)
        assert (after["archived_at"], after["version"]) == (None, 2)
        assert api.get(CLIENTS, headers=headers).json()["total"] == 1

    def test_archive_with_current_version(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.delete(f"{CLIENTS}/{client.id}", params={"version": 1}, headers=headers)
        assert response.status_code == 200
        assert response.json()["archived_at"] is not None

    def test_restore_brings_the_client_back_with_its_records(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        archived = api.delete(f"{CLIENTS}/{client.id}", headers=headers).json()
        response = api.post(
            f"{CLIENTS}/{client.id}/restore",
            params={"version": archived["version"]},
            headers=headers,
        )
        assert response.status_code == 200
        assert response.json()["archived_at"] is None
        assert _ids(api.get(CLIENTS, headers=headers).json()) == [str(client.id)]
        assert api.get(CLIENTS, params={"archived": "true"}, headers=headers).json()["total"] == 0
        sessions = api.get(f"{CLIENTS}/{client.id}/sessions", headers=headers).json()
        assert sessions["total"] == 1

    def test_restore_with_stale_version_is_409_and_stays_archived(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        archived = api.delete(f"{CLIENTS}/{client.id}", headers=headers).json()
        response = api.post(
            f"{CLIENTS}/{client.id}/restore",
            params={"version": archived["version"] - 1},
            headers=headers,
        )
        assert response.status_code == 409
        assert _read(api, headers, client.id)["archived_at"] == archived["archived_at"]
