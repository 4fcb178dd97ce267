"""What every logging form shares: access, the one-time id, reading, saving and drawing.

A double-clicked submit saves once, even without JavaScript: the form carries a one-time id
made when it was drawn, and the new record is stored under that id as its primary key. A second
POST with the same id finds the record and only redirects; two POSTs racing past that check meet
the primary key, and the loser is turned into the same redirect. The create services take it as
the new record's key (`record_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.facts import CLOCK_SLACK
from practice_dashboard.errors import Conflict, Invalid, NotFound
from practice_dashboard.models import Client, Session, User
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import Attendance
from practice_dashboard.services import access
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import session as session_service
from practice_dashboard.web.forms import (
    FieldSpec,
    FormState,
    messages_from_invalid,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.registry import LogForm
from practice_dashboard.web.templating import templates

M = TypeVar("M", bound=BaseModel)
# The service call to make, given the form's one-time id as the new record's key.
Create = Callable[[uuid.UUID], object]
# Reads the fields, fills the errors it finds and returns the service call to make, or None.
Build = Callable[[dict[str, str]], Create | None]

FORM_ID = "form_id"
_NOT_HELD = (Attendance.CANCELLED, Attendance.NO_SHOW, Attendance.LATE_CANCEL)


async def read_form(request: Request) -> dict[str, str]:
    """The submitted text fields (the first value of each name; files are ignored)."""
    form = await request.form()  # parsed once per request and shared with the CSRF check
    values: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(name, value)
    return values


RawForm = Annotated[dict[str, str], Depends(read_form)]


def writable_client(db: DbDep, user: User, client_id: str) -> Client:
    """The client, if the caller may change it: 404 outside scope, 403 for a supervisor."""
    try:
        cid = uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc
    return access.get_visible_client(db, user, cid, for_write=True)


def _record_id(raw: Mapping[str, str]) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw.get(FORM_ID, "").strip())
    except ValueError:
        return None


def already_saved(db: DbDep, model: type[Any], record_id: uuid.UUID) -> uuid.UUID | None:
    """The client id of the record stored under `record_id`, or None."""
    client_id: uuid.UUID | None = db.scalar(select(model.client_id).where(model.id == record_id))
    return client_id


def _same_client(owner: uuid.UUID, client: Client) -> None:
    if owner != client.id:
        # Only a tampered form can get here: the id belongs to another client's record.
        raise Conflict("This form was already used; open a new one and try again")


def save_once(
    db: DbDep, model: type[Any], record_id: uuid.UUID, client: Client, create: Create
) -> None:
    """Run the service's create under `record_id`; if a racing request stored it first, do nothing.

    The caller has already looked for `record_id`; two submits that both passed that look meet
    at the primary key, and the one that loses finds the winner's record here.
    """
    try:
        # A savepoint, so that losing a race on the primary key leaves the transaction usable.
        with db.begin_nested():
            create(record_id)
    except IntegrityError:
        owner = already_saved(db, model, record_id)
        if owner is None:
            raise
        _same_client(owner, client)


def back_to_client(client: Client) -> Response:
    """After a save: the client page (303, so a reload does not post again)."""
    return RedirectResponse(f"/clients/{client.id}", status_code=303)


def form_path(client: Client, form: LogForm) -> str:
    """Where a logging form is drawn and posted."""
    return f"/clients/{client.id}/{form.path}/new"


def render(
    context: dict[str, Any],
    form_def: LogForm,
    *,
    client: Client,
    form: FormState,
    action: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """A logging form's page (200 when fresh, 422 when drawn again with messages)."""
    tz: Any = context["tz"]
    return templates.TemplateResponse(
        context["request"],
        form_def.template,
        {
            **context,
            "nav": "caseload",
            "client": client,
            "form": form,
            "action": action or form_path(client, form_def),
            "tz_name": getattr(tz, "key", str(tz)),
            **extra,
        },
        status_code=status_code,
    )


def fresh(specs: tuple[FieldSpec, ...], defaults: Mapping[str, str]) -> FormState:
    """A new form with its defaults and a new one-time id."""
    return FormState(specs=specs, values=dict(defaults), form_id=str(uuid7()))


def submit(
    db: DbDep,
    *,
    client: Client,
    raw: Mapping[str, str],
    specs: tuple[FieldSpec, ...],
    model: type[Any],
    build: Build,
) -> FormState | None:
    """Validate and save one form. None when saved (or saved before); else the form to redraw."""
    errors: dict[str, str] = {}
    record_id = _record_id(raw)
    if record_id is None:
        errors[FORM_ID] = (
            "This form was missing its one-time id (it may be out of date); "
            "check the values and save again."
        )
        record_id = uuid7()
    else:
        owner = already_saved(db, model, record_id)
        if owner is not None:  # a repeated submit of a form that was saved
            _same_client(owner, client)
            return None
        create = build(errors)
        if create is not None and not errors:
            try:
                save_once(db, model, record_id, client, create)
            except Invalid as exc:
                errors.update(messages_from_invalid(exc, specs))
            else:
                return None
    return FormState(specs=specs, values=dict(raw), form_id=str(record_id), errors=errors)


def schema_build(
    schema: type[M],
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    call: Callable[[M, uuid.UUID], object],
) -> Build:
    """The usual `build`: read the fields, validate the schema, call the service with it."""

    def build(errors: dict[str, str]) -> Create | None:
        values, problems = parse_fields(specs, raw, tz)
        errors.update(problems)
        data = validate(schema, values, specs, errors)
        if data is None:
            return None
        return lambda record_id: call(data, record_id)

    return build


def todays_sessions(
    db: DbDep, actor: Actor, client: Client, tz: tzinfo, now: datetime
) -> list[Session]:
    """The client's sessions on the practice's calendar day of `now` (read through the service)."""
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    items, _total = session_service.list_sessions(
        db,
        client_id=client.id,
        actor=actor,
        start=start,
        end=end,
        attendance=None,
        limit=50,
        offset=0,
    )
    return sorted(items, key=lambda s: (s.starts_at, s.id))


def current_session(sessions: list[Session], now: datetime) -> Session | None:
    """The session being logged in: the latest held one today that has begun."""
    begun = [
        # A session about to begin (within the clock slack) counts as begun.
        s
        for s in sessions
        if s.starts_at <= now + CLOCK_SLACK and s.attendance not in _NOT_HELD
    ]
    return begun[-1] if begun else None


def linked_defaults(session: Session | None) -> dict[str, str]:
    """Preselect the session being logged in, if there is one."""
    return {"session_id": str(session.id)} if session is not None else {}
