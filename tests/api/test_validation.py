"""Bad input: a 422 naming each bad field and why, and nothing written.

Every case asserts the exact `detail[].loc` list, a non-empty `msg` for each, and that no row
(audit events included) was added or changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    AuditEvent,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    User,
)
from tests.builders import (
    NOW,
    auth_headers,
    make_client,
    make_episode,
    make_session,
    make_user,
)

TABLES = (Client, Session, Observation, Episode, Measure, AuditEvent)
PAST = NOW - timedelta(days=1)
AT = PAST.isoformat()
NAIVE = "2026-05-31T12:00:00"


@dataclass
class World:
    owner: User
    client: Client
    other_client: Client
    session: Session
    other_session: Session
    episode: Episode
    headers: dict[str, str]

    def url(self, kind: str) -> str:
        """The create (POST) or update (PATCH) address of each kind of record."""
        return {
            "client": "/api/v1/clients",
            "session": f"/api/v1/clients/{self.client.id}/sessions",
            "observation": f"/api/v1/clients/{self.client.id}/observations",
            "episode": f"/api/v1/clients/{self.client.id}/episodes",
            "measure": f"/api/v1/clients/{self.client.id}/measures",
            "patch-client": f"/api/v1/clients/{self.client.id}",
            "patch-session": f"/api/v1/sessions/{self.session.id}",
            "patch-episode": f"/api/v1/episodes/{self.episode.id}",
        }[kind]


@pytest.fixture
def world(db: DbSession, settings: Settings) -> World:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    other_client = make_client(db, owner)
    session = make_session(db, client, starts_at=NOW - timedelta(days=7))
    other_session = make_session(db, other_client)
    episode = make_episode(
        db,
        client,
        started_at=NOW - timedelta(days=2),
        recognized_at=NOW - timedelta(days=2) + timedelta(minutes=5),
        baseline_at=NOW - timedelta(days=2) + timedelta(minutes=40),
    )
    db.commit()
    return World(
        owner, client, other_client, session, other_session, episode, auth_headers(settings, owner)
    )


def _snapshot(db: DbSession) -> dict[str, Any]:
    """Row counts of every clinical table and the audit trail, plus the editable rows' state."""
    db.expire_all()
    counts = {m.__tablename__: db.scalar(select(func.count()).select_from(m)) for m in TABLES}
    rows = {
        "clients": [
            (c.id, c.display_name, c.version, c.intake_date, c.discharged_on, c.archived_at)
            for c in db.scalars(select(Client).order_by(Client.id))
        ],
        "sessions": [
            (s.id, s.starts_at, s.attendance, s.engagement, s.duration_minutes, s.version)
            for s in db.scalars(select(Session).order_by(Session.id))
        ],
        "episodes": [
            (e.id, e.started_at, e.recognized_at, e.baseline_at, e.peak_intensity, e.version)
            for e in db.scalars(select(Episode).order_by(Episode.id))
        ],
    }
    return {"counts": counts, "rows": rows}


@pytest.fixture
def unchanged(db: DbSession, world: World) -> Iterator[None]:
    """The test's requests must leave every row as it was."""
    before = _snapshot(db)
    yield
    assert _snapshot(db) == before


