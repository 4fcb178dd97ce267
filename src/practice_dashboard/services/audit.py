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


def record(
    db: DbSession,
    actor: AnyActor | None,
    action: str,
    entity: str,
    entity_id: uuid.UUID | str | None = None,
    *,
    client_id: uuid.UUID | None = None,
    detail: str | None = None,
) -> None:
    db.add(
        AuditEvent(
            actor_id=user_id_of(actor),
            checkin_link_id=_link_id_of(actor),
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
    actor: AnyActor | None,
    action: str,
    entity: str,
    entity_ids: Iterable[uuid.UUID],
    *,
    client_id: uuid.UUID | None = None,
) -> None:
    db.add_all(
        AuditEvent(
            actor_id=user_id_of(actor),
            checkin_link_id=_link_id_of(actor),
            ip=actor.ip if actor else None,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            client_id=client_id,
        )
        for entity_id in entity_ids
    )
