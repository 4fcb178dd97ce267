"""No N+1: every list endpoint sends the same number of SQL statements whatever the row count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, Client, User
from practice_dashboard.models.enums import Role
from tests.builders import (
    NOW,
    auth_headers,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.conftest import QueryCounter

Grow = Callable[[DbSession, Client, int], None]


def _sessions(db: DbSession, client: Client, n: int) -> None:
    for i in range(n):
        make_session(db, client, starts_at=NOW - timedelta(days=7 * (i + 1)))


def _observations(db: DbSession, client: Client, n: int) -> None:
    for i in range(n):
        make_observation(db, client, observed_at=NOW - timedelta(hours=i + 1))


def _episodes(db: DbSession, client: Client, n: int) -> None:
    for i in range(n):
        make_episode(db, client, started_at=NOW - timedelta(hours=5 * (i + 1)))


def _measures(db: DbSession, client: Client, n: int) -> None:
    for i in range(n):
        make_measure(db, client, administered_at=NOW - timedelta(days=i + 1))


@pytest.mark.parametrize(
    ("path", "grow"),
    [
        ("sessions", _sessions),
        ("observations", _observations),
        ("episodes", _episodes),
        ("measures", _measures),
    ],
)
def test_client_record_lists_use_a_fixed_number_of_queries(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter, path: str, grow: Grow
) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    headers = auth_headers(settings, owner)
    counts = []
    for n in (2, 40):
        grow(db, client, n)
        db.commit()
        queries.reset()
        response = api.get(f"/api/v1/clients/{client.id}/{path}?limit=500", headers=headers)
        assert response.status_code == 200
        counts.append((response.json()["total"], queries.count))
    (small_total, small_count), (large_total, large_count) = counts
    assert (small_total, large_total) == (2, 42)
    assert small_count == large_count, queries.statements


def _caseload(db: DbSession, settings: Settings, owner: User, n: int) -> None:
    for _ in range(n):
        client = make_client(db, owner)
        make_session(db, client)


@pytest.mark.parametrize("role", [Role.THERAPIST, Role.SUPERVISOR])
def test_client_list_uses_a_fixed_number_of_queries(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter, role: Role
) -> None:
    owner = make_user(db, settings)
    caller = owner
    if role == Role.SUPERVISOR:
        caller = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, caller, owner)
    headers = auth_headers(settings, caller)
    counts = []
    for n in (3, 60):
        _caseload(db, settings, owner, n)
        db.commit()
        queries.reset()
        response = api.get("/api/v1/clients?limit=500", headers=headers)
        assert response.status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1]


def test_user_list_uses_a_fixed_number_of_queries(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
) -> None:
    admin = make_user(db, settings, Role.ADMIN)
    headers = auth_headers(settings, admin)
    counts = []
    for n in (2, 30):
        for _ in range(n):
            make_user(db, settings)
        db.commit()
        queries.reset()
        assert api.get("/api/v1/users?limit=500", headers=headers).status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1]


def test_batch_write_uses_a_fixed_number_of_queries(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    db.commit()
    headers = auth_headers(settings, owner)
    counts = []
    for n in (2, 50):
        rows = [
            {
                "observed_at": (NOW - timedelta(minutes=i)).isoformat(),
                "zone": "within",
                "activation": 2,
            }
            for i in range(n)
        ]
        queries.reset()
        response = api.post(f"/api/v1/clients/{client.id}/observations", json=rows, headers=headers)
        assert response.status_code == 201, response.text
        counts.append(queries.count)
    assert counts[0] == counts[1], queries.statements


def test_assignment_list_uses_a_fixed_number_of_queries(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    headers = auth_headers(settings, owner)
    counts = []
    for codes in (("phq9",), ("gad7", "cbi")):
        for code in codes:
            db.add(
                Assignment(
                    client_id=client.id,
                    instrument=code,
                    every_days=14,
                    starts_on=NOW.date(),
                    created_by_id=owner.id,
                )
            )
            make_measure(db, client, instrument=code, administered_at=NOW)
        db.commit()
        queries.reset()
        response = api.get(f"/api/v1/clients/{client.id}/assignments", headers=headers)
        assert response.status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1], queries.statements
