"""GET /api/v1/clients/{id}/metrics?as_of=DAY: what the dashboard would have said at the end of
that day, from the records with times up to then (DESIGN.md's API contract; issue 10, part 4).

The app's "now" is the real clock, so the course of care is built relative to it and the
as_of days are local days (the practice's time zone, Europe/London by default) some weeks
back. The deterioration flag comes from the recovery monitoring chart (DOMAIN.md §5.5,
domain/monitoring.py); its tuning is the lead's, so these tests assert only what any sensible
tuning must give: no signal while recovery is at the client's usual, a signal at one of the
slow episodes once recovery has been over three times slower for three weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.periods import (
    AS_OF_FUTURE,
    AS_OF_UNREADABLE,
    END_AFTER_AS_OF,
    START_NOT_BEFORE_AS_OF,
    as_of_before_intake,
)
from practice_dashboard.models import AuditEvent, Client, FlagAcknowledgement, User
from practice_dashboard.models.enums import Role
from tests.builders import (
    auth_headers,
    make_client,
    make_episode,
    make_measure,
    make_recovery_course,
    make_user,
    supervise,
)

USUAL_MINUTES = 45  # make_recovery_course's defaults: about 45 minutes, then about 150
FIRST_EPISODE_DAYS_AGO = 119  # 17 weeks
CHANGE_DAYS_AGO = 49  # recovery slows from 7 weeks ago: 10 weeks at the usual, then 7 slow


def _now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/metrics"


def _fields(response: Any) -> list[list[str]]:
    return [e["loc"] for e in response.json()["detail"]]


@dataclass
class People:
    owner: User
    other: User
    supervisor: User


@pytest.fixture
def people(db: DbSession, settings: Settings) -> People:
    owner = make_user(db, settings, Role.THERAPIST)
    other = make_user(db, settings, Role.THERAPIST)
    boss = make_user(db, settings, Role.SUPERVISOR)
    supervise(db, boss, owner)
    return People(owner, other, boss)


@pytest.fixture
def headers(settings: Settings, people: People) -> dict[str, str]:
    return auth_headers(settings, people.owner)


@dataclass
class Course:
    client: Client
    now: datetime
    change: datetime  # the first slow episode's onset
    onsets: list[datetime]
    slow_onsets: list[datetime]
    tz: ZoneInfo

    def day(self, days_ago: int) -> date:
        """The local day `days_ago` days before now."""
        return (self.now - timedelta(days=days_ago)).astimezone(self.tz).date()

    def moment(self, day: date) -> datetime:
        """The end of `day` in the practice's zone (DESIGN.md: "at the end of that day")."""
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)


@pytest.fixture
def course(db: DbSession, people: People, settings: Settings) -> Course:
    """Two episodes a week for 17 weeks: 10 weeks at about 45 minutes, then about 150."""
    now = _now()
    client = make_client(db, people.owner, intake_date=(now - timedelta(days=126)).date())
    change = now - timedelta(days=CHANGE_DAYS_AGO)
    episodes = make_recovery_course(
        db,
        client,
        first=now - timedelta(days=FIRST_EPISODE_DAYS_AGO),
        until=now - timedelta(hours=12),
        change=change,
    )
    db.commit()
    onsets = [e.started_at for e in episodes]
    slow = [t for t in onsets if t >= change]
    return Course(client, now, slow[0], onsets, slow, settings.timezone)


