"""Stored client summaries always equal a fresh recomputation from the records.

Every write through the API refreshes the summary of the client it touched before it commits;
a failed write changes nothing. The check: read the stored `client_summary` row, recompute it
with `services.summary.refresh` inside a savepoint, compare, roll the savepoint back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.flags import SAFETY_RANK
from practice_dashboard.models import Client, ClientSummary, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.analytics import summary
from tests.builders import auth_headers, make_client, make_user

# `computed_at` is when, not what: everything else must match.
COMPARED = [c for c in ClientSummary.__table__.columns if c.name != "computed_at"]


def _stored(db: DbSession, client_id: uuid.UUID) -> dict[str, Any] | None:
    row = db.execute(
        select(*ClientSummary.__table__.columns).where(ClientSummary.client_id == client_id)
    ).one_or_none()
    return None if row is None else dict(row._mapping)


def _recomputed(db: DbSession, settings: Settings, client_id: uuid.UUID) -> dict[str, Any]:
    savepoint = db.begin_nested()
    try:
        summary.refresh(db, [client_id], settings=settings)
        fresh = _stored(db, client_id)
    finally:
        savepoint.rollback()
    assert fresh is not None
    return fresh


def assert_consistent(db: DbSession, settings: Settings, client_id: uuid.UUID) -> dict[str, Any]:
    stored = _stored(db, client_id)
    assert stored is not None, "no summary stored"
    fresh = _recomputed(db, settings, client_id)
    differences = {
        c.name: (stored[c.name], fresh[c.name]) for c in COMPARED if stored[c.name] != fresh[c.name]
    }
    assert differences == {}
    return stored


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings, Role.THERAPIST)
    db.commit()
    return user


@pytest.fixture
def headers(settings: Settings, owner: User) -> dict[str, str]:
    return auth_headers(settings, owner)


def _new_client(api: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    intake = (datetime.now(UTC) - timedelta(days=120)).date().isoformat()
    body = {"display_name": "Sam", "intake_date": intake, **fields}
    response = api.post("/api/v1/clients", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json() if not isinstance(response.json(), list) else {}
    return body


def _codes(stored: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["code"], f["level"]) for f in stored["flags"]]


class TestEveryKindOfWrite:
    def test_a_sequence_of_writes_keeps_the_summary_true(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        headers: dict[str, str],
    ) -> None:
        client = _new_client(api, headers)
        cid = uuid.UUID(client["id"])
        base = f"/api/v1/clients/{cid}"
        stored = assert_consistent(db, settings, cid)
        # No data since intake 120 days ago: stale.
        assert _codes(stored) == [("stale_data", "watch")]

        _ok(
            api.post(
                f"{base}/observations",
                json={"observed_at": _ago(days=1), "zone": "within", "activation": 3},
                headers=headers,
            )
        )
        stored = assert_consistent(db, settings, cid)
        assert (stored["time_in_window"], _codes(stored)) == (1.0, [])

        batch = [
            {"observed_at": _ago(days=2, hours=h), "zone": zone, "activation": 8}
            for h, zone in ((1, "hyper"), (2, "hyper"), (3, "hypo"))
        ]
        assert api.post(f"{base}/observations", json=batch, headers=headers).status_code == 201
        stored = assert_consistent(db, settings, cid)
        assert stored["time_in_window"] == 0.25

        episode = _ok(
            api.post(
                f"{base}/episodes",
                json={"started_at": _ago(days=3), "peak_intensity": 7},
                headers=headers,
            )
        )
        stored = assert_consistent(db, settings, cid)
        assert stored["recovery_median_minutes"] is None  # not back to baseline yet
        started = datetime.fromisoformat(episode["started_at"])
        _ok(
            api.patch(
                f"/api/v1/episodes/{episode['id']}",
                json={
                    "baseline_at": (started + timedelta(minutes=45)).isoformat(),
                    "version": episode["version"],
                },
                headers=headers,
            ),
            200,
        )
        stored = assert_consistent(db, settings, cid)
        assert stored["recovery_median_minutes"] == 45.0

        attended = _ok(
            api.post(
                f"{base}/sessions",
                json={"starts_at": _ago(days=4), "attendance": "attended", "engagement": 6},
                headers=headers,
            )
        )
        upcoming = _ok(
            api.post(f"{base}/sessions", json={"starts_at": _ago(days=-3)}, headers=headers)
        )
        stored = assert_consistent(db, settings, cid)
        assert stored["last_attended_at"] == datetime.fromisoformat(attended["starts_at"])
        assert stored["next_session_at"] == datetime.fromisoformat(upcoming["starts_at"])

        _ok(
            api.patch(
                f"/api/v1/sessions/{attended['id']}",
                json={"attendance": "no_show", "engagement": None, "version": 1},
                headers=headers,
            ),
            200,
        )
        stored = assert_consistent(db, settings, cid)
        assert stored["last_attended_at"] is None
        _ok(api.delete(f"/api/v1/sessions/{upcoming['id']}", headers=headers), 200)
        stored = assert_consistent(db, settings, cid)
        assert stored["next_session_at"] is None

        _ok(
            api.post(
                f"{base}/measures",
                json={
                    "instrument": "phq9",
                    "administered_at": _ago(hours=2),
                    "items": [1, 1, 1, 1, 1, 1, 1, 1, 2],
                },
                headers=headers,
            )
        )
        stored = assert_consistent(db, settings, cid)
        assert ("safety", "alert") in _codes(stored)
        assert stored["flag_rank"] == SAFETY_RANK

        _ok(
            api.post(
                f"{base}/flags/safety/acknowledge",
                json={"note": "Risk assessment completed"},
                headers=headers,
            )
        )
        stored = assert_consistent(db, settings, cid)
        # Safety is quiet now; what still speaks is the burnout watch (median activation 8,
        # 1 of 4 check-ins within the window over the last 14 days).
        assert _codes(stored) == [("safety", "alert"), ("burnout_risk", "watch")]
        assert stored["flag_codes"] == " burnout_risk:watch "
        assert stored["flag_rank"] == 1

        _ok(
            api.patch(
                base,
                json={"status": "paused", "session_cadence_days": 14, "version": 1},
                headers=headers,
            ),
            200,
        )
        assert_consistent(db, settings, cid)
        _ok(api.delete(base, headers=headers), 200)
        assert_consistent(db, settings, cid)
        _ok(api.post(f"{base}/restore", headers=headers), 200)
        assert_consistent(db, settings, cid)

    def test_a_write_refreshes_only_the_client_it_touched(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        headers: dict[str, str],
    ) -> None:
        first = uuid.UUID(_new_client(api, headers)["id"])
        second = uuid.UUID(_new_client(api, headers)["id"])
        untouched = _stored(db, second)
        _ok(
            api.post(
                f"/api/v1/clients/{first}/observations",
                json={"observed_at": _ago(hours=1), "zone": "within", "activation": 2},
                headers=headers,
            )
        )
        assert _stored(db, second) == untouched
        assert _stored(db, first) != _stored(db, second)
        assert_consistent(db, settings, first)

    def test_the_check_notices_a_wrong_summary(
        self, db: DbSession, settings: Settings, owner: User
    ) -> None:
        client: Client = make_client(db, owner)
        db.commit()
        db.execute(
            update(ClientSummary)
            .where(ClientSummary.client_id == client.id)
            .values(time_in_window=0.5)
        )
        with pytest.raises(AssertionError, match="time_in_window"):
            assert_consistent(db, settings, client.id)

    def test_summaries_written_by_the_test_session_are_true_too(
        self, db: DbSession, settings: Settings, owner: User
    ) -> None:
        client: Client = make_client(db, owner)
        db.commit()
        assert_consistent(db, settings, client.id)


BAD_WRITES = [
    (
        "observations",
        [
            {"observed_at": "2026-05-01T10:00:00+00:00", "zone": "within", "activation": 3},
            {"observed_at": "2026-05-01T11:00:00+00:00", "zone": "within", "activation": 11},
        ],
    ),
    (
        "observations",
        {"observed_at": "2099-01-01T00:00:00+00:00", "zone": "within", "activation": 3},
    ),
    (
        "episodes",
        {
            "started_at": "2026-05-01T10:00:00+00:00",
            "peak_intensity": 6,
            "baseline_at": "2026-05-01T09:00:00+00:00",
        },
    ),
    (
        "sessions",
        {"starts_at": "2026-05-01T10:00:00+00:00", "attendance": "no_show", "engagement": 5},
    ),
    (
        "measures",
        {
            "instrument": "phq9",
            "administered_at": "2026-05-01T10:00:00+00:00",
            "items": [1, 1, 1, 1, 1, 1, 1, 1, 4],
        },
    ),
]


class TestFailedWrites:
    @pytest.mark.parametrize(
        ("path", "body"),
        BAD_WRITES,
        ids=["batch-with-a-bad-row", "future-observation", "episode", "session", "measure"],
    )
    def test_a_refused_write_leaves_the_summary_exactly_as_it_was(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        headers: dict[str, str],
        path: str,
        body: Any,
    ) -> None:
        cid = _new_client(api, headers)["id"]
        _ok(
            api.post(
                f"/api/v1/clients/{cid}/observations",
                json={"observed_at": _ago(days=1), "zone": "hyper", "activation": 6},
                headers=headers,
            )
        )
        before = _stored(db, uuid.UUID(cid))
        response = api.post(f"/api/v1/clients/{cid}/{path}", json=body, headers=headers)
        assert response.status_code == 422, response.text
        # Not even recomputed: computed_at is unchanged too.
        assert _stored(db, uuid.UUID(cid)) == before
        assert_consistent(db, settings, uuid.UUID(cid))

    def test_a_version_conflict_leaves_the_summary_as_it_was(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        headers: dict[str, str],
    ) -> None:
        cid = _new_client(api, headers)["id"]
        session = _ok(
            api.post(
                f"/api/v1/clients/{cid}/sessions",
                json={"starts_at": _ago(days=2), "attendance": "attended"},
                headers=headers,
            )
        )
        before = _stored(db, uuid.UUID(cid))
        response = api.patch(
            f"/api/v1/sessions/{session['id']}",
            json={"attendance": "no_show", "version": 7},
            headers=headers,
        )
        assert response.status_code == 409
        assert _stored(db, uuid.UUID(cid)) == before
        assert_consistent(db, settings, uuid.UUID(cid))

    def test_a_refused_acknowledgement_leaves_the_summary_as_it_was(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        headers: dict[str, str],
    ) -> None:
        cid = _new_client(api, headers)["id"]
        before = _stored(db, uuid.UUID(cid))
        assert before is not None
        assert _codes(before) == [("stale_data", "watch")]
        response = api.post(
            f"/api/v1/clients/{cid}/flags/stale_data/acknowledge",
            json={"fingerprint": "stale_data|alert|x"},
            headers=headers,
        )
        assert response.status_code == 409
        assert _stored(db, uuid.UUID(cid)) == before


# --------------------------------------------------------------------------------------------
# Random sequences of writes
# --------------------------------------------------------------------------------------------

_days = st.integers(min_value=1, max_value=60)
_observation = st.fixed_dictionaries(
    {
        "kind": st.just("observation"),
        "days": _days,
        "zone": st.sampled_from(["within", "hyper", "hypo"]),
        "activation": st.integers(0, 10),
    }
)
_episode = st.fixed_dictionaries(
    {
        "kind": st.just("episode"),
        "days": _days,
        "minutes": st.one_of(st.none(), st.integers(1, 240)),
    }
)
_session = st.fixed_dictionaries(
    {
        "kind": st.just("session"),
        "days": st.integers(min_value=-20, max_value=60),
        "attendance": st.sampled_from(["attended", "no_show", "late_cancel", "cancelled"]),
    }
)
_measure = st.fixed_dictionaries(
    {
        "kind": st.just("measure"),
        "days": _days,
        "items": st.lists(st.integers(0, 3), min_size=9, max_size=9),
    }
)
_status = st.fixed_dictionaries(
    {"kind": st.just("status"), "status": st.sampled_from(["active", "paused", "discharged"])}
)
_write = st.one_of(_observation, _episode, _session, _measure, _status)


def _apply(api: TestClient, headers: dict[str, str], cid: str, write: dict[str, Any]) -> None:
    base = f"/api/v1/clients/{cid}"
    kind = write["kind"]
    if kind == "observation":
        body: dict[str, Any] = {
            "observed_at": _ago(days=write["days"]),
            "zone": write["zone"],
            "activation": write["activation"],
        }
        response = api.post(f"{base}/observations", json=body, headers=headers)
    elif kind == "episode":
        started = datetime.now(UTC) - timedelta(days=write["days"])
        body = {"started_at": started.isoformat(), "peak_intensity": 6}
        if write["minutes"] is not None:
            body["baseline_at"] = (started + timedelta(minutes=write["minutes"])).isoformat()
        response = api.post(f"{base}/episodes", json=body, headers=headers)
    elif kind == "session":
        days = write["days"]
        attendance = write["attendance"] if days > 0 else "scheduled"
        body = {"starts_at": _ago(days=days), "attendance": attendance}
        response = api.post(f"{base}/sessions", json=body, headers=headers)
    elif kind == "measure":
        body = {
            "instrument": "phq9",
            "administered_at": _ago(days=write["days"]),
            "items": write["items"],
        }
        response = api.post(f"{base}/measures", json=body, headers=headers)
    else:
        version = api.get(base, headers=headers).json()["version"]
        response = api.patch(
            base, json={"status": write["status"], "version": version}, headers=headers
        )
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 201, response.text


class TestRandomWrites:
    @given(writes=st.lists(_write, min_size=1, max_size=4))
    @hypothesis_settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    def test_any_sequence_of_writes_keeps_summaries_true(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        headers: dict[str, str],
        writes: list[dict[str, Any]],
    ) -> None:
        cid = _new_client(api, headers)["id"]
        for write in writes:
            _apply(api, headers, cid, write)
            assert_consistent(db, settings, uuid.UUID(cid))
