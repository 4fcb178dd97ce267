"""Summary work in batches that never hold SQLite's write lock for long.

The background refresher, `refresh-summaries` and a caseload request's catch-up compute in a
reading unit of work (no lock; other writers carry on) and write each batch in a short write
transaction (`store`) sized by the hold time measured so far (`BatchSizer`). A client written
to while its batch was computed is skipped, never overwritten with figures from before the
write: every write rewrites the client's summaries, so an unchanged `computed_at` stamp proves
the facts are still the ones the rows came from.

Roll-over: in the last `summary_rollover_minutes` of the practice day each client's summary
for the next day is computed ahead of need and stored beside today's, so at midnight the
caseload reads it and nothing waits; from then on writes refresh both (`summary.refresh`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import aliased

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, SessionFactory, session_scope, start_reading, writing
from practice_dashboard.models import Client, ClientSummary
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.analytics.summary import day_start, practice_today

# A client changed while the rebuild computed it is done again up to this many times.
REBUILD_TRIES = 3


def in_rollover_window(settings: Settings, now: datetime) -> bool:
    """Whether the next practice day begins within the roll-over lead time."""
    lead = timedelta(minutes=settings.summary_rollover_minutes)
    tomorrow = practice_today(settings, now) + timedelta(days=1)
    return day_start(tomorrow, settings.timezone) - lead <= now


def _not_rolled_over(day: date, limit: int) -> Select[Any]:
    """Ids of clients without a summary for `day` (a day ahead)."""
    rolled = select(ClientSummary.client_id).where(
        ClientSummary.client_id == Client.id, ClientSummary.as_of == day
    )
    return select(Client.id).where(~rolled.exists()).order_by(Client.id).limit(limit)


def _superseded(today: date, *, limit: int) -> Select[Any]:
    """Ids of clients that have today's summary and still keep an earlier one."""
    current = aliased(ClientSummary)
    return (
        select(ClientSummary.client_id)
        .join(
            current,
            and_(current.client_id == ClientSummary.client_id, current.as_of == today),
        )
        .where(ClientSummary.as_of < today)
        .distinct()
        .order_by(ClientSummary.client_id)
        .limit(limit)
    )


# --------------------------------------------------------------------------------------------
# Batches: compute outside the write lock, write in short transactions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """Summary rows computed in a reading unit of work, and what they were computed from."""

    rows: list[dict[str, Any]]
    # Each client's newest `computed_at` when its facts were read (None: no summary yet).
    # Every write to a client's records rewrites its summaries, so an unchanged stamp means
    # the facts are still the ones these rows were computed from.
    basis: dict[uuid.UUID, datetime | None]
    today: date


