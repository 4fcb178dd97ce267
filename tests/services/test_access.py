"""Caseload isolation: the scoping function and the client lists.

Owner: read and write. Supervisor of the owner: read only. Anyone else, admins included, sees
nothing. Every route's statuses for every caller: tests/test_access_matrix.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.errors import NotFound
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

    def test_one_client_is_found_for_each_caller_who_may_see_it(
        self, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        """`get_visible_client` runs one kept statement for every caller and client (both
        bound): each caller in turn, twice over, finds exactly what the scoping allows."""
        other_client = make_client(db, practice.users["other_practitioner"])
        archived = make_client(db, practice.users["owner"], archived_at=NOW)
        db.flush()
        may_see = {
            "owner": {practice.client.id, archived.id},
            "other_practitioner": {other_client.id},
            "supervisor": {practice.client.id, archived.id},
            "unrelated_supervisor": {other_client.id},
            "admin": set(),
        }
        for _ in range(2):
            for caller, expected in may_see.items():
                found = set()
                for client_id in (practice.client.id, other_client.id, archived.id):
                    try:
                        found.add(
                            access.get_visible_client(db, practice.users[caller], client_id).id
                        )
                    except NotFound:
                        pass
                assert found == expected, caller
        practice.users["owner"].is_active = False
        db.flush()
        with pytest.raises(NotFound):
            access.get_visible_client(db, practice.users["owner"], practice.client.id)

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
