"""The caseload: every visible client with headline figures and flags, and practitioner load.

A fixed number of queries whatever the caseload size: one tally (summaries out of date, the
total the filters keep, and for the page the active clients per recovery direction), one page
query, and one query for practitioner load, each reading the client's summary for today
(`summary.current_summary`). Summaries are rolled over ahead of midnight by the refresher, so
a request normally finds none out of date; the few the tally finds it looks up and brings up to
date in bulk, within a budget, computing while it reads and writing in a short transaction of
its own, and then tallies again for the page's notice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ParamSpec, get_args

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    nulls_last,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import BindParameter

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, kept_statement
from practice_dashboard.domain.flags import LEVEL_RANK, PractitionerLoadFacts, practitioner_load
from practice_dashboard.domain.stats import TrendDirection
from practice_dashboard.models import Client, ClientSummary, SelfCheck, Session, User
from practice_dashboard.models.base import InternedUuid
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
    type_coerce(Client.id, InternedUuid()).label("id"),
    Client.display_name,
    Client.status,
    type_coerce(Client.practitioner_id, InternedUuid()).label("practitioner_id"),
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
    supervisees_only: bool = False,
    flagged_only: bool = False,
    directions: bool = False,
    sort: CaseloadSort = CaseloadSort.FLAGS,
    descending: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the visible clients as rows of `_ROW_COLUMNS` (`item` lists one), with the
    total, the count of summaries not current, and practitioner load; with `directions`, also
    the active clients per recovery direction, whatever the filters (the page's overview).
    `supervisees_only`: only the clients of the people the caller supervises."""
    user = actor.user
    today = summary.practice_today(settings, now)
    # Flags sort worst first by default; everything else ascending.
    desc = descending if descending is not None else sort == CaseloadSort.FLAGS
    escaped = (search or "").lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    values = {
        access.VIEWER: user.id,
        "today": today,
        "now": now,
        "status": status,
        "practitioner_id": practitioner_id,
        "flag_pattern": f"% {flag or '%'}:{level or '%'} %",
        "search_pattern": f"%{escaped}%",
        "limit": limit,
        "offset": offset,
    }

    def statements() -> _Statements:
        visible = access.visible_client_ids(user, bound=True).where(Client.archived_at.is_(None))
        today_: BindParameter[date] = bindparam("today")
        now_: BindParameter[datetime] = bindparam("now")
        kept: list[ColumnElement[bool]] = []
        if status is not None:
            kept.append(Client.status == bindparam("status"))
        if practitioner_id is not None:
            kept.append(Client.practitioner_id == bindparam("practitioner_id"))
        if supervisees_only:
            viewer: BindParameter[uuid.UUID] = bindparam(access.VIEWER)
            kept.append(Client.practitioner_id.in_(access.supervisee_ids(viewer)))
        if flagged_only:
            # Every raised flag, acknowledged ones too: acknowledging never hides a client
            # from supervision (the flag/level filters and the sort still read the speaking
            # flags).
            kept.append(ClientSummary.raised_rank > 0)
        if flag or level:
            kept.append(ClientSummary.flag_codes.like(bindparam("flag_pattern")))
        if search:
            kept.append(
                func.lower(Client.display_name).like(bindparam("search_pattern"), escape="\\")
            )
        listed = (
            select(*_ROW_COLUMNS)
            .select_from(Client)
            # Outer join: a client whose summary is not computed yet is still listed.
            .outerjoin(ClientSummary, summary.current_summary(today_))
            .join(User, User.id == Client.practitioner_id)
            .where(Client.id.in_(visible))
        )
        column = _SORT_COLUMNS[sort]
        # Supervision's list: the gravest raised flag first, acknowledged or not, so an
        # acknowledged alert never sinks below a watch (or off the end of a long list).
        raised_first = (ClientSummary.raised_rank.desc(),) if flagged_only else ()
        page = (
            listed.where(*kept)
            .order_by(
                *raised_first,
                nulls_last(column.desc() if desc else column.asc()),
                func.lower(Client.display_name),
                Client.id,
            )
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer))
        )
        tally = _tally(listed, today_, now_, kept, directions=directions)
        return _Statements(visible, tally, page)

    # Kept once built per shape (`db.kept_statement`): the caller, the day and every filter's
    # value are bound.
    shape = (
        "caseload",
        access.sees_no_clients(user),
        status is not None,
        practitioner_id is not None,
        supervisees_only,
        flagged_only,
        bool(flag or level),
        bool(search),
        directions,
        sort,
        desc,
    )
    built = kept_statement(shape, statements)
    tally = db.execute(built.tally, values).one()
    # Summaries from an earlier day (or showing a "next session" that has begun since) are
    # recomputed here up to a budget; the background refresher (or the nightly CLI) does the
    # rest, and those rows show their `as_of` date. Normally none is out of date, and the
    # tally was the only look for them.
    budget = settings.summary_refresh_budget
    if tally.stale and budget:
        out_of_date = summary.stale_client_ids(today, built.visible, limit=budget, now=now)
        stale = list(db.scalars(out_of_date, values))
        if stale:  # (none: another request brought them up to date meanwhile)
            summary_batches.catch_up(db, stale, settings=settings, now=now)
        tally = db.execute(built.tally, values).one()
    total = tally.total
    rows = db.execute(built.page, values).all()
    audit.record(
        db,
        actor,
        "list",
        "caseload",
        detail=f"{len(rows)} of {total}",
        client_ids=[row.id for row in rows],
    )
    by_direction = (
        {"directions": {d: tally._mapping[d] for d in get_args(TrendDirection)}}
        if directions
        else {}
    )
    return {
        "stale": tally.stale,
        "rows": rows,
        "total": total,
        "limit": limit,
        "offset": offset,
        "practitioners": practitioner_loads(db, actor=actor, settings=settings, now=now),
        **by_direction,
    }


