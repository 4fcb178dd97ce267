"""GET /api/v1/clients/{id}/metrics, the measures API and the flags, through the JSON API.

The app uses the real clock for "now", so data that depends on recency is built relative to
`datetime.now(UTC)`; figures that must be exact are asked for with an explicit `start`/`end`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.periods import OUT_OF_RANGE
from practice_dashboard.models import AuditEvent, Client, User
from practice_dashboard.models.enums import Attendance, ClientStatus, HomeworkCompletion, Role, Zone
from tests.builders import (
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

TREND_KEYS = {"slope_per_week", "p_value", "n", "direction"}
SNAPSHOT_KEYS = {"administered_at", "total", "severity"}
FLAG_KEYS = {"code", "level", "reasons", "evidence", "suggestion"}


def _now() -> datetime:
    """The real current time, to the whole hour (the app's "now" is the real clock)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _metrics_url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/metrics"


def _period(end: datetime, days: int = 28) -> dict[str, str]:
    return {"start": (end - timedelta(days=days)).isoformat(), "end": end.isoformat()}


@dataclass
class People:
    owner: User
    other: User
    supervisor: User
    admin: User


@pytest.fixture
def people(db: DbSession, settings: Settings) -> People:
    owner = make_user(db, settings, Role.THERAPIST)
    other = make_user(db, settings, Role.COACH)
    boss = make_user(db, settings, Role.SUPERVISOR)
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, boss, owner)
    return People(owner, other, boss, admin)


@pytest.fixture
def headers(settings: Settings, people: People) -> dict[str, str]:
    return auth_headers(settings, people.owner)


def _assert_shape(body: dict[str, Any]) -> None:
    """Every key of DESIGN.md's metrics shape (plus `baseline`) is present."""
    assert set(body) >= {
        "client_id",
        "start",
        "end",
        "episodes_per_week",
        "recovery",
        "recognition",
        "capacity",
        "engagement",
        "measures",
        "baseline",
        "flags",
    }
    assert set(body["recovery"]) >= {"median_minutes", "unrecovered_share", "trend"}
    assert set(body["recognition"]) >= {"median_minutes", "trend"}
    assert set(body["capacity"]) >= {
        "mean_rating",
        "tolerated_activation",
        "time_in_window",
        "trend",
    }
    assert set(body["engagement"]) >= {
        "attendance_rate",
        "days_since_last_attended",
        "homework_completion",
        "engagement_rating_delta",
    }
    for section in ("recovery", "recognition", "capacity"):
        assert set(body[section]["trend"]) >= TREND_KEYS
        assert body[section]["trend"]["direction"] in {
            "improving",
            "worsening",
            "no_clear_trend",
            "insufficient_data",
        }
    for progress in body["measures"]:
        assert set(progress) >= {
            "instrument",
            "baseline",
            "latest",
            "change",
            "rci",
            "reliable_change",
            "clinically_significant",
        }
        assert set(progress["baseline"]) >= SNAPSHOT_KEYS
        assert set(progress["latest"]) >= SNAPSHOT_KEYS
    assert set(body["baseline"]) >= {
        "period_start",
        "period_end",
        "recovery_minutes",
        "activation",
    }
    for flag in body["flags"]:
        assert set(flag) >= FLAG_KEYS


INSUFFICIENT = {"slope_per_week": None, "p_value": None, "n": 0, "direction": "insufficient_data"}


def _trend(section: dict[str, Any]) -> dict[str, Any]:
    return {k: section["trend"][k] for k in TREND_KEYS}


# --------------------------------------------------------------------------------------------
# Shape and null figures
# --------------------------------------------------------------------------------------------


