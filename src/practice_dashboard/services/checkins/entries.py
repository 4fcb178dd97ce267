"""What a client enters through their check-in link: episodes ("Something activated me",
"I'm back to baseline"), corrections of their own times within 24 hours, and the daily
check-in. Every entry is stored with `source = client` and audited with the link as actor.

The caller (the check-in pages) has already opened the link with its token and checked the
browser's check-in session; these functions take the live link.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import CLOCK_SLACK
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import CheckinLink, Client, Episode, Observation, RecordKind, User
from practice_dashboard.models.enums import RecordStatus, Source
from practice_dashboard.schemas.checkin import (
    CheckinDaily,
    CheckinEpisodeClose,
    CheckinEpisodeStart,
    CheckinEpisodeTimes,
)
from practice_dashboard.schemas.episode import EpisodeUpdate
from practice_dashboard.services import audit
from practice_dashboard.services.audit import LinkActor
from practice_dashboard.services.records import revisions
from practice_dashboard.services.records.episode import time_problems

# How far back a client may date an episode's start, and how long they may correct its times.
CORRECTION_WINDOW = timedelta(hours=24)


class EpisodeAlreadyOpen(Invalid):
    """A second "Something activated me" while one is open: the page offers to close it."""

    def __init__(self, episode: Episode) -> None:
        super().__init__(
            [(("started_at",), "an episode is still open; say when you got back to baseline first")]
        )
        self.episode = episode


def actor_for(link: CheckinLink, ip: str | None) -> LinkActor:
    return LinkActor(link_id=link.id, client_id=link.client_id, ip=ip)


def zone_vocabulary(db: DbSession, settings: Settings, link: CheckinLink) -> str:
    """Zones in the words of the client's practitioner (their setting, else the practice's)."""
    chosen = db.scalar(
        select(User.zone_vocabulary)
        .join(Client, Client.practitioner_id == User.id)
        .where(Client.id == link.client_id)
    )
    return chosen or settings.zone_vocabulary


def open_episode(db: DbSession, link: CheckinLink) -> Episode | None:
    """The client's latest self-reported episode with no return to baseline yet."""
    return db.scalars(
        select(Episode)
        .where(
            Episode.client_id == link.client_id,
            Episode.source == Source.CLIENT,
            Episode.baseline_at.is_(None),
            Episode.counted(),
        )
        .order_by(Episode.started_at.desc(), Episode.id.desc())
        .limit(1)
    ).one_or_none()


def correctable_episodes(db: DbSession, link: CheckinLink, now: datetime) -> list[Episode]:
    """The client's own episodes entered in the last 24 hours: their times can be corrected."""
    return list(
        db.scalars(
            select(Episode)
            .where(
                Episode.client_id == link.client_id,
                Episode.source == Source.CLIENT,
                Episode.created_at >= now - CORRECTION_WINDOW,
                Episode.counted(),
            )
            .order_by(Episode.started_at.desc(), Episode.id.desc())
        )
    )


def _within_window(name: str, value: datetime, now: datetime) -> list[tuple[tuple[str, ...], str]]:
    if value > now + CLOCK_SLACK:
        return [((name,), "must not be in the future")]
    if value < now - CORRECTION_WINDOW:
        return [((name,), "must be within the last 24 hours")]
    return []


def start_episode(
    db: DbSession, *, link: CheckinLink, data: CheckinEpisodeStart, now: datetime, ip: str | None
) -> Episode:
    """ "Something activated me": a new self-reported episode, starting now or when given."""
    current = open_episode(db, link)
    if current is not None:
        raise EpisodeAlreadyOpen(current)
    started_at = data.started_at or now
    problems = _within_window("started_at", started_at, now)
    if problems:
        raise Invalid(problems)
    episode = Episode(
        client_id=link.client_id,
        source=Source.CLIENT,
        started_at=started_at,
        peak_intensity=data.peak_intensity,
        trigger_category=data.trigger_category or None,
        notes=data.notes or None,
        strategies=[],
    )
    db.add(episode)
    db.flush()
    audit.record(db, actor_for(link, ip), "create", "episode", episode.id, client_id=link.client_id)
    _touch(db, link, now)
    return episode