@dataclass(frozen=True, slots=True)
class _Statements:
    """One caseload view's statements: the visible clients, the tally, the page of rows."""

    visible: Select[*tuple[Any, ...]]
    tally: Select[*tuple[Any, ...]]
    page: Select[*tuple[Any, ...]]


def _tally(
    listed: Select[*tuple[Any, ...]],
    today: ColumnElement[date],
    now: ColumnElement[datetime],
    kept: list[ColumnElement[bool]],
    *,
    directions: bool,
) -> Select[*tuple[int, ...]]:
    """One statement over the visible clients `listed` reads: how many have a summary out of
    date, how many the filters `kept` keep, and (with `directions`) the active clients per
    recovery direction, a client with no summary yet counted as insufficient data."""

    def number(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(case((and_(*where), 1))) if where else func.count()

    counts = [
        number(summary.out_of_date(today, now)).label("stale"),
        number(*kept).label("total"),
    ]
    if directions:
        active = Client.status == ClientStatus.ACTIVE
        direction = func.coalesce(ClientSummary.recovery_direction, "insufficient_data")
        counts += [number(active, direction == d).label(d) for d in get_args(TrendDirection)]
    return listed.with_only_columns(*counts)


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


def practitioner_loads(
    db: DbSession, *, actor: Actor, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """Load of the caller (if they own clients) and of every supervisee: one query, a row per
    person with their figures as correlated subqueries (each an indexed look at one
    practitioner's clients, sessions or self-checks)."""
    user = actor.user
    if user.role == Role.ADMIN:
        return []
    # Kept once built (`db.kept_statement`): the caller, the day and the week are bound.
    statement = kept_statement(("practitioner loads",), _practitioner_loads)
    people = db.execute(
        statement,
        {
            access.VIEWER: user.id,
            "today": summary.practice_today(settings, now),
            "week_ago": now - timedelta(days=7),
            "now": now,
        },
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


def _practitioner_loads() -> Select[*tuple[Any, ...]]:
    viewer: BindParameter[uuid.UUID] = bindparam(access.VIEWER)
    active_client = and_(
        Client.practitioner_id == User.id,
        Client.status == ClientStatus.ACTIVE,
        Client.archived_at.is_(None),
    )
    caseload_size = select(func.count(Client.id)).where(active_client).scalar_subquery()
    # Acknowledged alerts count too: quieting a flag does not lighten the load.
    with_alert = (
        select(func.count(Client.id))
        .join(ClientSummary, summary.current_summary(bindparam("today")))
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
            Session.starts_at >= bindparam("week_ago"),
            Session.starts_at <= bindparam("now"),
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
    return (
        select(
            User.id,
            User.full_name,
            User.role,
            caseload_size,
            with_alert,
            attended,
            latest_cbi,
        )
        .where((User.id == viewer) | User.id.in_(access.supervisee_ids(viewer)))
        .order_by(User.id != viewer, func.lower(User.full_name), User.id)
    )
