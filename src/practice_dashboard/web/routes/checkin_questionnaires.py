"""The client's questionnaires and "Your progress" on their check-in pages (/c/<token>/...).

Same layout, session and CSRF rules as the other check-in pages (`checkin_pages`). A due
questionnaire is answered item by item with its published wording; the answers are saved as
a self-reported measure. When PHQ-9 item 9 is answered above 0, the page shows the practice's
crisis text at once (saved or not), and the caseload shows the safety flag on its next load.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip
from practice_dashboard.domain.instruments import INSTRUMENTS, Instrument
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.security import CHECKIN_PATH_PREFIX
from practice_dashboard.services.checkins import questionnaires
from practice_dashboard.web.forms.registry import measure_fields
from practice_dashboard.web.forms.state import FormState
from practice_dashboard.web.routes.checkin_pages import (
    FormFields,
    Visit,
    _home,
    _render,
    _visit,
    posted_visit,
)
from practice_dashboard.web.routes.log_forms.measure import (
    NOT_ANSWERED,
    incomplete_problems,
    item_groups,
    read_items,
)
from practice_dashboard.web.sparkline import sparkline

router = Router(prefix=CHECKIN_PATH_PREFIX.rstrip("/"))


def _item_specs(instrument: Instrument) -> FormState:
    specs = tuple(s for s in measure_fields(instrument) if s.name.startswith("item_"))
    return FormState(specs, {}, form_id="")


def _unanswered_words(instrument: Instrument, items: list[int | None]) -> dict[str, str]:
    """The items the client must still answer for the answers to count, in their words."""
    problems = incomplete_problems(instrument, items)
    if "items" in problems:
        missing = sum(1 for v in items if v is None)
        if instrument.scoring == "sum" and instrument.max_missing_items:
            rule = f"at most {instrument.max_missing_items} may be left out"
        elif instrument.scoring == "sum":
            rule = "every question needs an answer"
        else:
            rule = "each part needs at least half of its questions answered"
        problems["items"] = (
            f"{missing} of {instrument.item_count} questions are not answered yet, and {rule} "
            "for your answers to count. Nothing has been saved: please answer the questions "
            "marked below."
        )
    return problems


def _messages(exc: Invalid) -> dict[str, str]:
    """The service's problems by form field: ("body", "items", 3) is item 4's radio group."""
    errors: dict[str, str] = {}
    for problem in exc.problems:
        loc: list[Any] = list(problem["loc"])
        key = f"item_{loc[2] + 1}" if len(loc) > 2 and isinstance(loc[2], int) else "items"
        errors[key] = str(problem["msg"])
    return errors


def _questionnaire_page(
    request: Request,
    settings: Settings,
    visit: Visit,
    instrument: Instrument,
    form: FormState,
    *,
    crisis: bool = False,
    status_code: int = 200,
) -> Response:
    form.anchors = {"items": ("items-title", "Answers")}
    form.quiet = frozenset(n for n, m in form.errors.items() if m == NOT_ANSWERED)
    return _render(
        request,
        settings,
        visit,
        "checkin/questionnaire.html",
        {
            "instrument": instrument,
            "form": form,
            "groups": item_groups(instrument, form.specs),
            "action": f"{visit.base}/questionnaires/{instrument.code}",
            "crisis_text": settings.crisis_text if crisis else None,
        },
        status_code=status_code,
    )


def _not_due(request: Request, settings: Settings, visit: Visit) -> Response:
    return _render(
        request,
        settings,
        visit,
        "checkin/message.html",
        {
            "title": "This questionnaire is not due now",
            "message": "There is nothing to answer here at the moment. Thank you.",
        },
        status_code=404,
    )


def _due_instrument(
    db: DbSession, settings: Settings, visit: Visit, code: str
) -> Instrument | None:
    try:
        questionnaires.due_one(db, settings, visit.link, code, utcnow())
    except NotFound:
        return None
    return INSTRUMENTS[code]


@router.get("/{token}/questionnaires")
def due_list(token: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    due = questionnaires.due(db, settings, visit.link, utcnow())
    return _render(
        request,
        settings,
        visit,
        "checkin/questionnaires.html",
        {"due": [(INSTRUMENTS[v.assignment.instrument], v.status) for v in due]},
    )


@router.get("/{token}/questionnaires/{code}")
def questionnaire_form(
    token: str, code: str, request: Request, db: DbDep, settings: SettingsDep
) -> Response:
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    instrument = _due_instrument(db, settings, visit, code[:40])
    if instrument is None:
        return _not_due(request, settings, visit)
    return _questionnaire_page(request, settings, visit, instrument, _item_specs(instrument))


@router.post("/{token}/questionnaires/{code}")
def questionnaire_submit(
    token: str,
    code: str,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    raw: FormFields,
) -> Response:
    posted = posted_visit(request, db, settings, token, raw)
    if isinstance(posted, Response):
        return posted
    visit, raw = posted
    instrument = _due_instrument(db, settings, visit, code[:40])
    if instrument is None:
        return _not_due(request, settings, visit)
    errors: dict[str, str] = {}
    # The page's own rule for unanswered items first (its words), then the registry's.
    items = read_items(instrument, raw, True, errors) or []
    if not errors:
        errors.update(_unanswered_words(instrument, items))
    now = utcnow()
    crisis = questionnaires.crisis_answer(instrument.code, items, now)
    if not errors:
        try:
            answered = questionnaires.answer(
                db,
                settings,
                link=visit.link,
                code=instrument.code,
                items=items,
                now=now,
                ip=client_ip(request),
            )
        except Invalid as exc:
            errors = _messages(exc)
        else:
            if not answered.show_crisis_text:
                return _home(visit, "questionnaire")
            return _render(
                request,
                settings,
                visit,
                "checkin/answered.html",
                {"instrument": instrument, "crisis_text": settings.crisis_text},
            )
    form = FormState(_item_specs(instrument).specs, raw, form_id="", errors=errors)
    return _questionnaire_page(
        request, settings, visit, instrument, form, crisis=crisis, status_code=422
    )


@router.get("/{token}/progress")
def progress(token: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    if not visit.link.show_progress:
        return _render(
            request,
            settings,
            visit,
            "checkin/message.html",
            {
                "title": "Your progress",
                "message": "This page is not switched on. Your practitioner can switch it on "
                "with you.",
            },
            status_code=404,
        )
    view = questionnaires.own_progress(
        db, settings, link=visit.link, now=utcnow(), ip=client_ip(request)
    )
    context: dict[str, Any] = {"progress": view, "spark": sparkline(list(view.weekly_recovery))}
    return _render(request, settings, visit, "checkin/progress.html", context)
