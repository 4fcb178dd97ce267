"""Log a session: when, how long, what kind, attendance, engagement and homework."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, tzinfo

from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.facts import CLOCK_SLACK
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import Client, Session, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Attendance, Modality, Role, SessionKind
from practice_dashboard.routing import Router
from practice_dashboard.schemas.session import SessionCreate, SessionUpdate
from practice_dashboard.services import access
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import session as session_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import (
    Choice,
    FieldProblem,
    FieldSpec,
    FormState,
    local_input_values,
    messages_from_invalid,
    parse_fields,
    parse_pair,
    validate,
)
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

router = Router()
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


BOOKING = "booking"
BOOKING_VERSION = "booking_version"
NEW = "new"


def booking_choice(booking: Session, tz: tzinfo) -> FieldSpec:
    """The question asked when a logged session falls on a booking: complete it, or add one."""
    at = booking.starts_at.astimezone(tz).strftime("%H:%M")
    return FieldSpec(
        BOOKING,
        "This client has a session booked at this time",
        "radio",
        required=True,
        in_schema=False,
        choices=(
            Choice(str(booking.id), f"Complete the session booked at {at} (the same record)"),
            Choice(NEW, "Save as a separate session"),
        ),
    )


def _booked(db: DbDep, client: Client, raw: Mapping[str, str], tz: tzinfo) -> Session | None:
    """The booking this form's time falls on, within the session slack (None if unreadable)."""
    try:
        starts_at = parse_pair(session_fields()[0], raw, tz)
    except FieldProblem:
        return None
    if starts_at is None:
        return None
    return session_service.booking_near(db, client=client, starts_at=starts_at, slack=CLOCK_SLACK)


def _complete_booked(
    db: DbDep,
    *,
    client: Client,
    raw: Mapping[str, str],
    specs: tuple[FieldSpec, ...],
    tz: tzinfo,
    actor: Actor,
) -> dict[str, str]:
    """Write the form onto the chosen booking (version-checked); the messages, if any."""
    errors: dict[str, str] = {}
    try:
        booking_id = uuid.UUID(raw.get(BOOKING, ""))
    except ValueError:
        return {BOOKING: "Please choose one."}
    version = raw.get(BOOKING_VERSION, "")
    values, problems = parse_fields(specs, raw, tz)
    errors.update(problems)
    data = validate(SessionCreate, values, specs, errors)
    if data is None:
        return errors
    change = SessionUpdate(
        **data.model_dump(exclude={"starts_at"}),
        version=int(version) if version.isdigit() else -1,
    )
    session, owner = access.get_visible_child(db, actor.user, Session, booking_id, for_write=True)
    if owner.id != client.id:
        raise NotFound("Session not found")
    try:
        with db.begin_nested():  # a broken rule leaves the booking as it was
            session_service.update_session(db, session_id=session.id, data=change, actor=actor)
    except Invalid as exc:
        errors.update(messages_from_invalid(exc, specs))
    return errors


@router.post("/clients/{client_id}/sessions/new")
def save_session(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log a session; at a booked time, offer to complete the booking instead of adding one."""
    client = writable_client(db, login.user, client_id)
    tz = context["tz"]
    specs = session_fields()
    choice = raw.get(BOOKING, "").strip()
    if choice and choice != NEW:
        booked = _booked(db, client, raw, tz)
        asked = (booking_choice(booked, tz),) if booked is not None else ()
        errors = _complete_booked(
            db, client=client, raw=raw, specs=(*specs, *asked), tz=tz, actor=actor
        )
        if not errors:
            return back_to_client(client)
        form = FormState(
            specs=(*asked, *specs), values=dict(raw), form_id=raw.get("form_id", ""), errors=errors
        )
        return render(context, FORM, client=client, form=form, status_code=422)
    if not choice:
        booked = _booked(db, client, raw, tz)
        if booked is not None:
            # Nothing is saved until the practitioner says which they mean.
            form = FormState(
                specs=(booking_choice(booked, tz), *specs),
                values={**raw, BOOKING: str(booked.id), BOOKING_VERSION: str(booked.version)},
                form_id=raw.get("form_id", ""),
            )
            return render(context, FORM, client=client, form=form, booked=booked)

    def create(data: SessionCreate, record_id: uuid.UUID) -> object:
        return session_service.create_session(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    redrawn = submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=FORM.model,
        build=schema_build(SessionCreate, specs, raw, tz, create),
        tz=tz,
    )
    if redrawn is None:
        return back_to_client(client, FORM, raw)
    return render(context, FORM, client=client, form=redrawn, status_code=422)