def _get(api: TestClient, course: Course, headers: dict[str, str], **params: Any) -> Any:
    response = api.get(_url(course.client), params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _flags(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in body["flags"]}


class TestChangePoint:
    def test_before_the_change_no_deterioration(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        day = course.day(CHANGE_DAYS_AGO + 7)
        body = _get(api, course, headers, as_of=day.isoformat())
        assert body["as_of"] == day.isoformat()
        # The default window: the 28 days up to the end of that day.
        moment = course.moment(day)
        assert datetime.fromisoformat(body["end"]) == moment
        assert datetime.fromisoformat(body["start"]) == moment - timedelta(days=28)
        assert "deterioration" not in _flags(body)
        chart = body["monitoring"]["recovery"]
        assert chart["status"] == "in_control"
        assert chart["signal_at"] is None
        assert all(datetime.fromisoformat(p["at"]) < moment for p in chart["points"])

    def test_weeks_after_the_change_a_deterioration_alert_from_the_recovery_chart(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        day = course.day(CHANGE_DAYS_AGO - 21)
        moment = course.moment(day)
        body = _get(api, course, headers, as_of=day.isoformat())
        flag = _flags(body)["deterioration"]
        assert flag["level"] == "alert"
        [signal] = flag["signals"]
        chart = body["monitoring"]["recovery"]
        assert chart["status"] == "signal"
        signal_at = datetime.fromisoformat(chart["signal_at"])
        # The crossing is one of the slow episodes, before the day asked about.
        assert signal_at in course.slow_onsets
        assert signal_at < moment
        assert signal == f"recovery@{signal_at:%Y-%m-%d}"
        assert flag["evidence"]["recovery_signal_at"] == f"{signal_at:%Y-%m-%d}"
        assert chart["limit"] == flag["evidence"]["recovery_limit"]
        # The client's usual is read from the episodes before the change (about 45 minutes).
        assert chart["reference_median_minutes"] == pytest.approx(USUAL_MINUTES, rel=0.25)
        assert max(p["statistic"] for p in chart["points"]) > chart["limit"]

    def test_without_as_of_it_is_today_and_today_is_now(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        today = _get(api, course, headers, as_of=course.day(0).isoformat())
        plain = _get(api, course, headers)
        assert plain["as_of"] is None
        assert today["as_of"] == course.day(0).isoformat()
        # Today's as_of stops at now, not at tonight's midnight: the rest of today is unknown.
        assert datetime.fromisoformat(today["end"]) <= datetime.now(UTC)
        assert datetime.fromisoformat(today["end"]) >= course.now
        assert today["monitoring"] == plain["monitoring"]
        assert today["flags"] == plain["flags"]


class TestLaterDataIsIgnored:
    def test_a_later_phq9_raises_no_safety_flag_before_it(
        self, api: TestClient, db: DbSession, course: Course, headers: dict[str, str]
    ) -> None:
        make_measure(
            db,
            course.client,
            administered_at=course.now - timedelta(days=10),
            items=[1, 1, 1, 1, 1, 1, 1, 1, 2],
            total=10.0,
            severity="moderate",
        )
        db.commit()
        assert _flags(_get(api, course, headers))["safety"]["level"] == "alert"
        before = _get(api, course, headers, as_of=course.day(11).isoformat())
        assert "safety" not in _flags(before)
        assert before["measures"] == []

    def test_an_episode_after_the_day_is_not_counted_and_a_later_return_not_known(
        self, api: TestClient, db: DbSession, course: Course, headers: dict[str, str]
    ) -> None:
        day = course.day(30)
        moment = course.moment(day)
        window = (moment - timedelta(days=28), moment)
        built = [t for t in course.onsets if window[0] <= t < window[1]]
        as_built = _get(api, course, headers, as_of=day.isoformat())
        # DESIGN.md: episodes per week over the trailing 28 days = count / 4 weeks.
        assert as_built["episodes_per_week"] == pytest.approx(len(built) / 4)
        assert as_built["recovery"]["unrecovered_share"] == 0.0
        # One episode an hour before the day's end that was back only two hours later, and
        # one an hour after the day's end.
        make_episode(
            db,
            course.client,
            started_at=moment - timedelta(hours=1),
            recognized_at=moment + timedelta(minutes=30),
            baseline_at=moment + timedelta(hours=1),
        )
        make_episode(db, course.client, started_at=moment + timedelta(hours=1))
        db.commit()
        body = _get(api, course, headers, as_of=day.isoformat())
        assert body["episodes_per_week"] == pytest.approx((len(built) + 1) / 4)
        # Not back at the end of the day: counted as unrecovered, 1 of the window's episodes.
        assert body["recovery"]["unrecovered_share"] == pytest.approx(1 / (len(built) + 1))
        assert body["recovery"]["median_minutes"] == as_built["recovery"]["median_minutes"]
        assert body["recognition"]["median_minutes"] == as_built["recognition"]["median_minutes"]
        for chart in body["monitoring"].values():
            assert all(datetime.fromisoformat(p["at"]) < moment for p in chart["points"])
        # The same window asked for without as_of knows that the episode came back.
        now_known = _get(
            api,
            course,
            headers,
            start=window[0].isoformat(),
            end=window[1].isoformat(),
        )
        assert now_known["recovery"]["unrecovered_share"] == 0.0


class TestAcknowledgementsAsTheyStood:
    def _acknowledge(
        self,
        db: DbSession,
        course: Course,
        owner: User,
        flag: dict[str, Any],
        at: datetime,
        withdrawn_at: datetime | None = None,
    ) -> FlagAcknowledgement:
        ack = FlagAcknowledgement(
            client_id=course.client.id,
            code=flag["code"],
            level=flag["level"],
            fingerprint=flag["fingerprint"],
            evidence=flag["evidence"],
            acknowledged_by_id=owner.id,
            at=at,
            note="Reviewed in supervision",
            withdrawn_at=withdrawn_at,
            withdrawn_by_id=owner.id if withdrawn_at else None,
        )
        db.add(ack)
        db.commit()
        return ack

    def test_an_acknowledgement_made_after_the_day_is_not_applied(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        course: Course,
        people: People,
    ) -> None:
        headers = auth_headers(settings, people.owner)
        day = course.day(21)
        before = _get(api, course, headers, as_of=day.isoformat())
        flag = _flags(before)["deterioration"]
        made = course.moment(day) + timedelta(hours=10)
        ack = self._acknowledge(db, course, people.owner, flag, made)
        again = _get(api, course, headers, as_of=day.isoformat())
        assert _flags(again)["deterioration"]["acknowledgement"] is None
        assert again["monitoring"]["recovery"]["restarted_at"] is None
        # From the next day on it stands: the flag is marked, and the charts restart from it.
        later = _get(api, course, headers, as_of=course.day(19).isoformat())
        shown = _flags(later)["deterioration"]["acknowledgement"]
        assert shown is not None
        assert shown["id"] == str(ack.id)
        assert datetime.fromisoformat(later["monitoring"]["recovery"]["restarted_at"]) == made

    def test_a_withdrawal_after_the_day_had_not_happened_yet(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        course: Course,
        people: People,
    ) -> None:
        headers = auth_headers(settings, people.owner)
        make_measure(
            db,
            course.client,
            administered_at=course.now - timedelta(days=30),
            items=[1, 1, 1, 1, 1, 1, 1, 1, 1],
            total=9.0,
            severity="mild",
        )
        db.commit()
        flag = _flags(_get(api, course, headers, as_of=course.day(29).isoformat()))["safety"]
        ack = self._acknowledge(
            db,
            course,
            people.owner,
            flag,
            at=course.now - timedelta(days=28),
            withdrawn_at=course.now - timedelta(days=14),
        )
        between = _get(api, course, headers, as_of=course.day(20).isoformat())
        shown = _flags(between)["safety"]["acknowledgement"]
        assert shown is not None
        assert shown["id"] == str(ack.id)
        assert _flags(_get(api, course, headers))["safety"]["acknowledgement"] is None


class TestBadAsOf:
    @pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "20260101", "2026-01-01T00:00Z"])
    def test_malformed_is_422_naming_as_of(
        self, api: TestClient, course: Course, headers: dict[str, str], value: str
    ) -> None:
        response = api.get(_url(course.client), params={"as_of": value}, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "as_of"], "msg": AS_OF_UNREADABLE, "type": "value_error"}
        ]

    def test_before_intake_is_422_naming_as_of(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        intake = course.client.intake_date
        response = api.get(
            _url(course.client),
            params={"as_of": (intake - timedelta(days=1)).isoformat()},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "as_of"], "msg": as_of_before_intake(intake), "type": "value_error"}
        ]
        assert _get(api, course, headers, as_of=intake.isoformat())["as_of"] == intake.isoformat()

    def test_in_the_future_is_422_naming_as_of(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        tomorrow = datetime.now(course.tz).date() + timedelta(days=1)
        response = api.get(
            _url(course.client), params={"as_of": tomorrow.isoformat()}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "as_of"], "msg": AS_OF_FUTURE, "type": "value_error"}
        ]

    def test_an_end_after_the_day_is_422_naming_end(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        day = course.day(30)
        moment = course.moment(day)
        params = {"as_of": day.isoformat(), "end": (moment + timedelta(minutes=1)).isoformat()}
        response = api.get(_url(course.client), params=params, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "end"], "msg": END_AFTER_AS_OF, "type": "value_error"}
        ]
        params["end"] = moment.isoformat()
        assert api.get(_url(course.client), params=params, headers=headers).status_code == 200

    def test_a_start_not_before_the_days_end_is_422_naming_start(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        day = course.day(30)
        params = {"as_of": day.isoformat(), "start": course.moment(day).isoformat()}
        response = api.get(_url(course.client), params=params, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "start"], "msg": START_NOT_BEFORE_AS_OF, "type": "value_error"}
        ]

    def test_a_window_inside_the_day_is_kept(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        day = course.day(30)
        start = course.moment(day) - timedelta(days=7)
        body = _get(api, course, headers, as_of=day.isoformat(), start=start.isoformat())
        assert datetime.fromisoformat(body["start"]) == start
        assert datetime.fromisoformat(body["end"]) == course.moment(day)


class TestScope:
    @pytest.mark.parametrize(("caller", "expected"), [("supervisor", 200), ("other", 404)])
    def test_as_for_metrics(
        self,
        api: TestClient,
        settings: Settings,
        course: Course,
        people: People,
        caller: str,
        expected: int,
    ) -> None:
        headers = auth_headers(settings, getattr(people, caller))
        day = course.day(30).isoformat()
        assert api.get(_url(course.client), params={"as_of": day}, headers=headers).status_code == (
            expected
        )

    def test_out_of_scope_is_404_before_the_day_is_judged(
        self, api: TestClient, settings: Settings, course: Course, people: People
    ) -> None:
        # A day before intake would be a 422 for the owner: for anyone else the client does
        # not exist, so the answer must not reveal its intake date.
        headers = auth_headers(settings, people.other)
        before = (course.client.intake_date - timedelta(days=1)).isoformat()
        response = api.get(_url(course.client), params={"as_of": before}, headers=headers)
        assert response.status_code == 404

    def test_the_read_is_audited_with_the_day(
        self, api: TestClient, db: DbSession, settings: Settings, course: Course, people: People
    ) -> None:
        day = course.day(30).isoformat()
        headers = auth_headers(settings, people.supervisor)
        assert api.get(_url(course.client), params={"as_of": day}, headers=headers).status_code == (
            200
        )
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == course.client.id, AuditEvent.entity == "metrics"
            )
        ).all()
        assert [(e.action, e.actor_id, e.detail) for e in events] == [
            ("read", people.supervisor.id, f"as_of {day}")
        ]


