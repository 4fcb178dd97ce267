"""The caseload: every visible client with headline figures and flags, and practitioner load.

A fixed number of queries whatever the caseload size: a look for summaries out of date, one
page query, one count, and one query for practitioner load, each reading the client's summary
for today (`summary.current_summary`). Summaries are rolled over ahead of midnight by the
refresher, so a request normally finds none out of date; the few it finds it brings up to date
in bulk, within a budget, computing while it reads and writing in a short transaction of its
own, and then counts those left for the page's notice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ParamSpec

from sqlalchemy import Row, Select, Text, and_, case, cast, func, nulls_last, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.flags import LEVEL_RANK, PractitionerLoadFacts, practitioner_load
from practice_dashboard.models import Client, ClientSummary, SelfCheck, Session, Supervision, User
from practice_dashboard.models.enums import Attendance, ClientStatus, Role
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics import summary, summary_batches
from practice_dashboard.services.audit import Actor

P = ParamSpec("P")


class CaseloadSort(StrEnum):
    NAME = "name"
    STATUS = "status"
    PRACTITIONER = "practitioner"
    LAST_ATTENDED = "last_attended"
    NEXT_SESSION = "next_session"
    RECOVERY = "recovery"
    TIME_IN_WINDOW = "time_in_window"
    FLAGS = "flags"


_SORT_COLUMNS: dict[CaseloadSort, Any] = {
    CaseloadSort.NAME: func.lower(Client.display_name),
    # The course of care, not the alphabet: active, paused, discharged.
    CaseloadSort.STATUS: case(
        {ClientStatus.ACTIVE: 0, ClientStatus.PAUSED: 1, ClientStatus.DISCHARGED: 2},
        value=Client.status,
    ),
    CaseloadSort.PRACTITIONER: func.lower(User.full_name),
    CaseloadSort.LAST_ATTENDED: ClientSummary.last_attended_at,
    CaseloadSort.NEXT_SESSION: ClientSummary.next_session_at,
    CaseloadSort.RECOVERY: ClientSummary.recovery_median_minutes,
    CaseloadSort.TIME_IN_WINDOW: ClientSummary.time_in_window,
    CaseloadSort.FLAGS: ClientSummary.flag_rank,
}


# What a caseload row shows, read as columns: the page lists up to 200 clients, and nothing
# here needs them as Client and ClientSummary entities (an identity-map entry and instance
# state each, for rows only read). The summary's JSON comes as its text, decoded by `item`:
# so a row is plain hashable values, and the caseload page, which keeps what it drew for a
# row that has not changed, decodes only the rows it draws anew.
_ROW_COLUMNS = (
    Client.id,
    Client.display_name,
    Client.status,
    Client.practitioner_id,
    User.full_name,
    ClientSummary.as_of,
    ClientSummary.last_attended_at,
    ClientSummary.next_session_at,
    ClientSummary.recovery_median_minutes,
    ClientSummary.recovery_direction,
    ClientSummary.time_in_window,
    cast(ClientSummary.headline, Text).label("headline"),
    cast(ClientSummary.flags, Text).label("flags"),
)


def caseload_rows(
    db: DbSession,
    *,
    actor: Actor,
    settings: Settings,
    now: datetime,
    flag: str | None = None,
    level: str | None = None,
    status: ClientStatus | None = None,
    practitioner_id: uuid.UUID | None = None,
    search: str | None = None,
    practitioner_ids: Select[Any] | None = None,
    flagged_only: bool = False,
    sort: CaseloadSort = CaseloadSort.FLAGS,
    descending: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the visible clients as rows of `_ROW_COLUMNS` (`item` lists one), with the
    total, the count of summaries not current, and practitioner load."""
    visible = access.visible_client_ids(actor.user).where(Client.archived_at.is_(None))
    today = summary.practice_today(settings, now)
    # Summaries from an earlier day (or showing a "next session" that has begun since) are
    # recomputed here up to a budget; the background refresher (or the nightly CLI) does the
    # rest, and those rows show their `as_of` date.
    budget = settings.summary_refresh_budget
    stale: list[uuid.UUID] = []
    if budget:
        stale = list(db.scalars(summary.stale_client_ids(today, visible, limit=budget, now=now)))
        if stale:
            summary_batches.catch_up(db, stale, settings=settings, now=now)

    stmt = (
        select(*_ROW_COLUMNS)
        .select_from(Client)
        # Outer join: a client whose summary is not computed yet is still listed.
        .outerjoin(ClientSummary, summary.current_summary(today))
        .join(User, User.id == Client.practitioner_id)
        .where(Client.id.in_(visible))
    )
    if status is not None:
        stmt = stmt.where(Client.status == status)
    if practitioner_id is not None:
        stmt = stmt.where(Client.practitioner_id == practitioner_id)
    if practitioner_ids is not None:
        stmt = stmt.where(Client.practitioner_id.in_(practitioner_ids))
    if flagged_only:
        # Every raised flag, acknowledged ones too: acknowledging never hides a client from
        # supervision (the flag/level filters and the sort still read the speaking flags).
        stmt = stmt.where(ClientSummary.raised_rank > 0)
    if flag or level:
        stmt = stmt.where(ClientSummary.flag_codes.like(f"% {flag or '%'}:{level or '%'} %"))
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Client.display_name).like(f"%{escaped}%", escape="\\"))
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    # Flags sort worst first by default; everything else ascending.
    desc = descending if descending is not None else sort == CaseloadSort.FLAGS
    column = _SORT_COLUMNS[sort]
    # Supervision's list: the gravest raised flag first, acknowledged or not, so an
    # acknowledged alert never sinks below a watch (or off the end of a long list).
    raised_first = (ClientSummary.raised_rank.desc(),) if flagged_only else ()
    rows = db.execute(
        stmt.order_by(
            *raised_first,
            nulls_last(column.desc() if desc else column.asc()),
            func.lower(Client.display_name),
            Client.id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    audit.record(
        db,
        actor,
        "list",
        "caseload",
        detail=f"{len(rows)} of {total}",
        client_ids=[row.id for row in rows],
    )
    # None out of date when this request looked (the usual case): none is now either, for the
    # same `now`, since a write only ever brings a summary up to date. Else count what is left.
    not_current = (
        db.scalar(
            select(func.count()).select_from(
                summary.stale_client_ids(today, visible, now=now).order_by(None).subquery()
            )
        )
        if stale or not budget
        else 0
    )
    return {
        "stale": int(not_current or 0),
        "rows": rows,
        "total": total,
        "limit": limit,
        "offset": offset,
        "practitioners": practitioner_loads(db, actor=actor, settings=settings, now=now),
    }


def _with_items(
    listing: Callable[P, dict[str, Any]],
) -> Callable[P, dict[str, Any]]:
    def with_items(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        result = listing(*args, **kwargs)
        return {**result, "items": [item(row) for row in result.pop("rows")]}

    return with_items


#: `caseload_rows` with each row as its `item`: what the API and supervision list.
caseload = _with_items(caseload_rows)


def item(row: Row[Any]) -> dict[str, Any]:
    """A row of `caseload_rows` as the caseload lists it."""
    if row.as_of is None:  # no summary computed yet (the outer join found none)
        return _item_without_summary(row)
    headline = json.loads(row.headline)
    return {
        "client_id": row.id,
        "display_name": row.display_name,
        "status": row.status,
        "practitioner_id": row.practitioner_id,
        "practitioner_name": row.full_name,
        "last_attended_at": row.last_attended_at,
        "next_session_at": row.next_session_at,
        "recovery": {
            "median_minutes": row.recovery_median_minutes,
            "direction": row.recovery_direction,
        },
        "time_in_window": row.time_in_window,
        "episodes_per_week": headline.get("episodes_per_week"),
        "capacity_direction": headline.get("capacity_direction", "insufficient_data"),
        # Summaries computed before the sparkline existed lack it until their next refresh.
        "weekly_recovery": headline.get("weekly_recovery"),
        "flags": json.loads(row.flags),
        "as_of": row.as_of,
    }


def _item_without_summary(row: Row[Any]) -> dict[str, Any]:
    return {
        "client_id": row.id,
        "display_name": row.display_name,
        "status": row.status,
        "practitioner_id": row.practitioner_id,
        "practitioner_name": row.full_name,
        "last_attended_at": None,
        "next_session_at": None,
        "recovery": {"median_minutes": None, "direction": "insufficient_data"},
        "time_in_window": None,
        "episodes_per_week": None,
        "capacity_direction": "insufficient_data",
        "weekly_recovery": None,
        "flags": [],
        "as_of": None,
    }


def recovery_direction_counts(db: DbSession, *, actor: Actor, today: date) -> dict[str, int]:
    """Active visible clients per recovery-trend direction (no summary yet: insufficient data).

    One query. Counts every active, non-archived client the caller can see, whatever filters
    the caseload page has applied.
    """
    direction = func.coalesce(ClientSummary.recovery_direction, "insufficient_data")
    rows = db.execute(
        select(direction, func.count(Client.id))
        .select_from(Client)
        .outerjoin(ClientSummary, summary.current_summary(today))
        .where(
            Client.id.in_(access.visible_client_ids(actor.user)),
            Client.archived_at.is_(None),
            Client.status == ClientStatus.ACTIVE,
        )
        .group_by(direction)
    ).all()
    counts = dict.fromkeys(("improving", "no_clear_trend", "worsening", "insufficient_data"), 0)
    for name, n in rows:
        counts[str(name)] = counts.get(str(name), 0) + int(n)
    return counts


def practitioner_loads(
    db: DbSession, *, actor: Actor, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """Load of the caller (if they own clients) and of every supervisee: one query, a row per
    person with their figures as correlated subqueries (each an indexed look at one
    practitioner's clients, sessions or self-checks)."""
    user = actor.user
    if user.role == Role.ADMIN:
        return []
    supervisees = select(Supervision.supervisee_id).where(Supervision.supervisor_id == user.id)
    active_client = and_(
        Client.practitioner_id == User.id,
        Client.status == ClientStatus.ACTIVE,
        Client.archived_at.is_(None),
    )
    caseload_size = select(func.count(Client.id)).where(active_client).scalar_subquery()
    # Acknowledged alerts count too: quieting a flag does not lighten the load.
    with_alert = (
        select(func.count(Client.id))
        .join(ClientSummary, summary.current_summary(summary.practice_today(settings, now)))
        .where(active_client, ClientSummary.raised_rank >= LEVEL_RANK["alert"])
        .scalar_subquery()
    )
    attended = (
        select(func.count(Session.id))
        .where(
            Session.practitioner_id == User.id,
            Session.attendance == Attendance.ATTENDED,
            Session.archived_at.is_(None),
            Session.counted(),
            Session.starts_at >= now - timedelta(days=7),
            Session.starts_at <= now,
        )
        .scalar_subquery()
    )
    latest_cbi = (
        select(SelfCheck.subscales)
        .where(SelfCheck.practitioner_id == User.id, SelfCheck.instrument == "cbi")
        .order_by(SelfCheck.administered_at.desc(), SelfCheck.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    people = db.execute(
        select(
            User.id,
            User.full_name,
            User.role,
            caseload_size,
            with_alert,
            attended,
            latest_cbi,
        )
        .where((User.id == user.id) | User.id.in_(supervisees))
        .order_by(User.id != user.id, func.lower(User.full_name), User.id)
    ).all()
    loads = []
    for person_id, full_name, role, size, alerts, sessions, cbi in people:
        facts = PractitionerLoadFacts(
            active_caseload=int(size),
            attended_sessions_last_7_days=int(sessions),
            active_clients_with_alert=int(alerts),
            latest_self_check_cbi_work_related=(cbi or {}).get("work_related"),
        )
        flag = practitioner_load(facts, settings.thresholds)
        flag_view = None
        if flag is not None:
            flag_view = asdict(flag) | {"acknowledgement": None}
        loads.append(
            {
                "practitioner_id": person_id,
                "full_name": full_name,
                "role": role.value,
                **asdict(facts),
                "flag": flag_view,
            }
        )
    return loads
