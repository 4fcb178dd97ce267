"""Reading the audit trail: who may see which events, filters, pages and a CSV export.

Visibility (DESIGN.md "audit_event"; minimum necessary):

* an admin sees every event (ids, actions, short details), but no client names, and on
  client-scoped events only details of a plain shape (field names, "csv client"): a flag's
  detail is its fingerprint, which names the signals that fired (e.g. PHQ-9 item 9), so it
  and any other detail of unknown shape are withheld;
* a practitioner (therapist, coach, supervisor) sees the events about the clients they own
  (not their supervisees' clients) and their own actions, wherever they were;
* nobody else sees anything.

IP addresses are shown to admins and on the caller's own actions only. Reading the log is
itself audited (after the read, so a page never lists its own reading; a CSV export records
itself first, so the file does list it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true

from practice_dashboard.db import DbSession, SessionFactory
from practice_dashboard.domain.labels import CHECKIN_ACTOR
from practice_dashboard.models import AuditEvent, Client, Supervision, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services import audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import check_range, in_time_range
from practice_dashboard.services.exchange.csv.guard import neutralise
from practice_dashboard.services.exchange.csv.writer import chunked, csv_pieces

WITHHELD: Final = "(withheld: may describe clinical content)"
# Details an admin may read on a client-scoped event: names of changed fields, "page",
# "csv client", "supervision packet pdf 2026-01-01..2026-03-31" and the like. Anything else,
# and always a flag's detail (its fingerprint names the signals that fired, e.g.
# "safety|alert|phq9_item9@…"), is withheld: admins see no clinical data.
_PLAIN_DETAIL: Final = re.compile(r"[a-z0-9_ ,.:\-]+")
_CLINICAL_ENTITIES: Final = frozenset({"flag"})
# Rows per query of the CSV export (keyset pages, each in its own short transaction).
EXPORT_BATCH: Final = 1000
CSV_COLUMNS: Final = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "actor_email",
    "action",
    "entity",
    "entity_id",
    "client_id",
    "ip",
    "detail",
)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    actor_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    entity: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def used(self) -> str | None:
        """The names of the filters given (never their values), for the audit detail."""
        names = [f.name for f in fields(self) if getattr(self, f.name) not in (None, "")]
        return ",".join(names) or None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One event as the caller may see it."""

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_email: str | None
    action: str
    entity: str
    entity_id: str | None
    client_id: uuid.UUID | None
    ip: str | None
    detail: str | None


def visible_events(user: User) -> ColumnElement[bool]:
    """The single scoping point of the audit log: which events `user` may read."""
    if not user.is_active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    owned = select(Client.id).where(Client.practitioner_id == user.id)
    return or_(AuditEvent.client_id.in_(owned), AuditEvent.actor_id == user.id)


def _conditions(user: User, filters: AuditFilters) -> list[ColumnElement[bool]]:
    check_range(filters.start, filters.end)
    conditions = [visible_events(user), *in_time_range(AuditEvent.at, filters.start, filters.end)]
    if filters.actor_id is not None:
        conditions.append(AuditEvent.actor_id == filters.actor_id)
    if filters.client_id is not None:
        conditions.append(AuditEvent.client_id == filters.client_id)
    if filters.entity:
        conditions.append(AuditEvent.entity == filters.entity)
    if filters.action:
        conditions.append(AuditEvent.action == filters.action)
    return conditions