class TestNoData:
    def test_every_figure_is_null_and_every_trend_insufficient(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        today = datetime.now(UTC).date()
        client = make_client(db, people.owner, intake_date=today)
        db.commit()
        response = api.get(_metrics_url(client), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        _assert_shape(body)
        assert body["client_id"] == str(client.id)
        assert body["episodes_per_week"] is None
        assert body["recovery"]["median_minutes"] is None
        assert body["recovery"]["unrecovered_share"] is None
        assert body["recognition"]["median_minutes"] is None
        assert {k: body["capacity"][k] for k in ("mean_rating", "tolerated_activation")} == {
            "mean_rating": None,
            "tolerated_activation": None,
        }
        assert body["capacity"]["time_in_window"] is None
        assert body["engagement"] == {
            "attendance_rate": None,
            "days_since_last_attended": None,
            "homework_completion": None,
            "engagement_rating_delta": None,
        }
        for section in ("recovery", "recognition", "capacity"):
            assert _trend(body[section]) == INSUFFICIENT
        assert body["measures"] == []
        assert body["flags"] == []
        for quantity in ("recovery_minutes", "activation"):
            comparison = body["baseline"][quantity]
            assert comparison["status"] == "insufficient_data"
            assert comparison["baseline_median"] is None
            assert comparison["current_median"] is None
            assert comparison["baseline_n"] == 0

    def test_default_period_is_the_28_days_up_to_now(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = make_client(db, people.owner, intake_date=datetime.now(UTC).date())
        db.commit()
        before = datetime.now(UTC)
        body = api.get(_metrics_url(client), headers=headers).json()
        after = datetime.now(UTC)
        start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
        assert before <= end <= after
        assert end - start == timedelta(days=28)

    def test_sessions_but_no_episodes_leave_recovery_and_recognition_null(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner, intake_date=(end - timedelta(days=60)).date())
        for days in (20, 13, 6):
            make_session(db, client, starts_at=end - timedelta(days=days), engagement=None)
        db.commit()
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        _assert_shape(body)
        assert body["episodes_per_week"] is None  # no episodes logged: unknown, not 0
        assert body["recovery"] == {
            "median_minutes": None,
            "unrecovered_share": None,
            "trend": body["recovery"]["trend"],
        }
        assert _trend(body["recovery"]) == INSUFFICIENT
        assert body["recognition"]["median_minutes"] is None
        assert _trend(body["recognition"]) == INSUFFICIENT
        # Engagement is computable: 3 of 3 due sessions attended, the last 6 days ago.
        assert body["engagement"]["attendance_rate"] == 1.0
        assert body["engagement"]["days_since_last_attended"] == 6
        assert body["engagement"]["homework_completion"] is None
        assert body["engagement"]["engagement_rating_delta"] is None


# --------------------------------------------------------------------------------------------
# Hand-built data with a known answer
# --------------------------------------------------------------------------------------------


@pytest.fixture
def course(db: DbSession, people: People) -> tuple[Client, datetime]:
    """Twelve weeks of care with figures computed by hand below.

    Episodes (days before `end`, recovery minutes): 75/80, 65/70, 55/60, 45/50, 35/40,
    25/30, 15/20, 5/10, and 2 with no return to baseline (censored). Every episode is
    recognised 5 minutes after onset.
    """
    end = _now()
    client = make_client(db, people.owner, intake_date=(end - timedelta(days=90)).date())
    for days, minutes in (
        (75, 80),
        (65, 70),
        (55, 60),
        (45, 50),
        (35, 40),
        (25, 30),
        (15, 20),
        (5, 10),
    ):
        start = end - timedelta(days=days)
        make_episode(
            db,
            client,
            started_at=start,
            recognized_at=start + timedelta(minutes=5),
            baseline_at=start + timedelta(minutes=minutes),
        )
    censored = end - timedelta(days=2)
    make_episode(
        db,
        client,
        started_at=censored,
        recognized_at=censored + timedelta(minutes=5),
        baseline_at=None,
    )
    # Observations in the 28-day window: (zone, activation, capacity).
    for days, zone, activation, capacity in (
        (20, Zone.WITHIN, 2, 5),
        (16, Zone.WITHIN, 4, 6),
        (9, Zone.WITHIN, 6, 7),
        (3, Zone.HYPER, 8, 8),
    ):
        make_observation(
            db,
            client,
            observed_at=end - timedelta(days=days),
            zone=zone,
            activation=activation,
            capacity=capacity,
        )
    # Sessions: attended (engagement 8, homework set), no-show, attended (8, homework
    # partly done, set again), attended 3 days before `end` (7, homework done).
    make_session(
        db, client, starts_at=end - timedelta(days=24), engagement=8, homework_assigned=True
    )
    make_session(
        db,
        client,
        starts_at=end - timedelta(days=17),
        attendance=Attendance.NO_SHOW,
        engagement=None,
    )
    make_session(
        db,
        client,
        starts_at=end - timedelta(days=10),
        engagement=8,
        homework_assigned=True,
        homework_completed=HomeworkCompletion.PARTIAL,
    )
    make_session(
        db,
        client,
        starts_at=end - timedelta(days=3),
        engagement=7,
        homework_completed=HomeworkCompletion.YES,
    )
    # PHQ-9: 15 (moderately severe) at the start, 6 (mild) ten days before `end`.
    make_measure(
        db,
        client,
        administered_at=end - timedelta(days=80),
        items=[2, 2, 2, 2, 2, 2, 2, 1, 0],
        total=15.0,
        severity="moderately_severe",
    )
    make_measure(
        db,
        client,
        administered_at=end - timedelta(days=10),
        items=[1, 1, 1, 1, 1, 1, 0, 0, 0],
        total=6.0,
        severity="mild",
    )
    db.commit()
    return client, end


class TestKnownAnswer:
    def test_recovery_and_recognition(
        self, api: TestClient, course: tuple[Client, datetime], headers: dict[str, str]
    ) -> None:
        client, end = course
        response = api.get(_metrics_url(client), params=_period(end), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        _assert_shape(body)
        assert datetime.fromisoformat(body["end"]) == end
        # Window [end-28d, end): episodes at 25, 15, 5 (30, 20, 10 min) and 2 (censored).
        # Median of the recovered ones: 20; unrecovered share 1 of 4.
        assert body["recovery"]["median_minutes"] == 20.0
        assert body["recovery"]["unrecovered_share"] == 0.25
        # Trend: 8 recovered episodes, 10 days apart, each 10 minutes shorter: Theil-Sen
        # slope = -10 min / 10 days = -7 min/week. Mann-Kendall: S = -28, Var = 8*7*21/18,
        # Z = -27 / 8.083 = -3.34, p = 0.0008 < 0.05: improving.
        trend = body["recovery"]["trend"]
        assert trend["n"] == 8
        assert trend["slope_per_week"] == pytest.approx(-7.0)
        assert trend["p_value"] == pytest.approx(0.000837, abs=1e-4)
        assert trend["direction"] == "improving"
        # Recognition: always 5 minutes; a flat series of 9 has slope 0 and no trend.
        assert body["recognition"]["median_minutes"] == 5.0
        assert _trend(body["recognition"]) == {
            "slope_per_week": 0.0,
            "p_value": 1.0,
            "n": 9,
            "direction": "no_clear_trend",
        }
        # 4 episodes in the trailing 28 days, all 4 weeks in care: 1 per week.
        assert body["episodes_per_week"] == pytest.approx(1.0)

    def test_capacity_and_engagement(
        self, api: TestClient, course: tuple[Client, datetime], headers: dict[str, str]
    ) -> None:
        client, end = course
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        capacity = body["capacity"]
        assert capacity["mean_rating"] == pytest.approx(6.5)  # (5+6+7+8)/4
        assert capacity["time_in_window"] == pytest.approx(0.75)  # 3 of 4 within
        # 90th percentile of within activations [2, 4, 6]: h = 2*0.9 = 1.8 -> 4 + 0.8*2.
        assert capacity["tolerated_activation"] == pytest.approx(5.6)
        # Weekly means over the 12 weeks before `end` (weeks counted from end - 84 days):
        # days 20 and 16 fall in week 9, day 9 in week 10, day 3 in week 11 -> 3 points,
        # fewer than 6: no trend claimed.
        assert capacity["trend"]["direction"] == "insufficient_data"
        assert capacity["trend"]["n"] == 3
        engagement = body["engagement"]
        assert engagement["attendance_rate"] == pytest.approx(0.75)  # 3 of 4 due attended
        assert engagement["days_since_last_attended"] == 3
        assert engagement["homework_completion"] == pytest.approx(0.75)  # (0.5 + 1) / 2
        assert engagement["engagement_rating_delta"] == pytest.approx(-1.0)  # 7 - median 8
        assert body["flags"] == []

    def test_measure_progress(
        self, api: TestClient, course: tuple[Client, datetime], headers: dict[str, str]
    ) -> None:
        client, end = course
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        [phq9] = body["measures"]
        assert phq9["instrument"] == "phq9"
        assert phq9["baseline"]["total"] == 15.0
        assert phq9["baseline"]["severity"] == "moderately_severe"
        assert datetime.fromisoformat(phq9["baseline"]["administered_at"]) == end - timedelta(
            days=80
        )
        assert phq9["latest"]["total"] == 6.0
        assert phq9["latest"]["severity"] == "mild"
        assert phq9["change"] == -9.0
        # S_diff = sqrt(2) * 5.5 * sqrt(1 - 0.84) = 3.1113; RCI = -9 / 3.1113 = -2.893.
        assert phq9["rci"] == pytest.approx(-9 / (math.sqrt(2) * 5.5 * 0.4))
        assert phq9["reliable_change"] == "improved"
        assert phq9["clinically_significant"] is True  # from >= 10 to below 10
        # Issue 10: the convention in force and the latest administration's own signals.
        assert phq9["convention"] == "jacobson_truax"
        assert phq9["minimum_reliable_change"] == pytest.approx(1.96 * math.sqrt(2) * 5.5 * 0.4)
        assert phq9["unverified_constant"] is True  # SD_ref 5.5 is marked verify
        assert phq9["confirmed"] is False  # an improvement, not a deterioration
        assert phq9["positive_screen"] is False  # 6 < 10
        assert phq9["concern"] is None
        assert phq9["prorated"] is False
        assert phq9["item9_unanswered"] is False

    def test_cbi_progress_per_scale_and_ors_higher_is_better(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner, intake_date=(end - timedelta(days=90)).date())
        make_observation(db, client, observed_at=end - timedelta(days=1))
        for days, code in ((60, 3), (5, 1)):
            make_measure(
                db,
                client,
                instrument="cbi",
                administered_at=end - timedelta(days=days),
                items=[code] * 13 + [None] * 6,
                total=None,
                severity=None,
            )
        for days, total in ((50, 20.0), (4, 27.0)):
            make_measure(
                db,
                client,
                instrument="ors",
                administered_at=end - timedelta(days=days),
                items=None,
                total=total,
                severity=None,
            )
        db.commit()
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        progress = {(m["instrument"], m["scale"]): m for m in body["measures"]}
        # The CBI has no total: one entry per scale answered (client-related left empty).
        assert set(progress) == {("cbi", "personal"), ("cbi", "work_related"), ("ors", None)}
        personal = progress[("cbi", "personal")]
        assert (personal["baseline"]["total"], personal["latest"]["total"]) == (75.0, 25.0)
        assert personal["change"] == -50.0
        s_diff = math.sqrt(2) * 17 * math.sqrt(1 - 0.87)  # 8.668
        assert personal["rci"] == pytest.approx(-50.0 / s_diff)
        assert personal["reliable_change"] == "improved"
        assert personal["clinically_significant"] is True  # from >= 50 to below
        # Work-related with item 13 reversed: (6*75 + 25)/7 -> (6*25 + 75)/7.
        work = progress[("cbi", "work_related")]
        assert work["change"] == pytest.approx(-250 / 7)
        assert work["reliable_change"] == "improved"
        # ORS: 20 -> 27 is up 7, beyond the 5-point reliable change, and out of the
        # clinical range (< 25): improved, clinically significant.
        ors = progress[("ors", None)]
        assert ors["change"] == 7.0
        assert ors["reliable_change"] == "improved"
        assert ors["clinically_significant"] is True
        assert ors["positive_screen"] is False  # 27 is not in the clinical range (< 25)
        assert ors["item9_unanswered"] is None  # PHQ-9 only
        assert personal["positive_screen"] is False  # 25 < 50 ("high burnout")
        assert body["flags"] == []

    def test_personal_baseline(
        self, api: TestClient, course: tuple[Client, datetime], headers: dict[str, str]
    ) -> None:
        client, end = course
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        baseline = body["baseline"]
        # The baseline runs from intake to the 8th episode, but stops at `start`.
        assert datetime.fromisoformat(baseline["period_end"]) == end - timedelta(days=28)
        # Baseline recoveries: 80, 70, 60, 50, 40 -> median 60, IQR 50-70, SD sqrt(250).
        recovery = baseline["recovery_minutes"]
        assert recovery["baseline_n"] == 5
        assert recovery["baseline_median"] == 60.0
        assert (recovery["normal_low"], recovery["normal_high"]) == (50.0, 70.0)
        assert recovery["baseline_sd"] == pytest.approx(math.sqrt(250))
        assert recovery["smallest_worthwhile_change"] == pytest.approx(math.sqrt(250) / 2)
        assert recovery["current_median"] == 20.0
        assert recovery["current_n"] == 3
        assert recovery["difference"] == -40.0
        assert recovery["status"] == "better"
        # No observations before the window: no activation baseline.
        assert baseline["activation"]["baseline_n"] == 0
        assert baseline["activation"]["status"] == "insufficient_data"

    def test_a_worsening_trend_describes_but_does_not_alert(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner, intake_date=(end - timedelta(days=90)).date())
        # Six episodes a week apart, each 10 minutes longer: +10 min/week.
        for i, days in enumerate((41, 34, 27, 20, 13, 6)):
            start = end - timedelta(days=days)
            make_episode(
                db, client, started_at=start, baseline_at=start + timedelta(minutes=20 + 10 * i)
            )
        db.commit()
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        trend = body["recovery"]["trend"]
        assert trend["slope_per_week"] == pytest.approx(10.0)
        assert trend["n"] == 6
        # n = 6, S = 15: exact-ish p = 0.024 (normal approximation with continuity).
        assert trend["p_value"] < 0.05
        assert trend["direction"] == "worsening"
        # The trend describes; the monitoring chart warns (DESIGN.md "Flags"). Six episodes
        # are still the client's baseline (the first 8 episodes), so nothing is monitored yet.
        assert [f for f in body["flags"] if f["code"] == "deterioration"] == []

    def test_five_points_never_make_a_trend(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner, intake_date=(end - timedelta(days=90)).date())
        for i, days in enumerate((34, 27, 20, 13, 6)):
            start = end - timedelta(days=days)
            make_episode(
                db, client, started_at=start, baseline_at=start + timedelta(minutes=100 - 15 * i)
            )
        db.commit()
        body = api.get(_metrics_url(client), params=_period(end), headers=headers).json()
        assert _trend(body["recovery"]) == {**INSUFFICIENT, "n": 5}

    def test_a_past_period_shows_the_state_back_then(
        self, api: TestClient, course: tuple[Client, datetime], headers: dict[str, str]
    ) -> None:
        client, end = course
        earlier = end - timedelta(days=40)
        body = api.get(_metrics_url(client), params=_period(earlier), headers=headers).json()
        # Window [end-68d, end-40d): episodes at 65, 55, 45 days (70, 60, 50 min).
        assert body["recovery"]["median_minutes"] == 60.0
        assert body["recovery"]["unrecovered_share"] == 0.0
        # Before end-40d only the first PHQ-9 existed.
        [phq9] = body["measures"]
        assert phq9["latest"]["total"] == 15.0
        assert phq9["change"] is None
        assert phq9["rci"] is None
        assert phq9["reliable_change"] is None


# --------------------------------------------------------------------------------------------
# Bad input and visibility
# --------------------------------------------------------------------------------------------


def _error_fields(response: Any) -> list[str]:
    return [str(e["loc"][-1]) for e in response.json()["detail"]]


class TestBadPeriod:
    @pytest.fixture
    def client(self, db: DbSession, people: People) -> Client:
        client = make_client(db, people.owner)
        db.commit()
        return client

    @pytest.mark.parametrize("days", [0, -1], ids=["empty", "reversed"])
    def test_end_not_after_start_is_422_naming_end(
        self, api: TestClient, client: Client, headers: dict[str, str], days: int
    ) -> None:
        end = _now()
        params = {"start": end.isoformat(), "end": (end + timedelta(days=days)).isoformat()}
        response = api.get(_metrics_url(client), params=params, headers=headers)
        assert response.status_code == 422
        assert _error_fields(response) == ["end"]

    def test_only_an_end_takes_the_28_days_before_it(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        end = _now() - timedelta(days=400)
        response = api.get(_metrics_url(client), params={"end": end.isoformat()}, headers=headers)
        assert response.status_code == 200
        assert datetime.fromisoformat(response.json()["start"]) == end - timedelta(days=28)

    def test_only_a_start_after_now_is_422_naming_end(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        start = datetime.now(UTC) + timedelta(days=2)
        response = api.get(
            _metrics_url(client), params={"start": start.isoformat()}, headers=headers
        )
        assert response.status_code == 422
        assert _error_fields(response) == ["end"]

    def test_over_ten_years_is_422_naming_start(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        end = _now()
        response = api.get(_metrics_url(client), params=_period(end, 3654), headers=headers)
        assert response.status_code == 422
        assert _error_fields(response) == ["start"]
        exactly = api.get(_metrics_url(client), params=_period(end, 3653), headers=headers)
        assert exactly.status_code == 200

    @pytest.mark.parametrize("field", ["start", "end"])
    def test_naive_datetimes_are_422(
        self, api: TestClient, client: Client, headers: dict[str, str], field: str
    ) -> None:
        params = _period(_now())
        params[field] = "2026-05-01T10:00:00"
        response = api.get(_metrics_url(client), params=params, headers=headers)
        assert response.status_code == 422
        assert _error_fields(response) == [field]

    def test_garbage_is_422(self, api: TestClient, client: Client, headers: dict[str, str]) -> None:
        response = api.get(_metrics_url(client), params={"start": "yesterday"}, headers=headers)
        assert response.status_code == 422
        assert _error_fields(response) == ["start"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("end", "9999-12-31T23:59:59-05:00"),  # was a 500 (OverflowError to UTC)
            ("start", "0001-01-01T00:00:00+05:00"),  # was a 500 (OverflowError to UTC)
            ("end", "0001-01-02T00:00:00+00:00"),  # was a 500 (28 days before it)
            ("end", "9999-12-31T00:00:00+00:00"),  # was a 200 for a window in the year 9999
        ],
    )
    def test_a_far_time_is_422_with_the_parsers_message(
        self, api: TestClient, client: Client, headers: dict[str, str], field: str, value: str
    ) -> None:
        response = api.get(_metrics_url(client), params={field: value}, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", field], "msg": OUT_OF_RANGE, "type": "value_error"}
        ]


class TestVisibility:
    @pytest.fixture
    def client(self, db: DbSession, people: People) -> Client:
        client = make_client(db, people.owner)
        db.commit()
        return client

    @pytest.mark.parametrize(
        ("caller", "expected"),
        [("owner", 200), ("supervisor", 200), ("other", 404), ("admin", 404)],
    )
    def test_who_may_read(
        self,
        api: TestClient,
        settings: Settings,
        people: People,
        client: Client,
        caller: str,
        expected: int,
    ) -> None:
        user = getattr(people, caller)
        response = api.get(_metrics_url(client), headers=auth_headers(settings, user))
        assert response.status_code == expected

    def test_anonymous_is_401(self, api: TestClient, client: Client) -> None:
        assert api.get(_metrics_url(client)).status_code == 401

    def test_unknown_client_is_404(self, api: TestClient, headers: dict[str, str]) -> None:
        url = "/api/v1/clients/00000000-0000-7000-8000-000000000000/metrics"
        assert api.get(url, headers=headers).status_code == 404

    def test_a_read_is_audited(
        self, api: TestClient, db: DbSession, people: People, client: Client, settings: Settings
    ) -> None:
        response = api.get(_metrics_url(client), headers=auth_headers(settings, people.supervisor))
        assert response.status_code == 200
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == client.id, AuditEvent.entity == "metrics"
            )
        ).all()
        assert [(e.action, e.actor_id, e.entity_id) for e in events] == [
            ("read", people.supervisor.id, str(client.id))
        ]


# --------------------------------------------------------------------------------------------
# Measures API and the registry
# --------------------------------------------------------------------------------------------


def _measures_url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/measures"


class TestMeasureScoring:
    @pytest.fixture
    def client(self, db: DbSession, people: People) -> Client:
        client = make_client(db, people.owner)
        db.commit()
        return client

    def test_phq9_total_and_band(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        at = _now() - timedelta(days=1)
        body = {
            "instrument": "phq9",
            "administered_at": at.isoformat(),
            "items": [3, 2, 2, 1, 1, 2, 1, 0, 0],
        }
        response = api.post(_measures_url(client), json=body, headers=headers)
        assert response.status_code == 201, response.text
        data = response.json()
        # 3+2+2+1+1+2+1+0+0 = 12: moderate (10-14).
        assert data["total"] == 12.0
        assert data["severity"] == "moderate"
        assert data["subscales"] is None
        assert data["items"] == [3, 2, 2, 1, 1, 2, 1, 0, 0]

    def test_cbi_scales_with_the_reversed_item(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        # Personal: codes 4,3,3,2,2,4 -> 100,75,75,50,50,100 -> mean 75.
        # Work-related: codes 3,3,3,3,3,3 and item 13 = 4 (reversed: 100 - 100 = 0)
        #   -> (6*75 + 0) / 7 = 64.2857.
        # Client-related: codes 1,1,1,1,1,1 -> 25.
        items = [4, 3, 3, 2, 2, 4, 3, 3, 3, 3, 3, 3, 4, 1, 1, 1, 1, 1, 1]
        at = _now() - timedelta(days=1)
        response = api.post(
            _measures_url(client),
            json={"instrument": "cbi", "administered_at": at.isoformat(), "items": items},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        data = response.json()
        assert data["total"] is None  # the CBI has no total
        assert data["severity"] is None  # and no published bands
        assert data["subscales"]["personal"] == pytest.approx(75.0)
        assert data["subscales"]["work_related"] == pytest.approx(450 / 7)
        assert data["subscales"]["client_related"] == pytest.approx(25.0)

    def test_ors_is_total_only(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        at = (_now() - timedelta(days=1)).isoformat()
        response = api.post(
            _measures_url(client),
            json={"instrument": "ors", "administered_at": at, "total": 22.5},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        data = response.json()
        assert (data["total"], data["items"], data["subscales"], data["severity"]) == (
            22.5,
            None,
            None,
            None,
        )
        with_items = api.post(
            _measures_url(client),
            json={"instrument": "ors", "administered_at": at, "items": [5, 5, 5, 5]},
            headers=headers,
        )
        assert with_items.status_code == 422
        assert set(_error_fields(with_items)) == {"items", "total"}


class TestMeasureListChange:
    """The list shows each administration's change from baseline and its RCI."""

    def test_change_and_rci_against_the_first_administration(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner)
        make_measure(
            db,
            client,
            administered_at=end - timedelta(days=30),
            items=[2] * 8 + [0],
            total=16.0,
            severity="moderately_severe",
        )
        make_measure(
            db,
            client,
            administered_at=end - timedelta(days=20),
            items=[2] * 6 + [0] * 3,
            total=12.0,
            severity="moderate",
        )
        make_measure(
            db,
            client,
            administered_at=end - timedelta(days=10),
            items=[1] * 7 + [0] * 2,
            total=7.0,
            severity="mild",
        )
        make_measure(
            db,
            client,
            instrument="ors",
            administered_at=end - timedelta(days=25),
            items=None,
            total=20.0,
            severity=None,
        )
        make_measure(
            db,
            client,
            instrument="ors",
            administered_at=end - timedelta(days=5),
            items=None,
            total=27.0,
            severity=None,
        )
        db.commit()
        response = api.get(_measures_url(client), headers=headers)
        assert response.status_code == 200, response.text
        rows = [
            (m["instrument"], m["total"], m["change_from_baseline"], m["rci"], m["reliable_change"])
            for m in response.json()["items"]
        ]
        phq_sdiff = math.sqrt(2) * 5.5 * 0.4  # 3.1113
        ors_sdiff = math.sqrt(2) * 4.034 * math.sqrt(0.2)  # 2.5513 (5-point anchor / 1.96)
        expected = [
            ("ors", 27.0, 7.0, 7.0 / ors_sdiff, "improved"),
            ("phq9", 7.0, -9.0, -9.0 / phq_sdiff, "improved"),
            ("phq9", 12.0, -4.0, -4.0 / phq_sdiff, "no_reliable_change"),
            ("ors", 20.0, None, None, None),  # the baseline itself
            ("phq9", 16.0, None, None, None),
        ]
        assert [r[:3] for r in rows] == [e[:3] for e in expected]
        for row, want in zip(rows, expected, strict=True):
            assert row[3] == (None if want[3] is None else pytest.approx(want[3]))
            assert row[4] == want[4]
        baselines = {
            (m["instrument"], datetime.fromisoformat(m["baseline_at"]))
            for m in response.json()["items"]
        }
        assert baselines == {
            ("ors", end - timedelta(days=25)),
            ("phq9", end - timedelta(days=30)),
        }

    def test_posting_returns_the_change_too(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner)
        db.commit()

        def post(days: int, body: dict[str, Any]) -> dict[str, Any]:
            at = (end - timedelta(days=days)).isoformat()
            response = api.post(
                _measures_url(client), json={**body, "administered_at": at}, headers=headers
            )
            assert response.status_code == 201, response.text
            result: dict[str, Any] = response.json()
            return result

        first = post(20, {"instrument": "srs", "total": 30})
        assert (first["change_from_baseline"], first["rci"]) == (None, None)
        assert datetime.fromisoformat(first["baseline_at"]) == end - timedelta(days=20)
        # The SRS publishes no reliability figures: a change, but no RCI.
        second = post(10, {"instrument": "srs", "total": 38})
        assert (second["change_from_baseline"], second["rci"], second["reliable_change"]) == (
            8.0,
            None,
            None,
        )
        # A PHQ-9 that cannot be scored (3 items missing) is not a baseline and has no change.
        unscored = post(15, {"instrument": "phq9", "items": [None] * 3 + [1] * 6})
        assert unscored["total"] is None
        assert (unscored["baseline_at"], unscored["change_from_baseline"]) == (None, None)
        scored = post(5, {"instrument": "phq9", "items": [1] * 9})
        assert scored["baseline_at"] is not None
        assert datetime.fromisoformat(scored["baseline_at"]) == end - timedelta(days=5)
        assert scored["change_from_baseline"] is None

    def test_baseline_is_the_first_administration_even_outside_the_page(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner)
        make_measure(
            db,
            client,
            administered_at=end - timedelta(days=30),
            items=[1] * 9,
            total=9.0,
            severity="mild",
        )
        make_measure(
            db,
            client,
            administered_at=end - timedelta(days=3),
            items=[2] * 8 + [0],
            total=16.0,
            severity="moderately_severe",
        )
        db.commit()
        response = api.get(
            _measures_url(client),
            params={"start": (end - timedelta(days=7)).isoformat(), "limit": 1},
            headers=headers,
        )
        [latest] = response.json()["items"]
        assert latest["change_from_baseline"] == 7.0
        assert latest["rci"] == pytest.approx(7.0 / (math.sqrt(2) * 5.5 * 0.4))
        assert latest["reliable_change"] == "deteriorated"

    def test_cbi_change_per_scale(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        end = _now()
        client = make_client(db, people.owner)
        first = api.post(
            _measures_url(client),
            json={
                "instrument": "cbi",
                "administered_at": (end - timedelta(days=30)).isoformat(),
                "items": [3] * 19,
            },
            headers=headers,
        )
        second = api.post(
            _measures_url(client),
            json={
                "instrument": "cbi",
                "administered_at": (end - timedelta(days=2)).isoformat(),
                "items": [1] * 19,
            },
            headers=headers,
        )
        assert first.status_code == second.status_code == 201
        newest = api.get(_measures_url(client), headers=headers).json()["items"][0]
        assert newest["change_from_baseline"] is None  # no total
        changes = newest["subscale_changes"]
        assert set(changes) == {"personal", "work_related", "client_related"}
        # Personal: 75 -> 25 = -50. Work-related: (6*75 + 25)/7 -> (6*25 + 75)/7 = -250/7.
        assert changes["personal"]["change"] == pytest.approx(-50.0)
        assert changes["work_related"]["change"] == pytest.approx(-250 / 7)
        s_diff = math.sqrt(2) * 17 * math.sqrt(1 - 0.87)
        assert changes["personal"]["rci"] == pytest.approx(-50.0 / s_diff)
        assert changes["personal"]["reliable_change"] == "improved"

    def test_query_count_does_not_grow_with_measures(
        self,
        api: TestClient,
        db: DbSession,
        people: People,
        headers: dict[str, str],
        queries: QueryCounter,
    ) -> None:
        client = make_client(db, people.owner)
        end = _now()
        counts = []
        for n in (2, 30):
            for i in range(n):
                instrument = ("phq9", "gad7")[i % 2]
                items = [1] * (9 if instrument == "phq9" else 7)
                make_measure(
                    db,
                    client,
                    instrument=instrument,
                    administered_at=end - timedelta(hours=i + n),
                    items=items,
                    total=float(len(items)),
                )
            db.commit()
            queries.reset()
            assert (
                api.get(_measures_url(client), params={"limit": 500}, headers=headers).status_code
                == 200
            )
            counts.append(queries.count)
        assert counts[0] == counts[1], queries.statements


class TestInstrumentRegistry:
    def test_lists_every_shipped_instrument(self, api: TestClient, headers: dict[str, str]) -> None:
        response = api.get("/api/v1/instruments", headers=headers)
        assert response.status_code == 200
        registry = {i["code"]: i for i in response.json()}
        assert set(registry) == {"phq9", "gad7", "cbi", "ors", "srs"}
        assert len(registry["phq9"]["item_text"]) == 9
        assert [b["code"] for b in registry["phq9"]["severity_bands"]] == [
            "minimal",
            "mild",
            "moderate",
            "moderately_severe",
            "severe",
        ]
        assert [b["code"] for b in registry["gad7"]["severity_bands"]] == [
            "minimal",
            "mild",
            "moderate",
            "severe",
        ]
        assert [s["code"] for s in registry["cbi"]["subscales"]] == [
            "personal",
            "work_related",
            "client_related",
        ]

    @pytest.mark.parametrize("code", ["ors", "srs"])
    def test_no_ors_or_srs_wording(
        self, api: TestClient, headers: dict[str, str], code: str
    ) -> None:
        [instrument] = [
            i for i in api.get("/api/v1/instruments", headers=headers).json() if i["code"] == code
        ]
        assert instrument["item_count"] == 0
        assert instrument["item_text"] is None
        assert instrument["response_labels"] is None
        assert instrument["stem"] is None
        assert instrument["subscales"] == []
        assert (instrument["total_min"], instrument["total_max"]) == (0, 40)

    def test_anonymous_is_401(self, api: TestClient) -> None:
        assert api.get("/api/v1/instruments").status_code == 401


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------


def _recent_observation(db: DbSession, client: Client) -> None:
    make_observation(db, client, observed_at=datetime.now(UTC) - timedelta(hours=6))


def _flags(api: TestClient, client: Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = api.get(_metrics_url(client), headers=headers)
    assert response.status_code == 200, response.text
    return {f["code"]: f for f in response.json()["flags"]}


def _assert_explained(flag: dict[str, Any]) -> None:
    assert set(flag) >= FLAG_KEYS
    assert flag["reasons"]
    for reason in flag["reasons"]:
        assert isinstance(reason, str)
        assert reason.strip() == reason
        assert len(reason) > 20
        assert "{" not in reason
    assert flag["evidence"]
    assert isinstance(flag["suggestion"], str)
    assert len(flag["suggestion"]) > 20


class TestFlags:
    @pytest.fixture
    def client(self, db: DbSession, people: People) -> Client:
        return make_client(db, people.owner, intake_date=date(2026, 1, 5))

    def test_safety(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        at = datetime.now(UTC) - timedelta(days=2)
        make_measure(
            db,
            client,
            administered_at=at,
            items=[0, 0, 0, 0, 0, 0, 0, 0, 1],
            total=1.0,
            severity="minimal",
        )
        db.commit()
        flags = _flags(api, client, headers)
        assert set(flags) == {"safety"}
        safety = flags["safety"]
        _assert_explained(safety)
        assert safety["level"] == "alert"
        assert safety["evidence"] == {"phq9_item9": 1, "administered_at": at.date().isoformat()}
        assert "risk-assessment protocol" in safety["suggestion"]
        assert safety["acknowledgement"] is None

    def test_safety_reads_only_the_latest_phq9(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        now = datetime.now(UTC)
        make_measure(
            db, client, administered_at=now - timedelta(days=9), items=[0] * 8 + [2], total=2.0
        )
        make_measure(db, client, administered_at=now - timedelta(days=2), items=[0] * 9, total=0.0)
        db.commit()
        assert _flags(api, client, headers) == {}

    def test_safety_from_an_incomplete_phq9(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        at = datetime.now(UTC) - timedelta(days=1)
        response = api.post(
            f"/api/v1/clients/{client.id}/measures",
            json={
                "instrument": "phq9",
                "administered_at": at.isoformat(),
                "items": [None, None, None, 1, None, None, None, None, 2],
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["total"] is None  # 7 of 9 missing: no valid total
        flags = _flags(api, client, headers)
        assert set(flags) == {"safety"}
        assert flags["safety"]["evidence"]["phq9_item9"] == 2

    def test_engagement_risk_watch_on_one_signal(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        now = datetime.now(UTC)
        make_session(
            db,
            client,
            starts_at=now - timedelta(days=17),
            attendance=Attendance.NO_SHOW,
            engagement=None,
        )
        make_session(
            db,
            client,
            starts_at=now - timedelta(days=10),
            attendance=Attendance.LATE_CANCEL,
            engagement=None,
        )
        make_session(db, client, starts_at=now - timedelta(days=3))
        db.commit()
        flags = _flags(api, client, headers)
        assert set(flags) == {"engagement_risk"}
        flag = flags["engagement_risk"]
        _assert_explained(flag)
        assert flag["level"] == "watch"
        assert flag["signals"] == ["missed"]
        assert flag["evidence"] == {"missed_due_sessions": 2, "due_sessions": 3}

    def test_engagement_risk_alert_on_two_signals(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        now = datetime.now(UTC)
        make_session(db, client, starts_at=now - timedelta(days=20, hours=1))
        make_session(
            db,
            client,
            starts_at=now - timedelta(days=13),
            attendance=Attendance.NO_SHOW,
            engagement=None,
        )
        make_session(
            db,
            client,
            starts_at=now - timedelta(days=6),
            attendance=Attendance.NO_SHOW,
            engagement=None,
        )
        db.commit()
        flag = _flags(api, client, headers)["engagement_risk"]
        _assert_explained(flag)
        assert flag["level"] == "alert"
        assert flag["signals"] == ["missed", "gap"]
        assert flag["evidence"]["days_since_last_attended"] == 20
        assert flag["evidence"]["session_cadence_days"] == 7
        assert len(flag["reasons"]) == 2

    def test_burnout_risk_from_a_cbi(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        # Personal 50 (codes 2), work-related (6*25 + 100 - 25) / 7 = 32.1 (codes 1).
        items = [2] * 6 + [1] * 7 + [None] * 6
        at = datetime.now(UTC) - timedelta(days=1)
        make_measure(
            db, client, instrument="cbi", administered_at=at, items=items, total=None, severity=None
        )
        db.commit()
        flags = _flags(api, client, headers)
        assert set(flags) == {"burnout_risk"}
        flag = flags["burnout_risk"]
        _assert_explained(flag)
        assert flag["level"] == "alert"
        assert flag["signals"] == ["cbi_personal"]
        assert flag["evidence"] == {
            "cbi_personal": 50.0,
            "cbi_administered_at": at.date().isoformat(),
        }

    def test_deterioration_on_a_reliable_phq9_worsening(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        # 3 -> 12 (+9, beyond Jacobson-Truax's 6.098): a first, unconfirmed deterioration is
        # a watch; confirmed at the next administration (3 -> 11, +8) it is an alert
        # (DOMAIN.md §3.4).
        _recent_observation(db, client)
        now = datetime.now(UTC)
        for days, items in (
            (40, [1, 1, 1] + [0] * 6),
            (20, [2, 2, 2, 2, 1, 1, 1, 1, 0]),
        ):
            make_measure(
                db, client, administered_at=now - timedelta(days=days), items=items, total=None
            )
        db.commit()
        flags = _flags(api, client, headers)
        assert set(flags) == {"deterioration"}
        flag = flags["deterioration"]
        _assert_explained(flag)
        assert flag["level"] == "watch"
        assert flag["signals"] == ["phq9"]
        assert flag["evidence"]["phq9_change"] == 9.0
        assert flag["evidence"]["phq9_confirmed"] == "no"
        assert flag["evidence"]["deterioration_rule"].startswith(
            "alert when seen at 2 consecutive administrations"
        )
        assert "reliable change threshold not yet verified" in flag["reasons"][0]
        make_measure(
            db,
            client,
            administered_at=now - timedelta(days=2),
            items=[2, 2, 2, 2, 1, 1, 1, 0, 0],
            total=None,
        )
        db.commit()
        flag = _flags(api, client, headers)["deterioration"]
        assert flag["level"] == "alert"
        assert flag["evidence"]["phq9_change"] == 8.0
        assert flag["evidence"]["phq9_confirmed"] == "yes"
        body = api.get(_metrics_url(client), headers=headers).json()
        [phq9] = body["measures"]
        assert (phq9["reliable_change"], phq9["confirmed"]) == ("deteriorated", True)

    def test_prorated_phq9_with_item9_unanswered(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        # 8 items answered 2, item 9 left empty: 16 x 9 / 8 = 18, prorated (DOMAIN.md §2.2);
        # item 9 is noted as unanswered, never read as 0: a safety watch.
        _recent_observation(db, client)
        at = datetime.now(UTC) - timedelta(days=1)
        response = api.post(
            f"/api/v1/clients/{client.id}/measures",
            json={
                "instrument": "phq9",
                "administered_at": at.isoformat(),
                "items": [2, 2, 2, 2, 2, 2, 2, 2, None],
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body = api.get(_metrics_url(client), headers=headers).json()
        [phq9] = body["measures"]
        assert phq9["latest"]["total"] == 18.0
        assert (phq9["prorated"], phq9["item9_unanswered"], phq9["positive_screen"]) == (
            True,
            True,
            True,
        )
        flags = {f["code"]: f for f in body["flags"]}
        assert flags["safety"]["level"] == "watch"
        assert flags["safety"]["evidence"] == {"phq9_item9_unanswered_at": at.date().isoformat()}

    def test_srs_alliance_concern_is_an_engagement_signal(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        _recent_observation(db, client)
        at = datetime.now(UTC) - timedelta(days=1)
        make_measure(
            db, client, instrument="srs", administered_at=at, items=None, total=34.0, severity=None
        )
        db.commit()
        body = api.get(_metrics_url(client), headers=headers).json()
        [srs] = body["measures"]
        assert (srs["concern"], srs["convention"], srs["minimum_reliable_change"]) == (
            True,
            None,
            None,
        )
        flag = _flags(api, client, headers)["engagement_risk"]
        assert (flag["level"], flag["signals"]) == ("watch", ["alliance"])
        assert flag["evidence"]["srs_total"] == 34.0
        assert flag["evidence"]["srs_concern_cutoff"] == "<= 36"

    def test_stale_data_for_an_active_client(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        make_observation(db, client, observed_at=datetime.now(UTC) - timedelta(days=40, hours=1))
        db.commit()
        flags = _flags(api, client, headers)
        assert set(flags) == {"stale_data"}
        flag = flags["stale_data"]
        _assert_explained(flag)
        assert flag["level"] == "watch"
        assert flag["evidence"] == {"days_since_last_data": 40}

    def test_no_stale_data_for_a_paused_client(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        client.status = ClientStatus.PAUSED
        make_observation(db, client, observed_at=datetime.now(UTC) - timedelta(days=40))
        db.commit()
        assert _flags(api, client, headers) == {}


class TestMetricsQueryCount:
    def test_few_and_many_records_cost_the_same(
        self,
        api: TestClient,
        db: DbSession,
        people: People,
        headers: dict[str, str],
        queries: QueryCounter,
    ) -> None:
        client = make_client(db, people.owner)
        now = datetime.now(UTC)
        counts = []
        for n in (2, 40):
            for i in range(n):
                at = now - timedelta(hours=7 * i + n)
                make_episode(db, client, started_at=at)
                make_observation(db, client, observed_at=at)
                make_session(db, client, starts_at=at - timedelta(days=1))
                make_measure(db, client, administered_at=at)
            db.commit()
            queries.reset()
            assert api.get(_metrics_url(client), headers=headers).status_code == 200
            counts.append(queries.count)
        assert counts[0] == counts[1], queries.statements


class TestNhsTalkingTherapiesConvention:
    """A practice using the NHS Talking Therapies convention for PHQ-9 (DOMAIN.md §3.3-3.4):
    metrics, flags and the measure list all judge change by it."""

    @pytest.fixture
    def nhs_api(
        self, settings: Settings, session_factory: sessionmaker[OrmSession]
    ) -> Iterator[TestClient]:
        nhs = settings.model_copy(update={"rci_conventions": {"phq9": "nhs_talking_therapies"}})
        app = create_app(nhs)
        app.state.session_factory = session_factory
        with TestClient(app) as test_client:
            yield test_client

    def test_six_points_is_reliable_under_nhs_not_under_jacobson_truax(
        self,
        api: TestClient,
        nhs_api: TestClient,
        db: DbSession,
        people: People,
        headers: dict[str, str],
    ) -> None:
        # PHQ-9 4 -> 10: +6 reaches NHS Talking Therapies' 6 points; under Jacobson-Truax
        # RCI = 6 / 3.1113 = 1.93 <= 1.96, no reliable change.
        client = make_client(db, people.owner, intake_date=date(2026, 1, 5))
        now = datetime.now(UTC)
        make_observation(db, client, observed_at=now - timedelta(days=1))
        for days, items in ((40, [1, 1, 1, 1, 0, 0, 0, 0, 0]), (2, [2, 2, 2, 1, 1, 1, 1, 0, 0])):
            make_measure(
                db,
                client,
                administered_at=now - timedelta(days=days),
                items=items,
                total=float(sum(items)),  # as the service stores it
            )
        db.commit()
        [nhs] = nhs_api.get(_metrics_url(client), headers=headers).json()["measures"]
        [jt] = api.get(_metrics_url(client), headers=headers).json()["measures"]
        assert (nhs["convention"], nhs["reliable_change"]) == (
            "nhs_talking_therapies",
            "deteriorated",
        )
        assert (nhs["minimum_reliable_change"], nhs["unverified_constant"]) == (6.0, False)
        assert nhs["rci"] == pytest.approx(6 / (math.sqrt(2) * 5.5 * 0.4))
        assert (jt["convention"], jt["reliable_change"]) == ("jacobson_truax", "no_reliable_change")
        flags = {
            f["code"]: f for f in nhs_api.get(_metrics_url(client), headers=headers).json()["flags"]
        }
        assert flags["deterioration"]["level"] == "watch"  # seen once: not yet confirmed
        assert (
            "NHS Talking Therapies threshold of 6.0 points" in flags["deterioration"]["reasons"][0]
        )
        # The measure list judges the change from baseline by the same convention.
        listed = nhs_api.get(f"/api/v1/clients/{client.id}/measures", headers=headers).json()
        assert [m["reliable_change"] for m in listed["items"]] == ["deteriorated", None]
        listed = api.get(f"/api/v1/clients/{client.id}/measures", headers=headers).json()
        assert [m["reliable_change"] for m in listed["items"]] == ["no_reliable_change", None]
