"""Supervision: each supervisee's load, and their flagged clients, alerts first (read-only)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends
from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.errors import Forbidden
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.routing import Router
from practice_dashboard.services.analytics import caseload as caseload_service
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.analytics.caseload import CaseloadSort
from practice_dashboard.services.audit import Actor
from practice_dashboard.web.deps import PageContext, WebActor
from practice_dashboard.web.routes.caseload_page import client_row, home_path, page_globals
from practice_dashboard.web.templating import templates

router = Router()

# Enough to see the whole picture; the rest are one click away in the filtered caseload.
FLAGGED_LIMIT: Final = 100


async def require_supervisor(actor: WebActor) -> Actor:
    if actor.user.role != Role.SUPERVISOR:
        raise Forbidden("The supervision page is for supervisor accounts")
    return actor


SupervisorActor = Annotated[Actor, Depends(require_supervisor)]


@router.get("/supervision", name="supervision")
def supervision_page(
    context: PageContext, actor: SupervisorActor, db: DbDep, settings: SettingsDep
) -> Response:
    """Supervisees' load and flagged clients; client pages open read-only from here."""
    now = utcnow()
    result = caseload_service.caseload(
        db,
        actor=actor,
        settings=settings,
        now=now,
        supervisees_only=True,
        flagged_only=True,
        sort=CaseloadSort.FLAGS,
        descending=True,
        limit=FLAGGED_LIMIT,
    )
    today = summary.practice_today(settings, now)
    loads = [p for p in result["practitioners"] if p["practitioner_id"] != actor.user.id]
    return templates.TemplateResponse(
        context["request"],
        "supervision.html",
        {
            **context,
            **page_globals(),
            "nav": "supervision",
            "home": home_path(),
            "supervisees": loads,
            "rows": [client_row(item, today) for item in result["items"]],
            "total": result["total"],
            "stale": result["stale"],
            "thresholds": settings.thresholds,
        },
    )