def _rows_statement(conditions: Sequence[ColumnElement[bool]]) -> Select[AuditEvent, str, str]:
    return (
        select(AuditEvent, User.full_name, User.email)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(*conditions)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def _shown(user: User, event: AuditEvent, name: str | None, email: str | None) -> AuditRow:
    own_action = event.actor_id == user.id
    detail = event.detail
    if (
        user.role == Role.ADMIN
        and not own_action
        and event.client_id is not None
        and detail is not None
        and (event.entity in _CLINICAL_ENTITIES or not _PLAIN_DETAIL.fullmatch(detail))
    ):
        detail = WITHHELD
    return AuditRow(
        id=event.id,
        at=event.at,
        actor_id=event.actor_id,
        # A client's entries through their check-in link have the link, not a user, as actor.
        actor_name=CHECKIN_ACTOR if event.checkin_link_id is not None else name,
        actor_email=email,
        action=event.action,
        entity=event.entity,
        entity_id=event.entity_id,
        client_id=event.client_id,
        ip=event.ip if user.role == Role.ADMIN or own_action else None,
        detail=detail,
    )


def list_events(
    db: DbSession, *, actor: Actor, filters: AuditFilters, limit: int, offset: int
) -> tuple[list[AuditRow], int]:
    """One page of the events the caller may see, newest first; audited. Two queries."""
    user = actor.user
    conditions = _conditions(user, filters)
    total = db.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    rows = [
        _shown(user, event, name, email)
        for event, name, email in db.execute(
            _rows_statement(conditions).limit(limit).offset(offset)
        )
    ]
    audit.record(db, actor, "list", "audit_event", detail=filters.used())
    return rows, total


def record_export(db: DbSession, *, actor: Actor, filters: AuditFilters) -> None:
    """Audit a CSV export (and refuse bad filters) before anything is streamed."""
    check_range(filters.start, filters.end)
    audit.record(db, actor, "export", "audit_event", detail=filters.used())


def export_rows(
    factory: SessionFactory, *, user: User, filters: AuditFilters, batch: int = EXPORT_BATCH
) -> Iterator[AuditRow]:
    """Every visible event, newest first, read in keyset pages of `batch` rows.

    Each page is its own short transaction, so a slow download never holds a database lock
    (SQLite) or an old snapshot (PostgreSQL) open. Events are append-only and the pages walk
    from newest to oldest, so an event written during the download is simply not included.
    The export's own audit event is committed before the first page, so the file lists it.
    """
    conditions = _conditions(user, filters)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        page_conditions = list(conditions)
        if after is not None:
            at, event_id = after
            page_conditions.append(
                or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < event_id))
            )
        with factory() as db:
            page = [
                _shown(user, event, name, email)
                for event, name, email in db.execute(_rows_statement(page_conditions).limit(batch))
            ]
        yield from page
        if len(page) < batch:
            return
        after = (page[-1].at, page[-1].id)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return neutralise(str(value))


def csv_chunks(rows: Iterator[AuditRow], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The CSV text (header first) in chunks, for a streamed response."""
    cells = ([_cell(getattr(row, column)) for column in CSV_COLUMNS] for row in rows)
    return csv_pieces(CSV_COLUMNS, chunked(cells, rows_per_chunk))


def attachment(now: datetime) -> str:
    """The Content-Disposition of a CSV export, named by the moment it was made (UTC)."""
    return f'attachment; filename="audit-events-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.csv"'


# --------------------------------------------------------------------------------------------
# Filter choices for the page
# --------------------------------------------------------------------------------------------


def actor_choices(db: DbSession, user: User) -> list[User]:
    """People the caller can filter by: everyone for an admin; else self and own supervisors
    (the only other people who can read the caller's clients). One query."""
    stmt = select(User)
    if user.role != Role.ADMIN:
        supervisors = select(Supervision.supervisor_id).where(Supervision.supervisee_id == user.id)
        stmt = stmt.where(or_(User.id == user.id, User.id.in_(supervisors)))
    return list(db.scalars(stmt.order_by(func.lower(User.full_name), User.id)))


def client_choices(db: DbSession, user: User) -> list[Client]:
    """The clients whose events the caller sees: the ones they own, archived ones included.
    Admins get none (they see no client names). One query, or none for an admin."""
    if user.role == Role.ADMIN or not user.is_active:
        return []
    return list(
        db.scalars(
            select(Client)
            .where(Client.practitioner_id == user.id)
            .order_by(func.lower(Client.display_name), Client.id)
        )
    )
