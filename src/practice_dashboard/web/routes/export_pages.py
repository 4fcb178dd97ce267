"""Downloads with the browser's login: a client's CSV and FHIR record, the caseload's CSV.

The same exports as the API's (`services.exchange`), streamed and audited there, but scoped
to the caller's own clients: supervision gives read access, not a copy of the record. GET
only: a download changes nothing but the audit trail, so it needs no CSRF token.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import tzinfo
from typing import Annotated, Final

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse

from practice_dashboard.db import SessionFactory
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.labels import RECORD_KIND_WORDS
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.exchange import fhir as fhir_export
from practice_dashboard.services.exchange.csv import export as csv_export
from practice_dashboard.services.exchange.csv.export import ExportPlan
from practice_dashboard.services.exchange.csv.spec import CsvKind
from practice_dashboard.web.deps import WebActor
from practice_dashboard.web.templating import templates

router = Router()

FHIR_JSON: Final = "application/fhir+json"
#: What the download links offer, in the order of the CSV kinds, in the pages' words.
CSV_KIND_WORDS: Final[dict[CsvKind, str]] = {k: RECORD_KIND_WORDS[k.value] for k in CsvKind}
# The links sit on pages other routes render (client page, caseload): a template global.
templates.env.globals["csv_kind_words"] = CSV_KIND_WORDS
KindParam = Annotated[str, Query(max_length=20)]


def _kind(value: str) -> CsvKind:
    try:
        return CsvKind(value)
    except ValueError as exc:
        choices = ", ".join(k.value for k in CsvKind)
        raise Invalid([(("kind",), f"choose one of: {choices}")], location="query") from exc


def _client_uuid(client_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc


def _csv_bytes(factory: SessionFactory, plan: ExportPlan, tz: tzinfo) -> Iterator[bytes]:
    for text in csv_export.iter_csv(factory, plan, tz=tz):
        yield text.encode("utf-8")


def _csv_download(request: Request, plan: ExportPlan, tz: tzinfo) -> StreamingResponse:
    # Streamed in short read transactions of their own, after this request's audit commits.
    return StreamingResponse(
        _csv_bytes(request.app.state.session_factory, plan, tz),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{plan.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/clients/{client_id}/export.csv", name="client_csv_download")
def client_csv(
    client_id: str,
    request: Request,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    kind: KindParam = CsvKind.OBSERVATIONS.value,
) -> Response:
    """One of the caller's clients: its records of one kind as CSV, streamed; audited."""
    plan = csv_export.plan_export(
        db,
        actor=actor,
        kind=_kind(kind),
        client_id=_client_uuid(client_id),
        today=practice_today(settings, utcnow()),
        owned_only=True,
    )
    return _csv_download(request, plan, settings.timezone)


@router.get("/clients/{client_id}/export.fhir.json", name="client_fhir_download")
def client_fhir(client_id: str, actor: WebActor, db: DbDep) -> Response:
    """One of the caller's clients as a FHIR R4 collection Bundle; audited."""
    cid = _client_uuid(client_id)
    bundle = fhir_export.export_client(
        db, client_id=cid, actor=actor, now=utcnow(), owned_only=True
    )
    return Response(
        content=json.dumps(bundle, ensure_ascii=False, separators=(",", ":")),
        media_type=FHIR_JSON,
        headers={
            "Content-Disposition": f'attachment; filename="client-{cid}.fhir.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/export.csv", name="caseload_csv_download")
def caseload_csv(
    request: Request,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    kind: KindParam = CsvKind.OBSERVATIONS.value,
) -> Response:
    """The records of one kind for every one of the caller's own clients, archived ones too."""
    plan = csv_export.plan_export(
        db,
        actor=actor,
        kind=_kind(kind),
        client_id=None,
        today=practice_today(settings, utcnow()),
        owned_only=True,
    )
    return _csv_download(request, plan, settings.timezone)
