"""GET /api/v1/clients/{id}/metrics?source=...: the figures from one reporter's records only
(issue 11, part 4: client self-report and practitioner entries combine in the metrics, and
the metrics can be filtered by source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models.enums import Role, Source
from tests.builders import auth_headers, make_client, make_episode, make_observation, make_user


def _now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def test_metrics_by_source(api: TestClient, db: DbSession, settings: Settings) -> None:
    owner = make_user(db, settings, Role.THERAPIST)
    other = make_user(db, settings, Role.THERAPIST)
    now = _now()
    client = make_client(db, owner, intake_date=(now - timedelta(days=90)).date())
    # In the last 28 days: 2 episodes the practitioner logged (60 min), 6 the client reported
    # (20 min); observations: 1 practitioner (activation 8), 3 client (activation 2).
    for days in (3, 10):
        start = now - timedelta(days=days)
        make_episode(db, client, started_at=start, baseline_at=start + timedelta(minutes=60))
    for days in (2, 5, 8, 12, 15, 20):
        start = now - timedelta(days=days)
        make_episode(
            db,
            client,
            started_at=start,
            baseline_at=start + timedelta(minutes=20),
            source=Source.CLIENT,
        )
    make_observation(db, client, observed_at=now - timedelta(days=4), activation=8)
    for days in (1, 6, 9):
        make_observation(
            db, client, observed_at=now - timedelta(days=days), activation=2, source=Source.CLIENT
        )
    db.commit()
    url = f"/api/v1/clients/{client.id}/metrics"
    headers = auth_headers(settings, owner)

    both = api.get(url, headers=headers).json()
    mine = api.get(url, params={"source": "practitioner"}, headers=headers).json()
    theirs = api.get(url, params={"source": "client"}, headers=headers).json()
    # 28-day window, 4 weeks of exposure: 8, 2 and 6 episodes a week / 4.
    assert both["episodes_per_week"] == 2.0
    assert mine["episodes_per_week"] == 0.5
    assert theirs["episodes_per_week"] == 1.5
    # Medians: all eight -> 20 (six of 20, two of 60); the practitioner's 60; the client's 20.
    assert both["recovery"]["median_minutes"] == 20.0
    assert mine["recovery"]["median_minutes"] == 60.0
    assert theirs["recovery"]["median_minutes"] == 20.0
    assert (both["source"], mine["source"], theirs["source"]) == (None, "practitioner", "client")

    bad = api.get(url, params={"source": "robot"}, headers=headers)
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["detail"]] == [["query", "source"]]
    # Scope as for every metrics request: a client you may not see is a 404.
    hidden = api.get(url, params={"source": "client"}, headers=auth_headers(settings, other))
    assert hidden.status_code == 404
