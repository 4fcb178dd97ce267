"""The "Questionnaires" section of a client's check-in link page: assign an instrument on a
rhythm, see when each is next due or how overdue it is, and stop an assignment.

The section is drawn inside the check-in link page (`checkin_link_page._page` asks
`questionnaire_section` for its context); these routes take its two forms.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import Form
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.assignments import EVERY_DAYS_MAX, EVERY_DAYS_MIN
from practice_dashboard.domain.instruments import INSTRUMENTS
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import Client
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.assignment import AssignmentCreate
from practice_dashboard.services import access
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.checkins import assignments as assignment_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor
from practice_dashboard.web.forms.fields import FieldSpec
from practice_dashboard.web.forms.messages import messages_from_validation

router = Router()

#: Suggested rhythms, as the form offers them (any 1-365 days may be typed).
RHYTHM_HINT = "e.g. 14 for every two weeks, 28 for every four weeks"
_SPECS = (
    FieldSpec("instrument", "Questionnaire", "text"),
    FieldSpec("every_days", "Every … days", "int"),
    FieldSpec("starts_on", "First due on", "date"),
    FieldSpec("ends_on", "Last day (optional)", "date"),
)


def questionnaire_section(
    db: DbSession, settings: Settings, actor: Actor, client: Client
) -> dict[str, Any]:
    """The section's context: the live assignments with where each stands, and the form."""
    today = practice_today(settings, utcnow())
    views = assignment_service.list_assignments(
        db,
        client_id=client.id,
        actor=actor,
        today=today,
        grace_days=settings.thresholds.assessment_grace_days,
        zone=settings.timezone,
    )
    return {
        "assignments": [(INSTRUMENTS.get(v.assignment.instrument), v) for v in views],
        "assignable": [INSTRUMENTS[code] for code in assignment_service.assignable_codes()],
        "grace_days": settings.thresholds.assessment_grace_days,
        "today": today,
        "every_days_min": EVERY_DAYS_MIN,
        "every_days_max": EVERY_DAYS_MAX,
        "rhythm_hint": RHYTHM_HINT,
    }


def _cid(client_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc


def _back(cid: uuid.UUID, done: str) -> RedirectResponse:
    return RedirectResponse(f"/clients/{cid}/checkin-link?done={done}#questionnaires", 303)


def _parse_date(value: str) -> date | str | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return "Enter a date as YYYY-MM-DD."


@router.post("/clients/{client_id}/assignments")
def assign(
    client_id: str,
    context: PageContext,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    instrument: Annotated[str, Form(max_length=40)] = "",
    every_days: Annotated[str, Form(max_length=10)] = "",
    starts_on: Annotated[str, Form(max_length=20)] = "",
    ends_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    from practice_dashboard.web.routes.checkin_link_page import _page

    cid = _cid(client_id)
    # Who may change it is settled before what was sent: a stranger's 404, a supervisor's 403.
    access.get_visible_client(db, actor.user, cid, for_write=True)
    typed = {
        "instrument": instrument,
        "every_days": every_days,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }
    errors: dict[str, str] = {}
    dates: dict[str, date | None] = {}
    for name, raw in (("starts_on", starts_on), ("ends_on", ends_on)):
        parsed = _parse_date(raw)
        if isinstance(parsed, str):
            errors[name] = parsed
        else:
            dates[name] = parsed
    if not errors and dates["starts_on"] is None:
        errors["starts_on"] = "Enter the day the first one is due."
    if not every_days.strip().isdigit():
        errors["every_days"] = (
            f"Enter a whole number of days, {EVERY_DAYS_MIN} to {EVERY_DAYS_MAX}."
        )
    if not errors:
        try:
            data = AssignmentCreate(
                instrument=instrument.strip(), every_days=int(every_days), **dates
            )
            assignment_service.create_assignment(
                db,
                client_id=cid,
                data=data,
                actor=actor,
                today=practice_today(settings, utcnow()),
            )
            return _back(cid, "assigned")
        except ValidationError as exc:
            errors = messages_from_validation(exc, _SPECS)
        except Invalid as exc:
            errors = {str(p["loc"][-1]): str(p["msg"]) for p in exc.problems}
    return _page(
        context, db, actor, cid, status_code=422, assign_errors=errors, assign_values=typed
    )


@router.post("/clients/{client_id}/assignments/{assignment_id}/stop")
def stop(
    client_id: str,
    assignment_id: uuid.UUID,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    version: Annotated[int | None, Form()] = None,
) -> Response:
    cid = _cid(client_id)
    # The assignment must be this client's: the route names both.
    client = access.get_visible_client(db, actor.user, cid)
    assignment = assignment_service.archive_assignment(
        db, assignment_id=assignment_id, actor=actor, version=version
    )
    if assignment.client_id != client.id:
        raise NotFound("Assignment not found")
    return _back(cid, "stopped")
