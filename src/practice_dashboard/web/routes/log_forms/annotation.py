"""Add an annotation: a life event, medication or change in care, drawn on every chart."""

from __future__ import annotations

import uuid

from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.models import AnnotationKind
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.services.records import annotation as annotation_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import local_input_values
from practice_dashboard.web.forms.registry import LOG_FORMS, annotation_fields
from practice_dashboard.web.routes.log_forms.common import (
    RawForm,
    back_to_client,
    fresh,
    render,
    schema_build,
    submit,
    writable_client,
)

router = Router()
FORM = LOG_FORMS["annotations"]


@router.get("/clients/{client_id}/annotations/new", name="log_annotation_form")
def new_annotation(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for adding a note to the client's timeline."""
    client = writable_client(db, login.user, client_id)
    defaults = {
        **local_input_values("at", utcnow(), context["tz"]),
        "kind": AnnotationKind.LIFE_EVENT.value,
    }
    return render(context, FORM, client=client, form=fresh(annotation_fields(), defaults))


@router.post("/clients/{client_id}/annotations/new")
def save_annotation(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Add a timeline note; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    specs = annotation_fields()

    def create(data: AnnotationCreate, record_id: uuid.UUID) -> object:
        return annotation_service.create_annotation(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=FORM.model,
        build=schema_build(AnnotationCreate, specs, raw, context["tz"], create),
        tz=context["tz"],
    )
    if form is None:
        return back_to_client(client, FORM, raw)
    return render(context, FORM, client=client, form=form, status_code=422)
