"""The client page's monitoring chart: the evidence behind ``deterioration``, in three panels.

What it must show (issue 10, part 4): the statistic over time, its limit, where it crossed,
the restart from an acknowledgement and the start of monitoring, with plain words saying what
the chart is, the client's usual, and "not enough episodes yet" while there are too few.
The numbers drawn are the domain's (GET /metrics' `monitoring`, tests/api/test_metrics_as_of.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, FlagAcknowledgement, User
from practice_dashboard.web.charts.monitoring import (
    ADDED_UP,
    CROSSED_BEFORE_RESTART,
    MONITORING_STARTS,
    RESTARTED,
)
from tests.builders import (
    auth_headers,
    make_client,
    make_episode,
    make_recovery_course,
    make_user,
    sign_in,
)
from tests.html import Node, parse
from tests.web.test_client_page import charts_of, local_x

CHART = "chart-monitoring"


def _now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _page(api: TestClient, client: Client, **params: str) -> Node:
    response = api.get(f"/clients/{client.id}", params=params)
    assert response.status_code == 200, response.text
    return parse(response.text)


def _trace(figure: dict[str, Any], name: str, yaxis: str = "y") -> dict[str, Any]:
    [trace] = [t for t in figure["data"] if t["name"] == name and t.get("yaxis", "y") == yaxis]
    return trace


def _api_monitoring(
    api: TestClient, settings: Settings, owner: User, client: Client
) -> dict[str, Any]:
    response = api.get(
        f"/api/v1/clients/{client.id}/metrics", headers=auth_headers(settings, owner)
    )
    assert response.status_code == 200, response.text
    monitoring: dict[str, Any] = response.json()["monitoring"]
    return monitoring


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def slowing(db: DbSession, owner: User) -> Client:
    """Two episodes a week for 17 weeks; recovery about 45 minutes, then from 7 weeks ago
    about 150 (tests/builders.py make_recovery_course)."""
    now = _now()
    client = make_client(db, owner, intake_date=(now - timedelta(days=126)).date())
    make_recovery_course(
        db,
        client,
        first=now - timedelta(days=119),
        until=now - timedelta(hours=12),
        change=now - timedelta(days=49),
    )
    db.commit()
    return client


class TestASignal:
    def test_the_statistic_its_line_and_the_crossing(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        slowing: Client,
    ) -> None:
        expected = _api_monitoring(api, settings, owner, slowing)["recovery"]
        assert expected["status"] == "signal"
        sign_in(api, db, settings, owner)
        figure = charts_of(_page(api, slowing))[CHART]
        line = _trace(figure, "Evidence, added up episode by episode")
        # Every point of the domain's chart is drawn (the default period covers the course).
        assert line["x"] == [
            local_x(settings, datetime.fromisoformat(p["at"])) for p in expected["points"]
        ]
        assert line["y"] == pytest.approx([p["statistic"] for p in expected["points"]], abs=0.01)
        assert line["line"]["shape"] == "hv"
        limit = _trace(figure, "The line that raises the flag")
        assert limit["y"] == [expected["limit"]] * 2
        crossed = _trace(figure, "Crossed the line")
        signal_at = datetime.fromisoformat(expected["signal_at"])
        assert crossed["x"] == [local_x(settings, signal_at)]
        assert crossed["y"][0] > expected["limit"]
        # Monitoring begins after the personal baseline: a named line through the panels.
        [start] = [s for s in figure["layout"]["shapes"] if s.get("name") == MONITORING_STARTS]
        assert start["x0"] == local_x(settings, datetime.fromisoformat(expected["monitoring_from"]))
        # Three panels on one time axis, top to bottom.
        layout = figure["layout"]
        assert [layout[a]["title"]["text"] for a in ("yaxis", "yaxis2", "yaxis3")] == [
            "Recovery time",
            "Not back to baseline",
            "Recognition time",
        ]
        for trace in figure["data"]:
            assert trace.get("xaxis", "x") == "x"

    def test_the_words_say_what_it_is_the_usual_and_since_when(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        slowing: Client,
    ) -> None:
        expected = _api_monitoring(api, settings, owner, slowing)["recovery"]
        sign_in(api, db, settings, owner)
        page = _page(api, slowing)
        summary = page.by_id(f"{CHART}-summary").words()
        assert summary.startswith(
            f"The lines show evidence that recovery is slower than this client's usual, {ADDED_UP}."
        )
        signal = datetime.fromisoformat(expected["signal_at"]).astimezone(settings.timezone)
        usual = round(expected["reference_median_minutes"])
        assert (
            f"Recovery time: crossed the line on {signal.day} {signal:%b %Y} "
            f"(their usual recovery: about {usual} minutes)" in summary
        )
        # The chart names its summary as its description (the text alternative).
        assert page.by_id(CHART).attrs["aria-describedby"] == f"{CHART}-summary"
        notes = [p.words() for p in page.find_all("p", cls="chart-note")]
        assert (
            "Not back to baseline: evidence that more episodes than usual are not coming back "
            "to baseline." in notes
        )
        assert (
            "Recognition time: evidence that noticing activation takes longer than this "
            "client's usual." in notes
        )

    def test_a_restart_from_an_acknowledgement_is_marked(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        slowing: Client,
    ) -> None:
        before = _api_monitoring(api, settings, owner, slowing)["recovery"]
        at = _now() - timedelta(days=10)
        db.add(
            FlagAcknowledgement(
                client_id=slowing.id,
                code="deterioration",
                level="alert",
                fingerprint="deterioration|alert|x",
                evidence={},
                acknowledged_by_id=owner.id,
                at=at,
                note="Care plan reviewed",
            )
        )
        db.commit()
        sign_in(api, db, settings, owner)
        page = _page(api, slowing)
        figure = charts_of(page)[CHART]
        [restart] = [s for s in figure["layout"]["shapes"] if s.get("name") == RESTARTED]
        assert restart["x0"] == local_x(settings, at)
        # The acknowledged crossing stays on view, marked apart; there is no new one.
        previous = _trace(figure, CROSSED_BEFORE_RESTART)
        assert previous["x"] == [local_x(settings, datetime.fromisoformat(before["signal_at"]))]
        assert not [t for t in figure["data"] if t["name"] == "Crossed the line"]
        local = at.astimezone(settings.timezone)
        signal = datetime.fromisoformat(before["signal_at"]).astimezone(settings.timezone)
        notes = [p.words() for p in page.find_all("p", cls="chart-note")]
        assert (
            f"The lines restarted from zero on {local.day} {local:%b %Y}, when the deterioration "
            "flag was acknowledged or a care change was noted, so a new crossing means new "
            "evidence (the crossing before "
            f"it: {signal.day} {signal:%b %Y})." in notes
        )

    def test_a_past_period_shows_the_lines_as_they_stood_then(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, slowing: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        end = (_now() - timedelta(days=56)).astimezone(settings.timezone).date()
        page = _page(api, slowing, end=end.isoformat())
        figure = charts_of(page)[CHART]
        assert not [t for t in figure["data"] if t["name"] == "Crossed the line"]
        summary = page.by_id(f"{CHART}-summary").words()
        assert "Recovery time: below the line" in summary
        notes = [p.words() for p in page.find_all("p", cls="chart-note")]
        assert (
            f"As the lines stood at the end of the chosen period ({end.day} {end:%b %Y}); "
            "the flags above are today's." in notes
        )


class TestInsufficientData:
    def test_not_enough_episodes_yet(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User
    ) -> None:
        now = _now()
        client = make_client(db, owner, intake_date=(now - timedelta(days=20)).date())
        for days in (15, 9, 3):
            make_episode(db, client, started_at=now - timedelta(days=days))
        db.commit()
        sign_in(api, db, settings, owner)
        page = _page(api, client)
        figure = charts_of(page)[CHART]
        summary = page.by_id(f"{CHART}-summary").words()
        # Intake 20 days ago: the personal baseline is the first 28 days in care (DESIGN.md
        # "personal baseline"), so monitoring starts in 8 days; 5 earlier episodes are needed
        # for a score (Thresholds.monitoring_min_reference).
        starts = datetime.fromisoformat(
            _api_monitoring(api, settings, owner, client)["recovery"]["monitoring_from"]
        ).astimezone(settings.timezone)
        assert summary.endswith(
            "Not enough episodes yet to compare this client with their usual: monitoring starts "
            f"after the personal baseline ({starts.day} {starts:%b %Y}), and each episode is "
            "compared with at least 5 earlier ones."
        )
        empty = [a["text"] for a in figure["layout"]["annotations"] if "domain" in a["yref"]]
        assert empty == ["Not enough episodes yet"] * 3
        # The limits are still drawn, so the reader sees the line the flag needs.
        assert len([t for t in figure["data"] if t["name"] == "The line that raises the flag"]) == 3
        assert not [t for t in figure["data"] if t["name"] == "Crossed the line"]
