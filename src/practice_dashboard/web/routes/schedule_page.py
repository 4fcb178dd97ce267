"""The schedule: the week's bookings across the caseload, booking, and completing a booking.

A booking is a session with attendance `scheduled`. It is completed on the same record: one
button each for attended, no-show, late cancel and cancelled (CSRF, version-checked), then the
session's edit form for engagement, homework and notes. Days are the practice time zone's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain import periods
from practice_dashboard.domain.labels import ATTENDANCE_WORDS
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import Client, Session
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Attendance, Modality, Role, SessionKind
from practice_dashboard.routing import Router
from practice_dashboard.schemas.session import SessionCompletion, SessionSeriesCreate, SessionUpdate
from practice_dashboard.services import access
from practice_dashboard.services.records import session as session_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.editing import edit_values, posted_version, render_form, save_edit
from practice_dashboard.web.forms import (
    FormState,
    local_input_values,
    messages_from_invalid,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.registry import booking_fields, session_fields
from practice_dashboard.web.routes.log_forms.common import FORM_ID, RawForm, writable_client
from practice_dashboard.web.templating import templates

router = Router()

# What each one-action button records, in the order shown, named by the one display word.
COMPLETIONS: tuple[tuple[Attendance, str], ...] = tuple(
    (a, ATTENDANCE_WORDS[a.value].capitalize())
    for a in (Attendance.ATTENDED, Attendance.NO_SHOW, Attendance.LATE_CANCEL, Attendance.CANCELLED)
)


@dataclass(frozen=True, slots=True)
class Booking:
    session: Session
    client: Client
    local_start: datetime
    can_write: bool


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    is_today: bool
    bookings: list[Booking]


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _parse_week(week: str | None, today: date) -> tuple[date, str | None]:
    if not week:
        return week_start(today), None
    try:
        day = date.fromisoformat(week.strip())
    except ValueError:
        return week_start(today), f"“{week}” is not a date like 2026-05-31; showing this week."
    # 0001-01-01 has no Monday before it, and 9999-12-31 no week after it: refused up front.
    if not periods.plausible(day):
        return week_start(today), f"“{week}” is not between {periods.DAY_RANGE}; showing this week."
    return week_start(day), None


def _week_url(monday: date) -> str:
    return f"/schedule?week={monday.isoformat()}"


def _safe_next(target: str, fallback: str) -> str:
    # Only back to one of our own pages: never an address elsewhere.
    if target.startswith(("/schedule", "/clients/")) and "//" not in target:
        return target
    return fallback


@router.get("/schedule", name="schedule_page")
def schedule_page(
    context: PageContext,
    login: WebLogin,
    actor: WebActor,
    db: DbDep,
    week: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Today's and the week's sessions across the caller's caseload, bookings first to complete."""
    if login.user.role == Role.ADMIN:
        raise NotFound("Admins have no caseload")
    tz = context["tz"]
    now = utcnow()
    today = now.astimezone(tz).date()
    monday, problem = _parse_week(week, today)
    rows = session_service.week_schedule(
        db, actor=actor, start=_midnight(monday, tz), end=_midnight(monday + timedelta(days=7), tz)
    )
    by_day: dict[date, list[Booking]] = {}
    for session, client in rows:
        local = session.starts_at.astimezone(tz)
        by_day.setdefault(local.date(), []).append(
            Booking(session, client, local, access.can_write(login.user, client))
        )
    days = [
        Day(d, d == today, by_day.get(d, []))
        for d in (monday + timedelta(days=i) for i in range(7))
    ]
    return templates.TemplateResponse(
        context["request"],
        "schedule.html",
        {
            **context,
            "nav": "schedule",
            "days": days,
            "monday": monday,
            "sunday": monday + timedelta(days=6),
            "this_week": monday == week_start(today),
            "prev_url": _week_url(monday - timedelta(days=7)),
            "next_url": _week_url(monday + timedelta(days=7)),
            "today_url": "/schedule",
            "here": _week_url(monday),
            "problem": problem,
            "completions": COMPLETIONS,
            "attendance_words": ATTENDANCE_WORDS,
            "now": now,
            "total": len(rows),
            "to_complete": sum(
                1 for s, _c in rows if s.attendance == Attendance.SCHEDULED and s.starts_at <= now
            ),
        },
    )


# --------------------------------------------------------------------------------------------
# Booking
# --------------------------------------------------------------------------------------------


def _book_page(
    context: dict[str, Any], client: Client, form: FormState, status_code: int = 200
) -> Response:
    return render_form(
        context,
        heading="Book sessions",
        intro=(
            "One session, or a series at the client's rhythm. A series is booked whole or not "
            "at all. Times are in the practice time zone."
        ),
        form=form,
        client=client,
        action=f"/clients/{client.id}/sessions/book",
        submit_label="Book",
        cancel_url=f"/clients/{client.id}",
        hidden={FORM_ID: form.form_id},
        nav="schedule",
        status_code=status_code,
    )


