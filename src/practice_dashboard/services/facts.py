"""Read a client's records into the domain's frozen facts: a fixed number of queries.

One query per record kind, for one client or for many at once (the caseload summaries), so
the cost never grows with the number of clients. Rows are read as plain tuples, not ORM
objects: the analytics need a few columns of thousands of rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import (
    Attendance,
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    HomeworkCompletion,
    MeasureFact,
    ObservationFact,
    SessionFact,
    Source,
    Zone,
)
from practice_dashboard.models import Client, Episode, Measure, Observation, Session


def _in(column: Any, client_ids: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.in_(client_ids)
    return result


def load_facts(
    db: DbSession,
    clients: Iterable[Client],
    client_ids: Any,
    *,
    since: datetime | None = None,
) -> dict[uuid.UUID, ClientFacts]:
    """Facts for `clients`; `client_ids` is the same set as a list or a subquery of ids.

    With `since`, observations and episodes are read only from then on (sessions and measures
    always in full: engagement medians and measure baselines look at the whole course of care),
    and each client's latest observation or episode time is read separately so "days since last
    data" stays exact.
    """
    episodes: dict[uuid.UUID, list[EpisodeFact]] = defaultdict(list)
    episode_rows = select(
        Episode.client_id,
        Episode.started_at,
        Episode.peak_intensity,
        Episode.recognized_at,
        Episode.baseline_at,
    ).where(_in(Episode.client_id, client_ids))
    if since is not None:
        episode_rows = episode_rows.where(Episode.started_at >= since)
    for cid, started, peak, recognized, baseline in db.execute(
        episode_rows.order_by(Episode.client_id, Episode.started_at, Episode.id)
    ):
        episodes[cid].append(EpisodeFact(started, peak, recognized, baseline))

    observations: dict[uuid.UUID, list[ObservationFact]] = defaultdict(list)
    observation_rows = select(
        Observation.client_id,
        Observation.observed_at,
        Observation.zone,
        Observation.activation,
        Observation.capacity,
        Observation.safety,
        Observation.body_connection,
        Observation.source,
    ).where(_in(Observation.client_id, client_ids))
    if since is not None:
        observation_rows = observation_rows.where(Observation.observed_at >= since)
    for cid, at, zone, activation, capacity, safety, body, source in db.execute(
        observation_rows.order_by(Observation.client_id, Observation.observed_at, Observation.id)
    ):
        observations[cid].append(
            ObservationFact(at, Zone(zone), activation, capacity, safety, body, Source(source))
        )

    sessions: dict[uuid.UUID, list[SessionFact]] = defaultdict(list)
    for cid, starts, attendance, engagement, assigned, completed in db.execute(
        select(
            Session.client_id,
            Session.starts_at,
            Session.attendance,
            Session.engagement,
            Session.homework_assigned,
            Session.homework_completed,
        )
        .where(_in(Session.client_id, client_ids), Session.archived_at.is_(None))
        .order_by(Session.client_id, Session.starts_at, Session.id)
    ):
        sessions[cid].append(
            SessionFact(
                starts,
                Attendance(attendance),
                engagement,
                assigned,
                HomeworkCompletion(completed) if completed else None,
            )
        )

    measures: dict[uuid.UUID, list[MeasureFact]] = defaultdict(list)
    for cid, instrument, at, items, total in db.execute(
        select(
            Measure.client_id,
            Measure.instrument,
            Measure.administered_at,
            Measure.items,
            Measure.total,
        )
        .where(_in(Measure.client_id, client_ids))
        .order_by(Measure.client_id, Measure.administered_at, Measure.id)
    ):
        measures[cid].append(
            MeasureFact(
                instrument,
                at,
                tuple(items) if items is not None else None,
                # Only total-only instruments carry an entered total; others are re-scored.
                total if items is None else None,
            )
        )

    last_data: dict[uuid.UUID, datetime] = {}
    if since is not None:
        for model, column in (
            (Observation, Observation.observed_at),
            (Episode, Episode.started_at),
        ):
            for cid, latest in db.execute(
                select(model.client_id, func.max(column))
                .where(_in(model.client_id, client_ids))
                .group_by(model.client_id)
            ):
                if latest is not None and (cid not in last_data or latest > last_data[cid]):
                    last_data[cid] = _aware(latest)

    return {
        c.id: ClientFacts(
            status=ClientStatus(c.status),
            intake_date=c.intake_date,
            session_cadence_days=c.session_cadence_days,
            episodes=tuple(episodes[c.id]),
            observations=tuple(observations[c.id]),
            sessions=tuple(sessions[c.id]),
            measures=tuple(measures[c.id]),
            last_data_at=last_data.get(c.id),
        )
        for c in clients
    }


def _aware(value: datetime) -> datetime:
    # max() keeps the column's type, so this is already UTC-aware; guard against drivers anyway.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
