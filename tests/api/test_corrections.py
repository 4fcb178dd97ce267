"""Corrections and history (DESIGN.md "Corrections and history") through the JSON API.

Every client-scoped record kind can be edited with its `version` (stale: 409) or marked
entered in error with a reason; every edit keeps the old values as a revision; an entered-in-
error record can no longer be changed and leaves every figure, flag and summary at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, Revision, User
from practice_dashboard.models.enums import Zone
from tests.builders import (
    auth_headers,
    make_annotation,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
)

IN_ERROR = {"status": "entered_in_error", "status_reason": "logged for the wrong client"}
# One field edit per kind: (path segment, builder, the edit, the field's value before it).
KINDS: dict[str, tuple[Callable[..., Any], dict[str, Any], Any]] = {
    "sessions": (make_session, {"engagement": 4}, 7),
    "observations": (make_observation, {"activation": 6}, 3),
    "episodes": (make_episode, {"peak_intensity": 5}, 7),
    "measures": (make_measure, {"items": [0, 0, 0, 0, 0, 0, 0, 0, 0]}, [1, 1, 1, 1, 1, 1, 1, 1, 0]),
    "annotations": (make_annotation, {"label": "moved flat"}, "moved house"),
}


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner)
    db.commit()
    return client


@pytest.fixture
def headers(settings: Settings, owner: User, client: Client) -> dict[str, str]:
    return auth_headers(settings, owner)


def _make(db: DbSession, client: Client, kind: str) -> uuid.UUID:
    record_id: uuid.UUID = KINDS[kind][0](db, client).id
    db.commit()
    return record_id


@pytest.mark.parametrize("kind", KINDS)
class TestEveryKind:
    def test_an_edit_bumps_the_version_and_keeps_the_old_value(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], kind: str
    ) -> None:
        record_id = _make(db, client, kind)
        _, edit, old = KINDS[kind]
        response = api.patch(
            f"/api/v1/{kind}/{record_id}", json={**edit, "version": 1}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        field, new = next(iter(edit.items()))
        assert (body[field], body["version"], body["status"]) == (new, 2, "recorded")

        history = api.get(f"/api/v1/{kind}/{record_id}/history", headers=headers).json()
        assert history["version"] == 2
        [revision] = history["items"]
        assert revision["version"] == 1
        assert revision["changes"][field] == {"old": old, "new": new}
        assert revision["actor_name"] is not None

    def test_entered_in_error_keeps_the_record_with_its_reason(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], kind: str
    ) -> None:
        record_id = _make(db, client, kind)
        response = api.patch(
            f"/api/v1/{kind}/{record_id}", json={**IN_ERROR, "version": 1}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["status_reason"]) == (
            "entered_in_error",
            "logged for the wrong client",
        )
        [revision] = api.get(f"/api/v1/{kind}/{record_id}/history", headers=headers).json()["items"]
        assert revision["changes"]["status"] == {"old": "recorded", "new": "entered_in_error"}
        singular = kind.removesuffix("s")
        actions = set(
            db.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.entity == singular, AuditEvent.entity_id == str(record_id)
                )
            )
        )
        assert {"entered_in_error", "read"} <= actions  # the mark, then the history read

    def test_an_entered_in_error_record_cannot_be_changed(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], kind: str
    ) -> None:
        record_id = _make(db, client, kind)
        api.patch(f"/api/v1/{kind}/{record_id}", json={**IN_ERROR, "version": 1}, headers=headers)
        _, edit, _ = KINDS[kind]
        response = api.patch(
            f"/api/v1/{kind}/{record_id}", json={**edit, "version": 2}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "status"]
        assert "entered in error" in response.json()["detail"][0]["msg"]

    def test_a_stale_version_is_a_409_and_changes_nothing(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], kind: str
    ) -> None:
        record_id = _make(db, client, kind)
        _, edit, _ = KINDS[kind]
        assert (
            api.patch(
                f"/api/v1/{kind}/{record_id}", json={**edit, "version": 1}, headers=headers
            ).status_code
            == 200
        )
        stale = api.patch(
            f"/api/v1/{kind}/{record_id}", json={**IN_ERROR, "version": 1}, headers=headers
        )
        assert stale.status_code == 409
        history = api.get(f"/api/v1/{kind}/{record_id}/history", headers=headers).json()
        assert (history["version"], len(history["items"])) == (2, 1)

    def test_the_version_is_required(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], kind: str
    ) -> None:
        record_id = _make(db, client, kind)
        response = api.patch(f"/api/v1/{kind}/{record_id}", json=IN_ERROR, headers=headers)
        assert response.status_code == 422
        assert ["body", "version"] in [e["loc"] for e in response.json()["detail"]]


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"status": "entered_in_error"}, "status_reason"),
            ({"status": "entered_in_error", "status_reason": ""}, "status_reason"),
            ({"status": "entered_in_error", "status_reason": "x" * 501}, "status_reason"),
            ({"status": "entered_in_error", "status_reason": "typo\x00"}, "status_reason"),
            ({"status_reason": "no status"}, "status_reason"),
            ({**IN_ERROR, "activation": 2}, "activation"),
            ({"status": "archived", "status_reason": "x"}, "status"),
            ({"notes": "a\x00b"}, "notes"),
        ],
        ids=[
            "no-reason",
            "empty",
            "too-long",
            "nul",
            "reason-alone",
            "with-edit",
            "unknown",
            "nul-notes",
        ],
    )
    def test_names_the_field_and_writes_nothing(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        body: dict[str, Any],
        field: str,
    ) -> None:
        record_id = _make(db, client, "observations")
        response = api.patch(
            f"/api/v1/observations/{record_id}", json={**body, "version": 1}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert ["body", field] in [e["loc"] for e in response.json()["detail"]]
        assert db.scalars(select(Revision)).all() == []

    def test_a_correction_that_reverses_an_episodes_times_is_a_422(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        episode = make_episode(db, client)
        db.commit()
        before_onset = (episode.started_at - timedelta(minutes=5)).isoformat()
        response = api.patch(
            f"/api/v1/episodes/{episode.id}",
            json={"baseline_at": before_onset, "version": 1},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "baseline_at"]
        assert db.scalars(select(Revision)).all() == []

    def test_a_future_observation_time_is_a_422(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        record_id = _make(db, client, "observations")
        future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        response = api.patch(
            f"/api/v1/observations/{record_id}",
            json={"observed_at": future, "version": 1},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "observed_at"]

    def test_history_of_a_record_outside_scope_is_a_404(
        self, api: TestClient, db: DbSession, settings: Settings, client: Client
    ) -> None:
        record_id = _make(db, client, "measures")
        stranger = make_user(db, settings)
        db.commit()
        response = api.get(
            f"/api/v1/measures/{record_id}/history", headers=auth_headers(settings, stranger)
        )
        assert response.status_code == 404


class TestMeasureRescoring:
    def test_items_are_rescored_and_the_old_scores_kept(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        measure = make_measure(db, client)  # PHQ-9 items summing to 8: "mild"
        db.commit()
        # Kroenke, Spitzer & Williams (2001): total 15-19 is "moderately severe".
        items = [2, 2, 2, 2, 2, 2, 2, 1, 1]
        response = api.patch(
            f"/api/v1/measures/{measure.id}", json={"items": items, "version": 1}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert (response.json()["total"], response.json()["severity"]) == (16, "moderately_severe")
        [revision] = api.get(f"/api/v1/measures/{measure.id}/history", headers=headers).json()[
            "items"
        ]
        assert revision["changes"]["total"] == {"old": 8.0, "new": 16}
        assert revision["changes"]["severity"] == {"old": "mild", "new": "moderately_severe"}

    def test_items_that_do_not_fit_the_instrument_are_a_422(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        record_id = _make(db, client, "measures")
        response = api.patch(
            f"/api/v1/measures/{record_id}", json={"items": [1, 2], "version": 1}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][:2] == ["body", "items"]


def _recent(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _flag_codes(api: TestClient, client: Client, headers: dict[str, str]) -> set[str]:
    metrics = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers).json()
    return {f["code"] for f in metrics["flags"]}


def _caseload_flags(api: TestClient, headers: dict[str, str]) -> set[str]:
    [item] = api.get("/api/v1/caseload", headers=headers).json()["items"]
    return {f["code"] for f in item["flags"]}


class TestEnteredInErrorLeavesTheFigures:
    def test_a_phq9_safety_flag_goes_when_the_measure_is_entered_in_error(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        created = api.post(
            f"/api/v1/clients/{client.id}/measures",
            json={
                "instrument": "phq9",
                "administered_at": _recent(1).isoformat(),
                "items": [1, 1, 1, 1, 1, 1, 1, 1, 2],
            },
            headers=headers,
        ).json()
        # DESIGN.md "Flags": safety = latest PHQ-9 item 9 above 0.
        assert "safety" in _flag_codes(api, client, headers)
        assert "safety" in _caseload_flags(api, headers)
        response = api.patch(
            f"/api/v1/measures/{created['id']}", json={**IN_ERROR, "version": 1}, headers=headers
        )
        assert response.status_code == 200
        assert "safety" not in _flag_codes(api, client, headers)
        assert "safety" not in _caseload_flags(api, headers)

    def test_a_corrected_item_9_re_evaluates_the_safety_flag(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        created = api.post(
            f"/api/v1/clients/{client.id}/measures",
            json={
                "instrument": "phq9",
                "administered_at": _recent(1).isoformat(),
                "items": [1, 1, 1, 1, 1, 1, 1, 1, 0],
            },
            headers=headers,
        ).json()
        assert "safety" not in _caseload_flags(api, headers)
        corrected = [1, 1, 1, 1, 1, 1, 1, 1, 1]
        api.patch(
            f"/api/v1/measures/{created['id']}",
            json={"items": corrected, "version": 1},
            headers=headers,
        )
        assert "safety" in _flag_codes(api, client, headers)
        assert "safety" in _caseload_flags(api, headers)
        api.patch(
            f"/api/v1/measures/{created['id']}",
            json={"items": [1] * 8 + [0], "version": 2},
            headers=headers,
        )
        assert "safety" not in _caseload_flags(api, headers)

    def test_time_in_window_leaves_out_an_observation_entered_in_error(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        for day, zone in ((1, Zone.WITHIN), (2, Zone.WITHIN), (3, Zone.WITHIN)):
            make_observation(db, client, observed_at=_recent(day), zone=zone)
        wrong = make_observation(db, client, observed_at=_recent(4), zone=Zone.HYPER, activation=9)
        db.commit()

        def time_in_window() -> tuple[float, float]:
            metrics = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers).json()
            [item] = api.get("/api/v1/caseload", headers=headers).json()["items"]
            return metrics["capacity"]["time_in_window"], item["time_in_window"]

        # DESIGN.md "Metrics": time in window = share of the period's observations `within`.
        assert time_in_window() == (0.75, 0.75)
        api.patch(
            f"/api/v1/observations/{wrong.id}", json={**IN_ERROR, "version": 1}, headers=headers
        )
        assert time_in_window() == (1.0, 1.0)
        # Still listed, marked, with its reason.
        listed = api.get(f"/api/v1/clients/{client.id}/observations", headers=headers).json()[
            "items"
        ]
        assert [o["status"] for o in listed] == ["recorded"] * 3 + ["entered_in_error"]

    def test_an_episode_entered_in_error_leaves_the_episode_rate(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        episodes = [make_episode(db, client, started_at=_recent(day)) for day in (2, 9)]
        db.commit()

        def per_week() -> float:
            metrics = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers).json()
            return float(metrics["episodes_per_week"])

        before = per_week()
        api.patch(
            f"/api/v1/episodes/{episodes[0].id}", json={**IN_ERROR, "version": 1}, headers=headers
        )
        # Episodes per week over the same 28-day period: one of two left, so half the rate.
        assert per_week() == pytest.approx(before / 2)

    def test_an_attended_session_entered_in_error_leaves_the_attendance_figures(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client, starts_at=_recent(2))
        db.commit()
        [item] = api.get("/api/v1/caseload", headers=headers).json()["items"]
        assert item["last_attended_at"] is not None
        api.patch(
            f"/api/v1/sessions/{session.id}", json={**IN_ERROR, "version": 1}, headers=headers
        )
        [item] = api.get("/api/v1/caseload", headers=headers).json()["items"]
        assert item["last_attended_at"] is None


class TestCsvStatus:
    HEADER = ("client_id", "observed_at", "zone", "activation", "status", "status_reason")

    def _import(
        self, api: TestClient, headers: dict[str, str], rows: list[list[str]]
    ) -> tuple[int, dict[str, Any]]:
        lines = [",".join(self.HEADER), *(",".join(r) for r in rows)]
        response = api.post(
            "/api/v1/import.csv?kind=observations&dry_run=false",
            files={"file": ("o.csv", ("\r\n".join(lines) + "\r\n").encode(), "text/csv")},
            headers=headers,
        )
        return response.status_code, response.json()

    def test_the_import_reads_the_status_back(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        at = _recent(1).isoformat()
        status, body = self._import(
            api,
            headers,
            [
                [str(client.id), at, "hyper", "9", "entered_in_error", "wrong client"],
                [str(client.id), at, "within", "2", "", ""],
            ],
        )
        assert status == 200, body
        listed = api.get(f"/api/v1/clients/{client.id}/observations", headers=headers).json()
        assert sorted((o["zone"], o["status"], o["status_reason"]) for o in listed["items"]) == [
            ("hyper", "entered_in_error", "wrong client"),
            ("within", "recorded", None),
        ]
        metrics = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers).json()
        assert metrics["capacity"]["time_in_window"] == 1.0  # the hyper one does not count

    @pytest.mark.parametrize(
        ("cells", "column"),
        [
            (["entered_in_error", ""], "status_reason"),
            (["recorded", "a reason"], "status_reason"),
            (["deleted", ""], "status"),
            (["entered_in_error", "x" * 501], "status_reason"),
        ],
        ids=["no-reason", "reason-when-recorded", "unknown", "too-long"],
    )
    def test_a_bad_status_names_the_column_and_imports_nothing(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        cells: list[str],
        column: str,
    ) -> None:
        row = [str(client.id), _recent(1).isoformat(), "hyper", "9", *cells]
        status, body = self._import(api, headers, [row])
        assert status == 422, body
        assert [(p["row"], p["column"]) for p in body["problems"]] == [(2, column)]
        listed = api.get(f"/api/v1/clients/{client.id}/observations", headers=headers).json()
        assert listed["total"] == 0
