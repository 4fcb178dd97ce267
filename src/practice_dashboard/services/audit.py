"""Audit trail: every read of a client's record, every write and every refusal; hash-chained.

Rows are queued on the unit of work (`db.defer_write`) and written last: a write request's in
its own transaction just before the commit, a read request's at the end of the read (on SQLite
in a short write transaction after it, elsewhere in the read's own transaction before it
commits). Refusals are written even though the request's work is rolled back.

The chain: each row has `seq` (1, 2, ...), `prev_hash` (the previous row's `hash`, or
GENESIS_HASH) and `hash`, a SHA-256 over a canonical JSON encoding of its fields and
`prev_hash`. Appending reads the chain's head under a lock (SQLite's write lock, which every
write transaction holds; a PostgreSQL advisory lock held until the commit), taken as the rows
are flushed at the end of the unit of work, so it is held briefly. `verify_chain` walks it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Select, event, func, select
from sqlalchemy.orm import Session

from practice_dashboard.db import DbSession, defer_write, kept_statement
from practice_dashboard.models import AuditEvent, User
from practice_dashboard.models.base import utcnow, uuid7

GENESIS_HASH = "0" * 64
# Any constant: the PostgreSQL advisory lock that serialises appends to the chain.
CHAIN_LOCK_KEY = 0x5044_4155_4449_54  # "PDAUDIT"
DENIED = "denied"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, and from where: passed from the request boundary into services."""

    user: User
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class LinkActor:
    """The client, acting through their check-in link: no account, so the link is the actor.

    The audit trail names the link (never its token); its display word is
    `labels.CHECKIN_ACTOR` ("client via check-in link").
    """

    link_id: uuid.UUID
    client_id: uuid.UUID
    ip: str | None = None


AnyActor = Actor | LinkActor


def user_id_of(actor: AnyActor | None) -> uuid.UUID | None:
    """The account behind an action (None for the system and for a check-in link)."""
    return actor.user.id if isinstance(actor, Actor) else None


def _link_id_of(actor: AnyActor | None) -> uuid.UUID | None:
    return actor.link_id if isinstance(actor, LinkActor) else None


def _event(
    actor: AnyActor | None,
    action: str,
    entity: str,
    entity_id: uuid.UUID | str | None,
    *,
    client_id: uuid.UUID | None,
    detail: str | None,
    client_ids: Iterable[uuid.UUID] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        id=uuid7(),
        # When it happened, not when the row is written at the end of the unit of work.
        at=utcnow(),
        actor_id=user_id_of(actor),
        checkin_link_id=_link_id_of(actor),
        ip=actor.ip if actor else ip,
        action=action,
        entity=entity,
        entity_id=str(entity_id) if entity_id is not None else None,
        client_id=client_id,
        detail=detail[:500] if detail is not None else None,
        client_ids=[str(i) for i in client_ids] if client_ids is not None else None,
    )


def _queue(db: DbSession, events: list[AuditEvent], *, durable: bool = False) -> None:
    def write(session: Session) -> None:
        session.add_all(events)

    defer_write(db, write, durable=durable)


def record(
    db: DbSession,
    actor: AnyActor | None,
    action: str,
    entity: str,
    entity_id: uuid.UUID | str | None = None,
    *,
    client_id: uuid.UUID | None = None,
    detail: str | None = None,
    client_ids: Iterable[uuid.UUID] | None = None,
) -> None:
    """Queue one audit row; `client_ids` names the clients a list view showed."""
    _queue(
        db,
        [
            _event(
                actor,
                action,
                entity,
                entity_id,
                client_id=client_id,
                detail=detail,
                client_ids=client_ids,
            )
        ],
    )


def record_many(
    db: DbSession,
    actor: AnyActor | None,
    action: str,
    entity: str,
    entity_ids: Iterable[uuid.UUID],
    *,
    client_id: uuid.UUID | None = None,
) -> None:
    _queue(
        db,
        [
            _event(actor, action, entity, entity_id, client_id=client_id, detail=None)
            for entity_id in entity_ids
        ],
    )