@router.get("/clients/{client_id}/sessions/book", name="book_sessions_form")
def book_form(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for booking one session or a series."""
    client = writable_client(db, login.user, client_id)
    tz = context["tz"]
    # Tomorrow at the current hour: a booking is for later, and a round hour is the usual.
    start = utcnow().astimezone(tz).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    kind = SessionKind.COACHING if login.user.role == Role.COACH else SessionKind.THERAPY
    defaults = {
        **local_input_values("starts_at", start, tz),
        "duration_minutes": "50",
        "kind": kind.value,
        "modality": Modality.IN_PERSON.value,
    }
    specs = booking_fields(client.session_cadence_days)
    return _book_page(
        context, client, FormState(specs=specs, values=defaults, form_id=str(uuid7()))
    )


@router.post("/clients/{client_id}/sessions/book")
def save_booking(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Book; 422 with per-field messages (nothing booked), or the schedule of the first week."""
    client = writable_client(db, login.user, client_id)
    tz = context["tz"]
    specs = booking_fields(client.session_cadence_days)
    try:
        first_id = uuid.UUID(raw.get(FORM_ID, ""))
    except ValueError:
        first_id = uuid7()
    earlier = db.get(Session, first_id)
    if earlier is not None and earlier.client_id == client.id:  # a repeated submit: booked once
        return RedirectResponse(
            _week_url(week_start(earlier.starts_at.astimezone(tz).date())), status_code=303
        )
    values, errors = parse_fields(specs, raw, tz)
    data = validate(SessionSeriesCreate, values, specs, errors)
    if data is not None:
        try:
            with db.begin_nested():  # a series is booked whole, or not at all
                sessions = session_service.book_sessions(
                    db, client_id=client.id, data=data, actor=actor, tz=tz, first_id=first_id
                )
        except Invalid as exc:
            errors.update(messages_from_invalid(exc, specs))
        else:
            first = sessions[0].starts_at.astimezone(tz).date()
            return RedirectResponse(_week_url(week_start(first)), status_code=303)
    form = FormState(specs=specs, values=dict(raw), form_id=str(first_id), errors=errors)
    return _book_page(context, client, form, status_code=422)


# --------------------------------------------------------------------------------------------
# Completing a booking, then adding to it
# --------------------------------------------------------------------------------------------


def _session_uuid(session_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(session_id)
    except ValueError as exc:
        raise NotFound("Session not found") from exc


@router.post("/sessions/{session_id}/attendance", name="complete_booking_page")
def complete_booking(
    session_id: str, _login: CsrfLogin, actor: WebActor, db: DbDep, raw: RawForm
) -> Response:
    """One action: attended, no-show, late cancel or cancelled; attended goes on to the notes."""
    sid = _session_uuid(session_id)
    # Who may change it is settled before what was sent: a stranger's 404, a supervisor's 403.
    access.get_visible_child(db, actor.user, Session, sid, for_write=True)
    try:
        data = SessionCompletion.model_validate(
            {"attendance": raw.get("attendance", ""), "version": posted_version(raw) or -1}
        )
    except ValidationError as exc:
        raise Invalid(
            [(("attendance",), "choose attended, no-show, late cancel or cancelled")]
        ) from exc
    session = session_service.complete_booking(db, session_id=sid, data=data, actor=actor)
    if session.attendance == Attendance.ATTENDED:
        return RedirectResponse(f"/sessions/{session.id}/edit", status_code=303)
    fallback = f"/clients/{session.client_id}"
    return RedirectResponse(_safe_next(raw.get("next", ""), fallback), status_code=303)


def _writable_session(db: DbDep, login: WebLogin, session_id: str) -> tuple[Session, Client]:
    session, client = access.get_visible_child(
        db, login.user, Session, _session_uuid(session_id), for_write=True
    )
    if session.archived_at is not None:
        raise NotFound("Session not found")
    return session, client


def _session_page(
    context: dict[str, Any],
    session: Session,
    client: Client,
    form: FormState,
    hidden: dict[str, str],
    **extra: Any,
) -> Response:
    return render_form(
        context,
        heading="Session details",
        intro=(
            "Attendance, engagement, homework and notes for this session. "
            "Times are in the practice time zone."
        ),
        form=form,
        client=client,
        action=f"/sessions/{session.id}/edit",
        submit_label="Save session",
        cancel_url=f"/clients/{client.id}",
        hidden=hidden,
        **extra,
    )


@router.get("/sessions/{session_id}/edit", name="session_edit_form")
def edit_session(session_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The session's form, drawn with its version."""
    session, client = _writable_session(db, login, session_id)
    specs = session_fields()
    values, hidden = edit_values(specs, session, context["tz"])
    form = FormState(specs=specs, values=values, form_id="")
    return _session_page(context, session, client, form, hidden)


@router.post("/sessions/{session_id}/edit")
def save_session_edit(
    session_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Save the session; a stale version shows both values and saves nothing."""
    session, client = _writable_session(db, login, session_id)

    def save(data: SessionUpdate) -> object:
        return session_service.update_session(db, session_id=session.id, data=data, actor=actor)

    outcome = save_edit(
        db,
        record=session,
        schema=SessionUpdate,
        specs=session_fields(),
        raw=raw,
        tz=context["tz"],
        save=save,
    )
    if outcome is None:
        return RedirectResponse(f"/clients/{client.id}", status_code=303)
    form, rows, hidden = outcome
    status_code = 409 if rows else 422
    return _session_page(
        context, session, client, form, hidden, conflict=rows, status_code=status_code
    )