def _stamps(db: DbSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
    found: dict[uuid.UUID, datetime | None] = dict.fromkeys(ids)
    for cid, stamp in db.execute(
        select(ClientSummary.client_id, func.max(ClientSummary.computed_at))
        .where(ClientSummary.client_id.in_(ids))
        .group_by(ClientSummary.client_id)
    ):
        found[cid] = stamp
    return found


def prepare(
    db: DbSession,
    client_ids: Sequence[uuid.UUID],
    *,
    days: Sequence[date],
    settings: Settings,
    now: datetime,
) -> Prepared:
    """Compute the summaries of `client_ids` for `days` without writing anything."""
    ids = sorted(set(client_ids))
    # Stamps before facts: on PostgreSQL each statement sees the latest commits, so a write
    # that lands in between is in the facts or changes the stamp, never slips past both.
    basis = _stamps(db, ids)
    clients = list(db.scalars(select(Client).where(Client.id.in_(ids)).order_by(Client.id)))
    rows = (
        summary.compute_rows(db, clients, ids, days=days, settings=settings, now=now)
        if clients
        else []
    )
    return Prepared(rows, basis, practice_today(settings, now))


def store(db: DbSession, prepared: Prepared) -> list[uuid.UUID]:
    """Write prepared rows whose client did not change meanwhile (in a write transaction).

    Returns the clients skipped: each was refreshed by the write that changed it, and is done
    again by the next batch if it still needs a row.
    """
    ids = sorted(prepared.basis)
    if not ids:
        return []
    # The same lock as `refresh`, so a writer and this batch take turns per client.
    db.execute(
        select(Client.id)
        .where(Client.id.in_(ids))
        .order_by(Client.id)
        .with_for_update(key_share=True)
    )
    now_stamps = _stamps(db, ids)
    kept = [cid for cid in ids if now_stamps[cid] == prepared.basis[cid]]
    keep = set(kept)
    rows = [r for r in prepared.rows if r["client_id"] in keep]
    if rows:
        days = sorted({r["as_of"] for r in rows})
        db.execute(
            delete(ClientSummary).where(
                ClientSummary.client_id.in_(kept),
                or_(ClientSummary.as_of.in_(days), ClientSummary.as_of < prepared.today),
            )
        )
        db.execute(insert(ClientSummary), rows)
        _chain(db, kept)
    return [cid for cid in ids if cid not in keep]


def _chain(db: DbSession, ids: Sequence[uuid.UUID]) -> None:
    """Set each row's `valid_until` of `ids` to the day of the client's next row."""
    later = aliased(ClientSummary)
    db.execute(
        update(ClientSummary)
        .where(ClientSummary.client_id.in_(ids))
        .values(
            valid_until=select(func.min(later.as_of))
            .where(later.client_id == ClientSummary.client_id, later.as_of > ClientSummary.as_of)
            .scalar_subquery()
        )
    )


def prune(db: DbSession, ids: Sequence[uuid.UUID], *, today: date) -> int:
    """Delete the summaries of `ids` from before today (each has today's by now)."""
    if not ids:
        return 0
    db.execute(
        delete(ClientSummary).where(
            ClientSummary.client_id.in_(list(ids)), ClientSummary.as_of < today
        )
    )
    return len(ids)


@dataclass
class BatchSizer:
    """How many clients one batch writes, so its write transaction holds SQLite's lock no
    longer than `hold_target` seconds: sized from the hold time measured per client, growing
    at most twofold per batch so one lucky measurement cannot overshoot."""

    hold_target: float
    size: int = 25
    # A ceiling well below what the target allows on a quiet machine (about 0.2 ms of writing
    # per client): on a busy one the process can lose the CPU while it holds the lock, and a
    # smaller batch has less time to lose it in.
    largest: int = 50

    def record(self, clients: int, hold: float) -> None:
        if clients <= 0:
            return
        per_client = max(hold, 1e-6) / clients
        fitting = int(self.hold_target / per_client)
        self.size = max(1, min(self.largest, fitting, self.size * 2))


@dataclass
class BatchReport:
    """What a run of batches did, and the longest it held the write lock."""

    written: int = 0
    skipped: int = 0
    pruned: int = 0
    batches: int = 0
    holds: list[float] = field(default_factory=list)

    @property
    def longest_hold(self) -> float:
        return max(self.holds, default=0.0)


@contextmanager
def timed_write(
    db: DbSession, report: BatchReport, sizer: BatchSizer | None = None
) -> Iterator[Callable[[int], None]]:
    """A short write transaction (inside a reading unit of work), timed from the moment it holds
    the write lock to its commit. The block reports how many clients it wrote; the hold is
    recorded in `report` and sizes the next batch (`sizer`)."""
    written: list[int] = []
    with writing(db):
        # The first statement begins the transaction: BEGIN IMMEDIATE on SQLite returns once
        # the lock is ours, so waiting for it is not counted as holding it.
        db.execute(select(literal(1)))
        started = time.perf_counter()
        yield written.append
    hold = time.perf_counter() - started
    report.holds.append(hold)
    report.batches += 1
    if sizer is not None:
        sizer.record(sum(written), hold)


def catch_up(db: DbSession, ids: Sequence[uuid.UUID], *, settings: Settings, now: datetime) -> None:
    """Bring today's summaries of `ids` up to date from inside a read (a caseload request):
    computed in the read, written in a short write transaction of their own."""
    prepared = prepare(db, ids, days=[practice_today(settings, now)], settings=settings, now=now)
    with writing(db):
        store(db, prepared)


Picker = Callable[[date, int], Select[Any]]


def _run_batch(
    factory: SessionFactory,
    pick: Picker,
    *,
    ahead: int,
    settings: Settings,
    now: datetime,
    sizer: BatchSizer,
    report: BatchReport,
) -> bool:
    """One batch for the day `ahead` days after today: pick ids, compute while reading, store
    in a timed write. False when there was nothing to pick or every client was skipped."""
    day = practice_today(settings, now) + timedelta(days=ahead)
    with session_scope(factory) as db:
        start_reading(db)
        ids = list(db.scalars(pick(day, sizer.size)))
        if not ids:
            return False
        prepared = prepare(db, ids, days=[day], settings=settings, now=now)
        with timed_write(db, report, sizer) as wrote:
            skipped = store(db, prepared)
            wrote(len(ids) - len(skipped))
    report.written += len(ids) - len(skipped)
    report.skipped += len(skipped)
    return len(skipped) < len(ids)


def bring_current(
    factory: SessionFactory,
    *,
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
    sizer: BatchSizer | None = None,
    stopping: Callable[[], bool] = lambda: False,
    pause: Callable[[float], bool] | None = None,
    report: BatchReport | None = None,
) -> BatchReport:
    """The refresher's round: bring every client's summary for today up to date, drop the
    rows today's replaced, and in the roll-over window compute tomorrow's ahead of need.

    Each batch holds the write lock briefly (`BatchSizer`). A batch in which every client was
    skipped ends its step (the next round retries), so clients written to without pause
    cannot keep the round busy. Rolling over has the whole window, so with `pause` (wait that
    many seconds; True when stopping) it rests as long as each batch took: the requests the
    worker serves meanwhile keep at least half of it.
    """
    sizer = sizer or BatchSizer(settings.summary_write_hold_ms / 1000)
    report = report or BatchReport()

    def stale(day: date, limit: int) -> Select[Any]:
        # A "next session" that has begun since also makes a summary stale (`now`).
        return summary.stale_client_ids(day, select(Client.id), limit=limit, now=clock())

    def batch(pick: Picker, ahead: int) -> bool:
        return _run_batch(
            factory, pick, ahead=ahead, settings=settings, now=clock(), sizer=sizer, report=report
        )

    while not stopping() and batch(stale, 0):
        pass
    while not stopping() and _prune_batch(
        factory, settings=settings, now=clock(), sizer=sizer, report=report
    ):
        pass
    while not stopping() and in_rollover_window(settings, clock()):
        started = time.perf_counter()
        if not batch(_not_rolled_over, 1) or (
            pause is not None and pause(time.perf_counter() - started)
        ):
            break
    return report


def _prune_batch(
    factory: SessionFactory,
    *,
    settings: Settings,
    now: datetime,
    sizer: BatchSizer,
    report: BatchReport,
) -> bool:
    today = practice_today(settings, now)
    with session_scope(factory) as db:
        start_reading(db)
        ids = list(db.scalars(_superseded(today, limit=sizer.size)))
        if not ids:
            return False
        with timed_write(db, report, sizer) as wrote:
            wrote(prune(db, ids, today=today))
    report.pruned += len(ids)
    return True


def rebuild(
    factory: SessionFactory,
    *,
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
    sizer: BatchSizer | None = None,
    report: BatchReport | None = None,
) -> BatchReport:
    """Recompute every client's summary (the CLI's `refresh-summaries`), batch by batch, each
    written in a short transaction; in the roll-over window tomorrow's rows too."""
    sizer = sizer or BatchSizer(settings.summary_write_hold_ms / 1000)
    report = report or BatchReport()
    with session_scope(factory) as db:
        start_reading(db)
        queue = list(db.scalars(select(Client.id).order_by(Client.id)))
    tries: dict[uuid.UUID, int] = {}
    while queue:
        now = clock()
        today = practice_today(settings, now)
        days = [today, today + timedelta(days=1)] if in_rollover_window(settings, now) else [today]
        batch, queue = queue[: sizer.size], queue[sizer.size :]
        with session_scope(factory) as db:
            start_reading(db)
            prepared = prepare(db, batch, days=days, settings=settings, now=now)
            with timed_write(db, report, sizer) as count:
                skipped = store(db, prepared)
                count(len(prepared.basis) - len(skipped))
        report.written += len(prepared.basis) - len(skipped)
        report.skipped += len(skipped)
        # Changed while computed: their writer refreshed the rows they had; do them again so
        # the rebuild leaves every row it owes (a few tries, then it is the refresher's turn).
        for cid in skipped:
            tries[cid] = tries.get(cid, 0) + 1
            if tries[cid] <= REBUILD_TRIES:
                queue.append(cid)
    return report
