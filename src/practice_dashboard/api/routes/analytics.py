from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Query, status

from practice_dashboard.api.deps import CurrentActor, PagingDep
from practice_dashboard.api.responses import AUTHENTICATED, CLIENT_READ, errors
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.flags import FlagCode, FlagLevel
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import ClientStatus, Source
from practice_dashboard.routing import Router
from practice_dashboard.schemas.metrics import (
    AcknowledgeFlag,
    AcknowledgementRead,
    AcknowledgementWithdrawn,
    CaseloadRead,
    MetricsRead,
)
from practice_dashboard.services.analytics import caseload as caseload_service
from practice_dashboard.services.analytics import metrics as metrics_service
from practice_dashboard.services.analytics.caseload import CaseloadSort
from practice_dashboard.services.periods import parse_as_of, parse_instants

MetricsStart = Annotated[
    str | None,
    Query(max_length=40, description="From this time (inclusive, ISO 8601 with offset)"),
]
MetricsEnd = Annotated[
    str | None,
    Query(max_length=40, description="Up to this time (exclusive, ISO 8601 with offset)"),
]

MetricsAsOf = Annotated[
    str | None,
    Query(
        max_length=40,
        description=(
            "A day (YYYY-MM-DD): what the dashboard would have said at the end of that day in "
            "the practice's time zone (today: now), from the records with times up to then "
            "and the flag acknowledgements as they stood then. From the client's intake day "
            "to today. The period then ends at that moment by default; `end` may not be after "
            "it and `start` must be before it."
        ),
    ),
]

MetricsSource = Annotated[
    Source | None,
    Query(
        description=(
            "Only what the client reported through their check-in link (`client`) or what the "
            "practitioner entered (`practitioner`): episodes, observations and measures. "
            "Sessions always count. Unset: both together."
        ),
    ),
]

router = Router(tags=["analytics"])


@router.get("/clients/{client_id}/metrics", response_model=MetricsRead, responses=CLIENT_READ)
def client_metrics(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    start: MetricsStart = None,
    end: MetricsEnd = None,
    as_of: MetricsAsOf = None,
    source: MetricsSource = None,
) -> Any:
    """Episodes, recovery, recognition, capacity, engagement, measures, baseline, the
    monitoring charts and flags.

    The period defaults to the 28 days up to now (or up to the end of the `as_of` day); trends
    use the 12 weeks up to `end`. A figure that cannot be computed from the data is null,
    never 0.
    """
    since, until = parse_instants(start, end, tz=settings.timezone)
    day = parse_as_of(as_of)
    result = metrics_service.client_metrics(
        db,
        client_id=client_id,
        actor=actor,
        settings=settings,
        start=since,
        end=until,
        now=utcnow(),
        as_of=day,
        source=source,
    )
    # Validated here from the domain's dataclasses: handed back as a dict of them, FastAPI
    # would deep-copy each (dataclasses.asdict), a point per episode of the monitoring charts.
    return MetricsRead.model_validate(result)


@router.post(
    "/clients/{client_id}/flags/{code}/acknowledge",
    response_model=AcknowledgementRead,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 409, 413),
)
def acknowledge_flag(
    client_id: uuid.UUID,
    code: Annotated[FlagCode, Path(description="The flag to acknowledge")],
    data: AcknowledgeFlag,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> Any:
    """Mark a flag as seen; it stays quiet until its evidence changes. Safety needs a note."""
    return metrics_service.acknowledge_flag(
        db,
        client_id=client_id,
        code=code,
        fingerprint=data.fingerprint,
        note=data.note,
        actor=actor,
        settings=settings,
        now=utcnow(),
    )


@router.post(
    "/clients/{client_id}/flags/{code}/unacknowledge",
    response_model=AcknowledgementWithdrawn,
    responses=errors(401, 403, 404),
)
def unacknowledge_flag(
    client_id: uuid.UUID,
    code: Annotated[FlagCode, Path(description="The flag whose acknowledgement to withdraw")],
    actor: CurrentActor,
    db: DbDep,
) -> Any:
    """Withdraw the flag's acknowledgement (kept in the record, marked withdrawn); audited."""
    return metrics_service.unacknowledge_flag(
        db, client_id=client_id, code=code, actor=actor, now=utcnow()
    )


@router.get("/caseload", response_model=CaseloadRead, name="api_caseload", responses=AUTHENTICATED)
def caseload(
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    paging: PagingDep,
    flag: Annotated[FlagCode | None, Query(description="Only clients with this flag")] = None,
    level: Annotated[FlagLevel | None, Query(description="Only flags of this level")] = None,
    status_: Annotated[ClientStatus | None, Query(alias="status")] = None,
    practitioner_id: uuid.UUID | None = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    sort: CaseloadSort = CaseloadSort.FLAGS,
    order: Annotated[str | None, Query(pattern="^(asc|desc)$")] = None,
) -> Any:
    """The caller's visible clients with headline figures and flags, plus practitioner load.

    Acknowledged flags are listed but do not count for the `flag`/`level` filters or sorting.
    """
    return caseload_service.caseload(
        db,
        actor=actor,
        settings=settings,
        now=utcnow(),
        flag=flag,
        level=level,
        status=status_,
        practitioner_id=practitioner_id,
        search=search,
        sort=sort,
        descending=None if order is None else order == "desc",
        limit=paging.limit,
        offset=paging.offset,
    )
