"""Entries the client reported themselves are told apart on the practitioner's pages: open
markers on the charts, "self-report" in the record list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models.enums import Source
from practice_dashboard.web.charts.common import SELF_REPORT_NOTE
from tests.builders import make_client, make_episode, make_observation, make_user
from tests.html import parse
from tests.web.test_client_page import charts_of
from tests.web.test_log_forms import log_in


def test_client_reported_points_are_open_markers_and_listed_as_self_report(
    api: TestClient, db: DbSession, settings: Settings
) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    now = datetime.now(UTC)
    make_episode(db, client, started_at=now - timedelta(days=3), source=Source.CLIENT)
    make_episode(db, client, started_at=now - timedelta(days=2))
    make_observation(db, client, observed_at=now - timedelta(days=1), source=Source.CLIENT)
    make_observation(db, client, observed_at=now - timedelta(hours=5))
    db.commit()
    log_in(api, db, settings, owner)
    page = parse(api.get(f"/clients/{client.id}").text)
    charts = charts_of(page)
    for chart_id in ("chart-episodes", "chart-states"):
        symbols = [
            symbol
            for trace in charts[chart_id]["data"]
            if trace.get("mode") == "markers"
            for symbol in (
                trace["marker"]["symbol"]
                if isinstance(trace["marker"]["symbol"], list)
                else [trace["marker"]["symbol"]]
            )
        ]
        assert sum(s.endswith("-open") for s in symbols) == 1, (chart_id, symbols)
        assert len(symbols) == 2
        summary = (
            page.one(id=f"{chart_id}-summary") if page.find(id=f"{chart_id}-summary") else page
        )
        assert SELF_REPORT_NOTE in summary.words()
    # Each of the two charts says so in its one-line summary.
    assert page.words().count(SELF_REPORT_NOTE) == 2
    record = parse(api.get(f"/clients/{client.id}/record").text)
    summaries = [node.words() for node in record.find_all("p", cls="entry-summary")]
    assert sum("self-report" in s for s in summaries) == 2, summaries
