"""GET /api/v1/caseload: headline figures, filters, sorting, paging, visibility, query counts.

Summaries are computed with the real clock when the test data is committed, so every time
below is relative to `datetime.now(UTC)`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, Client, ClientSummary, User
from practice_dashboard.models.enums import Attendance, ClientStatus, Role, Zone
from practice_dashboard.services.analytics import summary
from tests.builders import (
    auth_headers,
    earlier_today,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.conftest import QueryCounter

URL = "/api/v1/caseload"


def _at(days: float) -> datetime:
    """`days` from the real now (negative: in the past), to the whole minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now + timedelta(days=days)


def _episode(db: DbSession, client: Client, days: float, minutes: int) -> None:
    start = _at(days)
    make_episode(db, client, started_at=start, baseline_at=start + timedelta(minutes=minutes))


def _get(api: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = api.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _names(api: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    return [i["display_name"] for i in _get(api, headers, **params)["items"]]


@dataclass
class Practice:
    """Two supervisees (Ann A, Bob B) of one supervisor, four clients with known figures."""

    ann: User
    bob: User
    supervisor: User
    clients: dict[str, Client]
    times: dict[str, datetime]


@pytest.fixture
def practice(db: DbSession, settings: Settings) -> Practice:
    ann = make_user(db, settings, Role.THERAPIST, full_name="Ann A")
    bob = make_user(db, settings, Role.COACH, full_name="Bob B")
    boss = make_user(db, settings, Role.SUPERVISOR, full_name="Sue S")
    supervise(db, boss, ann)
    supervise(db, boss, bob)
    intake = (datetime.now(UTC) - timedelta(days=100)).date()
    times = {
        "delta_attended": _at(-1),
        "delta_next": _at(2),
        "alpha_attended": _at(-10),
        "alpha_next": _at(9),
        "charlie_attended": _at(-5),
        "bravo_next": _at(1),
    }

    # delta (Bob, active): no flags; six episodes with recovery shrinking by 10 minutes each
    # (90 ... 40): improving; only the last one (40 min) is in the 28-day headline window.
    delta = make_client(db, bob, display_name="delta", intake_date=intake)
    for days, minutes in ((-75, 90), (-65, 80), (-55, 70), (-45, 60), (-35, 50), (-3, 40)):
        _episode(db, delta, days, minutes)
    make_observation(db, delta, observed_at=_at(-1), zone=Zone.WITHIN, activation=3)
    make_session(db, delta, starts_at=times["delta_attended"])
    make_session(
        db, delta, starts_at=times["delta_next"], attendance=Attendance.SCHEDULED, engagement=None
    )

    # Alpha (Ann, paused): PHQ-9 item 9 answered 1: a safety alert.
    alpha = make_client(
        db, ann, display_name="Alpha", intake_date=intake, status=ClientStatus.PAUSED
    )
    _episode(db, alpha, -5, 10)
    make_observation(db, alpha, observed_at=_at(-2), zone=Zone.HYPER, activation=5)
    make_session(db, alpha, starts_at=times["alpha_attended"])
    make_session(
        db, alpha, starts_at=times["alpha_next"], attendance=Attendance.SCHEDULED, engagement=None
    )
    make_measure(db, alpha, administered_at=_at(-3), items=[0] * 8 + [1], total=1.0)

    # charlie (Bob, discharged): two no-shows in the last three due sessions: engagement watch.
    charlie = make_client(
        db, bob, display_name="charlie", intake_date=intake, status=ClientStatus.DISCHARGED
    )
    make_observation(db, charlie, observed_at=_at(-1), zone=Zone.WITHIN, activation=2)
    make_observation(db, charlie, observed_at=_at(-2), zone=Zone.HYPER, activation=7)
    make_session(db, charlie, starts_at=times["charlie_attended"])
    for days in (-12, -19):
        make_session(
            db, charlie, starts_at=_at(days), attendance=Attendance.NO_SHOW, engagement=None
        )

    # Bravo (Ann, active): PHQ-9 from 3 to 12 and 12 again, a reliable deterioration confirmed
    # at two consecutive administrations (DOMAIN.md §3.4): alert.
    bravo = make_client(db, ann, display_name="Bravo", intake_date=intake)
    _episode(db, bravo, -4, 25)
    make_session(
        db, bravo, starts_at=times["bravo_next"], attendance=Attendance.SCHEDULED, engagement=None
    )
    make_measure(db, bravo, administered_at=_at(-40), items=[1, 1, 1] + [0] * 6, total=3.0)
    for days in (-20, -2):
        make_measure(
            db, bravo, administered_at=_at(days), items=[2, 2, 2, 2, 1, 1, 1, 1, 0], total=12.0
        )
    db.commit()
    clients = {"delta": delta, "Alpha": alpha, "charlie": charlie, "Bravo": bravo}
    return Practice(ann, bob, boss, clients, times)


@pytest.fixture
def boss(settings: Settings, practice: Practice) -> dict[str, str]:
    return auth_headers(settings, practice.supervisor)


class TestHeadline:
    def test_figures_of_each_client(
        self, api: TestClient, settings: Settings, practice: Practice, boss: dict[str, str]
    ) -> None:
        body = _get(api, boss)
        items = {i["display_name"]: i for i in body["items"]}
        today = summary.practice_today(settings, datetime.now(UTC))
        delta = items["delta"]
        assert delta["client_id"] == str(practice.clients["delta"].id)
        assert delta["status"] == "active"
        assert delta["practitioner_id"] == str(practice.bob.id)
        assert delta["practitioner_name"] == "Bob B"
        assert datetime.fromisoformat(delta["last_attended_at"]) == practice.times["delta_attended"]
        assert datetime.fromisoformat(delta["next_session_at"]) == practice.times["delta_next"]
        # Six recovered episodes, each 10 minutes shorter: improving; window median 40.
        assert delta["recovery"] == {"median_minutes": 40.0, "direction": "improving"}
        assert delta["time_in_window"] == 1.0
        assert delta["flags"] == []
        assert delta["as_of"] == today.isoformat()

        alpha = items["Alpha"]
        assert alpha["status"] == "paused"
        assert alpha["recovery"] == {"median_minutes": 10.0, "direction": "insufficient_data"}
        assert alpha["time_in_window"] == 0.0
        assert [(f["code"], f["level"]) for f in alpha["flags"]] == [("safety", "alert")]
        assert alpha["flags"][0]["reasons"]
        assert alpha["flags"][0]["evidence"]["phq9_item9"] == 1

        charlie = items["charlie"]
        assert (
            datetime.fromisoformat(charlie["last_attended_at"])
            == practice.times["charlie_attended"]
        )
        assert charlie["next_session_at"] is None
        assert charlie["recovery"] == {"median_minutes": None, "direction": "insufficient_data"}
        assert charlie["time_in_window"] == 0.5
        assert charlie["episodes_per_week"] is None
        assert [(f["code"], f["level"]) for f in charlie["flags"]] == [("engagement_risk", "watch")]

        bravo = items["Bravo"]
        assert bravo["last_attended_at"] is None
        assert datetime.fromisoformat(bravo["next_session_at"]) == practice.times["bravo_next"]
        assert bravo["recovery"]["median_minutes"] == 25.0
        assert bravo["time_in_window"] is None
        assert [(f["code"], f["level"]) for f in bravo["flags"]] == [("deterioration", "alert")]

        assert (body["total"], body["limit"], body["offset"], body["stale"]) == (4, 50, 0, 0)

    def test_archived_clients_are_not_listed(
        self, api: TestClient, db: DbSession, practice: Practice, boss: dict[str, str]
    ) -> None:
        practice.clients["delta"].archived_at = datetime.now(UTC)
        db.commit()
        assert sorted(_names(api, boss)) == ["Alpha", "Bravo", "charlie"]


ALL = ["Alpha", "Bravo", "charlie", "delta"]
# Expected orders, ties broken by name (case-insensitive) then id; nulls always last.
ORDERS = {
    ("name", "asc"): ["Alpha", "Bravo", "charlie", "delta"],
    ("name", "desc"): ["delta", "charlie", "Bravo", "Alpha"],
    # Lifecycle order: active, paused, discharged.
    ("status", "asc"): ["Bravo", "delta", "Alpha", "charlie"],
    ("status", "desc"): ["charlie", "Alpha", "Bravo", "delta"],
    ("practitioner", "asc"): ["Alpha", "Bravo", "charlie", "delta"],
    ("practitioner", "desc"): ["charlie", "delta", "Alpha", "Bravo"],
    # Last attended: Alpha -10d, charlie -5d, delta -1d, Bravo never.
    ("last_attended", "asc"): ["Alpha", "charlie", "delta", "Bravo"],
    ("last_attended", "desc"): ["delta", "charlie", "Alpha", "Bravo"],
    # Next session: Bravo +1d, delta +2d, Alpha +9d, charlie none.
    ("next_session", "asc"): ["Bravo", "delta", "Alpha", "charlie"],
    ("next_session", "desc"): ["Alpha", "delta", "Bravo", "charlie"],
    # Recovery median: Alpha 10, Bravo 25, delta 40, charlie none.
    ("recovery", "asc"): ["Alpha", "Bravo", "delta", "charlie"],
    ("recovery", "desc"): ["delta", "Bravo", "Alpha", "charlie"],
    # Time in window: Alpha 0, charlie 0.5, delta 1, Bravo none.
    ("time_in_window", "asc"): ["Alpha", "charlie", "delta", "Bravo"],
    ("time_in_window", "desc"): ["delta", "charlie", "Alpha", "Bravo"],
    # Flags: safety alert, alert, watch, none.
    ("flags", "asc"): ["delta", "charlie", "Bravo", "Alpha"],
    ("flags", "desc"): ["Alpha", "Bravo", "charlie", "delta"],
}


class TestSorting:
    @pytest.mark.parametrize(("sort", "order"), list(ORDERS), ids=[f"{s}-{o}" for s, o in ORDERS])
    def test_order(
        self, api: TestClient, practice: Practice, boss: dict[str, str], sort: str, order: str
    ) -> None:
        assert _names(api, boss, sort=sort, order=order) == ORDERS[(sort, order)]

    @pytest.mark.parametrize(("sort", "order"), list(ORDERS), ids=[f"{s}-{o}" for s, o in ORDERS])
    def test_pages_cover_every_client_once(
        self, api: TestClient, practice: Practice, boss: dict[str, str], sort: str, order: str
    ) -> None:
        pages = [
            _names(api, boss, sort=sort, order=order, limit=3, offset=offset) for offset in (0, 3)
        ]
        assert pages[0] + pages[1] == ORDERS[(sort, order)]

    def test_defaults_worst_flags_first_and_other_sorts_ascending(
        self, api: TestClient, practice: Practice, boss: dict[str, str]
    ) -> None:
        assert _names(api, boss) == ORDERS[("flags", "desc")]
        assert _names(api, boss, sort="recovery") == ORDERS[("recovery", "asc")]

    def test_a_safety_alert_outranks_other_alerts(
        self, api: TestClient, db: DbSession, practice: Practice, boss: dict[str, str]
    ) -> None:
        # "Aaron" has an alert (deterioration, confirmed twice) and sorts before Alpha by name.
        aaron = make_client(db, practice.ann, display_name="Aaron")
        make_observation(db, aaron, observed_at=_at(-1))
        make_measure(db, aaron, administered_at=_at(-40), items=[0] * 9, total=0.0)
        for days in (-20, -1):
            make_measure(db, aaron, administered_at=_at(days), items=[2] * 6 + [0] * 3, total=12.0)
        db.commit()
        assert _names(api, boss)[:3] == ["Alpha", "Aaron", "Bravo"]

    def test_ties_page_stably_by_id(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        ids = sorted(str(make_client(db, owner, display_name="Same").id) for _ in range(7))
        db.commit()
        headers = auth_headers(settings, owner)
        for sort in ("name", "recovery", "flags", "last_attended"):
            seen = [
                i["client_id"]
                for offset in range(0, 7, 2)
                for i in _get(api, headers, sort=sort, limit=2, offset=offset)["items"]
            ]
            assert seen == ids, sort

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"sort": "age"}, "sort"),
            ({"order": "up"}, "order"),
            ({"flag": "grumpy"}, "flag"),
            ({"level": "severe"}, "level"),
            ({"status": "gone"}, "status"),
            ({"limit": 0}, "limit"),
            ({"practitioner_id": "nope"}, "practitioner_id"),
        ],
    )
    def test_bad_parameters_are_422(
        self,
        api: TestClient,
        practice: Practice,
        boss: dict[str, str],
        params: dict[str, Any],
        field: str,
    ) -> None:
        response = api.get(URL, params=params, headers=boss)
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"flag": "safety"}, ["Alpha"]),
            ({"flag": "deterioration"}, ["Bravo"]),
            ({"flag": "engagement_risk"}, ["charlie"]),
            ({"flag": "stale_data"}, []),
            ({"level": "alert"}, ["Alpha", "Bravo"]),
            ({"level": "watch"}, ["charlie"]),
            ({"flag": "safety", "level": "watch"}, []),
            ({"flag": "engagement_risk", "level": "watch"}, ["charlie"]),
            ({"status": "active"}, ["Bravo", "delta"]),
            ({"status": "paused"}, ["Alpha"]),
            ({"status": "discharged"}, ["charlie"]),
            ({"search": "RAV"}, ["Bravo"]),
            ({"search": "a"}, ALL),
            ({"search": "zz"}, []),
            ({"status": "active", "level": "alert"}, ["Bravo"]),
        ],
    )
    def test_filter(
        self,
        api: TestClient,
        practice: Practice,
        boss: dict[str, str],
        params: dict[str, Any],
        expected: list[str],
    ) -> None:
        body = _get(api, boss, sort="name", **params)
        assert [i["display_name"] for i in body["items"]] == expected
        assert body["total"] == len(expected)

    def test_practitioner_filter(
        self, api: TestClient, practice: Practice, boss: dict[str, str]
    ) -> None:
        assert _names(api, boss, sort="name", practitioner_id=str(practice.ann.id)) == [
            "Alpha",
            "Bravo",
        ]
        assert _names(api, boss, sort="name", practitioner_id=str(practice.bob.id)) == [
            "charlie",
            "delta",
        ]
        assert _names(api, boss, practitioner_id=str(uuid.uuid4())) == []

    def test_practitioner_filter_never_widens_visibility(
        self, api: TestClient, settings: Settings, practice: Practice
    ) -> None:
        ann = auth_headers(settings, practice.ann)
        assert _names(api, ann, practitioner_id=str(practice.bob.id)) == []

    def test_search_treats_wildcards_literally(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        for name in ("50%_off", "500ff", "A\\B", "AB"):
            make_client(db, owner, display_name=name)
        db.commit()
        headers = auth_headers(settings, owner)
        assert _names(api, headers, search="%") == ["50%_off"]
        assert _names(api, headers, search="_") == ["50%_off"]
        assert _names(api, headers, search="0%_o") == ["50%_off"]
        assert _names(api, headers, search="\\") == ["A\\B"]
        assert set(_names(api, headers, search="0")) == {"500ff", "50%_off"}


class TestVisibility:
    def test_a_practitioner_sees_only_their_own_clients(
        self, api: TestClient, settings: Settings, practice: Practice
    ) -> None:
        body = _get(api, auth_headers(settings, practice.ann), sort="name")
        assert [i["display_name"] for i in body["items"]] == ["Alpha", "Bravo"]
        assert [p["full_name"] for p in body["practitioners"]] == ["Ann A"]

    def test_a_supervisor_sees_every_supervisees_clients_and_their_load(
        self, api: TestClient, practice: Practice, boss: dict[str, str]
    ) -> None:
        body = _get(api, boss, sort="name")
        assert [i["display_name"] for i in body["items"]] == ALL
        loads = {p["full_name"]: p for p in body["practitioners"]}
        assert list(loads) == ["Sue S", "Ann A", "Bob B"]  # the caller first, then by name
        ann, bob, sue = loads["Ann A"], loads["Bob B"], loads["Sue S"]
        assert ann["practitioner_id"] == str(practice.ann.id)
        assert ann["role"] == "therapist"
        # Ann: one active client (Bravo; Alpha is paused), and it has an alert: 100 % > 30 %.
        assert (
            ann["active_caseload"],
            ann["attended_sessions_last_7_days"],
            ann["active_clients_with_alert"],
        ) == (1, 0, 1)
        assert ann["flag"]["code"] == "practitioner_load"
        assert ann["flag"]["level"] == "watch"
        assert ann["flag"]["signals"] == ["alerts"]
        assert ann["flag"]["evidence"] == {"active_clients_with_alert": 1, "alert_share": 1.0}
        # Bob: delta is active without flags; sessions attended 1 and 5 days ago.
        assert (
            bob["active_caseload"],
            bob["attended_sessions_last_7_days"],
            bob["active_clients_with_alert"],
        ) == (1, 2, 0)
        assert bob["flag"] is None
        assert (sue["active_caseload"], sue["flag"]) == (0, None)

    def test_a_supervisor_also_sees_their_own_clients(
        self, api: TestClient, db: DbSession, practice: Practice, boss: dict[str, str]
    ) -> None:
        make_client(db, practice.supervisor, display_name="Own")
        db.commit()
        assert "Own" in _names(api, boss)
        assert _get(api, boss)["total"] == 5

    def test_nobody_else_sees_them(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        stranger = make_user(db, settings, Role.THERAPIST)
        other_boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, other_boss, stranger)
        make_client(db, stranger, display_name="Theirs")
        db.commit()
        assert _names(api, auth_headers(settings, stranger)) == ["Theirs"]
        body = _get(api, auth_headers(settings, other_boss))
        assert [i["display_name"] for i in body["items"]] == ["Theirs"]
        assert [p["full_name"] for p in body["practitioners"]] == [
            other_boss.full_name,
            stranger.full_name,
        ]
        # Ann cannot see Bob's clients, nor the supervisor's other supervisee.
        assert "delta" not in _names(api, auth_headers(settings, practice.ann))

    def test_an_admin_sees_an_empty_caseload(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        db.commit()
        body = _get(api, auth_headers(settings, admin))
        assert body == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
            "stale": 0,
            "practitioners": [],
        }

    def test_anonymous_is_401(self, api: TestClient) -> None:
        assert api.get(URL).status_code == 401


class TestStaleSummaries:
    def test_summaries_from_an_earlier_day_are_refreshed_before_they_are_shown(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        practice: Practice,
        boss: dict[str, str],
    ) -> None:
        before = _get(api, boss, sort="name")
        db.execute(update(ClientSummary).values(as_of=date(2020, 1, 1), flags=[], flag_rank=0))
        db.commit()
        after = _get(api, boss, sort="name")
        today = summary.practice_today(settings, datetime.now(UTC)).isoformat()
        assert [i["as_of"] for i in after["items"]] == [today] * 4
        assert after["stale"] == 0
        assert after["items"] == before["items"]

    def test_over_the_budget_the_rest_show_their_date_and_are_counted(
        self,
        api: TestClient,
        app: Any,
        db: DbSession,
        practice: Practice,
        boss: dict[str, str],
    ) -> None:
        app.state.settings = app.state.settings.model_copy(update={"summary_refresh_budget": 1})
        db.execute(update(ClientSummary).values(as_of=date(2020, 1, 1)))
        db.commit()
        body = _get(api, boss, sort="name")
        dates = sorted(i["as_of"] for i in body["items"])
        assert dates[:3] == ["2020-01-01"] * 3
        assert dates[3] != "2020-01-01"
        assert body["stale"] == 3

    def test_a_next_session_that_has_begun_is_not_shown_as_next(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = make_client(db, owner, display_name="Soon")
        # Begun a minute ago, the summary written two minutes before that, both today (just
        # after midnight: at 3/5 and 1/5 of the way from midnight to now).
        started = earlier_today(settings.timezone, timedelta(minutes=1), fraction=0.6)
        written = earlier_today(settings.timezone, timedelta(minutes=3), fraction=0.2)
        make_session(
            db, client, starts_at=started, attendance=Attendance.SCHEDULED, engagement=None
        )
        later = make_session(
            db, client, starts_at=_at(7), attendance=Attendance.SCHEDULED, engagement=None
        )
        db.commit()
        # The summary as written a few minutes ago, earlier the same day, when the first
        # session was still ahead.
        summary.refresh(db, [client.id], settings=settings, now=written)
        db.commit()
        stored = db.scalars(
            select(ClientSummary)
            .where(ClientSummary.client_id == client.id)
            .execution_options(populate_existing=True)
        ).one()
        assert stored.next_session_at == started
        [item] = _get(api, auth_headers(settings, owner))["items"]
        assert datetime.fromisoformat(item["next_session_at"]) == later.starts_at

    def test_a_client_without_a_summary_is_still_listed(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = make_client(db, owner, display_name="New")
        db.commit()
        db.execute(delete(ClientSummary).where(ClientSummary.client_id == client.id))
        db.commit()
        body = _get(api, auth_headers(settings, owner))
        [item] = body["items"]
        # Refreshed on read (within the budget), so it has today's figures.
        assert item["as_of"] is not None
        assert item["display_name"] == "New"


class TestQueryCount:
    def _grow(self, db: DbSession, owner: User, n: int) -> None:
        for i in range(n):
            client = make_client(db, owner, display_name=f"Client {i:03d}")
            make_session(db, client, starts_at=_at(-3))
            make_session(
                db, client, starts_at=_at(4), attendance=Attendance.SCHEDULED, engagement=None
            )
            make_observation(db, client, observed_at=_at(-1))
            _episode(db, client, -2, 30)
            make_measure(db, client, administered_at=_at(-5))
            # A questionnaire assignment per client: read for all clients in one query.
            db.add(
                Assignment(
                    client_id=client.id,
                    instrument="gad7",
                    every_days=28,
                    starts_on=_at(-40).date(),
                    created_by_id=owner.id,
                )
            )

    @pytest.mark.parametrize("role", [Role.THERAPIST, Role.SUPERVISOR])
    @pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale"])
    def test_does_not_grow_with_clients(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        queries: QueryCounter,
        role: Role,
        stale: bool,
    ) -> None:
        owner = make_user(db, settings)
        caller = owner
        if role == Role.SUPERVISOR:
            caller = make_user(db, settings, Role.SUPERVISOR)
            supervise(db, caller, owner)
            supervise(db, caller, make_user(db, settings, Role.COACH))
        headers = auth_headers(settings, caller)
        counts = []
        for n in (3, 37):
            self._grow(db, owner, n)
            db.commit()
            if stale:
                db.execute(update(ClientSummary).values(as_of=date(2020, 1, 1)))
                db.commit()
            queries.reset()
            body = _get(api, headers, limit=500)
            counts.append(queries.count)
            assert body["total"] == len(body["items"])
            assert body["stale"] == 0
        assert [len(_get(api, headers, limit=500)["items"])] == [40]
        assert counts[0] == counts[1], queries.statements