CHART_KEYS = {
    "quantity",
    "limit",
    "allowance",
    "monitoring_from",
    "restarted_at",
    "points",
    "statistic",
    "signal_at",
    "previous_signal_at",
    "reference_n",
    "reference_median_minutes",
    "reference_share",
    "serial_correlation",
    "status",
}


class TestMonitoringInTheResponse:
    def test_every_chart_with_its_points(
        self, api: TestClient, course: Course, headers: dict[str, str]
    ) -> None:
        monitoring = _get(api, course, headers)["monitoring"]
        assert set(monitoring) == {"recovery", "unrecovered", "recognition"}
        for quantity, chart in monitoring.items():
            assert set(chart) == CHART_KEYS
            assert chart["quantity"] == quantity
            assert chart["status"] in {"insufficient_data", "in_control", "signal"}
            for point in chart["points"]:
                assert set(point) == {"at", "minutes", "score", "statistic"}
        recovery = monitoring["recovery"]
        # One point per recovered episode after the personal baseline, up to the latest.
        start = datetime.fromisoformat(recovery["monitoring_from"])
        onsets = [datetime.fromisoformat(p["at"]) for p in recovery["points"]]
        built = course.onsets
        assert onsets
        assert onsets == built[len(built) - len(onsets) :]
        assert onsets[0] >= start

    def test_a_client_without_episodes_has_insufficient_data(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = make_client(db, people.owner)
        db.commit()
        response = api.get(_url(client), headers=headers)
        assert response.status_code == 200
        for chart in response.json()["monitoring"].values():
            assert chart["status"] == "insufficient_data"
            assert chart["points"] == []
            assert chart["signal_at"] is None

    def test_the_parameter_is_documented(self, api: TestClient) -> None:
        spec = api.get("/openapi.json").json()
        params = spec["paths"]["/api/v1/clients/{client_id}/metrics"]["get"]["parameters"]
        [as_of] = [p for p in params if p["name"] == "as_of"]
        assert "end of that day" in as_of["description"]
