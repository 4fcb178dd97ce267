"""Log an activation episode: onset, recognition, return to baseline, intensity, trigger."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.services.records import episode as episode_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import local_input_values
from practice_dashboard.web.forms.registry import (
    LOG_FORMS,
    UNOFFERED_SESSION,
    episode_fields,
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

router = APIRouter()
FORM = LOG_FORMS["episodes"]


@router.get("/clients/{client_id}/episodes/new", name="log_episode_form")
def new_episode(
    client_id: str, context: PageContext, login: WebLogin, actor: WebActor, db: DbDep
) -> Response:
    """The form for logging an activation episode."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    sessions = todays_sessions(db, actor, client, tz, now)
    specs = episode_fields(session_choice(sessions, tz))
    defaults = {
        **local_input_values("started_at", now, tz),
        **linked_defaults(current_session(sessions, now)),
    }
    return render(context, FORM, client=client, form=fresh(specs, defaults))


@router.post("/clients/{client_id}/episodes/new")
def save_episode(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log an activation episode; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    sessions = todays_sessions(db, actor, client, tz, now)
    specs = episode_fields(session_choice(sessions, tz) or UNOFFERED_SESSION)

    def create(data: EpisodeCreate, record_id: uuid.UUID) -> object:
        return episode_service.create_episode(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=FORM.model,
        build=schema_build(EpisodeCreate, specs, raw, tz, create),
    )
    if form is None:
        return back_to_client(client)
    if not sessions:
        form.specs = episode_fields(())
    return render(context, FORM, client=client, form=form, status_code=422)
