"""Log an observation: a nervous-system check-in (zone, activation and optional ratings)."""

from __future__ import annotations

import uuid

from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Source
from practice_dashboard.routing import Router
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.services.records import observation as observation_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import local_input_values
from practice_dashboard.web.forms.registry import (
    LOG_FORMS,
    UNOFFERED_SESSION,
    observation_fields,
    session_choice,
)
from practice_dashboard.web.routes.log_forms.common import (
    RawForm,
    back_to_client,
    current_session,
    fresh,
    linked_defaults,
    render,
    schema_build,
    submit,
    todays_sessions,
    writable_client,
)

router = Router()
FORM = LOG_FORMS["observations"]


@router.get("/clients/{client_id}/observations/new", name="log_observation_form")
def new_observation(
    client_id: str, context: PageContext, login: WebLogin, actor: WebActor, db: DbDep
) -> Response:
    """The form for logging an observation (a nervous-system check-in)."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    sessions = todays_sessions(db, actor, client, tz, now)
    specs = observation_fields(context["vocabulary"], session_choice(sessions, tz))
    defaults = {
        **local_input_values("observed_at", now, tz),
        "source": Source.PRACTITIONER.value,
        **linked_defaults(current_session(sessions, now)),
    }
    return render(context, FORM, client=client, form=fresh(specs, defaults))


@router.post("/clients/{client_id}/observations/new")
def save_observation(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log an observation; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    # The session choice is only offered when there is a session today; a posted session_id
    # is still checked by the service either way.
    sessions = todays_sessions(db, actor, client, tz, now)
    specs = observation_fields(
        context["vocabulary"], session_choice(sessions, tz) or UNOFFERED_SESSION
    )

    def create(data: ObservationCreate, record_id: uuid.UUID) -> object:
        return observation_service.create_observations(
            db, client_id=client.id, data=[data], actor=actor, batch=False, record_ids=[record_id]
        )

    form = submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=FORM.model,
        build=schema_build(ObservationCreate, specs, raw, tz, create),
        tz=context["tz"],
    )
    if form is None:
        return back_to_client(client, FORM, raw)
    if not sessions:  # redraw without the session choice the form did not have
        form.specs = observation_fields(context["vocabulary"], ())
    return render(context, FORM, client=client, form=form, status_code=422)
