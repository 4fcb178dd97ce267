"""Summaries rolled over ahead of midnight, and written in short batches.

The expected figures come from the product's own fresh computation (`summary.refresh` at the
moment in question, inside a savepoint that is rolled back): a row rolled over ahead, or written
by a batch, must equal it column for column (`computed_at` aside: when, not what). The few
hand-set figures say which rule they check (DESIGN.md: `stale_data` after more than 30 days
without data, counted in whole days; "next session" is the first booking after the moment).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, start_reading
from practice_dashboard.models import Client, ClientSummary, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Attendance, Zone
from practice_dashboard.services.analytics import summary, summary_batches
from practice_dashboard.services.analytics.refresher import SummaryRefresher
from practice_dashboard.services.analytics.summary import FACTS_LOOKBACK, day_start
from tests.builders import (
    auth_headers,
    make_client,
    make_episode,
    make_observation,
    make_session,
    make_user,
)
from tests.conftest import QueryCounter

COMPARED = [c.name for c in ClientSummary.__table__.columns if c.name != "computed_at"]
Factory = sessionmaker[OrmSession]


def _rows(db: DbSession, client_id: uuid.UUID) -> dict[date, dict[str, Any]]:
    found = db.execute(
        select(*ClientSummary.__table__.columns)
        .where(ClientSummary.client_id == client_id)
        .order_by(ClientSummary.as_of)
    ).all()
    return {r.as_of: {name: r._mapping[name] for name in COMPARED} for r in found}


def _fresh(db: DbSession, settings: Settings, client_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    """The row a fresh computation at `at` writes (in a savepoint, rolled back)."""
    savepoint = db.begin_nested()
    try:
        with patch.object(summary, "utcnow", lambda: at):
            summary.refresh(db, [client_id], settings=settings, now=at)
        rows = _rows(db, client_id)
    finally:
        savepoint.rollback()
    return rows[summary.practice_today(settings, at)]


@pytest.fixture
def day(settings: Settings) -> date:
    # A practice day after the real one, so the rows the write hooks stamp with the real
    # clock are older than every row these tests compute.
    return summary.practice_today(settings, utcnow()) + timedelta(days=10)


@pytest.fixture
def midnight(settings: Settings, day: date) -> datetime:
    """The first moment of the day after `day`."""
    return day_start(day + timedelta(days=1), settings.timezone)


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings)
    db.commit()
    return user


@pytest.fixture
def clock_at() -> Iterator[Callable[[datetime], None]]:
    """Set the clock the write hooks read (as the other tests fake `now`)."""
    moment: list[datetime] = []
    with patch.object(summary, "utcnow", lambda: moment[-1] if moment else utcnow()):
        yield moment.append


def _client_near_midnight(db: DbSession, owner: User, midnight: datetime) -> Client:
    client = make_client(db, owner, intake_date=(midnight - timedelta(days=200)).date())
    # Last data 31 days and 10 minutes before midnight: 30 whole days at 23:10, 31 at midnight.
    make_observation(db, client, observed_at=midnight - timedelta(days=31, minutes=10))
    # Just inside a 23:10 computation's look-back, just outside midnight's.
    make_observation(
        db, client, observed_at=midnight - FACTS_LOOKBACK - timedelta(minutes=20), zone=Zone.HYPER
    )
    for days in (40, 45, 50):
        make_episode(
            db,
            client,
            started_at=midnight - timedelta(days=days, hours=3),
            baseline_at=midnight - timedelta(days=days, hours=2),
        )
    make_session(db, client, starts_at=midnight - timedelta(days=33))
    # A booking between 23:10 and midnight, and one the next morning.
    for at in (midnight - timedelta(minutes=20), midnight + timedelta(hours=9)):
        make_session(db, client, starts_at=at, attendance=Attendance.SCHEDULED, engagement=None)
    db.commit()
    return client


class TestRollOver:
    def test_a_summary_rolled_over_ahead_equals_a_fresh_one_at_midnight(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
    ) -> None:
        client = _client_near_midnight(db, owner, midnight)
        eve = midnight - timedelta(minutes=50)
        report = summary_batches.bring_current(
            session_factory, settings=settings, clock=lambda: eve
        )
        assert report.written == 2  # today's (its row was from an earlier day), then tomorrow's
        rows = _rows(db, client.id)
        assert sorted(rows) == [day, day + timedelta(days=1)]
        tonight, tomorrow = rows[day], rows[day + timedelta(days=1)]
        assert tomorrow == _fresh(db, settings, client.id, midnight)
        assert tonight == _fresh(db, settings, client.id, eve)
        # The two days differ where the calendar says they must.
        assert "stale_data" not in tonight["flag_codes"]
        assert "stale_data:watch" in tomorrow["flag_codes"]
        assert tonight["next_session_at"] == midnight - timedelta(minutes=20)
        assert tomorrow["next_session_at"] == midnight + timedelta(hours=9)

    def test_a_write_before_midnight_refreshes_both_days(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
        clock_at: Callable[[datetime], None],
    ) -> None:
        client = _client_near_midnight(db, owner, midnight)
        eve = midnight - timedelta(minutes=50)
        summary_batches.bring_current(session_factory, settings=settings, clock=lambda: eve)
        before = _rows(db, client.id)
        clock_at(eve + timedelta(minutes=5))
        make_observation(db, client, observed_at=eve + timedelta(minutes=4), zone=Zone.HYPO)
        db.commit()
        after = _rows(db, client.id)
        tomorrow = day + timedelta(days=1)
        assert sorted(after) == [day, tomorrow]
        assert after[tomorrow] != before[tomorrow]
        assert after[tomorrow]["time_in_window"] == 0.0  # the one check-in in the window: hypo
        assert after[tomorrow] == _fresh(db, settings, client.id, midnight)
        assert after[day] == _fresh(db, settings, client.id, eve + timedelta(minutes=5))

    def test_after_midnight_the_caseload_reads_the_rolled_rows_and_drops_the_old(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
    ) -> None:
        clients = [_client_near_midnight(db, owner, midnight) for _ in range(3)]
        eve = midnight - timedelta(minutes=50)
        summary_batches.bring_current(session_factory, settings=settings, clock=lambda: eve)
        after = midnight + timedelta(minutes=1)
        stale = summary.stale_client_ids(day + timedelta(days=1), select(Client.id), now=after)
        assert list(db.scalars(stale)) == []
        report = summary_batches.bring_current(
            session_factory, settings=settings, clock=lambda: after
        )
        assert (report.written, report.pruned) == (0, 3)
        for client in clients:
            assert sorted(_rows(db, client.id)) == [day + timedelta(days=1)]

    def test_rolling_over_rests_between_batches(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
    ) -> None:
        clients = [_client_near_midnight(db, owner, midnight) for _ in range(3)]
        eve = midnight - timedelta(minutes=50)
        summary_batches.bring_current(session_factory, settings=settings, clock=lambda: eve)
        for client in clients:  # today's rows current, tomorrow's not yet computed
            db.execute(
                delete(ClientSummary).where(
                    ClientSummary.client_id == client.id, ClientSummary.as_of > day
                )
            )
        db.commit()
        rests: list[float] = []
        sizer = summary_batches.BatchSizer(1.0, size=1, largest=1)

        def pause(seconds: float) -> bool:
            rests.append(seconds)
            return len(rests) == 2  # stopping after the second batch

        report = summary_batches.bring_current(
            session_factory, settings=settings, clock=lambda: eve, sizer=sizer, pause=pause
        )
        # One rest per batch, as long as the batch took (its hold is part of it).
        assert report.written == len(rests) == 2
        assert all(r >= h for r, h in zip(rests, report.holds, strict=True))

    def test_outside_the_window_nothing_is_rolled_over(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
    ) -> None:
        client = _client_near_midnight(db, owner, midnight)
        noon = midnight - timedelta(hours=12)
        summary_batches.bring_current(session_factory, settings=settings, clock=lambda: noon)
        assert sorted(_rows(db, client.id)) == [day]
        assert not summary_batches.in_rollover_window(settings, noon)
        assert summary_batches.in_rollover_window(settings, midnight - timedelta(minutes=60))
        assert not summary_batches.in_rollover_window(settings, midnight - timedelta(minutes=61))


class TestBatches:
    def test_a_client_written_to_while_its_batch_computed_is_skipped(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
        clock_at: Callable[[datetime], None],
    ) -> None:
        client = _client_near_midnight(db, owner, midnight)
        eve = midnight - timedelta(minutes=50)
        tomorrow = day + timedelta(days=1)
        clock_at(eve)
        summary.refresh(db, [client.id], settings=settings, now=eve)
        db.commit()
        with session_factory() as reader:
            start_reading(reader)
            prepared = summary_batches.prepare(
                reader, [client.id], days=[tomorrow], settings=settings, now=eve
            )
            reader.rollback()
        # Meanwhile a check-in arrives (its write refreshes today's row).
        clock_at(eve + timedelta(minutes=1))
        make_observation(db, client, observed_at=eve, zone=Zone.HYPO)
        db.commit()
        with session_factory() as writer:
            assert summary_batches.store(writer, prepared) == [client.id]
            writer.commit()
        assert sorted(_rows(db, client.id)) == [day]  # no row computed before the check-in
        # The next round computes it again, with the check-in.
        summary_batches.bring_current(session_factory, settings=settings, clock=lambda: eve)
        assert _rows(db, client.id)[tomorrow] == _fresh(db, settings, client.id, midnight)

    def test_batch_size_follows_the_measured_hold_time(self) -> None:
        target = 0.050
        sizer = summary_batches.BatchSizer(target, size=25)
        per_client, overhead = 0.001, 0.002
        holds = []
        for _ in range(8):
            hold = overhead + per_client * sizer.size
            holds.append(hold)
            sizer.record(sizer.size, hold)
        # Sized by the measured cost per client, every batch after the first fits the target.
        assert all(h <= target for h in holds[1:])
        assert sizer.size >= 40  # and the batches are not needlessly small
        # The machine slows tenfold: one slow batch, then small ones again.
        slow = 0.010
        sizer.record(sizer.size, overhead + slow * sizer.size)
        assert overhead + slow * sizer.size <= target
        # Cheap writes grow the batch at most twofold per step, up to the ceiling.
        sizer = summary_batches.BatchSizer(target, size=10, largest=100)
        sizes = []
        for _ in range(6):
            sizer.record(sizer.size, 0.0001 * sizer.size)
            sizes.append(sizer.size)
        assert sizes == [20, 40, 80, 100, 100, 100]

    def test_rebuild_writes_every_summary_in_batches(
        self,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
    ) -> None:
        clients = [_client_near_midnight(db, owner, midnight) for _ in range(6)]
        eve = midnight - timedelta(minutes=50)
        sizer = summary_batches.BatchSizer(1.0, size=2, largest=2)
        report = summary_batches.rebuild(
            session_factory, settings=settings, clock=lambda: eve, sizer=sizer
        )
        assert (report.written, report.batches, len(report.holds)) == (6, 3, 3)
        for client in clients:
            rows = _rows(db, client.id)
            # In the roll-over window the rebuild writes tomorrow's rows too.
            assert sorted(rows) == [day, day + timedelta(days=1)]
            assert rows[day] == _fresh(db, settings, client.id, eve)
            assert rows[day + timedelta(days=1)] == _fresh(db, settings, client.id, midnight)

    def test_the_refresher_wakes_for_the_window_and_for_midnight(
        self, settings: Settings, session_factory: Factory, midnight: datetime
    ) -> None:
        def waits(at: datetime) -> float:
            return SummaryRefresher(
                session_factory,
                settings.model_copy(update={"summary_refresh_interval_seconds": 3600}),
                clock=lambda: at,
            ).seconds_to_next_round()

        assert waits(midnight - timedelta(minutes=70)) == 600  # the window opens
        assert waits(midnight - timedelta(minutes=30)) == 30 * 60 + 1  # the day turns
        assert waits(midnight + timedelta(minutes=5)) == 3600  # the interval


class TestCaseloadAfterMidnight:
    def _views(self, api: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
        bodies = []
        for query in ("", "?sort=name", "?flag=stale_data", "?sort=next_session&order=asc"):
            response = api.get(f"/api/v1/caseload{query}", headers=headers)
            assert response.status_code == 200, response.text
            bodies.append(response.json())
        return bodies

    def test_no_summary_is_computed_in_the_request(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        session_factory: Factory,
        owner: User,
        day: date,
        midnight: datetime,
        queries: QueryCounter,
    ) -> None:
        headers = auth_headers(settings, owner)
        eve = midnight - timedelta(minutes=50)
        after = midnight + timedelta(minutes=1)
        counts = []
        for n in (2, 9):
            while len(db.scalars(select(Client.id)).all()) < n:
                _client_near_midnight(db, owner, midnight)
            summary_batches.bring_current(session_factory, settings=settings, clock=lambda: eve)
            queries.reset()
            with patch("practice_dashboard.api.routes.analytics.utcnow", lambda: after):
                bodies = self._views(api, headers)
            counts.append(queries.count)
            written = [s for s in queries.statements if "INSERT INTO client_summary" in s]
            assert written == []
            tomorrow = (day + timedelta(days=1)).isoformat()
            assert {i["as_of"] for i in bodies[0]["items"]} == {tomorrow}
            assert [b["stale"] for b in bodies] == [0, 0, 0, 0]
            assert bodies[2]["total"] == n  # every client went quiet 31 days ago
        assert counts[0] == counts[1], queries.statements
