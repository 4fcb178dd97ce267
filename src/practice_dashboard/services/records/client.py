"""Clients: list, create, read, update, archive. All scoped through services.access."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import func

from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Client
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import ClientStatus, Role
from practice_dashboard.schemas.client import ClientCreate, ClientUpdate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import apply_update, check_version, page


def list_clients(
    db: DbSession,
    *,
    actor: Actor,
    status: ClientStatus | None = None,
    practitioner_id: uuid.UUID | None = None,
    search: str | None = None,
    archived: bool = False,
    limit: int,
    offset: int,
) -> tuple[list[Client], int]:
    stmt = access.visible_clients(actor.user, include_archived=archived)
    if archived:
        stmt = stmt.where(Client.archived_at.is_not(None))
    if status is not None:
        stmt = stmt.where(Client.status == status)
    if practitioner_id is not None:
        stmt = stmt.where(Client.practitioner_id == practitioner_id)
    if search:
        pattern = (
            "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        stmt = stmt.where(func.lower(Client.display_name).like(pattern, escape="\\"))
    items, total = page(
        db, stmt, order_by=(Client.display_name, Client.id), limit=limit, offset=offset
    )
    audit.record(
        db,
        actor,
        "list",
        "client",
        detail=f"{len(items)} of {total}",
        client_ids=[client.id for client in items],
    )
    return items, total


def create_client(
    db: DbSession,
    *,
    data: ClientCreate,
    actor: Actor,
    today: date,
    record_id: uuid.UUID | None = None,
) -> Client:
    """Add a client to the caller's caseload; `record_id` lets a form save once on resubmit."""
    if actor.user.role == Role.ADMIN:
        # Admins manage accounts; clinical records belong to practitioners.
        raise Invalid([(("practitioner_id",), "admin accounts cannot own clients")])
    values = data.model_dump()
    values["intake_date"] = values["intake_date"] or today
    if values["discharged_on"] and values["discharged_on"] < values["intake_date"]:
        raise Invalid([(("discharged_on",), "must not be before intake_date")])
    client = Client(id=record_id or uuid7(), practitioner_id=actor.user.id, **values)
    db.add(client)
    db.flush()
    audit.record(db, actor, "create", "client", client.id, client_id=client.id)
    return client


def read_client(db: DbSession, *, client_id: uuid.UUID, actor: Actor) -> Client:
    client = access.get_visible_client(db, actor.user, client_id)
    audit.record(db, actor, "read", "client", client.id, client_id=client.id)
    return client


def update_client(
    db: DbSession, *, client_id: uuid.UUID, data: ClientUpdate, actor: Actor
) -> Client:
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    changed = apply_update(client, data)
    if client.discharged_on and client.discharged_on < client.intake_date:
        raise Invalid([(("discharged_on",), "must not be before intake_date")])
    if changed:
        db.flush()
        audit.record(
            db,
            actor,
            "update",
            "client",
            client.id,
            client_id=client.id,
            detail=",".join(sorted(changed)),
        )
    return client


def archive_client(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    version: int | None,
    now: datetime | None = None,
) -> Client:
    """Archive instead of delete: hidden from lists, every record kept."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    check_version(client, version)
    if client.archived_at is None:
        client.archived_at = now or utcnow()
        db.flush()
        audit.record(db, actor, "archive", "client", client.id, client_id=client.id)
    return client


def restore_client(
    db: DbSession, *, client_id: uuid.UUID, actor: Actor, version: int | None
) -> Client:
    """Undo an archive: the client is back in lists with all its records."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    check_version(client, version)
    if client.archived_at is not None:
        client.archived_at = None
        db.flush()
        audit.record(db, actor, "restore", "client", client.id, client_id=client.id)
    return client
