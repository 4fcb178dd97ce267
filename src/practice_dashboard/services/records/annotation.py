"""Annotations: dated notes on a client's timeline (life events, medication, care changes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.periods import BEYOND_PLANNING_HORIZON, PLANNING_HORIZON
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import Annotation, Client, RecordKind
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.schemas.annotation import AnnotationCreate, AnnotationUpdate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import (
    check_range,
    check_version,
    in_time_range,
    page,
)
from practice_dashboard.services.records import revisions


def time_problems(at: datetime, now: datetime) -> list[tuple[tuple[str, ...], str]]:
    """A dated note may mark a planned change (a medication step, a move), within the horizon
    bookings have; as (field, message) for the API, the pages and the CSV import."""
    return [(("at",), BEYOND_PLANNING_HORIZON)] if at > now + PLANNING_HORIZON else []


def _check_time(at: datetime, now: datetime) -> None:
    if problems := time_problems(at, now):
        raise Invalid(problems)


def list_annotations(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Annotation], int]:
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    stmt = select(Annotation).where(
        Annotation.client_id == client.id,
        Annotation.archived_at.is_(None),
        *in_time_range(Annotation.at, start, end),
    )
    items, total = page(
        db, stmt, order_by=(Annotation.at.desc(), Annotation.id.desc()), limit=limit, offset=offset
    )
    audit.record(db, actor, "list", "annotation", client_id=client.id)
    return items, total


def create_annotation(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    data: AnnotationCreate,
    actor: Actor,
    record_id: uuid.UUID | None = None,
) -> Annotation:
    """`record_id` lets a form choose the new row's key, so a repeated submit saves once."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    _check_time(data.at, utcnow())
    annotation = Annotation(
        id=record_id or uuid7(),
        client_id=client.id,
        created_by_id=actor.user.id,
        **data.model_dump(),
    )
    db.add(annotation)
    db.flush()
    audit.record(db, actor, "create", "annotation", annotation.id, client_id=client.id)
    return annotation


def _get(db: DbSession, actor: Actor, annotation_id: uuid.UUID) -> tuple[Annotation, Client]:
    annotation, client = access.get_visible_child(
        db, actor.user, Annotation, annotation_id, for_write=True
    )
    if annotation.archived_at is not None:
        raise NotFound("Annotation not found")
    return annotation, client


def update_annotation(
    db: DbSession, *, annotation_id: uuid.UUID, data: AnnotationUpdate, actor: Actor
) -> Annotation:
    """Correct a timeline note, or mark it entered in error, keeping its history."""
    annotation, client = _get(db, actor, annotation_id)
    now = utcnow()
    revisions.correct(
        db,
        kind=RecordKind.ANNOTATION,
        record=annotation,
        client=client,
        data=data,
        actor=actor,
        validate=lambda _sent: _check_time(annotation.at, now),
    )
    return annotation


def delete_annotation(
    db: DbSession, *, annotation_id: uuid.UUID, actor: Actor, version: int | None
) -> Annotation:
    """Archive: the note leaves the charts but stays in the record."""
    annotation, _client = _get(db, actor, annotation_id)
    check_version(annotation, version)
    annotation.archived_at = utcnow()
    db.flush()
    audit.record(db, actor, "delete", "annotation", annotation.id, client_id=annotation.client_id)
    return annotation
