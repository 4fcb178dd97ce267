"""Caseload isolation: the access matrix for every client-scoped route.

Owner: read and write. Supervisor of the owner: read only (403 on writes: they can already see
the client). Anyone else, admins included: 404, never revealing that the client exists.
Anonymous: 401.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, Client, User
from practice_dashboard.models.enums import Attendance, Role
from practice_dashboard.services import access
from tests.builders import (
    NOW,
    auth_headers,
    make_annotation,
    make_checkin_link,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)

CALLERS = (
    "owner",
    "other_practitioner",
    "supervisor",
    "unrelated_supervisor",
    "admin",
    "anonymous",
)
READ = {
    "owner": 200,
    "other_practitioner": 404,
    "supervisor": 200,
    "unrelated_supervisor": 404,
    "admin": 404,
    "anonymous": 401,
}
WRITE = {**READ, "supervisor": 403}
CREATED = {**WRITE, "owner": 201}


@dataclass
class Practice:
    users: dict[str, User]
    client: Client
    session_id: uuid.UUID
    episode_id: uuid.UUID
    booking_id: uuid.UUID
    observation_id: uuid.UUID
    measure_id: uuid.UUID
    annotation_id: uuid.UUID
    assignment_id: uuid.UUID


@pytest.fixture
def practice(db: DbSession, settings: Settings) -> Practice:
    owner = make_user(db, settings, Role.THERAPIST)
    other = make_user(db, settings, Role.COACH)
    boss = make_user(db, settings, Role.SUPERVISOR)
    stranger_boss = make_user(db, settings, Role.SUPERVISOR)
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, boss, owner)
    supervise(db, stranger_boss, other)
    client = make_client(db, owner)
    session = make_session(db, client)
    episode = make_episode(db, client)
    observation = make_observation(db, client)
    measure = make_measure(db, client)
    annotation = make_annotation(db, client)
    booking = make_session(db, client, attendance=Attendance.SCHEDULED, engagement=None)
    make_checkin_link(db, settings, client)
    assignment = Assignment(
        client_id=client.id,
        instrument="gad7",
        every_days=28,
        starts_on=NOW.date(),
        created_by_id=owner.id,
    )
    db.add(assignment)
    db.commit()
    users = {
        "owner": owner,
        "other_practitioner": other,
        "supervisor": boss,
        "unrelated_supervisor": stranger_boss,
        "admin": admin,
    }
    return Practice(
        users,
        client,
        session.id,
        episode.id,
        booking.id,
        observation.id,
        measure.id,
        annotation.id,
        assignment.id,
    )


def _route_cases(
    p: Practice,
) -> list[tuple[str, str, dict[str, Any] | list[Any] | None, dict[str, int]]]:
    c = p.client.id
    at = NOW.isoformat()
    records = [
        ("sessions", p.session_id),
        ("observations", p.observation_id),
        ("episodes", p.episode_id),
        ("measures", p.measure_id),
        ("annotations", p.annotation_id),
    ]
    in_error = {"status": "entered_in_error", "status_reason": "logged for the wrong client"}
    return [
        ("GET", f"/api/v1/clients/{c}", None, READ),
        ("PATCH", f"/api/v1/clients/{c}", {"goals": "sleep better", "version": 1}, WRITE),
        ("GET", f"/api/v1/clients/{c}/sessions", None, READ),
        ("POST", f"/api/v1/clients/{c}/sessions", {"starts_at": at}, CREATED),
        ("PATCH", f"/api/v1/sessions/{p.session_id}", {"notes": "n", "version": 1}, WRITE),
        ("GET", f"/api/v1/clients/{c}/observations", None, READ),
        (
            "POST",
            f"/api/v1/clients/{c}/observations",
            {"observed_at": at, "zone": "within", "activation": 3},
            CREATED,
        ),
        (
            "POST",
            f"/api/v1/clients/{c}/observations",
            [{"observed_at": at, "zone": "hyper", "activation": 8}],
            CREATED,
        ),
        ("GET", f"/api/v1/clients/{c}/episodes", None, READ),
        ("POST", f"/api/v1/clients/{c}/episodes", {"started_at": at, "peak_intensity": 6}, CREATED),
        ("PATCH", f"/api/v1/episodes/{p.episode_id}", {"peak_intensity": 5, "version": 1}, WRITE),
        ("GET", f"/api/v1/clients/{c}/measures", None, READ),
        (
            "POST",
            f"/api/v1/clients/{c}/measures",
            {"instrument": "gad7", "administered_at": at, "items": [1, 1, 1, 1, 1, 1, 1]},
            CREATED,
        ),
        (
            "PATCH",
            f"/api/v1/observations/{p.observation_id}",
            {"activation": 4, "version": 1},
            WRITE,
        ),
        ("PATCH", f"/api/v1/measures/{p.measure_id}", {"items": [0] * 9, "version": 1}, WRITE),
        (
            "PATCH",
            f"/api/v1/annotations/{p.annotation_id}",
            {"label": "moved", "version": 1},
            WRITE,
        ),
        *(
            ("PATCH", f"/api/v1/{kind}/{record_id}", {**in_error, "version": 1}, WRITE)
            for kind, record_id in records
        ),
        *(
            ("GET", f"/api/v1/{kind}/{record_id}/history", None, READ)
            for kind, record_id in records
        ),
        ("POST", f"/api/v1/clients/{c}/sessions/series", {"starts_at": at, "count": 2}, CREATED),
        (
            "POST",
            f"/api/v1/sessions/{p.booking_id}/attendance",
            {"attendance": "no_show", "version": 1},
            WRITE,
        ),
        ("DELETE", f"/api/v1/sessions/{p.session_id}", None, WRITE),
        ("DELETE", f"/api/v1/clients/{c}", None, WRITE),
        ("POST", f"/api/v1/clients/{c}/restore", None, WRITE),
        ("GET", f"/api/v1/clients/{c}/checkin-link", None, READ),
        ("POST", f"/api/v1/clients/{c}/checkin-link", {"code": "1357"}, CREATED),
        ("PATCH", f"/api/v1/clients/{c}/checkin-link", {"renew": True}, WRITE),
        ("DELETE", f"/api/v1/clients/{c}/checkin-link", None, WRITE),
        ("GET", f"/api/v1/clients/{c}/assignments", None, READ),
        (
            "POST",
            f"/api/v1/clients/{c}/assignments",
            {"instrument": "phq9", "every_days": 14, "starts_on": NOW.date().isoformat()},
            CREATED,
        ),
        (
            "PATCH",
            f"/api/v1/assignments/{p.assignment_id}",
            {"every_days": 14, "version": 1},
            WRITE,
        ),
        ("DELETE", f"/api/v1/assignments/{p.assignment_id}", None, WRITE),
    ]


RECORD_KINDS = ("session", "observation", "episode", "measure", "annotation")
CASE_IDS = [
    "read-client",
    "update-client",
    "list-sessions",
    "create-session",
    "update-session",
    "list-observations",
    "create-observation",
    "create-observation-batch",
    "list-episodes",
    "create-episode",
    "update-episode",
    "list-measures",
    "create-measure",
    "update-observation",
    "update-measure",
    "update-annotation",
    *(f"entered-in-error-{kind}" for kind in RECORD_KINDS),
    *(f"history-{kind}" for kind in RECORD_KINDS),
    "book-series",
    "complete-booking",
    "delete-session",
    "archive-client",
    "restore-client",
    "read-checkin-link",
    "create-checkin-link",
    "renew-checkin-link",
    "revoke-checkin-link",
    "list-assignments",
    "create-assignment",
    "update-assignment",
    "archive-assignment",
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", range(len(CASE_IDS)), ids=CASE_IDS)
def test_access_matrix(
    api: TestClient, practice: Practice, settings: Settings, caller: str, case: int
) -> None:
    method, url, body, expected = _route_cases(practice)[case]
    headers = {} if caller == "anonymous" else auth_headers(settings, practice.users[caller])
    response = api.request(method, url, json=body, headers=headers)
    assert response.status_code == expected[caller], (method, url, caller, response.text)
    if expected[caller] == 404:
        # The body must not tell a hidden client apart from one that does not exist.
        missing = api.request(
            method,
            url.replace(str(practice.client.id), str(uuid.uuid4())),
            json=body,
            headers=headers,
        )
        if str(practice.client.id) in url:
            assert missing.status_code == 404
            assert missing.json() == response.json()


class TestCaseloadLists:
    def test_each_caller_lists_exactly_their_visible_clients(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        other_client = make_client(db, practice.users["other_practitioner"])
        db.commit()
        seen = {}
        for caller in (
            "owner",
            "other_practitioner",
            "supervisor",
            "unrelated_supervisor",
            "admin",
        ):
            response = api.get(
                "/api/v1/clients", headers=auth_headers(settings, practice.users[caller])
            )
            assert response.status_code == 200
            seen[caller] = {item["id"] for item in response.json()["items"]}
        assert seen == {
            "owner": {str(practice.client.id)},
            "other_practitioner": {str(other_client.id)},
            "supervisor": {str(practice.client.id)},
            "unrelated_supervisor": {str(other_client.id)},
            "admin": set(),
        }

    def test_anonymous_list_is_401(self, api: TestClient) -> None:
        assert api.get("/api/v1/clients").status_code == 401


class TestScopingFunction:
    """services.access is the single scoping point: test it directly too."""

    def test_visible_clients(self, db: DbSession, practice: Practice, settings: Settings) -> None:
        def visible(user: User) -> set[uuid.UUID]:
            return {c.id for c in db.scalars(access.visible_clients(user))}

        assert visible(practice.users["owner"]) == {practice.client.id}
        assert visible(practice.users["supervisor"]) == {practice.client.id}
        assert visible(practice.users["other_practitioner"]) == set()
        assert visible(practice.users["unrelated_supervisor"]) == set()
        assert visible(practice.users["admin"]) == set()

    def test_deactivated_practitioner_sees_nothing(self, db: DbSession, practice: Practice) -> None:
        owner = practice.users["owner"]
        owner.is_active = False
        db.flush()
        assert db.scalars(access.visible_clients(owner)).all() == []

    def test_supervision_is_not_transitive(
        self, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        grand_boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, grand_boss, practice.users["supervisor"])
        assert db.scalars(access.visible_clients(grand_boss)).all() == []

    def test_archived_clients_hidden_unless_asked(self, db: DbSession, practice: Practice) -> None:
        practice.client.archived_at = NOW
        db.flush()
        owner = practice.users["owner"]
        assert db.scalars(access.visible_clients(owner)).all() == []
        assert db.scalars(access.visible_clients(owner, include_archived=True)).all() == [
            practice.client
        ]