def _locs(response: Response) -> list[list[str | int]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert all(isinstance(e["msg"], str) and e["msg"] for e in detail), detail
    return [e["loc"] for e in detail]


def _send(api: TestClient, world: World, kind: str, body: Any) -> Response:
    if kind.startswith("patch-"):
        return api.patch(world.url(kind), json={"version": 1, **body}, headers=world.headers)
    return api.post(world.url(kind), json=body, headers=world.headers)


# Valid bodies; each case below changes one or two fields.
BASE: dict[str, dict[str, Any]] = {
    "client": {"display_name": "NEW"},
    "session": {"starts_at": AT},
    "observation": {"observed_at": AT, "zone": "within", "activation": 3},
    "episode": {"started_at": AT, "peak_intensity": 5},
    "measure": {"instrument": "gad7", "administered_at": AT, "items": [1] * 7},
    "patch-client": {},
    "patch-session": {},
    "patch-episode": {},
}


def _case(kind: str, change: dict[str, Any], *locs: tuple[str | int, ...]) -> Any:
    field = "+".join(change) or "empty"
    return pytest.param(
        kind, {**BASE[kind], **change}, [["body", *loc] for loc in locs], id=f"{kind}-{field}"
    )


RANGES = [
    _case("observation", {"activation": -1}, ("activation",)),
    _case("observation", {"activation": 11}, ("activation",)),
    _case("observation", {"activation": 2.5}, ("activation",)),
    _case("observation", {"capacity": 11}, ("capacity",)),
    _case("observation", {"safety": -1}, ("safety",)),
    _case("observation", {"body_connection": 11}, ("body_connection",)),
    _case("observation", {"activation": 12, "capacity": -3}, ("activation",), ("capacity",)),
    _case("session", {"duration_minutes": 0}, ("duration_minutes",)),
    _case("session", {"duration_minutes": 481}, ("duration_minutes",)),
    _case("session", {"attendance": "attended", "engagement": 11}, ("engagement",)),
    _case("episode", {"peak_intensity": 11}, ("peak_intensity",)),
    _case("episode", {"peak_intensity": -1}, ("peak_intensity",)),
    _case("episode", {"self_compassion": 11}, ("self_compassion",)),
    _case("client", {"session_cadence_days": 0}, ("session_cadence_days",)),
    _case("client", {"session_cadence_days": 366}, ("session_cadence_days",)),
    _case("client", {"display_name": "   "}, ("display_name",)),
    _case("patch-session", {"duration_minutes": 481}, ("duration_minutes",)),
    _case("patch-session", {"engagement": -1}, ("engagement",)),
    _case("patch-episode", {"peak_intensity": 11}, ("peak_intensity",)),
    _case("patch-episode", {"self_compassion": -1}, ("self_compassion",)),
    _case("patch-client", {"session_cadence_days": 0}, ("session_cadence_days",)),
]

ENUMS = [
    _case("observation", {"zone": "calm"}, ("zone",)),
    _case("observation", {"source": "therapist"}, ("source",)),
    _case("session", {"kind": "group"}, ("kind",)),
    _case("session", {"modality": "email"}, ("modality",)),
    _case("session", {"attendance": "maybe"}, ("attendance",)),
    _case("session", {"homework_completed": "mostly"}, ("homework_completed",)),
    _case("client", {"status": "closed"}, ("status",)),
    _case("measure", {"source": "parent"}, ("source",)),
    _case("patch-session", {"attendance": "ATTENDED"}, ("attendance",)),
    _case("patch-client", {"status": "archived"}, ("status",)),
]

NAIVE_TIMES = [
    _case("observation", {"observed_at": NAIVE}, ("observed_at",)),
    _case("session", {"starts_at": NAIVE}, ("starts_at",)),
    _case("episode", {"started_at": NAIVE}, ("started_at",)),
    _case("episode", {"recognized_at": NAIVE}, ("recognized_at",)),
    _case("episode", {"baseline_at": NAIVE}, ("baseline_at",)),
    _case("measure", {"administered_at": NAIVE}, ("administered_at",)),
    _case("patch-session", {"starts_at": NAIVE}, ("starts_at",)),
    _case("patch-episode", {"baseline_at": NAIVE}, ("baseline_at",)),
    _case("patch-episode", {"started_at": NAIVE}, ("started_at",)),
]

UNKNOWN_FIELDS = [_case(kind, {"colour": "blue"}, ("colour",)) for kind in BASE] + [
    _case(
        "client", {"practitioner_id": "00000000-0000-0000-0000-000000000000"}, ("practitioner_id",)
    ),
    _case("observation", {"client_id": "00000000-0000-0000-0000-000000000000"}, ("client_id",)),
    _case("measure", {"severity": "mild"}, ("severity",)),
    _case("patch-episode", {"recovery_minutes": 3}, ("recovery_minutes",)),
]


class TestRanges:
    @pytest.mark.parametrize(("kind", "body", "locs"), RANGES)
    @pytest.mark.usefixtures("unchanged")
    def test_out_of_range_is_422_naming_the_field(
        self, api: TestClient, world: World, kind: str, body: dict[str, Any], locs: list[Any]
    ) -> None:
        assert _locs(_send(api, world, kind, body)) == locs

    def test_message_says_why(self, api: TestClient, world: World) -> None:
        response = _send(api, world, "observation", {**BASE["observation"], "activation": 11})
        assert response.json()["detail"][0]["msg"] == "Input should be less than or equal to 10"


class TestEnumerations:
    @pytest.mark.parametrize(("kind", "body", "locs"), ENUMS)
    @pytest.mark.usefixtures("unchanged")
    def test_unknown_value_is_422_naming_the_field(
        self, api: TestClient, world: World, kind: str, body: dict[str, Any], locs: list[Any]
    ) -> None:
        assert _locs(_send(api, world, kind, body)) == locs

    def test_message_lists_the_allowed_values(self, api: TestClient, world: World) -> None:
        response = _send(api, world, "observation", {**BASE["observation"], "zone": "calm"})
        assert response.json()["detail"][0]["msg"] == "Input should be 'within', 'hyper' or 'hypo'"

    @pytest.mark.parametrize(
        ("path", "param"),
        [("observations", "zone"), ("observations", "source"), ("sessions", "attendance")],
    )
    def test_unknown_filter_value_is_422(
        self, api: TestClient, world: World, path: str, param: str
    ) -> None:
        response = api.get(
            f"/api/v1/clients/{world.client.id}/{path}",
            params={param: "nope"},
            headers=world.headers,
        )
        assert _locs(response) == [["query", param]]


class TestNaiveDatetimes:
    @pytest.mark.parametrize(("kind", "body", "locs"), NAIVE_TIMES)
    @pytest.mark.usefixtures("unchanged")
    def test_time_without_zone_is_422(
        self, api: TestClient, world: World, kind: str, body: dict[str, Any], locs: list[Any]
    ) -> None:
        response = _send(api, world, kind, body)
        assert _locs(response) == locs
        assert response.json()["detail"][0]["msg"] == "Input should have timezone info"

    @pytest.mark.parametrize("param", ["start", "end"])
    def test_list_range_without_zone_is_422(
        self, api: TestClient, world: World, param: str
    ) -> None:
        response = api.get(
            f"/api/v1/clients/{world.client.id}/episodes",
            params={param: NAIVE},
            headers=world.headers,
        )
        assert _locs(response) == [["query", param]]


class TestUnknownFields:
    @pytest.mark.parametrize(("kind", "body", "locs"), UNKNOWN_FIELDS)
    @pytest.mark.usefixtures("unchanged")
    def test_unknown_field_is_422(
        self, api: TestClient, world: World, kind: str, body: dict[str, Any], locs: list[Any]
    ) -> None:
        response = _send(api, world, kind, body)
        assert _locs(response) == locs
        assert response.json()["detail"][0]["msg"] == "Extra inputs are not permitted"


class TestFutureTimes:
    LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    @pytest.mark.parametrize(
        ("kind", "field"),
        [("observation", "observed_at"), ("episode", "started_at"), ("measure", "administered_at")],
    )
    @pytest.mark.usefixtures("unchanged")
    def test_record_in_the_future_is_422(
        self, api: TestClient, world: World, kind: str, field: str
    ) -> None:
        response = _send(api, world, kind, {**BASE[kind], field: self.LATER})
        assert _locs(response) == [["body", field]]

    @pytest.mark.usefixtures("unchanged")
    def test_future_session_cannot_be_marked_attended(self, api: TestClient, world: World) -> None:
        response = _send(api, world, "session", {"starts_at": self.LATER, "attendance": "attended"})
        assert _locs(response) == [["body", "attendance"]]


class TestEpisodeTimeOrder:
    """started_at ≤ recognized_at and started_at ≤ baseline_at, on create and on PATCH."""

    S = NOW - timedelta(days=2)  # the world's episode: recognized S+5 min, baseline S+40 min

    def _t(self, minutes: int) -> str:
        return (self.S + timedelta(minutes=minutes)).isoformat()

    @pytest.mark.parametrize(
        ("change", "locs"),
        [
            ({"recognized_at": -1}, [["body", "recognized_at"]]),
            ({"baseline_at": -1}, [["body", "baseline_at"]]),
            (
                {"recognized_at": -1, "baseline_at": -2},
                [["body", "recognized_at"], ["body", "baseline_at"]],
            ),
        ],
        ids=["recognized", "baseline", "both"],
    )
    @pytest.mark.usefixtures("unchanged")
    def test_create_with_times_before_onset_is_422(
        self, api: TestClient, world: World, change: dict[str, int], locs: list[Any]
    ) -> None:
        body = {"started_at": self._t(0), "peak_intensity": 5}
        body |= {name: self._t(minutes) for name, minutes in change.items()}
        response = _send(api, world, "episode", body)
        assert _locs(response) == locs
        assert all("started_at" in e["msg"] for e in response.json()["detail"])

    @pytest.mark.parametrize(
        ("change", "locs"),
        [
            ({"recognized_at": -1}, [["body", "recognized_at"]]),
            ({"baseline_at": -1}, [["body", "baseline_at"]]),
            # Only the onset moves, past the stored recognition (and baseline): name started_at.
            ({"started_at": 10}, [["body", "started_at"]]),
            ({"started_at": 60}, [["body", "started_at"], ["body", "started_at"]]),
            ({"started_at": 50, "recognized_at": 55, "baseline_at": 45}, [["body", "baseline_at"]]),
        ],
        ids=["recognized", "baseline", "start-past-recognized", "start-past-both", "all-three"],
    )
    @pytest.mark.usefixtures("unchanged")
    def test_patch_that_breaks_the_order_is_422_and_changes_nothing(
        self, api: TestClient, world: World, change: dict[str, int], locs: list[Any]
    ) -> None:
        body = {name: self._t(minutes) for name, minutes in change.items()}
        response = _send(api, world, "patch-episode", body)
        assert _locs(response) == locs

    def test_patch_started_at_message_names_the_stored_time(
        self, api: TestClient, world: World
    ) -> None:
        response = _send(api, world, "patch-episode", {"started_at": self._t(10)})
        assert "recognized_at" in response.json()["detail"][0]["msg"]

    def test_patch_moving_both_sides_consistently_is_accepted(
        self, api: TestClient, world: World
    ) -> None:
        response = _send(
            api, world, "patch-episode", {"started_at": self._t(10), "recognized_at": self._t(20)}
        )
        assert response.status_code == 200
        assert (response.json()["recognition_minutes"], response.json()["recovery_minutes"]) == (
            10.0,
            30.0,
        )

    @pytest.mark.usefixtures("unchanged")
    def test_patch_null_for_a_required_time_is_422(self, api: TestClient, world: World) -> None:
        assert _locs(_send(api, world, "patch-episode", {"started_at": None})) == [
            ["body", "started_at"]
        ]


class TestSessionRules:
    @pytest.mark.usefixtures("unchanged")
    def test_engagement_only_for_attended_sessions(self, api: TestClient, world: World) -> None:
        response = _send(api, world, "patch-session", {"attendance": "no_show"})
        # The stored engagement (7) no longer fits a no-show.
        assert _locs(response) == [["body", "engagement"]]

    @pytest.mark.usefixtures("unchanged")
    def test_homework_review_only_for_attended_sessions(
        self, api: TestClient, world: World
    ) -> None:
        body = {"starts_at": AT, "attendance": "cancelled", "homework_completed": "yes"}
        assert _locs(_send(api, world, "session", body)) == [["body", "homework_completed"]]

    @pytest.mark.usefixtures("unchanged")
    def test_moving_an_attended_session_into_the_future_is_422(
        self, api: TestClient, world: World
    ) -> None:
        later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        response = _send(api, world, "patch-session", {"starts_at": later})
        assert _locs(response) == [["body", "attendance"]]


class TestObservationBatch:
    """A batch is all-or-nothing, and each error names the row and the field."""

    def _rows(self, n: int = 3) -> list[dict[str, Any]]:
        return [
            {
                "observed_at": (PAST + timedelta(minutes=i)).isoformat(),
                "zone": "within",
                "activation": 3,
            }
            for i in range(n)
        ]

    @pytest.mark.usefixtures("unchanged")
    def test_one_bad_row_writes_none(self, api: TestClient, world: World) -> None:
        rows = self._rows()
        rows[2]["activation"] = 11
        assert _locs(_send(api, world, "observation", rows)) == [["body", 2, "activation"]]

    @pytest.mark.usefixtures("unchanged")
    def test_every_bad_row_is_named(self, api: TestClient, world: World) -> None:
        rows = self._rows(4)
        rows[0]["zone"] = "calm"
        rows[2]["activation"] = -1
        rows[3]["colour"] = "blue"
        rows[3]["observed_at"] = NAIVE
        assert _locs(_send(api, world, "observation", rows)) == [
            ["body", 0, "zone"],
            ["body", 2, "activation"],
            ["body", 3, "observed_at"],
            ["body", 3, "colour"],
        ]

    @pytest.mark.usefixtures("unchanged")
    def test_row_missing_a_field(self, api: TestClient, world: World) -> None:
        rows = self._rows()
        del rows[1]["zone"]
        response = _send(api, world, "observation", rows)
        assert _locs(response) == [["body", 1, "zone"]]
        assert response.json()["detail"][0]["msg"] == "Field required"

    @pytest.mark.usefixtures("unchanged")
    def test_row_in_the_future_writes_none(self, api: TestClient, world: World) -> None:
        rows = self._rows()
        rows[1]["observed_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert _locs(_send(api, world, "observation", rows)) == [["body", 1, "observed_at"]]

    @pytest.mark.usefixtures("unchanged")
    def test_row_pointing_at_another_clients_session_writes_none(
        self, api: TestClient, world: World
    ) -> None:
        rows = self._rows()
        rows[0]["session_id"] = str(world.session.id)  # fine: this client's session
        rows[1]["session_id"] = str(world.other_session.id)
        assert _locs(_send(api, world, "observation", rows)) == [["body", 1, "session_id"]]

    @pytest.mark.usefixtures("unchanged")
    def test_single_object_pointing_at_another_clients_session(
        self, api: TestClient, world: World
    ) -> None:
        body = {**BASE["observation"], "session_id": str(world.other_session.id)}
        assert _locs(_send(api, world, "observation", body)) == [["body", "session_id"]]

    @pytest.mark.usefixtures("unchanged")
    def test_row_that_is_not_an_object(self, api: TestClient, world: World) -> None:
        rows: list[Any] = [*self._rows(1), 5]
        assert _locs(_send(api, world, "observation", rows)) == [["body", 1]]

    @pytest.mark.usefixtures("unchanged")
    def test_empty_batch_is_422(self, api: TestClient, world: World) -> None:
        assert _locs(_send(api, world, "observation", [])) == [["body"]]

    @pytest.mark.usefixtures("unchanged")
    def test_batch_over_the_limit_is_422(
        self, api: TestClient, world: World, settings: Settings
    ) -> None:
        rows = [BASE["observation"]] * (settings.max_batch_size + 1)
        response = _send(api, world, "observation", rows)
        assert _locs(response) == [["body"]]
        assert str(settings.max_batch_size) in response.json()["detail"][0]["msg"]

    @pytest.mark.usefixtures("unchanged")
    def test_episode_session_of_another_client(self, api: TestClient, world: World) -> None:
        body = {**BASE["episode"], "session_id": str(world.other_session.id)}
        assert _locs(_send(api, world, "episode", body)) == [["body", "session_id"]]


def _measure(instrument: str, **fields: Any) -> dict[str, Any]:
    return {"instrument": instrument, "administered_at": AT, **fields}


class TestMeasureItems:
    @pytest.mark.parametrize(
        ("body", "locs", "msg"),
        [
            (_measure("bdi", items=[0] * 21), [["instrument"]], "unknown instrument 'bdi'"),
            (_measure("PHQ9", items=[0] * 9), [["instrument"]], "unknown instrument 'PHQ9'"),
            (_measure("phq9", items=[0] * 8), [["items"]], "PHQ-9 has 9 items, got 8"),
            (_measure("phq9", items=[0] * 10), [["items"]], "PHQ-9 has 9 items, got 10"),
            (_measure("phq9"), [["items"]], "PHQ-9 needs 9 item answers"),
            (
                _measure("phq9", items=[0] * 8 + [4]),
                [["items", 8]],
                "item 9 must be between 0 and 3",
            ),
            (
                _measure("phq9", items=[-1] + [0] * 8),
                [["items", 0]],
                "item 1 must be between 0 and 3",
            ),
            (
                _measure("phq9", items=[4, 0, 0, 0, 9, 0, 0, 0, 0]),
                [["items", 0], ["items", 4]],
                "item 1 must be between 0 and 3",
            ),
            (
                _measure("phq9", items=[0] * 9, total=0),
                [["total"]],
                "PHQ-9 is scored from its items; do not send a total",
            ),
            (
                _measure("phq9", items=[True] + [0] * 8),
                [["items", 0]],
                "Input should be a valid integer",
            ),
            (
                _measure("phq9", items=[0, "2"] + [0] * 7),
                [["items", 1]],
                "Input should be a valid integer",
            ),
            (
                _measure("phq9", items=[0, 0, 1.5] + [0] * 6),
                [["items", 2]],
                "Input should be a valid integer",
            ),
            (_measure("gad7", items=[0] * 9), [["items"]], "GAD-7 has 7 items, got 9"),
            (
                _measure("gad7", items=[0] * 6 + [4]),
                [["items", 6]],
                "item 7 must be between 0 and 3",
            ),
            (
                _measure("cbi", items=[0] * 18),
                [["items"]],
                "CBI has 19 items, got 18",
            ),
            (
                _measure("cbi", items=[0] * 12 + [5] + [0] * 6),
                [["items", 12]],
                "item 13 must be between 0 and 4",
            ),
            (
                _measure("ors", items=[10, 10, 10, 10]),
                [["items"], ["total"]],
                "ORS is stored as a total only; item answers are not accepted",
            ),
            (_measure("ors"), [["total"]], "ORS needs a total between 0 and 40"),
            (_measure("ors", total=40.5), [["total"]], "ORS total must be between 0 and 40"),
            (_measure("ors", total=-1), [["total"]], "ORS total must be between 0 and 40"),
            (_measure("srs", total=41), [["total"]], "SRS total must be between 0 and 40"),
        ],
        ids=[
            "unknown",
            "code-is-case-sensitive",
            "phq9-8-items",
            "phq9-10-items",
            "phq9-no-items",
            "phq9-item-4",
            "phq9-item-negative",
            "phq9-two-bad-items",
            "phq9-with-total",
            "phq9-bool-item",
            "phq9-string-item",
            "phq9-fraction-item",
            "gad7-9-items",
            "gad7-item-4",
            "cbi-18-items",
            "cbi-item-5",
            "ors-with-items",
            "ors-no-total",
            "ors-over-40",
            "ors-negative",
            "srs-over-40",
        ],
    )
    @pytest.mark.usefixtures("unchanged")
    def test_bad_measure_is_422_naming_the_field(
        self, api: TestClient, world: World, body: dict[str, Any], locs: list[Any], msg: str
    ) -> None:
        response = _send(api, world, "measure", body)
        assert _locs(response) == [["body", *loc] for loc in locs]
        assert response.json()["detail"][0]["msg"] == msg


class TestMalformedJson:
    @pytest.mark.parametrize(
        "kind",
        ["client", "session", "observation", "episode", "measure", "patch-client", "patch-episode"],
    )
    @pytest.mark.usefixtures("unchanged")
    def test_malformed_json_is_422(self, api: TestClient, world: World, kind: str) -> None:
        send = api.patch if kind.startswith("patch-") else api.post
        response = send(
            world.url(kind),
            content=b'{"version": 1, "notes": "unterminated',
            headers={**world.headers, "Content-Type": "application/json"},
        )
        locs = _locs(response)
        assert len(locs) == 1
        assert locs[0][0] == "body"
        assert response.json()["detail"][0]["type"] == "json_invalid"

    @pytest.mark.parametrize("kind", ["session", "observation"])
    @pytest.mark.usefixtures("unchanged")
    def test_missing_body_is_422(self, api: TestClient, world: World, kind: str) -> None:
        response = api.post(world.url(kind), headers=world.headers)
        assert _locs(response) == [["body"]]


def _big_body(kind: str, size: int) -> bytes:
    """A JSON body of exactly `size` bytes for `kind`, padded in its notes/goals field."""
    field = "goals" if kind == "client" else "notes"
    template = {**BASE[kind], field: ""}
    empty = len(json.dumps(template).encode())
    return json.dumps({**template, field: "x" * (size - empty)}).encode()


class TestOversizedBodies:
    KINDS = ["client", "session", "observation", "episode", "patch-client"]

    def _send(self, api: TestClient, world: World, kind: str, content: Any) -> Response:
        send = api.patch if kind.startswith("patch-") else api.post
        return send(
            world.url(kind),
            content=content,
            headers={**world.headers, "Content-Type": "application/json"},
        )

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.usefixtures("unchanged")
    def test_announced_length_over_the_limit_is_413(
        self, api: TestClient, world: World, settings: Settings, kind: str
    ) -> None:
        body = _big_body(kind, settings.max_body_bytes + 1)
        response = self._send(api, world, kind, body)
        assert response.status_code == 413
        assert response.json() == {
            "detail": f"Request body too large; the limit is {settings.max_body_bytes} bytes"
        }

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.usefixtures("unchanged")
    def test_chunked_body_over_the_limit_is_413(
        self, api: TestClient, world: World, settings: Settings, kind: str
    ) -> None:
        body = _big_body(kind, settings.max_body_bytes + 1)
        # A generator: httpx sends it chunked, with no Content-Length.
        response = self._send(api, world, kind, (part for part in [body]))
        assert response.status_code == 413, response.text
        assert "Request body too large" in response.json()["detail"]

    @pytest.mark.parametrize("kind", ["session", "observation"])
    @pytest.mark.usefixtures("unchanged")
    def test_many_small_chunks_adding_up_over_the_limit_is_413(
        self, app: FastAPI, world: World, settings: Settings, kind: str
    ) -> None:
        body = _big_body(kind, settings.max_body_bytes + 1)
        chunk = 64 * 1024
        messages = [
            {"type": "http.request", "body": body[i : i + chunk], "more_body": True}
            for i in range(0, len(body), chunk)
        ]
        messages.append({"type": "http.request", "body": b"", "more_body": False})
        assert all(len(m["body"]) <= chunk for m in messages)
        status = _asgi_post(app, world.url(kind), world.headers, messages)
        assert status == 413

    @pytest.mark.usefixtures("unchanged")
    def test_body_of_exactly_the_limit_passes_the_size_check(
        self, api: TestClient, world: World, settings: Settings
    ) -> None:
        body = _big_body("session", settings.max_body_bytes)
        assert len(body) == settings.max_body_bytes
        response = self._send(api, world, "session", body)
        # Let through, then refused by the schema: notes are at most 10 000 characters.
        assert _locs(response) == [["body", "notes"]]


def _asgi_post(
    app: FastAPI, path: str, headers: dict[str, str], messages: list[dict[str, Any]]
) -> int:
    """POST `messages` straight into the ASGI app, as a server streaming a chunked body would."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # In a thread of its own: another test's browser driver may own this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, app, scope, receive, send).result()
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    status: int = starts[0]["status"]
    return status


LISTS = ["", "/{c}/sessions", "/{c}/observations", "/{c}/episodes", "/{c}/measures"]


class TestPageSizes:
    @pytest.mark.parametrize("path", LISTS, ids=["clients", *(p.split("/")[-1] for p in LISTS[1:])])
    @pytest.mark.parametrize(
        ("params", "loc", "msg"),
        [
            ({"limit": 100000}, "limit", "Input should be less than or equal to 500"),
            ({"limit": 0}, "limit", "Input should be greater than or equal to 1"),
            ({"limit": -5}, "limit", "Input should be greater than or equal to 1"),
            ({"offset": -1}, "offset", "Input should be greater than or equal to 0"),
            (
                {"limit": "many"},
                "limit",
                "Input should be a valid integer, unable to parse string as an integer",
            ),
        ],
        ids=["huge-limit", "zero-limit", "negative-limit", "negative-offset", "text-limit"],
    )
    def test_absurd_paging_is_422_with_a_clear_message(
        self,
        api: TestClient,
        world: World,
        path: str,
        params: dict[str, Any],
        loc: str,
        msg: str,
    ) -> None:
        url = "/api/v1/clients" + path.format(c=world.client.id)
        response = api.get(url, params=params, headers=world.headers)
        assert _locs(response) == [["query", loc]]
        assert response.json()["detail"][0]["msg"] == msg

    @pytest.mark.parametrize("path", LISTS, ids=["clients", *(p.split("/")[-1] for p in LISTS[1:])])
    def test_largest_page_is_allowed(self, api: TestClient, world: World, path: str) -> None:
        url = "/api/v1/clients" + path.format(c=world.client.id)
        response = api.get(url, params={"limit": 500}, headers=world.headers)
        assert response.status_code == 200
        assert response.json()["limit"] == 500
