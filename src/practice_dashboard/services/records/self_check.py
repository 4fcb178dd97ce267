"""Practitioner self-checks: the practitioner's own burnout measures, private to them."""

from __future__ import annotations

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid
from practice_dashboard.models import SelfCheck
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.self_check import SelfCheckCreate
from practice_dashboard.services import audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import page
from practice_dashboard.services.records.measure import scored_fields


def list_self_checks(
    db: DbSession, *, actor: Actor, limit: int, offset: int
) -> tuple[list[SelfCheck], int]:
    stmt = select(SelfCheck).where(SelfCheck.practitioner_id == actor.user.id)
    return page(
        db,
        stmt,
        order_by=(SelfCheck.administered_at.desc(), SelfCheck.id.desc()),
        limit=limit,
        offset=offset,
    )


def create_self_check(db: DbSession, *, data: SelfCheckCreate, actor: Actor) -> SelfCheck:
    if actor.user.role == Role.ADMIN:
        raise Invalid([(("instrument",), "self-checks are for practitioners")])
    fields = scored_fields(data.instrument, data.administered_at, data.items, data.total)
    check = SelfCheck(practitioner_id=actor.user.id, **fields)
    db.add(check)
    db.flush()
    audit.record(db, actor, "create", "self_check", check.id)
    return check