def record_refusal(
    db: DbSession,
    actor: AnyActor | None,
    action: str,
    entity: str,
    entity_id: uuid.UUID | str | None = None,
    *,
    detail: str | None = None,
    ip: str | None = None,
) -> None:
    """Queue a row that is written even though the request's work is rolled back.

    For refusals: a denied request, a failed login. Written in its own short transaction after
    the rollback, so the answer the caller sees is the same as without it.
    """
    _queue(
        db,
        [_event(actor, action, entity, entity_id, client_id=None, detail=detail, ip=ip)],
        durable=True,
    )


# --- the hash chain -------------------------------------------------------------------------


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class ChainedFields(Protocol):
    """What the hash covers: an AuditEvent, or a row of the audit_event table."""

    id: uuid.UUID
    seq: int
    at: datetime
    actor_id: uuid.UUID | None
    checkin_link_id: uuid.UUID | None
    action: str
    entity: str
    entity_id: str | None
    client_id: uuid.UUID | None
    ip: str | None
    detail: str | None
    client_ids: list[str] | None
    prev_hash: str
    hash: str


def event_hash(event: ChainedFields) -> str:
    """SHA-256 (hex) over the row's fields and `prev_hash`, canonically encoded as JSON."""
    at = event.at.astimezone(UTC) if event.at.tzinfo else event.at.replace(tzinfo=UTC)
    fields: dict[str, Any] = {
        "seq": event.seq,
        "id": _text(event.id),
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": _text(event.actor_id),
        "checkin_link_id": _text(event.checkin_link_id),
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "client_id": _text(event.client_id),
        "ip": event.ip,
        "detail": event.detail,
        "client_ids": event.client_ids,
        "prev_hash": event.prev_hash,
    }
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _chain_lock() -> Select[None]:
    return select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY))


def _chain_head() -> Select[int, str]:
    return select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)


def _lock_chain_head(db: Session) -> tuple[int, str]:
    """The last (seq, hash), read under the lock that serialises appends."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(kept_statement(("audit chain lock",), _chain_lock))
    head = db.execute(kept_statement(("audit chain head",), _chain_head)).first()
    return (head[0], head[1]) if head else (0, GENESIS_HASH)


@event.listens_for(Session, "before_flush")
def _chain_new_events(db: Session, _context: Any, _instances: Any) -> None:
    # Every new row, however it was added (services queue them; tests may add them directly).
    new = [o for o in db.new if isinstance(o, AuditEvent) and o.hash is None]
    if not new:
        return
    seq, prev_hash = _lock_chain_head(db)
    for row in new:
        row.id = row.id or uuid7()
        row.at = row.at or utcnow()
    for row in sorted(new, key=lambda e: (e.at, e.id)):
        seq += 1
        row.seq, row.prev_hash = seq, prev_hash
        row.hash = prev_hash = event_hash(row)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of `verify_chain`: how many rows were checked and the first broken link."""

    checked: int
    broken_seq: int | None = None
    broken_id: uuid.UUID | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _check_link(row: ChainedFields, expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return f"seq is {row.seq}, expected {expected_seq} (a row is missing or out of place)"
    if row.prev_hash != prev_hash:
        return "prev_hash does not match the previous row's hash"
    if event_hash(row) != row.hash:
        return "hash does not match the row's fields (the row was changed)"
    return None


def verify_chain(db: DbSession, *, batch: int = 1000) -> ChainReport:
    """Walk the chain in `seq` order, in batches; stop at the first broken link."""
    checked, expected_seq, prev_hash = 0, 1, GENESIS_HASH
    table = AuditEvent.__table__
    while True:
        # Plain rows, not ORM objects: nothing piles up in the session over a long log.
        rows: Sequence[Any] = db.execute(
            select(table).where(table.c.seq >= expected_seq).order_by(table.c.seq).limit(batch)
        ).all()
        for row in rows:
            problem = _check_link(row, expected_seq, prev_hash)
            if problem is not None:
                return ChainReport(checked, row.seq, row.id, problem)
            checked, expected_seq, prev_hash = checked + 1, expected_seq + 1, row.hash
        if len(rows) < batch:
            return ChainReport(checked)
