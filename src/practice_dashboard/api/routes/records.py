"""Client-scoped records: sessions, observations, episodes, measures."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from practice_dashboard.api.deps import CurrentActor, End, PagingDep, Start, VersionQuery, page_of
from practice_dashboard.api.openapi import one_or_many_body
from practice_dashboard.api.responses import (
    CLIENT_READ,
    CLIENT_WRITE,
    VERSIONED_ACTION,
    VERSIONED_WRITE,
)
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models.enums import Attendance, Source, Zone
from practice_dashboard.routing import Router
from practice_dashboard.schemas.common import Page
from practice_dashboard.schemas.episode import EpisodeCreate, EpisodeRead, EpisodeUpdate
from practice_dashboard.schemas.measure import MeasureCreate, MeasureRead, MeasureUpdate
from practice_dashboard.schemas.observation import (
    ObservationCreate,
    ObservationRead,
    ObservationUpdate,
)
from practice_dashboard.schemas.session import SessionCreate, SessionRead, SessionUpdate
from practice_dashboard.services.records import episode as episode_service
from practice_dashboard.services.records import measure as measure_service
from practice_dashboard.services.records import observation as observation_service
from practice_dashboard.services.records import session as session_service

router = Router(tags=["records"])


# -- sessions -----------------------------------------------------------------------------------


@router.get(
    "/clients/{client_id}/sessions",
    response_model=Page[SessionRead],
    tags=["sessions"],
    responses=CLIENT_READ,
)
def list_sessions(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    paging: PagingDep,
    start: Start = None,
    end: End = None,
    attendance: Attendance | None = None,
) -> Page[SessionRead]:
    """A client's sessions, newest first."""
    items, total = session_service.list_sessions(
        db,
        client_id=client_id,
        actor=actor,
        start=start,
        end=end,
        attendance=attendance,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(SessionRead, items, total, paging)


@router.post(
    "/clients/{client_id}/sessions",
    response_model=SessionRead,
    status_code=status.HTTP_201_CREATED,
    tags=["sessions"],
    responses=CLIENT_WRITE,
)
def create_session(
    client_id: uuid.UUID, data: SessionCreate, actor: CurrentActor, db: DbDep
) -> SessionRead:
    """Schedule or record a session with the client."""
    return SessionRead.model_validate(
        session_service.create_session(db, client_id=client_id, data=data, actor=actor)
    )


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionRead,
    tags=["sessions"],
    responses=VERSIONED_WRITE,
)
def update_session(
    session_id: uuid.UUID, data: SessionUpdate, actor: CurrentActor, db: DbDep
) -> SessionRead:
    """Change a session (attendance, engagement, homework, notes); send the `version` you read."""
    return SessionRead.model_validate(
        session_service.update_session(db, session_id=session_id, data=data, actor=actor)
    )


@router.delete(
    "/sessions/{session_id}",
    response_model=SessionRead,
    tags=["sessions"],
    responses=VERSIONED_ACTION,
)
def delete_session(
    session_id: uuid.UUID, actor: CurrentActor, db: DbDep, version: VersionQuery = None
) -> SessionRead:
    """Remove a session from the record (kept, marked archived: nothing clinical is erased)."""
    return SessionRead.model_validate(
        session_service.delete_session(db, session_id=session_id, actor=actor, version=version)
    )


# -- observations -------------------------------------------------------------------------------

_observation_list = TypeAdapter(list[ObservationCreate])


async def _observation_payload(
    request: Request, settings: SettingsDep
) -> tuple[list[ObservationCreate], bool]:
    """One observation object or a JSON list of them; errors name the row and the field."""
    try:
        raw = json.loads(await request.body())
    except RecursionError as exc:  # [[[[… a hundred thousand deep: refused, not a 500
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "invalid JSON: nested too deeply", "type": "json_invalid"}]
        ) from exc
    except ValueError as exc:  # not JSON, not UTF-8, or a number of thousands of digits
        raise RequestValidationError(
            [{"loc": ("body",), "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
        ) from exc
    batch = isinstance(raw, list)
    if batch and not raw:
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": "a batch needs at least one observation",
                    "type": "too_short",
                }
            ]
        )
    if batch and len(raw) > settings.max_batch_size:
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": f"a batch may hold at most {settings.max_batch_size} observations",
                    "type": "too_long",
                }
            ]
        )
    try:
        rows = _observation_list.validate_python(raw if batch else [raw])
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if not batch:  # drop the synthetic list index for a single object
            for error in errors:
                error["loc"] = error["loc"][1:]
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc
    return rows, batch


_OBSERVATION_BODY = one_or_many_body(ObservationCreate, what="observations")


