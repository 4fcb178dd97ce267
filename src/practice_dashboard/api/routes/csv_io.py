"""CSV export (one client, or the caller's caseload) and CSV import; docs/csv-format.md."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import tzinfo
from typing import Annotated

from fastapi import File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.api.responses import AUTHENTICATED, CLIENT_READ, Responses, errors
from practice_dashboard.db import SessionFactory
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.common import Schema
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.exchange.csv import export as csv_export
from practice_dashboard.services.exchange.csv.export import ExportPlan
from practice_dashboard.services.exchange.csv.spec import CsvKind

router = Router(tags=["csv"])

KindQuery = Annotated[
    CsvKind,
    Query(description="clients, sessions, observations, episodes, measures or annotations"),
]
_CSV_RESPONSE: Responses = {
    200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a header row"}
}


class ImportProblem(Schema):
    row: int = Field(description="The file's line: 1 is the header, 0 the file as a whole")
    column: str | None
    message: str


class ImportReportRead(Schema):
    """What an import found and did (services.exchange.csv.importer.report.as_dict)."""

    kind: CsvKind
    filename: str | None
    dry_run: bool
    committed: bool
    rows: int
    new: int
    already_present: int
    clients: int
    problem_count: int
    problems: list[ImportProblem] = Field(description="The first problems found, in file order")


_IMPORT_RESPONSES: Responses = {
    **errors(401, 413),
    422: {
        "description": "Nothing imported: the report lists every problem (or the request "
        "itself was invalid)",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ImportReportRead"},
                        {"$ref": "#/components/schemas/HTTPValidationError"},
                    ]
                }
            }
        },
    },
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
    responses=_CSV_RESPONSE | CLIENT_READ,
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


@router.get(
    "/export.csv", response_class=StreamingResponse, responses=_CSV_RESPONSE | AUTHENTICATED
)
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


@router.post("/import.csv", response_model=ImportReportRead, responses=_IMPORT_RESPONSES)
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
    # Imported per import: a worker that never imports a CSV never loads the importer.
    from practice_dashboard.services.exchange.csv import importer as csv_import

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
