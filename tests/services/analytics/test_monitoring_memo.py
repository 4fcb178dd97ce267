"""Monitoring checkpoints (services/analytics/monitoring_memo.py): a client's page that goes on
from a kept checkpoint, reading only the baseline period's episodes and those from its cut,
shows exactly what the page read from the whole course shows; a write, a new care change and
another period all come out right."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Annotation, Client, ClientSummary, Episode, User
from practice_dashboard.models.annotation import AnnotationKind
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import RecordStatus, Source
from practice_dashboard.services.analytics import client_view, summary
from practice_dashboard.services.analytics.client_view import load_client_view
from practice_dashboard.services.analytics.fact_loading import Reach, episode_bounds
from practice_dashboard.services.analytics.monitoring_memo import (
    CHECKPOINTS,
    Checkpoints,
    Kept,
)
from practice_dashboard.services.audit import Actor
from practice_dashboard.web.routes import client_page
from tests.builders import make_client, make_episode, make_user
from tests.conftest import QueryCounter
from tests.web.test_client_page import bulk_history
from tests.web.test_outputs_unchanged import _canonical, _page

NOW = datetime.now(UTC).replace(microsecond=0)
YEARS = 3


@pytest.fixture
def course(db: DbSession, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Client:
    """Three years of daily check-ins, an episode every other day (some not back to baseline),
    weekly sessions and monthly PHQ-9s; client-reported episodes too, and summaries current."""
    monkeypatch.setattr(client_page, "utcnow", lambda: NOW)
    owner = make_user(db, settings)
    client = make_client(db, owner, intake_date=(NOW - timedelta(days=YEARS * 365)).date())
    bulk_history(db, client, days=YEARS * 365, episodes=YEARS * 180, sessions=YEARS * 50)
    db.execute(
        insert(Episode),
        [
            {
                "id": uuid7(),
                "client_id": client.id,
                "started_at": (t := NOW - timedelta(days=3 + 5 * i, hours=7)),
                "recognized_at": None if i % 4 else t + timedelta(minutes=12),
                "baseline_at": None if i % 7 == 0 else t + timedelta(minutes=30 + i % 90),
                "peak_intensity": 4 + i % 6,
                "strategies": [],
                "source": Source.CLIENT,
                "version": 1,
            }
            for i in range(YEARS * 70)
        ],
    )
    summary.refresh(db, [client.id], settings=settings, now=NOW)
    db.commit()
    CHECKPOINTS.clear()
    return client


def _actor(db: DbSession, client: Client) -> Actor:
    user = db.get(User, client.practitioner_id)
    assert user is not None
    return Actor(user=user)


def _view(db: DbSession, settings: Settings, client: Client, **period: datetime) -> Any:
    return load_client_view(
        db,
        client_id=client.id,
        actor=_actor(db, client),
        settings=settings,
        start=period.get("start", NOW - timedelta(days=182)),
        end=period.get("end", NOW),
        now=NOW,
    )


def _whole(db: DbSession, settings: Settings, client: Client, **query: str | None) -> str:
    """The page from the whole course in one pass from intake: no checkpoint cut or kept."""
    CHECKPOINTS.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(client_view, "_new_cut", lambda _bounds: None)
        return _canonical(_page(db, settings, _actor(db, client), client, **query))


def _fresh_and_resumed(
    db: DbSession, settings: Settings, client: Client, **query: str | None
) -> tuple[str, str]:
    """The page from the whole course in one pass, then from the checkpoint the next page
    keeps (the page that keeps it, its charts split at the cut, must equal the first too)."""
    whole = _whole(db, settings, client, **query)
    actor = _actor(db, client)
    assert _canonical(_page(db, settings, actor, client, **query)) == whole, query
    return whole, _canonical(_page(db, settings, actor, client, **query))


def test_a_page_from_a_checkpoint_is_the_page_from_the_whole_course(
    db: DbSession, settings: Settings, course: Client
) -> None:
    total = db.scalar(select(func.count()).where(Episode.client_id == course.id))
    assert total is not None
    first = _view(db, settings, course)
    assert first.facts.episodes_from is None
    assert len(first.facts.episodes) == total
    kept = CHECKPOINTS.get(course.id, _stamp(db, course))
    assert kept is not None
    again = _view(db, settings, course)
    # The years between the baseline period and the cut are not read.
    assert again.facts.episodes_from == datetime.fromtimestamp(kept.checkpoint.cut, UTC)
    assert len(again.facts.episodes) < total / 2
    assert repr(again.metrics) == repr(first.metrics)
    assert again.flags == first.flags
    # Every figure, flag, headline and chart of the page, for the default period and others.
    for query in (
        {},
        {"start": (NOW - timedelta(days=91)).date().isoformat()},
        {"start": (NOW - timedelta(days=400)).date().isoformat()},  # before the cut: all read
    ):
        fresh, resumed = _fresh_and_resumed(db, settings, course, **query)
        assert resumed == fresh, query


def test_a_write_to_an_old_episode_is_not_hidden_by_the_checkpoint(
    db: DbSession, settings: Settings, course: Client
) -> None:
    _view(db, settings, course)
    kept = CHECKPOINTS.get(course.id, _stamp(db, course))
    assert kept is not None
    cut = datetime.fromtimestamp(kept.checkpoint.cut, UTC)
    old = db.scalars(
        select(Episode)
        .where(Episode.client_id == course.id, Episode.started_at < cut - timedelta(days=30))
        .order_by(Episode.started_at.desc())
        .limit(3)
    ).all()
    # Much slower, then entered in error: each commit refreshes the client's summary rows,
    # which moves the stamp the checkpoint was kept under.
    for change in ("slower", "in error"):
        for episode in old:
            if change == "slower":
                episode.baseline_at = episode.started_at + timedelta(hours=20)
            else:
                episode.status = RecordStatus.ENTERED_IN_ERROR
        db.commit()
        after = _canonical(_page(db, settings, _actor(db, course), course))
        assert after == _whole(db, settings, course), change


def test_a_new_care_change_restarts_the_charts_from_the_whole_course(
    db: DbSession, settings: Settings, course: Client
) -> None:
    _view(db, settings, course)
    assert CHECKPOINTS.get(course.id, _stamp(db, course)) is not None
    # Written past the ORM (no summary refresh, the stamp stays): the checkpoint's own key
    # (settings, intake, baseline end, restart) must refuse it.
    db.execute(
        insert(Annotation),
        [
            {
                "id": uuid7(),
                "client_id": course.id,
                "at": NOW - timedelta(days=20),
                "kind": AnnotationKind.CARE_CHANGE,
                "label": "new plan",
            }
        ],
    )
    db.flush()
    after = _canonical(_page(db, settings, _actor(db, course), course))
    assert after == _whole(db, settings, course)


def test_the_page_sends_as_many_statements_from_a_checkpoint(
    db: DbSession, settings: Settings, course: Client, queries: QueryCounter
) -> None:
    counts = []
    for _ in range(2):
        queries.reset()
        view = _view(db, settings, course)
        counts.append(queries.count)
    assert view.facts.episodes_from is not None
    assert counts[0] == counts[1], queries.statements


def test_a_young_course_keeps_no_checkpoint(
    db: DbSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing lies between the baseline period and what the page needs: nothing to leave out.
    monkeypatch.setattr(client_page, "utcnow", lambda: NOW)
    owner = make_user(db, settings)
    client = make_client(db, owner, intake_date=(NOW - timedelta(days=120)).date())
    bulk_history(db, client, days=120, episodes=60, sessions=16)
    summary.refresh(db, [client.id], settings=settings, now=NOW)
    CHECKPOINTS.clear()
    _view(db, settings, client)
    assert len(CHECKPOINTS) == 0


def test_the_least_recently_shown_client_goes_first() -> None:
    kept = Checkpoints(size=2)
    stamp = NOW
    ids = [uuid.uuid4() for _ in range(3)]
    marker = Kept(stamp, checkpoint=None)  # type: ignore[arg-type]
    kept.put(ids[0], marker)
    kept.put(ids[1], marker)
    assert kept.get(ids[0], stamp) is marker  # shown again: now the most recent
    kept.put(ids[2], marker)
    assert kept.get(ids[1], stamp) is None
    assert kept.get(ids[0], stamp) is marker
    assert kept.get(ids[2], stamp) is marker
    assert kept.get(ids[0], stamp + timedelta(seconds=1)) is None  # another stamp: not used
    assert kept.get(ids[0], None) is None


def _stamp(db: DbSession, client: Client) -> datetime | None:
    return db.scalar(
        select(func.max(ClientSummary.computed_at)).where(ClientSummary.client_id == client.id)
    )


@pytest.mark.parametrize("own_until_days", [None, 300])
def test_a_quiet_spell_before_the_period_is_read_back_to_what_the_page_looks_at(
    db: DbSession, settings: Settings, monkeypatch: pytest.MonkeyPatch, own_until_days: int | None
) -> None:
    """Three years of episodes that stop eight months ago, then two last month: the page still
    reads back to the last recovered episodes before its recovery chart (the rolling median),
    the latest episode before its windows and, when the client reported episodes themselves
    (until ten months ago here), the check-in window up to their last one. With checkpoints cut
    right at what the page needs (no margin), each of those look-backs shows if it is missed."""
    monkeypatch.setattr(client_page, "utcnow", lambda: NOW)
    monkeypatch.setattr(client_view, "CUT_MARGIN", timedelta(0))
    owner = make_user(db, settings)
    client = make_client(db, owner, intake_date=(NOW - timedelta(days=YEARS * 365)).date())
    quiet_from = NOW - timedelta(days=240)
    own_until = None if own_until_days is None else NOW - timedelta(days=own_until_days)
    start = NOW - timedelta(days=YEARS * 365)
    rows: list[dict[str, Any]] = []
    for i in range((quiet_from - start).days):
        t = start + timedelta(days=i, hours=9 + i % 5)
        own = own_until is not None and t < own_until and i % 2 == 0
        if not own and i % 2 == 0:
            continue
        rows.append(
            {
                "id": uuid7(),
                "client_id": client.id,
                "started_at": t,
                "recognized_at": t + timedelta(minutes=4 + i % 13),
                "baseline_at": None if i % 5 == 0 else t + timedelta(minutes=25 + (i * 17) % 120),
                "peak_intensity": 3 + i % 7,
                "strategies": [],
                "source": Source.CLIENT if own else Source.PRACTITIONER,
                "version": 1,
            }
        )
    for days in (25, 11):
        t = NOW - timedelta(days=days, hours=2)
        rows.append(
            {
                "id": uuid7(),
                "client_id": client.id,
                "started_at": t,
                "baseline_at": t + timedelta(minutes=50),
                "peak_intensity": 6,
                "strategies": [],
                "source": Source.PRACTITIONER,
                "version": 1,
            }
        )
    db.execute(insert(Episode), rows)
    summary.refresh(db, [client.id], settings=settings, now=NOW)
    db.commit()
    for query in ({}, {"start": (NOW - timedelta(days=60)).date().isoformat()}):
        fresh, resumed = _fresh_and_resumed(db, settings, client, **query)
        assert resumed == fresh, query
    CHECKPOINTS.clear()
    _view(db, settings, client)
    again = _view(db, settings, client)
    assert again.facts.episodes_from is not None
    assert again.facts.episodes_from < quiet_from


def test_the_latest_episode_before_the_view_bounds_the_read_when_nothing_else_does(
    db: DbSession, settings: Settings
) -> None:
    # Days since last data reads the latest episode before the view: with the rolling
    # median's episodes inside the view's reach and no check-ins of their own, it alone
    # reaches back.
    owner = make_user(db, settings)
    client = make_client(db, owner, intake_date=(NOW - timedelta(days=800)).date())
    last = NOW - timedelta(days=300)
    make_episode(db, client, started_at=NOW - timedelta(days=320))
    make_episode(db, client, started_at=last, baseline_at=None)
    for days in (192, 190, 188, 186, 184):  # recovered, just before the recovery chart
        make_episode(db, client, started_at=NOW - timedelta(days=days))
    reach = Reach(
        windows=((NOW - timedelta(days=28), NOW, NOW),), charts=(NOW - timedelta(days=182), NOW)
    )
    bounds = episode_bounds(db, client, reach, settings.thresholds)
    assert bounds.needed_from == last
    assert bounds.client_episode is None


def test_too_few_recovered_episodes_for_the_rolling_median_are_all_read(
    db: DbSession, settings: Settings
) -> None:
    # The recovery chart's rolling median reads the last ROLLING_K - 1 recovered episodes
    # before it; with fewer than that in the whole course it reads every one, so nothing may
    # be left out: the read starts at the first episode (no checkpoint can stand in).
    owner = make_user(db, settings)
    client = make_client(db, owner, intake_date=(NOW - timedelta(days=800)).date())
    for days in (700, 650, 600):
        make_episode(db, client, started_at=NOW - timedelta(days=days))
    make_episode(db, client, started_at=NOW - timedelta(days=20), baseline_at=None)
    reach = Reach(
        windows=((NOW - timedelta(days=28), NOW, NOW),), charts=(NOW - timedelta(days=182), NOW)
    )
    bounds = episode_bounds(db, client, reach, settings.thresholds)
    assert bounds.needed_from == NOW - timedelta(days=700)
    assert bounds.needed_from <= bounds.head_until
