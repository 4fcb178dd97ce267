"""Exports for other programs: a client's progress summary as PDF (bearer token)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.api.responses import errors
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services import periods
from practice_dashboard.services.reports import pdf
from practice_dashboard.services.reports import progress_summary as reports
from practice_dashboard.services.reports.printing import (
    PrintRenderer,
    attachment,
    summary_filename,
    summary_pdf,
    vocabulary_of,
)

router = Router(tags=["exports"])


async def get_print_renderer(request: Request) -> PrintRenderer:
    """The print view, handed in by create_app (the API never imports the web layer)."""
    renderer: PrintRenderer = request.app.state.print_renderer
    return renderer


PrintRendererDep = Annotated[PrintRenderer, Depends(get_print_renderer)]

PeriodBound = Annotated[
    str | None,
    Query(
        max_length=40,
        description=(
            "A local date (2026-01-31; the end date is included) or an ISO 8601 time. "
            "Default: the last 6 months."
        ),
    ),
]


@router.get(
    "/clients/{client_id}/summary.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The progress summary"},
        **errors(401, 404, 503),
    },
)
def client_summary_pdf(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    renderer: PrintRendererDep,
    start: PeriodBound = None,
    end: PeriodBound = None,
) -> Response:
    """A client's progress summary for a period, as a PDF (audited)."""
    pdf.ensure_chromium(settings)
    now = utcnow()
    period = periods.parse_period(start, end, now=now, tz=settings.timezone)
    summary = reports.progress_summary(
        db, client_id=client_id, actor=actor, settings=settings, period=period, now=now
    )
    db.commit()  # no SQLite write lock held while Chromium prints (see web/routes/reports.py)
    vocabulary = vocabulary_of(actor.user, settings)
    data = summary_pdf(renderer, summary, settings=settings, vocabulary=vocabulary, now=now)
    reports.audit_summary_export(db, actor, summary, fmt="pdf")
    return Response(
        data, media_type="application/pdf", headers=attachment(summary_filename(summary, "pdf"))
    )
