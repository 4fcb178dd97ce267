from __future__ import annotations

from fastapi import status

from practice_dashboard.api.deps import CurrentActor, PagingDep, page_of
from practice_dashboard.api.responses import AUTHENTICATED, errors
from practice_dashboard.dependencies import DbDep
from practice_dashboard.routing import Router
from practice_dashboard.schemas.common import Page
from practice_dashboard.schemas.self_check import SelfCheckCreate, SelfCheckRead
from practice_dashboard.services.records import self_check as self_check_service

router = Router(prefix="/me/self-checks", tags=["self-checks"])


@router.get("", response_model=Page[SelfCheckRead], responses=AUTHENTICATED)
def list_self_checks(actor: CurrentActor, db: DbDep, paging: PagingDep) -> Page[SelfCheckRead]:
    """The caller's own burnout self-checks, newest first."""
    items, total = self_check_service.list_self_checks(
        db, actor=actor, limit=paging.limit, offset=paging.offset
    )
    return page_of(SelfCheckRead, items, total, paging)


@router.post(
    "",
    response_model=SelfCheckRead,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 413),
)
def create_self_check(data: SelfCheckCreate, actor: CurrentActor, db: DbDep) -> SelfCheckRead:
    """Record the caller's own self-check (e.g. Copenhagen Burnout Inventory), scored."""
    return SelfCheckRead.model_validate(
        self_check_service.create_self_check(db, data=data, actor=actor)
    )
