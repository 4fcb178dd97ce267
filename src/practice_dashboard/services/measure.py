"""Measures: validated against the instrument registry and scored on write."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import MeasureFact
from practice_dashboard.domain.instruments import score_measure, validate_measure
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Measure
from practice_dashboard.models.base import utcnow
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import check_range, in_time_range, page

FUTURE_SLACK = timedelta(minutes=10)


def list_measures(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    instrument: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Measure], int]:
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    stmt = select(Measure).where(
        Measure.client_id == client.id, *in_time_range(Measure.administered_at, start, end)
    )
    if instrument is not None:
        stmt = stmt.where(Measure.instrument == instrument)
    items, total = page(
        db,
        stmt,
        order_by=(Measure.administered_at.desc(), Measure.id.desc()),
        limit=limit,
        offset=offset,
    )
    audit.record(db, actor, "list", "measure", client_id=client.id)
    return items, total


def scored_fields(
    instrument: str, administered_at: datetime, items: list[int | None] | None, total: float | None
) -> dict[str, Any]:
    """Validate one administration against the registry and score it; 422 names each problem."""
    problems = [(p.loc, p.msg) for p in validate_measure(instrument, items, total)]
    if administered_at > utcnow() + FUTURE_SLACK:
        problems.append((("administered_at",), "must not be in the future"))
    if problems:
        raise Invalid(problems)
    score = score_measure(
        MeasureFact(
            instrument=instrument,
            administered_at=administered_at,
            items=tuple(items) if items is not None else None,
            total=total,
        )
    )
    return {
        "instrument": instrument,
        "administered_at": administered_at,
        "items": items,
        "total": score.total,
        "subscales": score.subscales or None,
        "severity": score.severity,
    }


def create_measure(
    db: DbSession, *, client_id: uuid.UUID, data: MeasureCreate, actor: Actor
) -> Measure:
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    fields = scored_fields(data.instrument, data.administered_at, data.items, data.total)
    measure = Measure(
        client_id=client.id, recorded_by_id=actor.user.id, source=data.source, **fields
    )
    db.add(measure)
    db.flush()
    audit.record(db, actor, "create", "measure", measure.id, client_id=client.id)
    return measure