def close_episode(
    db: DbSession, *, link: CheckinLink, data: CheckinEpisodeClose, now: datetime, ip: str | None
) -> Episode:
    """ "I'm back to baseline": closes the open episode, keeping its history."""
    episode = open_episode(db, link)
    if episode is None:
        raise Invalid([(("baseline_at",), "there is no open episode to close")])
    baseline_at = data.baseline_at or now
    problems = _within_window("baseline_at", baseline_at, now) if data.baseline_at else []
    if baseline_at < episode.started_at:
        problems.append((("baseline_at",), "must not be before the episode started"))
    if problems:
        raise Invalid(problems)
    fields: dict[str, object] = {"version": episode.version, "baseline_at": baseline_at}
    if data.peak_intensity is not None and data.peak_intensity > episode.peak_intensity:
        fields["peak_intensity"] = data.peak_intensity
    if data.strategies:
        fields["strategies"] = data.strategies
    if data.self_compassion is not None:
        fields["self_compassion"] = data.self_compassion
    _correct(db, link, episode, EpisodeUpdate.model_validate(fields), now=now, ip=ip)
    return episode


def correct_times(
    db: DbSession,
    *,
    link: CheckinLink,
    episode_id: uuid.UUID,
    data: CheckinEpisodeTimes,
    now: datetime,
    ip: str | None,
) -> Episode:
    """The client's correction of one of their own episodes' times, within 24 hours of
    entering it (404 for any other episode)."""
    episode = db.scalars(
        select(Episode).where(
            Episode.id == episode_id,
            Episode.client_id == link.client_id,
            Episode.source == Source.CLIENT,
            Episode.status == RecordStatus.RECORDED,
        )
    ).one_or_none()
    if episode is None or episode.created_at < now - CORRECTION_WINDOW:
        raise NotFound("This episode can no longer be changed here")
    problems = _within_window("started_at", data.started_at, now)
    if data.baseline_at is not None:
        problems += _within_window("baseline_at", data.baseline_at, now)
    if problems:
        raise Invalid(problems)
    update = EpisodeUpdate(
        version=data.version, started_at=data.started_at, baseline_at=data.baseline_at
    )
    if data.baseline_at is None:
        update = EpisodeUpdate(version=data.version, started_at=data.started_at)
    _correct(db, link, episode, update, now=now, ip=ip)
    return episode


def _correct(
    db: DbSession,
    link: CheckinLink,
    episode: Episode,
    data: EpisodeUpdate,
    *,
    now: datetime,
    ip: str | None,
) -> None:
    client = db.get_one(Client, link.client_id)

    def validate(sent: set[str]) -> None:
        problems = time_problems(
            started_at=episode.started_at,
            recognized_at=episode.recognized_at,
            baseline_at=episode.baseline_at,
            now=now,
            sent=sent,
        )
        if problems:
            raise Invalid(problems)

    revisions.correct(
        db,
        kind=RecordKind.EPISODE,
        record=episode,
        client=client,
        data=data,
        actor=actor_for(link, ip),
        validate=validate,
    )
    _touch(db, link, now)


def daily_checkin(
    db: DbSession, *, link: CheckinLink, data: CheckinDaily, now: datetime, ip: str | None
) -> Observation:
    """The daily check-in, stored as a self-reported observation at `now`."""
    observation = Observation(
        client_id=link.client_id,
        observed_at=now,
        source=Source.CLIENT,
        zone=data.zone,
        activation=data.activation,
        capacity=data.capacity,
        notes=data.notes or None,
    )
    db.add(observation)
    db.flush()
    audit.record(
        db, actor_for(link, ip), "create", "observation", observation.id, client_id=link.client_id
    )
    _touch(db, link, now)
    return observation


def _touch(db: DbSession, link: CheckinLink, now: datetime) -> None:
    link.last_used_at = now
    db.flush()
