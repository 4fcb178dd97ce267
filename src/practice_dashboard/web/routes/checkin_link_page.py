"""The practitioner's page for a client's check-in link: create it (the link and its QR code
are shown this once), renew it, change the code, switch "Your progress", revoke it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.checkin import CheckinLinkCreate, CheckinLinkUpdate
from practice_dashboard.services import access
from practice_dashboard.services.checkins import links
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.qr import qr_svg
from practice_dashboard.web.routes.assignment_forms import questionnaire_section
from practice_dashboard.web.templating import templates

router = Router()

STATE_WORDS = {
    "live": "working",
    "expired": "expired",
    "revoked": "revoked",
    "client_inactive": "not working: the client is discharged or archived",
}
DONE_WORDS = {
    "renewed": "The link was renewed.",
    "code": "The code was changed.",
    "progress": "Saved.",
    "revoked": "The link was revoked. It opens nothing from now on.",
    "assigned": "The questionnaire is assigned.",
    "stopped": "The assignment is stopped; nothing more is due.",
}


def _cid(client_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc


def _page(
    context: dict[str, Any],
    db: DbDep,
    actor: WebActor,
    client_id: uuid.UUID,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    client = access.get_visible_client(db, actor.user, client_id)
    view = links.find_link(db, client_id=client.id, actor=actor, now=utcnow())
    return templates.TemplateResponse(
        context["request"],
        "checkin_link.html",
        {
            **context,
            "nav": "caseload",
            "client": client,
            "can_write": access.can_write(actor.user, client),
            "view": view,
            "state_words": STATE_WORDS,
            **questionnaire_section(db, context["request"].app.state.settings, actor, client),
            **extra,
        },
        status_code=status_code,
    )


@router.get("/clients/{client_id}/checkin-link", name="checkin_link_page")
def checkin_link_page(
    client_id: str,
    context: PageContext,
    _login: WebLogin,
    actor: WebActor,
    db: DbDep,
    done: str | None = None,
) -> Response:
    return _page(context, db, actor, _cid(client_id), done=DONE_WORDS.get(done or ""))


@router.post("/clients/{client_id}/checkin-link")
def create_checkin_link(
    client_id: str,
    request: Request,
    context: PageContext,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    code: Annotated[str, Form(max_length=20)] = "",
    show_progress: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    cid = _cid(client_id)
    # Who may change it is settled before what was sent: a stranger's 404, a supervisor's 403.
    access.get_visible_client(db, actor.user, cid, for_write=True)
    try:
        data = CheckinLinkCreate(code=code.strip(), show_progress=show_progress == "on")
    except ValidationError:
        return _page(
            context,
            db,
            actor,
            cid,
            status_code=422,
            code_error="Enter a code of 4 to 8 digits.",
        )
    try:
        token, _ = links.create_link(
            db, settings, client_id=cid, data=data, actor=actor, now=utcnow()
        )
    except Invalid as exc:
        return _page(context, db, actor, cid, status_code=422, code_error=exc.detail)
    url = str(request.base_url).rstrip("/") + links.link_path(token)
    return _page(
        context,
        db,
        actor,
        cid,
        new_url=url,
        qr=qr_svg(url, label="QR code of the client's check-in link"),
    )


@router.post("/clients/{client_id}/checkin-link/change")
def change_checkin_link(
    client_id: str,
    context: PageContext,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    action: Annotated[str, Form(max_length=20)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    show_progress: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    cid = _cid(client_id)
    # Who may change it is settled before what was sent: a stranger's 404, a supervisor's 403.
    access.get_visible_client(db, actor.user, cid, for_write=True)
    now = utcnow()
    if action == "revoke":
        links.revoke_link(db, client_id=cid, actor=actor, now=now)
        done = "revoked"
    else:
        try:
            if action == "renew":
                data = CheckinLinkUpdate(renew=True)
            elif action == "code":
                data = CheckinLinkUpdate(code=code.strip())
            elif action == "progress":
                data = CheckinLinkUpdate(show_progress=show_progress == "on")
            else:
                raise NotFound("No such change")
        except ValidationError:
            return _page(
                context,
                db,
                actor,
                cid,
                status_code=422,
                change_code_error="Enter a code of 4 to 8 digits.",
            )
        links.update_link(db, settings, client_id=cid, data=data, actor=actor, now=now)
        done = {"renew": "renewed", "code": "code", "progress": "progress"}[action]
    return RedirectResponse(f"/clients/{cid}/checkin-link?done={done}", status_code=303)
