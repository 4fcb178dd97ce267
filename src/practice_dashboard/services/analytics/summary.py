"""Client summaries: each client's headline figures and flags, kept current on every write.

The caseload reads `client_summary` rows instead of recomputing every client's metrics. Two
rules keep them true:
- every unit of work that adds or changes a client's records refreshes that client's summary
  before it commits (`install()` hooks the ORM session, so no service can forget);
- a summary computed on an earlier practice day is refreshed before it is shown, because
  "days since", "last 14 days" and stale-data figures move with the calendar.
Writes that bypass the ORM (bulk loaders) call `refresh()` themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, event, insert, or_, select
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


def refresh(
    db: DbSession, client_ids: Any, *, settings: Settings, now: datetime | None = None
) -> int:
    """Recompute the summaries of `client_ids` (a list or a subquery): a fixed number of queries."""
    now = now or utcnow()
    # Lock the clients' rows first: concurrent writers to one client refresh its summary one
    # after the other, and each reads the facts only once the previous one has committed, so
    # the last summary written always includes every committed record (PostgreSQL; SQLite
    # already serialises writers with BEGIN IMMEDIATE). NO KEY UPDATE, because inserting a
    # record holds KEY SHARE on its client row, and FOR UPDATE would deadlock against that.
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
    facts = load_facts(
        db, clients, id_filter, timezone=settings.timezone, since=now - FACTS_LOOKBACK
    )
    acknowledgements = latest_acknowledgements(db, id_filter)
    thresholds = settings.thresholds
    today = practice_today(settings, now)
    rows = []
    for client in clients:
        client_facts = facts[client.id]
        metrics = compute_client_metrics(
            client_facts,
            start=now - HEADLINE_PERIOD,
            end=now,
            now=now,
            thresholds=thresholds,
            monitoring_restart_at=monitoring_restart(acknowledgements, client.id),
        )
        headline = _headline(client_facts, metrics, now)
        views = flag_views(metrics.flags, client.id, acknowledgements)
        speaking = active(views)
        rows.append(
            {
                "client_id": client.id,
                "as_of": today,
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
    db.execute(delete(ClientSummary).where(ClientSummary.client_id.in_(id_filter)))
    db.execute(insert(ClientSummary), rows)
    return len(rows)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def stale_client_ids(
    today: date,
    visible: Select[Any],
    *,
    limit: int | None = None,
    now: datetime | None = None,
) -> Select[Any]:
    """Ids among `visible` clients whose summary is missing or from an earlier day.

    With `now`, also those whose "next session" has begun since they were computed (the
    only headline figure that goes wrong within a day without a write).
    Missing summaries come first (they cannot be shown at all), then the oldest.
    """
    outdated = [ClientSummary.client_id.is_(None), ClientSummary.as_of < today]
    if now is not None:
        outdated.append(ClientSummary.next_session_at <= now)
    stmt = (
        select(Client.id)
        .outerjoin(ClientSummary, ClientSummary.client_id == Client.id)
        .where(Client.id.in_(visible), or_(*outdated))
        .order_by(ClientSummary.as_of.is_not(None), ClientSummary.as_of, Client.id)
    )
    return stmt if limit is None else stmt.limit(limit)


def refresh_stale(
    db: DbSession, *, settings: Settings, now: datetime | None = None, batch: int = 100
) -> int:
    """Refresh one batch of stale summaries (any caller's); the background refresher's step."""
    now = now or utcnow()
    stale = stale_client_ids(practice_today(settings, now), select(Client.id), limit=batch, now=now)
    ids = list(db.scalars(stale))
    return refresh(db, ids, settings=settings, now=now) if ids else 0


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
    """Rebuild every summary (the CLI's refresh-summaries; run daily from cron if you like)."""
    ids = list(db.scalars(select(Client.id).order_by(Client.id)))
    done = 0
    for i in range(0, len(ids), batch):
        done += refresh(db, ids[i : i + batch], settings=settings)
    return done


def summaries_of(db: DbSession, client_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ClientSummary]:
    return {
        s.client_id: s
        for s in db.scalars(
            select(ClientSummary).where(ClientSummary.client_id.in_(list(client_ids)))
        )
    }
