"""Annotations: dated notes on a client's timeline, through the JSON API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Annotation, AuditEvent, Client, User
from practice_dashboard.models.enums import Role
from tests.builders import auth_headers, make_client, make_user, supervise

BASE = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@dataclass
class Practice:
    owner: User
    other: User
    supervisor: User
    admin: User
    client: Client


@pytest.fixture
def practice(db: DbSession, settings: Settings) -> Practice:
    owner = make_user(db, settings, Role.THERAPIST)
    other = make_user(db, settings, Role.COACH)
    boss = make_user(db, settings, Role.SUPERVISOR)
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, boss, owner)
    client = make_client(db, owner)
    db.commit()
    return Practice(owner, other, boss, admin, client)


@pytest.fixture
def headers(settings: Settings, practice: Practice) -> dict[str, str]:
    return auth_headers(settings, practice.owner)


def _url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/annotations"


def _create(
    api: TestClient, practice: Practice, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"at": BASE.isoformat(), "kind": "life_event", "label": "Moved house", **fields}
    response = api.post(_url(practice.client), json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _labels(
    api: TestClient, practice: Practice, headers: dict[str, str], **params: Any
) -> list[str]:
    response = api.get(_url(practice.client), params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [a["label"] for a in response.json()["items"]]


class TestCreate:
    def test_returns_the_stored_annotation(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        at = datetime(2026, 5, 1, 11, 30, tzinfo=UTC)  # 13:30 at +02:00
        created = _create(
            api,
            practice,
            headers,
            at="2026-05-01T13:30:00+02:00",
            kind="medication",
            label="  Started sertraline 50 mg  ",
            notes="GP prescribed",
        )
        assert created["client_id"] == str(practice.client.id)
        assert created["created_by_id"] == str(practice.owner.id)
        assert datetime.fromisoformat(created["at"]) == at
        assert created["at"].endswith(("+00:00", "Z"))
        assert created["kind"] == "medication"
        assert created["label"] == "Started sertraline 50 mg"
        assert created["notes"] == "GP prescribed"
        assert created["archived_at"] is None
        assert created["version"] == 1

    def test_is_audited(
        self, api: TestClient, db: DbSession, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers)
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "annotation", AuditEvent.action == "create"
            )
        ).all()
        assert [(e.actor_id, e.entity_id, e.client_id) for e in events] == [
            (practice.owner.id, created["id"], practice.client.id)
        ]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"label": ""}, "label"),
            ({"label": "x" * 201}, "label"),
            ({"kind": "birthday"}, "kind"),
            ({"at": "2026-05-01T09:30:00"}, "at"),
            ({"colour": "red"}, "colour"),
        ],
        ids=["empty-label", "long-label", "unknown-kind", "naive-time", "unknown-field"],
    )
    def test_bad_input_is_422_naming_the_field_and_writes_nothing(
        self,
        api: TestClient,
        db: DbSession,
        practice: Practice,
        headers: dict[str, str],
        change: dict[str, Any],
        field: str,
    ) -> None:
        body = {"at": BASE.isoformat(), "kind": "other", "label": "Note", **change}
        response = api.post(_url(practice.client), json=body, headers=headers)
        assert response.status_code == 422
        assert [e["loc"][-1] for e in response.json()["detail"]] == [field]
        assert (
            db.scalars(select(Annotation).where(Annotation.client_id == practice.client.id)).all()
            == []
        )


class TestList:
    def test_newest_first_within_a_half_open_range(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        for days, label in ((0, "first"), (10, "second"), (20, "third"), (30, "fourth")):
            _create(
                api, practice, headers, at=(BASE + timedelta(days=days)).isoformat(), label=label
            )
        assert _labels(api, practice, headers) == ["fourth", "third", "second", "first"]
        in_range = _labels(
            api,
            practice,
            headers,
            start=(BASE + timedelta(days=10)).isoformat(),
            end=(BASE + timedelta(days=30)).isoformat(),
        )
        assert in_range == ["third", "second"]
        assert _labels(api, practice, headers, start=(BASE + timedelta(days=20)).isoformat()) == [
            "fourth",
            "third",
        ]
        response = api.get(_url(practice.client), params={"limit": 2, "offset": 1}, headers=headers)
        page = response.json()
        assert [a["label"] for a in page["items"]] == ["third", "second"]
        assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)

    def test_end_not_after_start_is_422_naming_end(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        response = api.get(
            _url(practice.client),
            params={"start": BASE.isoformat(), "end": BASE.isoformat()},
            headers=headers,
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["query", "end"]]

    def test_only_this_clients_annotations(
        self,
        api: TestClient,
        db: DbSession,
        practice: Practice,
        headers: dict[str, str],
    ) -> None:
        _create(api, practice, headers, label="mine")
        sibling = make_client(db, practice.owner)
        db.commit()
        response = api.post(
            _url(sibling),
            json={"at": BASE.isoformat(), "kind": "other", "label": "sibling's"},
            headers=headers,
        )
        assert response.status_code == 201
        assert _labels(api, practice, headers) == ["mine"]


class TestUpdate:
    def test_with_the_current_version(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers, notes="first draft")
        response = api.patch(
            f"/api/v1/annotations/{created['id']}",
            json={"label": "Moved in with partner", "notes": None, "version": 1},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        updated = response.json()
        assert (updated["label"], updated["notes"], updated["kind"]) == (
            "Moved in with partner",
            None,
            "life_event",
        )
        assert updated["version"] == 2
        assert _labels(api, practice, headers) == ["Moved in with partner"]

    def test_a_stale_version_is_409_and_changes_nothing(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers)
        url = f"/api/v1/annotations/{created['id']}"
        first = api.patch(url, json={"label": "One", "version": 1}, headers=headers)
        assert first.status_code == 200
        stale = api.patch(url, json={"label": "Two", "version": 1}, headers=headers)
        assert stale.status_code == 409
        assert _labels(api, practice, headers) == ["One"]

    def test_a_required_field_cannot_be_cleared(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers)
        response = api.patch(
            f"/api/v1/annotations/{created['id']}",
            json={"label": None, "version": 1},
            headers=headers,
        )
        assert response.status_code == 422
        assert [e["loc"][-1] for e in response.json()["detail"]] == ["label"]
        assert _labels(api, practice, headers) == ["Moved house"]

    def test_without_a_version_is_422(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers)
        response = api.patch(
            f"/api/v1/annotations/{created['id']}", json={"label": "x"}, headers=headers
        )
        assert response.status_code == 422
        assert [e["loc"][-1] for e in response.json()["detail"]] == ["version"]

    def test_unknown_annotation_is_404(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        response = api.patch(
            f"/api/v1/annotations/{uuid.uuid4()}",
            json={"label": "x", "version": 1},
            headers=headers,
        )
        assert response.status_code == 404


class TestDelete:
    def test_archives_the_annotation_and_keeps_the_row(
        self, api: TestClient, db: DbSession, practice: Practice, headers: dict[str, str]
    ) -> None:
        kept = _create(api, practice, headers, label="kept")
        gone = _create(
            api, practice, headers, label="gone", at=(BASE + timedelta(days=1)).isoformat()
        )
        response = api.delete(
            f"/api/v1/annotations/{gone['id']}", params={"version": 1}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["archived_at"] is not None
        assert _labels(api, practice, headers) == ["kept"]
        rows = db.scalars(
            select(Annotation)
            .where(Annotation.client_id == practice.client.id)
            .order_by(Annotation.at)
            .execution_options(populate_existing=True)
        ).all()
        assert [(str(r.id), r.archived_at is not None) for r in rows] == [
            (kept["id"], False),
            (gone["id"], True),
        ]

    def test_an_archived_annotation_cannot_be_edited_or_deleted_again(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers)
        url = f"/api/v1/annotations/{created['id']}"
        assert api.delete(url, headers=headers).status_code == 200
        assert api.patch(url, json={"label": "x", "version": 2}, headers=headers).status_code == 404
        assert api.delete(url, headers=headers).status_code == 404

    def test_a_stale_version_is_409(
        self, api: TestClient, practice: Practice, headers: dict[str, str]
    ) -> None:
        created = _create(api, practice, headers)
        url = f"/api/v1/annotations/{created['id']}"
        assert api.patch(url, json={"label": "x", "version": 1}, headers=headers).status_code == 200
        response = api.delete(url, params={"version": 1}, headers=headers)
        assert response.status_code == 409
        assert _labels(api, practice, headers) == ["x"]


READ = {"owner": 200, "supervisor": 200, "other": 404, "admin": 404, "anonymous": 401}
WRITE = {"owner": 200, "supervisor": 403, "other": 404, "admin": 404, "anonymous": 401}


class TestAccess:
    def _headers(self, settings: Settings, practice: Practice, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        user: User = getattr(practice, caller)
        return auth_headers(settings, user)

    @pytest.mark.parametrize("caller", list(READ))
    def test_list(
        self,
        api: TestClient,
        settings: Settings,
        practice: Practice,
        headers: dict[str, str],
        caller: str,
    ) -> None:
        _create(api, practice, headers)
        response = api.get(_url(practice.client), headers=self._headers(settings, practice, caller))
        assert response.status_code == READ[caller]
        if response.status_code == 200:
            assert [a["label"] for a in response.json()["items"]] == ["Moved house"]

    @pytest.mark.parametrize("caller", list(WRITE))
    def test_create(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        practice: Practice,
        caller: str,
    ) -> None:
        response = api.post(
            _url(practice.client),
            json={"at": BASE.isoformat(), "kind": "other", "label": "x"},
            headers=self._headers(settings, practice, caller),
        )
        expected = 201 if caller == "owner" else WRITE[caller]
        assert response.status_code == expected
        count = len(
            db.scalars(select(Annotation).where(Annotation.client_id == practice.client.id)).all()
        )
        assert count == (1 if caller == "owner" else 0)

    @pytest.mark.parametrize("caller", list(WRITE))
    def test_update_and_delete(
        self,
        api: TestClient,
        settings: Settings,
        practice: Practice,
        headers: dict[str, str],
        caller: str,
    ) -> None:
        created = _create(api, practice, headers)
        url = f"/api/v1/annotations/{created['id']}"
        caller_headers = self._headers(settings, practice, caller)
        patched = api.patch(url, json={"label": "changed", "version": 1}, headers=caller_headers)
        assert patched.status_code == WRITE[caller]
        deleted = api.delete(url, headers=caller_headers)
        assert deleted.status_code == WRITE[caller]
        expected = [] if caller == "owner" else ["Moved house"]
        assert _labels(api, practice, headers) == expected
