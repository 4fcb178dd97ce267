"""Audit trail: every read of a client's record and every write, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, User


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, and from where: passed from the request boundary into services."""

    user: User
    ip: str | None = None


def record(
    db: DbSession,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: uuid.UUID | str | None = None,
    *,
    client_id: uuid.UUID | None = None,
    detail: str | None = None,
) -> None:
    db.add(
        AuditEvent(
            actor_id=actor.user.id if actor else None,
            ip=actor.ip if actor else None,
            action=action,
            entity=entity,
            entity_id=str(entity_id) if entity_id is not None else None,
            client_id=client_id,
            detail=detail,
        )
    )


def record_many(
    db: DbSession,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_ids: Iterable[uuid.UUID],
    *,
    client_id: uuid.UUID | None = None,
) -> None:
    db.add_all(
        AuditEvent(
            actor_id=actor.user.id if actor else None,
            ip=actor.ip if actor else None,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            client_id=client_id,
        )
        for entity_id in entity_ids
    )
