"""Log a session: when, how long, what kind, attendance, engagement and homework."""

from __future__ import annotations

import uuid
from datetime import datetime, tzinfo

from fastapi import APIRouter
from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.models import User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Attendance, Modality, Role, SessionKind
from practice_dashboard.schemas.session import SessionCreate
from practice_dashboard.services.records import session as session_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import local_input_values
from practice_dashboard.web.forms.registry import LOG_FORMS, session_fields
from practice_dashboard.web.routes.log_forms.common import (
    RawForm,
    back_to_client,
    fresh,
    render,
    schema_build,
    submit,
    writable_client,
)

router = APIRouter()
FORM = LOG_FORMS["sessions"]


def session_defaults(user: User, now: datetime, tz: tzinfo) -> dict[str, str]:
    """Now, 50 minutes, the practitioner's usual kind, in person, attended."""
    kind = SessionKind.COACHING if user.role == Role.COACH else SessionKind.THERAPY
    return {
        **local_input_values("starts_at", now, tz),
        "duration_minutes": "50",
        "kind": kind.value,
        "modality": Modality.IN_PERSON.value,
        # Logged during or right after the meeting, so it was attended unless said otherwise.
        "attendance": Attendance.ATTENDED.value,
    }


@router.get("/clients/{client_id}/sessions/new", name="log_session_form")
def new_session(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for logging a session."""
    client = writable_client(db, login.user, client_id)
    form = fresh(session_fields(), session_defaults(login.user, utcnow(), context["tz"]))
    return render(context, FORM, client=client, form=form)


@router.post("/clients/{client_id}/sessions/new")
def save_session(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log a session; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    specs = session_fields()

    def create(data: SessionCreate, record_id: uuid.UUID) -> object:
        return session_service.create_session(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=FORM.model,
        build=schema_build(SessionCreate, specs, raw, context["tz"], create),
    )
    if form is None:
        return back_to_client(client)
    return render(context, FORM, client=client, form=form, status_code=422)
