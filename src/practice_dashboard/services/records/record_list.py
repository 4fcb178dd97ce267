"""A client's whole record in one list: every session, observation, episode, measure and note.

Newest first, filtered by kind and period, one page at a time, in a fixed number of queries
whatever the size of the record: one UNION ALL of (kind, id, time) for the page, one count,
then one query per kind on the page and one for the names of who recorded them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, union_all

from practice_dashboard.db import DbSession
from practice_dashboard.errors import NotFound
from practice_dashboard.models import Client, RecordKind, Revision, User
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import check_range, in_time_range
from practice_dashboard.services.records.revisions import MODELS

# Each kind's time column and the column naming who recorded it.
TIME_COLUMN: dict[RecordKind, str] = {
    RecordKind.SESSION: "starts_at",
    RecordKind.OBSERVATION: "observed_at",
    RecordKind.EPISODE: "started_at",
    RecordKind.MEASURE: "administered_at",
    RecordKind.ANNOTATION: "at",
}
_RECORDED_BY: dict[RecordKind, str] = {
    RecordKind.SESSION: "practitioner_id",
    RecordKind.OBSERVATION: "recorded_by_id",
    RecordKind.EPISODE: "recorded_by_id",
    RecordKind.MEASURE: "recorded_by_id",
    RecordKind.ANNOTATION: "created_by_id",
}


def time_of(kind: RecordKind, record: Any) -> datetime:
    """The moment a record is about (when it happened, not when it was typed in)."""
    value: datetime = getattr(record, TIME_COLUMN[kind])
    return value


def recorded_by(kind: RecordKind, record: Any) -> uuid.UUID | None:
    """Who recorded it (a session's practitioner, who keeps its record)."""
    value: uuid.UUID | None = getattr(record, _RECORDED_BY[kind])
    return value


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the record: its kind, the record itself and who recorded it."""

    kind: RecordKind
    record: Any
    recorded_by_name: str | None

    @property
    def at(self) -> datetime:
        return time_of(self.kind, self.record)


@dataclass(frozen=True, slots=True)
class RecordPage:
    client: Client
    entries: list[Entry]
    total: int
    limit: int
    offset: int


def _keys(
    client_id: uuid.UUID,
    kinds: Iterable[RecordKind],
    start: datetime | None,
    end: datetime | None,
) -> Any:
    parts = []
    for kind in kinds:
        model: Any = MODELS[kind]
        at = getattr(model, TIME_COLUMN[kind])
        conditions: list[ColumnElement[bool]] = [
            model.client_id == client_id,
            *in_time_range(at, start, end),
        ]
        parts.append(
            select(
                literal(kind.value).label("kind"),
                model.id.label("id"),
                at.label("at"),
            ).where(*conditions)
        )
    return union_all(*parts).subquery("entries")


def list_record(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    kinds: Sequence[RecordKind] = tuple(RecordKind),
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RecordPage:
    """One page of the client's record, newest first (404 outside scope); audited as a read."""
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    chosen = [k for k in RecordKind if k in set(kinds)] or list(RecordKind)
    keys = _keys(client.id, chosen, start, end)
    total = db.scalar(select(func.count()).select_from(keys)) or 0
    if total and offset >= total:  # past the end (an old link): the last page instead
        offset = (total - 1) // limit * limit
    page = db.execute(
        select(keys.c.kind, keys.c.id)
        .order_by(keys.c.at.desc(), keys.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    wanted: dict[RecordKind, list[uuid.UUID]] = {}
    for kind, record_id in page:
        wanted.setdefault(RecordKind(kind), []).append(_as_uuid(record_id))
    loaded: dict[tuple[RecordKind, uuid.UUID], Any] = {}
    for kind, ids in wanted.items():
        model: Any = MODELS[kind]
        for record in db.scalars(select(model).where(model.id.in_(ids))):
            loaded[(kind, record.id)] = record
    people = names(db, (recorded_by(kind, r) for (kind, _), r in loaded.items()))
    entries = []
    for kind, record_id in page:
        key = (RecordKind(kind), _as_uuid(record_id))
        record = loaded[key]
        who = recorded_by(key[0], record)
        entries.append(Entry(key[0], record, people.get(who) if who else None))
    audit.record(db, actor, "read", "client", client.id, client_id=client.id, detail="record")
    return RecordPage(client, entries, total, limit, offset)


@dataclass(frozen=True, slots=True)
class EntryDetail:
    """One entry with its history and the names of everyone in it."""

    client: Client
    entry: Entry
    history: list[Revision]
    people: dict[uuid.UUID, str]
    can_write: bool


def get_entry(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    kind: RecordKind,
    record_id: uuid.UUID,
    actor: Actor,
) -> EntryDetail:
    """One entry of the client's record with its revisions, oldest first (404 if not theirs)."""
    record, client = access.get_visible_child(db, actor.user, MODELS[kind], record_id)
    if client.id != client_id:
        raise NotFound(f"{kind.value.capitalize()} not found")
    history = list(
        db.scalars(
            select(Revision)
            .where(Revision.record_kind == kind, Revision.record_id == record.id)
            .order_by(Revision.version, Revision.id)
        )
    )
    who = recorded_by(kind, record)
    people = names(db, [who, *(r.actor_id for r in history)])
    audit.record(db, actor, "read", kind.value, record.id, client_id=client.id, detail="record")
    return EntryDetail(
        client=client,
        entry=Entry(kind, record, people.get(who) if who else None),
        history=history,
        people=people,
        can_write=access.can_write(actor.user, client),
    )


def names(db: DbSession, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Full names of these users: one query (none when there is nobody to name)."""
    wanted = {uid for uid in user_ids if uid is not None}
    if not wanted:
        return {}
    rows = db.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def _as_uuid(value: Any) -> uuid.UUID:
    # A UNION's id column comes back as the driver gives it: a UUID, or hex text on SQLite.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
