"""FHIR R4 export of one client's record (DOMAIN.md §7; mapping in docs/fhir.md)."""

from __future__ import annotations

import json
import uuid

from fastapi.responses import Response

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.api.responses import CLIENT_READ
from practice_dashboard.dependencies import DbDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services.exchange import fhir as fhir_export

router = Router(tags=["exports"])

FHIR_JSON = "application/fhir+json"


@router.get(
    "/clients/{client_id}/export.fhir.json",
    response_class=Response,
    responses={
        200: {"content": {FHIR_JSON: {}}, "description": "A FHIR R4 collection Bundle"},
        **CLIENT_READ,
    },
)
def export_fhir(client_id: uuid.UUID, actor: CurrentActor, db: DbDep) -> Response:
    """The client's record as a FHIR R4 `collection` Bundle (404 if not visible); audited."""
    bundle = fhir_export.export_client(db, client_id=client_id, actor=actor, now=utcnow())
    return Response(
        content=json.dumps(bundle, ensure_ascii=False, separators=(",", ":")),
        media_type=FHIR_JSON,
        headers={"Content-Disposition": f'attachment; filename="client-{client_id}.fhir.json"'},
    )
