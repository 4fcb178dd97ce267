"""A client's records through the JSON API: sessions, observations, episodes and measures.

Lists are newest first (then id, newest first), paged, and filtered by a half-open time range
[start, end).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, Observation, Session, User
from practice_dashboard.models.enums import Attendance, Source, Zone
from tests.builders import (
    NOW,
    auth_headers,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
)

Make = Callable[[DbSession, Client, datetime], Any]


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


def _url(client: Client, path: str) -> str:
    return f"/api/v1/clients/{client.id}/{path}"


def _iso(at: datetime) -> str:
    return at.isoformat()


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def _count(db: DbSession, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


# One row maker per time series, keyed by the list path; each puts a row at a given time.
MAKERS: dict[str, Make] = {
    "sessions": lambda db, c, at: make_session(db, c, starts_at=at),
    "observations": lambda db, c, at: make_observation(db, c, observed_at=at),
    "episodes": lambda db, c, at: make_episode(db, c, started_at=at),
    "measures": lambda db, c, at: make_measure(db, c, administered_at=at),
}
SERIES = list(MAKERS)


class TestTimeSeriesOrderAndPaging:
    @pytest.mark.parametrize("path", SERIES)
    def test_newest_first_then_id_and_pages_cover_every_row_once(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], path: str
    ) -> None:
        times = [NOW - timedelta(hours=h) for h in (5, 1, 3, 3, 3, 2, 4)]  # three share a time
        rows = [MAKERS[path](db, client, at) for at in times]
        db.commit()
        expected = [
            str(row.id)
            for _, row in sorted(zip(times, rows, strict=True), key=lambda p: (p[0], str(p[1].id)))
        ][::-1]

        seen: list[str] = []
        for offset in (0, 3, 6):
            response = api.get(
                _url(client, path), params={"limit": 3, "offset": offset}, headers=headers
            )
            assert response.status_code == 200
            body = response.json()
            assert (body["total"], body["limit"], body["offset"]) == (7, 3, offset)
            seen += _ids(body)

        assert seen == expected
        assert len(set(seen)) == 7


class TestTimeRange:
    @pytest.mark.parametrize("path", SERIES)
    def test_range_is_half_open(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], path: str
    ) -> None:
        t0, t1, t2 = (NOW - timedelta(days=d) for d in (3, 2, 1))
        r0, r1, r2 = (MAKERS[path](db, client, at) for at in (t0, t1, t2))
        db.commit()

        def listed(**params: str) -> list[str]:
            response = api.get(_url(client, path), params=params, headers=headers)
            assert response.status_code == 200
            return _ids(response.json())

        assert listed(start=_iso(t0), end=_iso(t2)) == [str(r1.id), str(r0.id)]
        assert listed(start=_iso(t1)) == [str(r2.id), str(r1.id)]
        assert listed(end=_iso(t1)) == [str(r0.id)]
        assert listed(start=_iso(t1), end=_iso(t1 + timedelta(microseconds=1))) == [str(r1.id)]

    @pytest.mark.parametrize("path", SERIES)
    def test_offsets_other_than_utc_are_honoured(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], path: str
    ) -> None:
        row = MAKERS[path](db, client, NOW)  # 12:00 UTC
        db.commit()
        response = api.get(
            _url(client, path),
            params={"start": "2026-06-01T13:00:00+01:00", "end": "2026-06-01T13:00:01+01:00"},
            headers=headers,
        )
        assert _ids(response.json()) == [str(row.id)]

    @pytest.mark.parametrize("path", SERIES)
    @pytest.mark.parametrize("gap", [timedelta(0), timedelta(hours=-1)], ids=["equal", "before"])
    def test_end_not_after_start_is_422_naming_end(
        self, api: TestClient, headers: dict[str, str], client: Client, path: str, gap: timedelta
    ) -> None:
        response = api.get(
            _url(client, path),
            params={"start": _iso(NOW), "end": _iso(NOW + gap)},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "end"], "msg": "end must be after start", "type": "value_error"}
        ]


class TestSessions:
    def test_create_with_defaults(
        self, api: TestClient, db: DbSession, client: Client, owner: User, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _url(client, "sessions"),
            json={"starts_at": "2026-06-02T09:00:00+02:00"},
            headers=headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert datetime.fromisoformat(body["starts_at"]) == datetime.fromisoformat(
            "2026-06-02T07:00:00+00:00"
        )
        assert {k: body[k] for k in ("duration_minutes", "kind", "modality", "attendance")} == {
            "duration_minutes": 50,
            "kind": "therapy",
            "modality": "in_person",
            "attendance": "scheduled",
        }
        assert (body["homework_assigned"], body["engagement"], body["version"]) == (False, None, 1)
        assert (body["client_id"], body["practitioner_id"]) == (str(client.id), str(owner.id))
        assert _count(db, Session) == 1

    def test_create_an_attended_session_with_every_field(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        sent = {
            "starts_at": "2026-05-30T10:00:00Z",
            "duration_minutes": 480,
            "kind": "coaching",
            "modality": "video",
            "attendance": "attended",
            "engagement": 10,
            "homework_assigned": True,
            "homework_completed": "partial",
            "notes": "worked on orienting",
        }
        response = api.post(_url(client, "sessions"), json=sent, headers=headers)
        assert response.status_code == 201
        body = response.json()
        assert {k: body[k] for k in sent} == sent

    def test_attendance_filter(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        make_session(db, client, starts_at=NOW - timedelta(days=14))
        missed = make_session(
            db,
            client,
            starts_at=NOW - timedelta(days=7),
            attendance=Attendance.NO_SHOW,
            engagement=None,
        )
        db.commit()
        body = api.get(
            _url(client, "sessions"), params={"attendance": "no_show"}, headers=headers
        ).json()
        assert (_ids(body), body["total"]) == ([str(missed.id)], 1)

    def test_update_with_current_version(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client)
        db.commit()
        response = api.patch(
            f"/api/v1/sessions/{session.id}",
            json={"notes": "grounding", "engagement": 4, "version": 1},
            headers=headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["notes"], body["engagement"], body["version"]) == ("grounding", 4, 2)
        assert body["duration_minutes"] == 50

    def test_stale_version_is_409_and_changes_nothing(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client)
        db.commit()
        url = f"/api/v1/sessions/{session.id}"
        assert (
            api.patch(url, json={"notes": "v2", "version": 1}, headers=headers).status_code == 200
        )
        before = api.get(_url(client, "sessions"), headers=headers).json()["items"]

        response = api.patch(
            url, json={"notes": "lost", "duration_minutes": 30, "version": 1}, headers=headers
        )

        assert response.status_code == 409
        after = api.get(_url(client, "sessions"), headers=headers).json()["items"]
        assert after == before
        assert (after[0]["notes"], after[0]["duration_minutes"], after[0]["version"]) == (
            "v2",
            50,
            2,
        )

    def test_delete_hides_the_session_but_keeps_the_row(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        kept = make_session(db, client, starts_at=NOW - timedelta(days=14))
        gone = make_session(db, client, starts_at=NOW - timedelta(days=7))
        db.commit()
        response = api.delete(f"/api/v1/sessions/{gone.id}", headers=headers)
        assert response.status_code == 200
        assert response.json()["archived_at"] is not None
        assert _ids(api.get(_url(client, "sessions"), headers=headers).json()) == [str(kept.id)]
        assert _count(db, Session) == 2

    def test_delete_with_stale_version_is_409(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client)
        db.commit()
        url = f"/api/v1/sessions/{session.id}"
        assert (
            api.patch(url, json={"notes": "v2", "version": 1}, headers=headers).status_code == 200
        )
        response = api.delete(url, params={"version": 1}, headers=headers)
        assert response.status_code == 409
        listed = api.get(_url(client, "sessions"), headers=headers).json()["items"]
        assert [(s["id"], s["archived_at"], s["version"]) for s in listed] == [
            (str(session.id), None, 2)
        ]

    def test_a_deleted_session_cannot_be_edited(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client, archived_at=NOW)
        db.commit()
        response = api.patch(
            f"/api/v1/sessions/{session.id}", json={"notes": "x", "version": 1}, headers=headers
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "session_id"]]

    def test_records_cannot_point_at_a_deleted_session(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client, archived_at=NOW)
        db.commit()
        observation = {"observed_at": "2026-05-25T10:15:00Z", "zone": "within", "activation": 2}
        response = api.post(
            _url(client, "observations"),
            json={**observation, "session_id": str(session.id)},
            headers=headers,
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "session_id"]]
        assert _count(db, Observation) == 0

    def test_times_are_echoed_in_utc_whatever_offset_was_sent(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _url(client, "sessions"),
            json={"starts_at": "2026-05-25T11:00:00+02:00"},
            headers=headers,
        )
        assert response.status_code == 201
        assert response.json()["starts_at"] == "2026-05-25T09:00:00Z"


class TestObservations:
    def test_single_object_returns_one_observation(
        self, api: TestClient, db: DbSession, client: Client, owner: User, headers: dict[str, str]
    ) -> None:
        session = make_session(db, client)
        db.commit()
        sent = {
            "observed_at": "2026-05-25T10:15:00Z",
            "session_id": str(session.id),
            "source": "client",
            "zone": "hypo",
            "activation": 0,
            "capacity": 10,
            "safety": 6,
            "body_connection": 2,
            "notes": "felt far away",
        }
        response = api.post(_url(client, "observations"), json=sent, headers=headers)
        assert response.status_code == 201
        body = response.json()
        assert {k: body[k] for k in sent} == sent
        assert (body["client_id"], body["recorded_by_id"]) == (str(client.id), str(owner.id))
        assert _count(db, Observation) == 1

    def test_batch_returns_every_row_in_order(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        rows = [
            {"observed_at": _iso(NOW - timedelta(minutes=m)), "zone": z, "activation": a}
            for m, z, a in ((30, "hyper", 8), (20, "within", 5), (10, "within", 3))
        ]
        response = api.post(_url(client, "observations"), json=rows, headers=headers)
        assert response.status_code == 201
        body = response.json()
        assert isinstance(body, list)
        assert [(o["zone"], o["activation"]) for o in body] == [
            ("hyper", 8),
            ("within", 5),
            ("within", 3),
        ]
        assert _count(db, Observation) == 3
        listed = api.get(_url(client, "observations"), headers=headers).json()
        assert _ids(listed) == [o["id"] for o in reversed(body)]

    def test_batch_of_one_is_still_a_list(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        row = {"observed_at": _iso(NOW), "zone": "within", "activation": 1}
        response = api.post(_url(client, "observations"), json=[row], headers=headers)
        assert response.status_code == 201
        assert len(response.json()) == 1

    def test_zone_and_source_filters(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        make_observation(db, client, zone=Zone.WITHIN, source=Source.CLIENT)
        hyper_client = make_observation(db, client, zone=Zone.HYPER, source=Source.CLIENT)
        make_observation(db, client, zone=Zone.HYPER, source=Source.PRACTITIONER)
        db.commit()
        body = api.get(
            _url(client, "observations"),
            params={"zone": "hyper", "source": "client"},
            headers=headers,
        ).json()
        assert (_ids(body), body["total"]) == ([str(hyper_client.id)], 1)


class TestEpisodes:
    def test_derived_minutes(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _url(client, "episodes"),
            json={
                "started_at": "2026-05-20T10:00:00Z",
                "recognized_at": "2026-05-20T10:07:30Z",
                "peak_intensity": 8,
                "baseline_at": "2026-05-20T10:45:00Z",
                "trigger": "loud noise",
                "trigger_category": "sensory",
                "strategies": ["orienting", "paced breathing"],
                "self_compassion": 6,
            },
            headers=headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["recognition_minutes"], body["recovery_minutes"]) == (7.5, 45.0)
        assert body["strategies"] == ["orienting", "paced breathing"]
        assert body["version"] == 1

    def test_open_episode_has_no_recovery_yet(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _url(client, "episodes"),
            json={"started_at": "2026-05-20T10:00:00Z", "peak_intensity": 5},
            headers=headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["recognition_minutes"], body["recovery_minutes"]) == (None, None)
        assert body["strategies"] == []

    def test_patch_adds_the_return_to_baseline(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        episode = make_episode(db, client, started_at=NOW, recognized_at=None, baseline_at=None)
        db.commit()
        response = api.patch(
            f"/api/v1/episodes/{episode.id}",
            json={"baseline_at": _iso(NOW + timedelta(minutes=90)), "version": 1},
            headers=headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["recovery_minutes"], body["version"]) == (90.0, 2)
        listed = api.get(_url(client, "episodes"), headers=headers).json()["items"]
        assert listed == [body]

    def test_stale_version_is_409_and_changes_nothing(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        episode = make_episode(db, client)
        db.commit()
        url = f"/api/v1/episodes/{episode.id}"
        assert (
            api.patch(url, json={"notes": "v2", "version": 1}, headers=headers).status_code == 200
        )
        before = api.get(_url(client, "episodes"), headers=headers).json()["items"]
        response = api.patch(
            url, json={"peak_intensity": 1, "baseline_at": None, "version": 1}, headers=headers
        )
        assert response.status_code == 409
        assert api.get(_url(client, "episodes"), headers=headers).json()["items"] == before
        assert (before[0]["peak_intensity"], before[0]["recovery_minutes"]) == (7, 40.0)
        assert (before[0]["notes"], before[0]["version"]) == ("v2", 2)

    def test_unknown_episode_is_404(self, api: TestClient, headers: dict[str, str]) -> None:
        response = api.patch(
            f"/api/v1/episodes/{uuid.uuid4()}", json={"version": 1}, headers=headers
        )
        assert response.status_code == 404


class TestMeasures:
    def _post(
        self, api: TestClient, client: Client, headers: dict[str, str], **body: Any
    ) -> dict[str, Any]:
        body.setdefault("administered_at", "2026-05-20T09:00:00Z")
        response = api.post(_url(client, "measures"), json=body, headers=headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    @pytest.mark.parametrize(
        ("instrument", "items", "total", "severity"),
        [
            ("phq9", [0, 0, 1, 1, 1, 0, 0, 1, 0], 4.0, "minimal"),
            ("phq9", [1, 1, 1, 1, 1, 0, 0, 0, 0], 5.0, "mild"),
            ("phq9", [2, 2, 2, 2, 2, 2, 2, 1, 0], 15.0, "moderately_severe"),
            ("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 3], 27.0, "severe"),
            ("gad7", [2, 2, 2, 2, 2, 2, 2], 14.0, "moderate"),
            ("gad7", [3, 3, 3, 3, 3, 0, 0], 15.0, "severe"),
        ],
    )
    def test_item_instruments_are_scored(
        self,
        api: TestClient,
        client: Client,
        headers: dict[str, str],
        instrument: str,
        items: list[int],
        total: float,
        severity: str,
    ) -> None:
        body = self._post(api, client, headers, instrument=instrument, items=items)
        assert (body["items"], body["total"], body["severity"]) == (items, total, severity)
        assert body["subscales"] is None
        assert body["source"] == "client"

    def test_cbi_scales_with_item_13_reversed(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        # personal 1-6 all "always" (4); work 7-12 "never" (0) and item 13 "never" has energy
        # (0 -> reversed to 100 points); client-related 14-19 "seldom" (1).
        items = [4] * 6 + [0] * 6 + [0] + [1] * 6
        body = self._post(
            api, client, headers, instrument="cbi", items=items, source="practitioner"
        )
        assert body["subscales"] == pytest.approx(
            {"personal": 100.0, "work_related": 100 / 7, "client_related": 25.0}
        )
        assert (body["total"], body["severity"], body["source"]) == (None, None, "practitioner")

    def test_cbi_without_client_related_answers(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        items = [2] * 6 + [2] * 6 + [4] + [None] * 6
        body = self._post(api, client, headers, instrument="cbi", items=items)
        assert body["subscales"] == pytest.approx(
            {"personal": 50.0, "work_related": (6 * 50 + 0) / 7, "client_related": None}
        )

    @pytest.mark.parametrize(("instrument", "total"), [("ors", 30.5), ("ors", 0), ("srs", 40)])
    def test_total_only_instruments_store_the_total(
        self,
        api: TestClient,
        client: Client,
        headers: dict[str, str],
        instrument: str,
        total: float,
    ) -> None:
        body = self._post(api, client, headers, instrument=instrument, total=total)
        assert (body["total"], body["items"], body["subscales"], body["severity"]) == (
            total,
            None,
            None,
            None,
        )

    def test_phq9_with_one_item_missing_is_prorated(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        body = self._post(
            api, client, headers, instrument="phq9", items=[2, 2, 2, 2, 2, 2, 2, 2, None]
        )
        assert (body["total"], body["severity"]) == (18.0, "moderately_severe")

    def test_instrument_filter(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        make_measure(db, client)
        gad = make_measure(db, client, instrument="gad7", items=[1] * 7, total=7.0)
        db.commit()
        body = api.get(
            _url(client, "measures"), params={"instrument": "gad7"}, headers=headers
        ).json()
        assert (_ids(body), body["total"]) == ([str(gad.id)], 1)
