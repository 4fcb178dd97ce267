"""Activation episodes, with derived recovery and recognition minutes."""

from __future__ import annotations

import uuid
from collections.abc import Set
from datetime import datetime

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import CLOCK_SLACK
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Episode, RecordKind
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.schemas.episode import EpisodeCreate, EpisodeUpdate
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import check_range, in_time_range, page
from practice_dashboard.services.records import revisions
from practice_dashboard.services.records.session import check_session_belongs


def time_problems(
    *,
    started_at: datetime,
    recognized_at: datetime | None,
    baseline_at: datetime | None,
    now: datetime,
    sent: Set[str] = frozenset(),
) -> list[tuple[tuple[str, ...], str]]:
    """What the time rules refuse, as (field, message): for the API and the CSV import.

    `sent`: the fields a PATCH carried, so a 422 names the field the caller actually sent.
    """
    problems: list[tuple[tuple[str, ...], str]] = []
    if started_at > now + CLOCK_SLACK:
        problems.append((("started_at",), "must not be in the future"))
    for name, value in (("recognized_at", recognized_at), ("baseline_at", baseline_at)):
        if value is None or value >= started_at:
            continue
        if "started_at" in sent and name not in sent:
            # Only the onset moved, past a stored time: the bad field is started_at.
            problems.append((("started_at",), f"must not be after {name} ({value.isoformat()})"))
        else:
            problems.append(((name,), "must not be before started_at"))
    return problems


def _validate(episode: Episode, now: datetime, sent: Set[str] = frozenset()) -> None:
    problems = time_problems(
        started_at=episode.started_at,
        recognized_at=episode.recognized_at,
        baseline_at=episode.baseline_at,
        now=now,
        sent=sent,
    )
    if problems:
        raise Invalid(problems)


def list_episodes(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Episode], int]:
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    stmt = select(Episode).where(
        Episode.client_id == client.id, *in_time_range(Episode.started_at, start, end)
    )
    items, total = page(
        db,
        stmt,
        order_by=(Episode.started_at.desc(), Episode.id.desc()),
        limit=limit,
        offset=offset,
    )
    audit.record(db, actor, "list", "episode", client_id=client.id)
    return items, total


def create_episode(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    data: EpisodeCreate,
    actor: Actor,
    record_id: uuid.UUID | None = None,
) -> Episode:
    """`record_id` lets a form choose the new row's key, so a repeated submit saves once."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    if data.session_id:
        check_session_belongs(db, client, {data.session_id})
    episode = Episode(
        id=record_id or uuid7(),
        client_id=client.id,
        recorded_by_id=actor.user.id,
        **data.model_dump(),
    )
    _validate(episode, utcnow())
    db.add(episode)
    db.flush()
    audit.record(db, actor, "create", "episode", episode.id, client_id=client.id)
    return episode


def update_episode(
    db: DbSession, *, episode_id: uuid.UUID, data: EpisodeUpdate, actor: Actor
) -> Episode:
    """Correct an episode, or mark it entered in error; the old values go to its history."""
    episode, client = access.get_visible_child(db, actor.user, Episode, episode_id, for_write=True)
    now = utcnow()
    revisions.correct(
        db,
        kind=RecordKind.EPISODE,
        record=episode,
        client=client,
        data=data,
        actor=actor,
        validate=lambda sent: _validate(episode, now, sent),
    )
    return episode
