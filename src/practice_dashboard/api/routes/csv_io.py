"""CSV export (one client, or the caller's caseload) and CSV import; docs/csv-format.md."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.db import SessionFactory
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.exchange.csv import export as csv_export
from practice_dashboard.services.exchange.csv import importer as csv_import
from practice_dashboard.services.exchange.csv.export import ExportPlan
from practice_dashboard.services.exchange.csv.spec import CsvKind

router = APIRouter(tags=["csv"])

KindQuery = Annotated[
    CsvKind,
    Query(description="clients, sessions, observations, episodes, measures or annotations"),
]
_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a header row"}
}


def _stream(factory: SessionFactory, plan: ExportPlan, tz: tzinfo) -> Iterator[bytes]:
    for text in csv_export.iter_csv(factory, plan, tz=tz):
        yield text.encode("utf-8")


def _download(request: Request, plan: ExportPlan, tz: tzinfo) -> StreamingResponse:
    return StreamingResponse(
        _stream(request.app.state.session_factory, plan, tz),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{plan.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/clients/{client_id}/export.csv",
    response_class=StreamingResponse,
    responses=_CSV_RESPONSE,
)
def export_client_csv(
    client_id: uuid.UUID,
    request: Request,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    kind: KindQuery = CsvKind.OBSERVATIONS,
) -> StreamingResponse:
    """One client's records of one kind as CSV (the format the CSV import reads), streamed."""
    plan = csv_export.plan_export(
        db,
        actor=actor,
        kind=kind,
        client_id=client_id,
        today=practice_today(settings, utcnow()),
    )
    return _download(request, plan, settings.timezone)


@router.get("/export.csv", response_class=StreamingResponse, responses=_CSV_RESPONSE)
def export_caseload_csv(
    request: Request,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    kind: KindQuery = CsvKind.OBSERVATIONS,
) -> StreamingResponse:
    """The records of one kind for every client the caller may see (archived ones too)."""
    plan = csv_export.plan_export(
        db, actor=actor, kind=kind, client_id=None, today=practice_today(settings, utcnow())
    )
    return _download(request, plan, settings.timezone)


@router.post("/import.csv")
def import_csv(
    file: Annotated[UploadFile, File(description="A UTF-8 CSV file of one kind")],
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    kind: KindQuery,
    dry_run: Annotated[bool, Query(description="Check only; write nothing")] = False,
) -> JSONResponse:
    """Import one CSV file: all rows or (on any problem) none; 422 lists every problem.

    Rows already stored (same `id`, or the same natural key) are skipped, so importing a
    file twice adds nothing. The request body limit applies; larger files go through the CLI.
    """
    report = csv_import.import_csv(
        db,
        actor=actor,
        kind=kind,
        stream=file.file,
        settings=settings,
        dry_run=dry_run,
        filename=file.filename,
    )
    return JSONResponse(report.as_dict(), status_code=200 if report.ok else 422)
