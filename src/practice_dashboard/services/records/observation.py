"""Observations: nervous-system check-ins, one at a time or as an all-or-nothing batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import CLOCK_SLACK
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Observation, RecordKind
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Source, Zone
from practice_dashboard.schemas.observation import ObservationCreate, ObservationUpdate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import check_range, in_time_range, page
from practice_dashboard.services.records import revisions
from practice_dashboard.services.records.session import check_session_belongs, missing_sessions


def time_problems(observed_at: datetime, now: datetime) -> list[tuple[tuple[str, ...], str]]:
    """What the time rule refuses, as (field, message): for the API and the CSV import."""
    if observed_at > now + CLOCK_SLACK:
        return [(("observed_at",), "must not be in the future")]
    return []


def list_observations(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    start: datetime | None,
    end: datetime | None,
    zone: Zone | None,
    source: Source | None,
    limit: int,
    offset: int,
) -> tuple[list[Observation], int]:
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    stmt = select(Observation).where(
        Observation.client_id == client.id, *in_time_range(Observation.observed_at, start, end)
    )
    if zone is not None:
        stmt = stmt.where(Observation.zone == zone)
    if source is not None:
        stmt = stmt.where(Observation.source == source)
    items, total = page(
        db,
        stmt,
        order_by=(Observation.observed_at.desc(), Observation.id.desc()),
        limit=limit,
        offset=offset,
    )
    audit.record(db, actor, "list", "observation", client_id=client.id)
    return items, total


def create_observations(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    data: Sequence[ObservationCreate],
    actor: Actor,
    batch: bool,
    record_ids: Sequence[uuid.UUID] | None = None,
) -> list[Observation]:
    """Validate every row first, then write them all in the caller's transaction.

    `record_ids` (one per row) lets a form choose the new rows' keys, so a repeat saves once.
    """
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    now = utcnow()
    missing = missing_sessions(db, client, {row.session_id for row in data if row.session_id})
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, row in enumerate(data):
        # In a batch the 422 names the row as well as the field: ["body", 2, "observed_at"].
        row_loc: tuple[int, ...] = (index,) if batch else ()
        problems.extend(((*row_loc, *loc), msg) for loc, msg in time_problems(row.observed_at, now))
        if row.session_id in missing:
            problems.append(
                ((*row_loc, "session_id"), f"no session {row.session_id} for this client")
            )
    if problems:
        raise Invalid(problems)
    ids = list(record_ids) if record_ids is not None else [uuid7() for _ in data]
    if len(ids) != len(data):
        raise ValueError("record_ids must give one id per observation")
    observations = [
        Observation(id=rid, client_id=client.id, recorded_by_id=actor.user.id, **row.model_dump())
        for rid, row in zip(ids, data, strict=True)
    ]
    db.add_all(observations)
    db.flush()
    audit.record_many(
        db, actor, "create", "observation", (o.id for o in observations), client_id=client.id
    )
    return observations


def update_observation(
    db: DbSession, *, observation_id: uuid.UUID, data: ObservationUpdate, actor: Actor
) -> Observation:
    """Correct an observation, or mark it entered in error, keeping its history."""
    observation, client = access.get_visible_child(
        db, actor.user, Observation, observation_id, for_write=True
    )
    now = utcnow()

    def validate(sent: set[str]) -> None:
        if "observed_at" in sent:
            problems = time_problems(observation.observed_at, now)
            if problems:
                raise Invalid(problems)
        if "session_id" in sent and observation.session_id is not None:
            check_session_belongs(db, client, {observation.session_id})

    revisions.correct(
        db,
        kind=RecordKind.OBSERVATION,
        record=observation,
        client=client,
        data=data,
        actor=actor,
        validate=validate,
    )
    return observation
