"""Clients in the browser: add, edit, change status, archive and restore.

Only the client's practitioner changes a client (a supervisor gets no buttons, and a forged
post is a 403); a client outside the caller's scope is a 404. Edits carry the `version` they
were drawn with: if someone else saved first, nothing is saved and both values are shown.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import RedirectResponse, Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.errors import Forbidden, Invalid
from practice_dashboard.models import Client
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Role
from practice_dashboard.routing import Router
from practice_dashboard.schemas.client import ClientCreate, ClientUpdate
from practice_dashboard.services import access
from practice_dashboard.services.records import client as client_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.editing import edit_values, posted_version, render_form, save_edit
from practice_dashboard.web.forms import (
    FieldSpec,
    FormState,
    messages_from_invalid,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.registry import client_fields, client_status_fields
from practice_dashboard.web.routes.log_forms.common import FORM_ID, RawForm, writable_client
from practice_dashboard.web.templating import templates

router = Router()


def _client_url(client: Client) -> str:
    return f"/clients/{client.id}"


def _may_own_clients(role: Role) -> None:
    if role == Role.ADMIN:
        # Admins manage accounts; clinical records belong to practitioners.
        raise Forbidden("Admin accounts cannot own clients")


def _new_page(context: dict[str, Any], form: FormState, status_code: int = 200) -> Response:
    return render_form(
        context,
        heading="Add a client",
        intro="Only the name is needed now; the rest can be added later.",
        form=form,
        action="/clients/new",
        submit_label="Add client",
        cancel_url="/",
        hidden={FORM_ID: form.form_id},
        status_code=status_code,
    )


# Enough for any one practice's archive on one page; the API pages through more.
ARCHIVE_PAGE_SIZE = 500


@router.get("/clients/archived", name="archived_clients_page")
def archived_clients(context: PageContext, actor: WebActor, db: DbDep) -> Response:
    """The archived clients the caller may see, each linking to its page (and Restore)."""
    _may_own_clients(actor.user.role)
    clients, total = client_service.list_clients(
        db, actor=actor, archived=True, limit=ARCHIVE_PAGE_SIZE, offset=0
    )
    return templates.TemplateResponse(
        context["request"],
        "archived_clients.html",
        {**context, "nav": "caseload", "clients": clients, "total": total},
    )


@router.get("/clients/new", name="client_new_form")
def new_client(context: PageContext, login: WebLogin) -> Response:
    """The form for adding a client to one's own caseload."""
    _may_own_clients(login.user.role)
    form = FormState(
        specs=client_fields(), values={"session_cadence_days": "7"}, form_id=str(uuid7())
    )
    return _new_page(context, form)


@router.post("/clients/new")
def save_new_client(
    context: PageContext, login: CsrfLogin, actor: WebActor, db: DbDep, raw: RawForm
) -> Response:
    """Add the client; 422 with per-field messages, or their page."""
    _may_own_clients(login.user.role)
    specs = client_fields()
    try:
        record_id = uuid.UUID(raw.get(FORM_ID, ""))
    except ValueError:
        record_id = uuid7()
    # A repeated submit of a form that was saved goes to the client it made.
    earlier = db.scalars(
        access.visible_clients(login.user, include_archived=True).where(Client.id == record_id)
    ).one_or_none()
    if earlier is not None:
        return RedirectResponse(_client_url(earlier), status_code=303)
    values, errors = parse_fields(specs, raw, context["tz"])
    data = validate(ClientCreate, values, specs, errors)
    if data is not None:
        today = utcnow().astimezone(context["tz"]).date()
        try:
            with db.begin_nested():  # a broken rule leaves nothing behind
                client = client_service.create_client(
                    db, data=data, actor=actor, today=today, record_id=record_id
                )
        except Invalid as exc:
            errors.update(messages_from_invalid(exc, specs))
        else:
            return RedirectResponse(_client_url(client), status_code=303)
    form = FormState(specs=specs, values=dict(raw), form_id=str(record_id), errors=errors)
    return _new_page(context, form, status_code=422)


