"""Log an activation episode: onset, recognition, return to baseline, intensity, trigger."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any

from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.services.records import episode as episode_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import (
    FieldProblem,
    FieldSpec,
    local_input_values,
    parse_after,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.registry import (
    AFTER_ONSET,
    LOG_FORMS,
    UNOFFERED_SESSION,
    episode_fields,
    session_choice,
)
from practice_dashboard.web.routes.log_forms.common import (
    Build,
    Create,
    RawForm,
    back_to_client,
    current_session,
    fresh,
    linked_defaults,
    render,
    submit,
    todays_sessions,
    writable_client,
)

router = Router()
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
        build=episode_build(specs, raw, tz, create),
        tz=context["tz"],
    )
    if form is None:
        return back_to_client(client, FORM, raw)
    # A message about a time typed after onset (reversed, in the future: from the schema or
    # the service) belongs next to where it was typed.
    for target, quick in AFTER_ONSET.items():
        if raw.get(quick, "").strip() and target in form.errors and quick not in form.errors:
            form.errors[quick] = form.errors.pop(target)
    if not sessions:
        form.specs = episode_fields(())
    return render(context, FORM, client=client, form=form, status_code=422)


def read_after_onset(
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    values: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Recognition and baseline typed after onset (+25, 14:30) into `values`; problems named."""
    by_name = {s.name: s for s in specs}
    onset = values.get("started_at")
    for target, quick in AFTER_ONSET.items():
        text = raw.get(quick, "").strip()
        if not text:
            continue
        pair = by_name[target]
        if raw.get(pair.date_name, "").strip() or raw.get(pair.time_name, "").strip():
            errors[quick] = f"Use this or \u201c{pair.label}\u201d below, not both."
        elif onset is None:
            errors[quick] = "Enter the onset's date and time first."
        else:
            try:
                values[target] = parse_after(text, onset, tz)
            except FieldProblem as exc:
                errors[quick] = str(exc)


def episode_build(
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    call: Callable[[EpisodeCreate, uuid.UUID], object],
) -> Build:
    """Read the form, with recognition and baseline typed after onset or as full date-times."""

    def build(errors: dict[str, str]) -> Create | None:
        values, problems = parse_fields(specs, raw, tz)
        errors.update(problems)
        read_after_onset(specs, raw, tz, values, errors)
        data = validate(EpisodeCreate, values, specs, errors)
        if data is None:
            return None
        return lambda record_id: call(data, record_id)

    return build
