"""Client summaries: each client's headline figures and flags, kept current on every write.

The caseload reads `client_summary` rows instead of recomputing every client's metrics. A row
holds for one practice day (`as_of`), because "days since", "last 14 days" and stale-data
figures move with the calendar. Three rules keep them true:
- every unit of work that adds or changes a client's records refreshes every row that client
  has (today's, and tomorrow's if it was rolled over already) before it commits (`install()`
  hooks the ORM session, so no service can forget); writes that bypass the ORM (bulk loaders)
  call `refresh()` themselves;
- in the last part of the practice day the refresher computes each client's row for the next
  day ahead of need, so at midnight the caseload simply reads it; that and every other batch
  (`refresh-summaries`, a request's catch-up) is written in short transactions
  (`summary_batches`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, event, insert, or_, select
from sqlalchemy.orm import Session as OrmSession

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import Attendance, ClientFacts
from practice_dashboard.domain.flags import flag_rank
from practice_dashboard.domain.metrics import ClientMetrics, compute_client_metrics
from practice_dashboard.domain.windows import weekly_recovery
from practice_dashboard.models import (
    Annotation,
    Assignment,
    Client,
    ClientSummary,
    Episode,
    FlagAcknowledgement,
    Measure,
    Observation,
    Session,
)
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.analytics.acknowledgements import (
    active,
    flag_views,
    latest_acknowledgements,
    monitoring_restart,
)
from practice_dashboard.services.analytics.fact_loading import load_facts

# Headline windows: 28 days for the figures, 12 weeks for trends (+ a week of slack).
HEADLINE_PERIOD = timedelta(days=28)
FACTS_LOOKBACK = timedelta(weeks=13)
_CLIENT_RECORDS = (
    Observation,
    Episode,
    Session,
    Measure,
    Annotation,
    FlagAcknowledgement,
    Assignment,
)
_DIRTY = "summary_dirty_clients"
_SETTINGS = "settings"


def practice_today(settings: Settings, now: datetime) -> date:
    return now.astimezone(settings.timezone).date()


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first moment of a practice day (its local midnight), in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def moment_for(day: date, *, settings: Settings, now: datetime) -> datetime:
    """The moment a summary for `day` is computed at: `now` for today, the day's first moment
    for a day ahead (what a fresh computation at midnight would say)."""
    return max(now, day_start(day, settings.timezone))


def current_summary(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    """Join condition pairing each `Client` with its summary for `today` (a date, or a bound
    parameter standing for one): the row whose days include today (a row rolled over for
    tomorrow waits; yesterday's shows until replaced)."""
    return and_(
        ClientSummary.client_id == Client.id,
        ClientSummary.as_of <= today,
        or_(ClientSummary.valid_until.is_(None), ClientSummary.valid_until > today),
    )


def _headline(facts: ClientFacts, metrics: ClientMetrics, now: datetime) -> dict[str, Any]:
    attended = [s.starts_at for s in facts.sessions if s.attendance == Attendance.ATTENDED]
    upcoming = [
        s.starts_at
        for s in facts.sessions
        if s.starts_at > now and s.attendance == Attendance.SCHEDULED
    ]
    return {
        "last_attended_at": max(attended) if attended else None,
        "next_session_at": min(upcoming) if upcoming else None,
        "recovery_median_minutes": metrics.recovery.median_minutes,
        "recovery_direction": metrics.recovery.trend.direction,
        "time_in_window": metrics.capacity.time_in_window,
        "episodes_per_week": metrics.episodes_per_week,
        "capacity_direction": metrics.capacity.trend.direction,
        "weekly_recovery": weekly_recovery(facts, now),
    }


def _flag_rank(speaking: list[dict[str, Any]]) -> int:
    """0 none, 1 watch, 2 alert, 3 a safety alert: the caseload's worst-first order."""
    return max((flag_rank(v["code"], v["level"]) for v in speaking), default=0)


def _flag_tokens(views: list[dict[str, Any]]) -> str:
    return " " + " ".join(f"{v['code']}:{v['level']}" for v in views) + " "


def compute_rows(
    db: DbSession,
    clients: list[Client],
    id_filter: Any,
    *,
    days: Sequence[date],
    settings: Settings,
    now: datetime,
) -> list[dict[str, Any]]:
    """Summary rows of `clients` for each of `days` (reads only)."""
    moments = {day: moment_for(day, settings=settings, now=now) for day in days}
    facts = load_facts(
        db,
        clients,
        id_filter,
        timezone=settings.timezone,
        since=min(moments.values()) - FACTS_LOOKBACK,
    )
    acknowledgements = latest_acknowledgements(db, id_filter)
    thresholds = settings.thresholds
    rows = []
    for day, at in moments.items():
        since = at - FACTS_LOOKBACK
        for client in clients:
            client_facts = facts[client.id]
            if since > min(moments.values()) - FACTS_LOOKBACK:
                # The same observations a computation at `at` would read, no more: so a row
                # computed ahead equals a fresh one.
                client_facts = replace(
                    client_facts,
                    observations=tuple(
                        o for o in client_facts.observations if o.observed_at >= since
                    ),
                )
            metrics = compute_client_metrics(
                client_facts,
                start=at - HEADLINE_PERIOD,
                end=at,
                now=at,
                thresholds=thresholds,
                monitoring_restart_at=monitoring_restart(acknowledgements, client.id),
                monitoring_points_from=at,  # a summary keeps flags and figures, no points
            )
            headline = _headline(client_facts, metrics, at)
            views = flag_views(metrics.flags, client.id, acknowledgements)
            speaking = active(views)
            rows.append(
                {
                    "client_id": client.id,
                    "as_of": day,
                    "valid_until": None,
                    "computed_at": now,
                    "last_attended_at": headline["last_attended_at"],
                    "next_session_at": headline["next_session_at"],
                    "recovery_median_minutes": headline["recovery_median_minutes"],
                    "recovery_direction": headline["recovery_direction"],
                    "time_in_window": headline["time_in_window"],
                    "flag_rank": _flag_rank(speaking),
                    "raised_rank": _flag_rank(views),
                    "flag_codes": _flag_tokens(speaking),
                    "headline": _jsonable(headline),
                    "flags": views,
                }
            )
    return rows


def refresh(
    db: DbSession, client_ids: Any, *, settings: Settings, now: datetime | None = None
) -> int:
    """Recompute every summary row of `client_ids` (a list or a subquery) in the current write
    transaction: today's, and any day ahead already rolled over. A fixed number of queries."""
    now = now or utcnow()
    # Lock the clients' rows first: concurrent writers to one client refresh its summary one
    # after the other, and each reads the facts only once the previous one has committed, so
    # the last summary written always includes every committed record (PostgreSQL; SQLite
    # already serialises writers with BEGIN IMMEDIATE). NO KEY UPDATE, because inserting a
    # record holds KEY SHARE on its client row, and FOR UPDATE would deadlock against that.
    # The batch writer (`store`) takes the same lock, so a roll-over committed before this
    # point is seen below and refreshed too.
    clients = list(
        db.scalars(
            select(Client)
            .where(Client.id.in_(client_ids))
            .order_by(Client.id)
            .with_for_update(key_share=True)
        )
    )
    if not clients:
        return 0
    ids = [c.id for c in clients]
    id_filter = client_ids if isinstance(client_ids, Select) else ids
    today = practice_today(settings, now)
    ahead = db.scalars(
        select(ClientSummary.as_of)
        .where(ClientSummary.client_id.in_(id_filter), ClientSummary.as_of > today)
        .distinct()
    )
    days = [today, *sorted(ahead)]
    rows = compute_rows(db, clients, id_filter, days=days, settings=settings, now=now)
    until = dict(zip(days, [*days[1:], None], strict=True))
    for row in rows:
        row["valid_until"] = until[row["as_of"]]
    db.execute(delete(ClientSummary).where(ClientSummary.client_id.in_(id_filter)))
    db.execute(insert(ClientSummary), rows)
    return len(clients)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def out_of_date(
    today: date | ColumnElement[date], now: datetime | ColumnElement[datetime] | None = None
) -> ColumnElement[bool]:
    """A client's summary (outer-joined by `current_summary`) is missing or from an earlier
    day; with `now`, also one whose "next session" has begun since it was computed (the only
    headline figure that goes wrong within a day without a write)."""
    outdated = [ClientSummary.client_id.is_(None), ClientSummary.as_of < today]
    if now is not None:
        outdated.append(ClientSummary.next_session_at <= now)
    return or_(*outdated)


def stale_client_ids(
    today: date,
    visible: Select[Any],
    *,
    limit: int | None = None,
    now: datetime | None = None,
) -> Select[Any]:
    """Ids among `visible` clients whose summary is `out_of_date`, missing ones first (they
    cannot be shown at all), then the oldest."""
    stmt = (
        select(Client.id)
        .select_from(Client)
        .outerjoin(ClientSummary, current_summary(today))
        .where(Client.id.in_(visible), out_of_date(today, now))
        .order_by(ClientSummary.as_of.is_not(None), ClientSummary.as_of, Client.id)
    )
    return stmt if limit is None else stmt.limit(limit)


def _collect_dirty(db: OrmSession, _flush_context: Any) -> None:
    dirty: set[uuid.UUID] = db.info.setdefault(_DIRTY, set())
    for obj in (*db.new, *db.dirty, *db.deleted):
        if isinstance(obj, Client):
            dirty.add(obj.id)
        elif isinstance(obj, _CLIENT_RECORDS):
            dirty.add(obj.client_id)


def _refresh_dirty(db: OrmSession) -> None:
    db.flush()
    dirty: set[uuid.UUID] | None = db.info.pop(_DIRTY, None)
    settings: Settings | None = db.info.get(_SETTINGS)
    if dirty and settings is not None:
        refresh(db, sorted(dirty), settings=settings)


def _forget_dirty(db: OrmSession, *_args: Any) -> None:
    db.info.pop(_DIRTY, None)


def install(factory: Any, settings: Settings) -> None:
    """Keep summaries current for every session `factory` makes (the app's, the CLI's)."""
    factory.kw.setdefault("info", {})[_SETTINGS] = settings
    if not event.contains(OrmSession, "after_flush", _collect_dirty):
        event.listen(OrmSession, "after_flush", _collect_dirty)
        # First among the commit hooks: the audit rows queued for the end are chained after it.
        event.listen(OrmSession, "before_commit", _refresh_dirty, insert=True)
        event.listen(OrmSession, "after_rollback", _forget_dirty)


def refresh_all(db: DbSession, *, settings: Settings, batch: int = 200) -> int:
    """Rebuild every summary in one write transaction (benchmark set-up after a bulk load; the
    CLI's `refresh-summaries` uses `summary_batches.rebuild`, which never holds the lock long)."""
    ids = list(db.scalars(select(Client.id).order_by(Client.id)))
    done = 0
    for i in range(0, len(ids), batch):
        done += refresh(db, ids[i : i + batch], settings=settings)
    return done