# Editing details and changing status share one flow; only their fields and words differ.
_EDITS: dict[str, tuple[str, str, str]] = {
    "edit": ("Edit client details", "Save details", ""),
    "status": (
        "Change status",
        "Save status",
        "Active, paused or discharged. A discharged client can have no session booked after "
        "their discharge date.",
    ),
}


def _specs(which: str) -> tuple[FieldSpec, ...]:
    return client_fields() if which == "edit" else client_status_fields()


def _edit_page(
    context: dict[str, Any],
    which: str,
    client: Client,
    form: FormState,
    hidden: dict[str, str],
    **extra: Any,
) -> Response:
    heading, submit_label, intro = _EDITS[which]
    return render_form(
        context,
        heading=heading,
        intro=intro,
        form=form,
        client=client,
        action=f"/clients/{client.id}/{which}",
        submit_label=submit_label,
        cancel_url=_client_url(client),
        hidden=hidden,
        **extra,
    )


def _edit_form(
    which: str, client_id: str, context: PageContext, login: WebLogin, db: DbDep
) -> Response:
    client = writable_client(db, login.user, client_id)
    specs = _specs(which)
    values, hidden = edit_values(specs, client, context["tz"])
    form = FormState(specs=specs, values=values, form_id="")
    return _edit_page(context, which, client, form, hidden)


def _save_edit(
    which: str,
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    client = writable_client(db, login.user, client_id)

    def save(data: ClientUpdate) -> object:
        return client_service.update_client(db, client_id=client.id, data=data, actor=actor)

    outcome = save_edit(
        db,
        record=client,
        schema=ClientUpdate,
        specs=_specs(which),
        raw=raw,
        tz=context["tz"],
        save=save,
        named=client_fields(),
    )
    if outcome is None:
        return RedirectResponse(_client_url(client), status_code=303)
    form, rows, hidden = outcome
    status_code = 409 if rows else 422
    return _edit_page(context, which, client, form, hidden, conflict=rows, status_code=status_code)


@router.get("/clients/{client_id}/edit", name="client_edit_form")
def edit_client(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for a client's details, drawn with its version."""
    return _edit_form("edit", client_id, context, login, db)


@router.post("/clients/{client_id}/edit")
def save_client(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Save a client's details; a stale version shows both values and saves nothing."""
    return _save_edit("edit", client_id, context, login, actor, db, raw)


@router.get("/clients/{client_id}/status", name="client_status_form")
def client_status(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for changing a client's status."""
    return _edit_form("status", client_id, context, login, db)


@router.post("/clients/{client_id}/status")
def save_client_status(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Save a client's status; a stale version shows both values and saves nothing."""
    return _save_edit("status", client_id, context, login, actor, db, raw)


@router.post("/clients/{client_id}/archive", name="archive_client_page")
def archive_client(
    client_id: str, login: CsrfLogin, actor: WebActor, db: DbDep, raw: RawForm
) -> Response:
    """Archive a client (nothing is deleted); a stale version is a 409 page."""
    client = writable_client(db, login.user, client_id)
    client_service.archive_client(
        db, client_id=client.id, actor=actor, version=posted_version(raw) or -1
    )
    return RedirectResponse(_client_url(client), status_code=303)


@router.post("/clients/{client_id}/restore", name="restore_client_page")
def restore_client(
    client_id: str, login: CsrfLogin, actor: WebActor, db: DbDep, raw: RawForm
) -> Response:
    """Bring an archived client back into the caseload; a stale version is a 409 page."""
    client = writable_client(db, login.user, client_id)
    client_service.restore_client(
        db, client_id=client.id, actor=actor, version=posted_version(raw) or -1
    )
    return RedirectResponse(_client_url(client), status_code=303)