@router.get(
    "/clients/{client_id}/observations",
    response_model=Page[ObservationRead],
    tags=["observations"],
    responses=CLIENT_READ,
)
def list_observations(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    paging: PagingDep,
    start: Start = None,
    end: End = None,
    zone: Zone | None = None,
    source: Source | None = None,
) -> Page[ObservationRead]:
    """A client's observations, newest first."""
    items, total = observation_service.list_observations(
        db,
        client_id=client_id,
        actor=actor,
        start=start,
        end=end,
        zone=zone,
        source=source,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(ObservationRead, items, total, paging)


ObservationPayload = Annotated[tuple[list[ObservationCreate], bool], Depends(_observation_payload)]


@router.post(
    "/clients/{client_id}/observations",
    status_code=status.HTTP_201_CREATED,
    tags=["observations"],
    response_model=ObservationRead | list[ObservationRead],
    openapi_extra=_OBSERVATION_BODY,
    responses=CLIENT_WRITE,
)
def create_observations(
    client_id: uuid.UUID, payload: ObservationPayload, actor: CurrentActor, db: DbDep
) -> ObservationRead | list[ObservationRead]:
    """Record one observation, or a JSON list of them as an all-or-nothing batch."""
    rows, batch = payload
    created = observation_service.create_observations(
        db, client_id=client_id, data=rows, actor=actor, batch=batch
    )
    if batch:
        return [ObservationRead.model_validate(o) for o in created]
    return ObservationRead.model_validate(created[0])


@router.patch(
    "/observations/{observation_id}",
    response_model=ObservationRead,
    tags=["observations"],
    responses=VERSIONED_WRITE,
)
def update_observation(
    observation_id: uuid.UUID, data: ObservationUpdate, actor: CurrentActor, db: DbDep
) -> ObservationRead:
    """Correct an observation, or mark it entered in error with a reason; send its `version`."""
    return ObservationRead.model_validate(
        observation_service.update_observation(
            db, observation_id=observation_id, data=data, actor=actor
        )
    )


# -- episodes -----------------------------------------------------------------------------------


@router.get(
    "/clients/{client_id}/episodes",
    response_model=Page[EpisodeRead],
    tags=["episodes"],
    responses=CLIENT_READ,
)
def list_episodes(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    paging: PagingDep,
    start: Start = None,
    end: End = None,
) -> Page[EpisodeRead]:
    """A client's activation episodes, newest first, with recovery and recognition minutes."""
    items, total = episode_service.list_episodes(
        db,
        client_id=client_id,
        actor=actor,
        start=start,
        end=end,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(EpisodeRead, items, total, paging)


@router.post(
    "/clients/{client_id}/episodes",
    response_model=EpisodeRead,
    status_code=status.HTTP_201_CREATED,
    tags=["episodes"],
    responses=CLIENT_WRITE,
)
def create_episode(
    client_id: uuid.UUID, data: EpisodeCreate, actor: CurrentActor, db: DbDep
) -> EpisodeRead:
    """Record an activation episode (onset, recognition, peak, return to baseline)."""
    return EpisodeRead.model_validate(
        episode_service.create_episode(db, client_id=client_id, data=data, actor=actor)
    )


@router.patch(
    "/episodes/{episode_id}",
    response_model=EpisodeRead,
    tags=["episodes"],
    responses=VERSIONED_WRITE,
)
def update_episode(
    episode_id: uuid.UUID, data: EpisodeUpdate, actor: CurrentActor, db: DbDep
) -> EpisodeRead:
    """Complete or correct an episode (e.g. add the return to baseline); send its `version`."""
    return EpisodeRead.model_validate(
        episode_service.update_episode(db, episode_id=episode_id, data=data, actor=actor)
    )


# -- measures -----------------------------------------------------------------------------------


@router.get(
    "/clients/{client_id}/measures",
    response_model=Page[MeasureRead],
    tags=["measures"],
    responses=CLIENT_READ,
)
def list_measures(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    paging: PagingDep,
    instrument: Annotated[str | None, Query(max_length=40)] = None,
    start: Start = None,
    end: End = None,
) -> Page[MeasureRead]:
    """A client's measures, newest first, with the server's scores and change from baseline."""
    items, total = measure_service.list_measures(
        db,
        client_id=client_id,
        actor=actor,
        instrument=instrument,
        start=start,
        end=end,
        limit=paging.limit,
        offset=paging.offset,
    )
    # Each with its change from the client's baseline and its RCI (one more query).
    return Page[MeasureRead](
        items=measure_service.with_baseline_change(
            db, client_id, items, thresholds=settings.thresholds
        ),
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.post(
    "/clients/{client_id}/measures",
    response_model=MeasureRead,
    status_code=status.HTTP_201_CREATED,
    tags=["measures"],
    responses=CLIENT_WRITE,
)
def create_measure(
    client_id: uuid.UUID,
    data: MeasureCreate,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> MeasureRead:
    """Record one administration of an instrument; items are validated and scored."""
    measure = measure_service.create_measure(db, client_id=client_id, data=data, actor=actor)
    [read] = measure_service.with_baseline_change(
        db, measure.client_id, [measure], thresholds=settings.thresholds
    )
    return read


@router.patch(
    "/measures/{measure_id}",
    response_model=MeasureRead,
    tags=["measures"],
    responses=VERSIONED_WRITE,
)
def update_measure(
    measure_id: uuid.UUID,
    data: MeasureUpdate,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> MeasureRead:
    """Correct a measure (its items are re-scored), or mark it entered in error; send `version`."""
    measure = measure_service.update_measure(db, measure_id=measure_id, data=data, actor=actor)
    [read] = measure_service.with_baseline_change(
        db, measure.client_id, [measure], thresholds=settings.thresholds
    )
    return read
