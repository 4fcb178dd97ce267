"""The audit log: who read or changed what, as the caller may see it (services.audit_log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse

from practice_dashboard.api.deps import CurrentActor, End, PagingDep, Start, page_of
from practice_dashboard.api.responses import AUTHENTICATED
from practice_dashboard.db import SessionFactory
from practice_dashboard.dependencies import DbDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.common import Page, Schema
from practice_dashboard.services.reports import audit_log
from practice_dashboard.services.reports.audit_log import AuditFilters

router = Router(prefix="/audit-events", tags=["audit"])


class AuditEventRead(Schema):
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_email: str | None
    action: str
    entity: str
    entity_id: str | None
    client_id: uuid.UUID | None
    ip: str | None
    detail: str | None


Word = Annotated[str | None, Query(max_length=40, description="Exact match")]


async def get_filters(
    start: Start = None,
    end: End = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="Who acted")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Whose record")] = None,
    entity: Word = None,
    action: Word = None,
) -> AuditFilters:
    return AuditFilters(
        actor_id=actor_id,
        client_id=client_id,
        entity=entity or None,
        action=action or None,
        start=start,
        end=end,
    )


Filters = Annotated[AuditFilters, Depends(get_filters)]


@router.get("", response_model=Page[AuditEventRead], responses=AUTHENTICATED)
def list_audit_events(
    actor: CurrentActor, db: DbDep, paging: PagingDep, filters: Filters
) -> Page[AuditEventRead]:
    """Events the caller may see, newest first: admins all; practitioners their own clients'
    events and their own actions. Reading the log is audited."""
    items, total = audit_log.list_events(
        db, actor=actor, filters=filters, limit=paging.limit, offset=paging.offset
    )
    return page_of(AuditEventRead, items, total, paging)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "Streamed CSV"}, **AUTHENTICATED},
)
def export_audit_events(
    actor: CurrentActor, db: DbDep, request: Request, filters: Filters
) -> StreamingResponse:
    """The same events as CSV, streamed; cells that a spreadsheet would run are neutralised."""
    audit_log.record_export(db, actor=actor, filters=filters)
    factory: SessionFactory = request.app.state.session_factory
    rows = audit_log.export_rows(factory, user=actor.user, filters=filters)
    return StreamingResponse(
        audit_log.csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": audit_log.attachment(utcnow())},
    )
