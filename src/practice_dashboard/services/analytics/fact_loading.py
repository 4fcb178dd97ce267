"""Read a client's records into the domain's frozen facts: a fixed number of queries.

One query per record kind, for one client or for many at once (the caseload summaries), so
the cost never grows with the number of clients. Rows are read as plain tuples, not ORM
objects: the analytics need a few columns of thousands of rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Uuid, func, literal, select, type_coerce

from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import (
    AssignmentFact,
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    MeasureFact,
    ObservationFact,
    SessionFact,
)
from practice_dashboard.models import (
    Annotation,
    AnnotationKind,
    Assignment,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
)


def _in(column: Any, client_ids: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.in_(client_ids)
    return result


def _key(column: Any, single: bool) -> Any:
    """The column that says whose row it is: a constant for one client, else the id as text.

    Building a uuid.UUID per row costs more than the rest of the row (thousands of rows per
    client), so rows are grouped by the id's text and mapped back once per client.
    """
    if single:
        return literal(0)
    return type_coerce(column, Uuid(as_uuid=False))


def load_facts(
    db: DbSession,
    clients: Iterable[Client],
    client_ids: Any,
    *,
    timezone: tzinfo,
    since: datetime | None = None,
) -> dict[uuid.UUID, ClientFacts]:
    """Facts for `clients`; `client_ids` is the same set as a list or a subquery of ids.

    With `since`, observations are read only from then on (episodes, sessions and measures
    always in full: the monitoring charts, engagement medians and measure baselines look at the
    whole course of care), and each client's latest observation or episode time is read
    separately so "days since last data" stays exact. `timezone` is the practice's: where its
    calendar days begin (questionnaire due dates, days without a check-in).
    """
    # Entered-in-error records are filtered here, once: every figure, chart, flag, summary
    # and packet is computed from these facts, so such a record leaves all of them at once.
    clients = list(clients)
    single = len(clients) == 1 and isinstance(client_ids, list | tuple) and len(client_ids) == 1
    keys: dict[Any, uuid.UUID] = (
        {0: clients[0].id} if single else {str(c.id): c.id for c in clients}
    )
    episodes: dict[Any, list[EpisodeFact]] = defaultdict(list)
    episode_rows = select(
        _key(Episode.client_id, single),
        Episode.started_at,
        Episode.peak_intensity,
        Episode.recognized_at,
        Episode.baseline_at,
        Episode.source,
    ).where(_in(Episode.client_id, client_ids), Episode.counted())
    for cid, started, peak, recognized, baseline, source in db.execute(
        episode_rows.order_by(Episode.client_id, Episode.started_at, Episode.id)
    ):
        episodes[cid].append(EpisodeFact(started, peak, recognized, baseline, source))

    observations: dict[Any, list[ObservationFact]] = defaultdict(list)
    observation_rows = select(
        _key(Observation.client_id, single),
        Observation.observed_at,
        Observation.zone,
        Observation.activation,
        Observation.capacity,
        Observation.safety,
        Observation.body_connection,
        Observation.source,
    ).where(_in(Observation.client_id, client_ids), Observation.counted())
    if since is not None:
        observation_rows = observation_rows.where(Observation.observed_at >= since)
    for cid, at, zone, activation, capacity, safety, body, source in db.execute(
        observation_rows.order_by(Observation.client_id, Observation.observed_at, Observation.id)
    ):
        # Zone and Source come back as enum members already (the column type converts them).
        observations[cid].append(
            ObservationFact(at, zone, activation, capacity, safety, body, source)
        )

    sessions: dict[Any, list[SessionFact]] = defaultdict(list)
    for cid, starts, attendance, engagement, assigned, completed in db.execute(
        select(
            _key(Session.client_id, single),
            Session.starts_at,
            Session.attendance,
            Session.engagement,
            Session.homework_assigned,
            Session.homework_completed,
        )
        .where(
            _in(Session.client_id, client_ids),
            Session.archived_at.is_(None),
            Session.counted(),
        )
        .order_by(Session.client_id, Session.starts_at, Session.id)
    ):
        sessions[cid].append(SessionFact(starts, attendance, engagement, assigned, completed))

    measures: dict[Any, list[MeasureFact]] = defaultdict(list)
    for cid, instrument, at, items, total, source in db.execute(
        select(
            _key(Measure.client_id, single),
            Measure.instrument,
            Measure.administered_at,
            Measure.items,
            Measure.total,
            Measure.source,
        )
        .where(_in(Measure.client_id, client_ids), Measure.counted())
        .order_by(Measure.client_id, Measure.administered_at, Measure.id)
    ):
        measures[cid].append(
            MeasureFact(
                instrument,
                at,
                tuple(items) if items is not None else None,
                # Only total-only instruments carry an entered total; others are re-scored.
                total if items is None else None,
                source,
            )
        )

    care_changes: dict[Any, list[datetime]] = defaultdict(list)
    for cid, at in db.execute(
        select(_key(Annotation.client_id, single), Annotation.at)
        .where(
            _in(Annotation.client_id, client_ids),
            Annotation.kind == AnnotationKind.CARE_CHANGE,
            Annotation.archived_at.is_(None),
            Annotation.counted(),
        )
        .order_by(Annotation.client_id, Annotation.at)
    ):
        care_changes[cid].append(at)

    # Live questionnaire assignments: one query for every client at once.
    assignments: dict[Any, list[AssignmentFact]] = defaultdict(list)
    for cid, instrument, every_days, starts_on, ends_on in db.execute(
        select(
            _key(Assignment.client_id, single),
            Assignment.instrument,
            Assignment.every_days,
            Assignment.starts_on,
            Assignment.ends_on,
        )
        .where(_in(Assignment.client_id, client_ids), Assignment.archived_at.is_(None))
        .order_by(Assignment.client_id, Assignment.starts_on, Assignment.id)
    ):
        assignments[cid].append(AssignmentFact(instrument, every_days, starts_on, ends_on))

    last_data: dict[uuid.UUID, datetime] = {}
    if since is not None:
        for model, column in (
            (Observation, Observation.observed_at),
            (Episode, Episode.started_at),
        ):
            for cid, latest in db.execute(
                select(model.client_id, func.max(column))
                .where(_in(model.client_id, client_ids), model.counted())
                .group_by(model.client_id)
            ):
                if latest is not None and (cid not in last_data or latest > last_data[cid]):
                    last_data[cid] = _aware(latest)

    by_id = {c.id: c for c in clients}
    return {
        client_id: ClientFacts(
            status=ClientStatus(by_id[client_id].status),
            intake_date=by_id[client_id].intake_date,
            session_cadence_days=by_id[client_id].session_cadence_days,
            episodes=tuple(episodes[key]),
            observations=tuple(observations[key]),
            sessions=tuple(sessions[key]),
            measures=tuple(measures[key]),
            last_data_at=last_data.get(client_id),
            care_changes=tuple(care_changes[key]),
            assignments=tuple(assignments[key]),
            timezone=timezone,
        )
        for key, client_id in keys.items()
    }


def _aware(value: datetime) -> datetime:
    # max() keeps the column's type, so this is already UTC-aware; guard against drivers anyway.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
