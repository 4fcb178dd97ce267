"""Practitioner self-checks: the practitioner's own burnout measures, private to them."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid
from practice_dashboard.models import SelfCheck
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.self_check import SelfCheckCreate
from practice_dashboard.services import audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import page
from practice_dashboard.services.records.measure import scored_fields


def list_self_checks(
    db: DbSession, *, actor: Actor, limit: int, offset: int
) -> tuple[list[SelfCheck], int]:
    """The caller's own self-checks, newest first: one page and its count (two queries)."""
    stmt = select(SelfCheck).where(SelfCheck.practitioner_id == actor.user.id)
    return page(
        db,
        stmt,
        order_by=(SelfCheck.administered_at.desc(), SelfCheck.id.desc()),
        limit=limit,
        offset=offset,
    )


def create_self_check(
    db: DbSession, *, data: SelfCheckCreate, actor: Actor, record_id: uuid.UUID | None = None
) -> SelfCheck:
    """Score and store the caller's own self-check; `record_id` lets a form save it once."""
    if actor.user.role == Role.ADMIN:
        raise Invalid([(("instrument",), "self-checks are for practitioners")])
    fields = scored_fields(data.instrument, data.administered_at, data.items, data.total)
    check = SelfCheck(id=record_id or uuid7(), practitioner_id=actor.user.id, **fields)
    db.add(check)
    db.flush()
    audit.record(db, actor, "create", "self_check", check.id)
    return check


def own_self_check(db: DbSession, *, actor: Actor, record_id: uuid.UUID) -> SelfCheck | None:
    """The caller's self-check stored under `record_id` (a repeated submit finds it)."""
    return db.scalars(
        select(SelfCheck).where(
            SelfCheck.id == record_id, SelfCheck.practitioner_id == actor.user.id
        )
    ).one_or_none()
