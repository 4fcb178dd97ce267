"""The client's check-in pages under /c/<token>: the code, home, "Something activated me",
"I'm back to baseline", the daily check-in and corrections of their own times.

No account: the link's token (in the path) finds the link, and the right code gives a signed,
HttpOnly, SameSite=Strict cookie scoped to /c/ holding the link's id and a CSRF token. Every
page checks both: a link that does not work (revoked, expired, client discharged or archived,
altered token) shows the one "this link no longer works" page, and nothing is written. These
pages render from their own layout, never with a practitioner's login or navigation.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip
from practice_dashboard.errors import Conflict, Invalid, NotFound
from practice_dashboard.models import CheckinLink, Episode
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.checkin import (
    CheckinDaily,
    CheckinEpisodeClose,
    CheckinEpisodeStart,
    CheckinEpisodeTimes,
)
from practice_dashboard.security import (
    CHECKIN_PATH_PREFIX,
    CheckinSessionClaims,
    create_checkin_session,
    csrf_token_matches,
    decode_checkin_session,
    mask_csrf_token,
    verify_password,
)
from practice_dashboard.services.checkins import entries, links, questionnaires
from practice_dashboard.web.deps import secure_cookie
from practice_dashboard.web.forms import registry
from practice_dashboard.web.forms.fields import FieldSpec
from practice_dashboard.web.forms.messages import messages_from_invalid, messages_from_validation
from practice_dashboard.web.forms.parsing import local_input_values, parse_fields
from practice_dashboard.web.forms.state import FormState
from practice_dashboard.web.templating import templates

router = Router(prefix=CHECKIN_PATH_PREFIX.rstrip("/"))

SESSION_COOKIE: Final = "pd_checkin"
CODE_CSRF_COOKIE: Final = "pd_checkin_code_csrf"
COOKIE_PATH: Final = CHECKIN_PATH_PREFIX
MAX_FORM_FIELD: Final = 20_000
DONE_WORDS: Final[dict[str, str]] = {
    "started": "Saved. Take your time; come back here when you are back to baseline.",
    "back": "Saved. Well noticed.",
    "daily": "Thank you, your check-in is saved.",
    "times": "The times are corrected.",
    "questionnaire": "Thank you, your answers are saved.",
}


@dataclass(frozen=True, slots=True)
class Visit:
    """A request on a working link with a valid check-in session."""

    token: str
    link: CheckinLink
    claims: CheckinSessionClaims

    @property
    def base(self) -> str:
        return links.link_path(self.token)


def _set_session_cookie(
    response: Response, request: Request, settings: Settings, value: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request, settings.cookie_secure),
        max_age=settings.checkin_session_minutes * 60,
        path=COOKIE_PATH,
    )


def _gone(request: Request, settings: Settings) -> Response:
    """The one answer for every link that does not work: nothing about why."""
    response = templates.TemplateResponse(
        request, "checkin/gone.html", {"practice_name": settings.practice_name}, status_code=404
    )
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _claims(request: Request, settings: Settings, link: CheckinLink) -> CheckinSessionClaims | None:
    raw = request.cookies.get(SESSION_COOKIE)
    claims = decode_checkin_session(settings, raw, utcnow()) if raw else None
    # A session opened with another link's code opens nothing here.
    return claims if claims is not None and claims.link_id == link.id else None


def _visit(request: Request, db: DbSession, settings: Settings, token: str) -> Visit | Response:
    """The working link and its session, or the page to show instead (gone, or the code)."""
    link = links.open_link(db, token=token, now=utcnow())
    if link is None:
        return _gone(request, settings)
    claims = _claims(request, settings, link)
    if claims is None:
        return _code_page(request, settings, token)
    return Visit(token, link, claims)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v[:MAX_FORM_FIELD] for k, v in form.items() if isinstance(v, str)}


#: A posted form's text fields, read by an async dependency so that the route itself can be a
#: plain function: FastAPI runs it in the thread pool, and its database work and the code's
#: argon2 check never block the event loop (they did: 200 clients entering codes at once
#: stalled the worker, bench/checkin_load.py).
FormFields = Annotated[dict[str, str], Depends(_form)]


def _csrf_ok(visit: Visit, raw: Mapping[str, str]) -> bool:
    return csrf_token_matches(visit.claims.csrf_token, raw.get("csrf_token"))


def posted_visit(
    request: Request, db: DbSession, settings: Settings, token: str, raw: dict[str, str]
) -> tuple[Visit, dict[str, str]] | Response:
    """A form posted on a working link: the visit and the form's fields, or the page to show
    instead (gone, the code, or "this form has expired" when the CSRF token does not match)."""
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    if not _csrf_ok(visit, raw):
        return _expired_form(request, settings, visit)
    return visit, raw


def _expired_form(request: Request, settings: Settings, visit: Visit) -> Response:
    return _render(
        request,
        settings,
        visit,
        "checkin/message.html",
        {
            "title": "This form has expired",
            "message": "Nothing was saved. Please go back to the check-in page and try again.",
        },
        status_code=403,
    )


def _render(
    request: Request,
    settings: Settings,
    visit: Visit,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """A check-in page; the session's lifetime starts again (same CSRF token)."""
    response = templates.TemplateResponse(
        request,
        template,
        {
            "practice_name": settings.practice_name,
            "base": visit.base,
            "csrf_token": mask_csrf_token(visit.claims.csrf_token),
            "tz": settings.timezone,
            **context,
        },
        status_code=status_code,
    )
    renewed = create_checkin_session(
        settings, visit.link.id, utcnow(), csrf_token=visit.claims.csrf_token
    )
    _set_session_cookie(response, request, settings, renewed)
    return response


def _home(visit: Visit, done: str | None = None) -> RedirectResponse:
    target = visit.base + (f"?done={done}" if done else "")
    return RedirectResponse(target, status_code=303)


# --- The code ------------------------------------------------------------------------------


def _code_page(
    request: Request,
    settings: Settings,
    token: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # A double-submit CSRF token: there is no check-in session yet to hold one.
    csrf = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "checkin/code.html",
        {
            "practice_name": settings.practice_name,
            "base": links.link_path(token),
            "code_csrf": csrf,
            "error": error,
        },
        status_code=status_code,
    )
    response.set_cookie(
        CODE_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request, settings.cookie_secure),
        max_age=3600,
        path=COOKIE_PATH,
    )
    return response


@router.post("/{token}/code")
def enter_code(
    token: str, request: Request, db: DbDep, settings: SettingsDep, raw: FormFields
) -> Response:
    now = utcnow()
    link = links.open_link(db, token=token, now=now)
    if link is None:
        return _gone(request, settings)
    expected = request.cookies.get(CODE_CSRF_COOKIE)
    submitted = raw.get("csrf_token", "")
    if not expected or not secrets.compare_digest(expected, submitted):
        return _code_page(
            request,
            settings,
            token,
            error="The page had expired; please enter your code again.",
            status_code=400,
        )
    outcome = links.CodeOutcome(accepted=False, retry_after=links.retry_after(link, now))
    if not outcome.retry_after:
        # argon2 is slow by design: the code is checked outside any transaction (on SQLite a
        # transaction holds the write lock; 200 clients entering codes at once queued behind
        # it past the busy timeout), then the outcome is written on the link, re-read locked.
        link_id, code_hash = link.id, link.code_hash
        db.commit()
        matched = verify_password(settings, code_hash, raw.get("code", "")[:20])
        relocked = links.live_link_locked(db, link_id, now)
        if relocked is None:
            return _gone(request, settings)
        link = relocked
        outcome = links.CodeOutcome(accepted=False, retry_after=links.retry_after(link, now))
        if not outcome.retry_after and link.code_hash == code_hash:
            outcome = links.record_code(
                db, settings, link=link, matched=matched, now=now, ip=client_ip(request)
            )
        # else: another attempt set a wait meanwhile, or the code was changed: not counted.
    if outcome.revoked:
        return _gone(request, settings)
    if not outcome.accepted:
        if outcome.retry_after:
            message = (
                f"That code did not match. Please wait {outcome.retry_after} seconds "
                "before trying again."
            )
            return _code_page(request, settings, token, error=message, status_code=429)
        return _code_page(
            request, settings, token, error="That code did not match.", status_code=400
        )
    response = RedirectResponse(links.link_path(token), status_code=303)
    _set_session_cookie(response, request, settings, create_checkin_session(settings, link.id, now))
    response.delete_cookie(CODE_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/{token}/leave")
def leave(
    token: str, request: Request, db: DbDep, settings: SettingsDep, raw: FormFields
) -> Response:
    """Close the pages on this phone: the code is needed again."""
    posted = posted_visit(request, db, settings, token, raw)
    if isinstance(posted, Response):
        return posted
    visit, _ = posted
    response = RedirectResponse(visit.base, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


# --- Home ----------------------------------------------------------------------------------


@router.get("/{token}")
def home(
    token: str, request: Request, db: DbDep, settings: SettingsDep, done: str | None = None
) -> Response:
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    now = utcnow()
    links.touch(db, visit.link, now)
    start_specs = registry.checkin_start_fields()
    return _render(
        request,
        settings,
        visit,
        "checkin/home.html",
        {
            "open_episode": entries.open_episode(db, visit.link),
            "recent": entries.correctable_episodes(db, visit.link, now),
            "peak_spec": start_specs[0],
            "done": DONE_WORDS.get(done or ""),
            "show_progress": visit.link.show_progress,
            "questionnaires_due": questionnaires.due(db, settings, visit.link, now),
        },
    )


# --- Forms ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Page:
    template_title: str
    intro: str
    submit: str
    action: str


_START = _Page(
    "Something activated me",
    "Noticing it is the first step. Say how strong it is; the rest is optional.",
    "Save",
    "activated",
)
_BACK = _Page(
    "I'm back to baseline",
    "Back in your window. When did you get back? The rest is optional.",
    "Save",
    "back",
)
_DAILY = _Page("Daily check-in", "How are you right now?", "Save my check-in", "daily")


def _form_page(
    request: Request,
    settings: Settings,
    visit: Visit,
    page: _Page,
    form: FormState,
    *,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return _render(
        request,
        settings,
        visit,
        "checkin/form.html",
        {"page": page, "form": form, "action": f"{visit.base}/{page.action}", **(extra or {})},
        status_code=status_code,
    )


def _parse(
    schema: type[BaseModel],
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    settings: Settings,
    extra: Mapping[str, Any] | None = None,
) -> tuple[Any, dict[str, str]]:
    values, errors = parse_fields(specs, raw, settings.timezone)
    if errors:
        return None, errors
    try:
        return schema.model_validate({**values, **(extra or {})}), {}
    except ValidationError as exc:
        return None, messages_from_validation(exc, specs)


def _episode_form(
    request: Request,
    db: DbSession,
    settings: Settings,
    token: str,
    *,
    page: _Page,
    specs: tuple[FieldSpec, ...],
    open_episode_as: str,
) -> Response:
    """An empty episode form ("activated" or "back"), with the client's open episode."""
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    form = FormState(specs, {}, form_id="")
    extra = {open_episode_as: entries.open_episode(db, visit.link)}
    return _form_page(request, settings, visit, page, form, extra=extra)


@router.get("/{token}/activated")
def start_form(token: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    specs = registry.checkin_start_fields()
    return _episode_form(
        request, db, settings, token, page=_START, specs=specs, open_episode_as="open_episode"
    )


@router.post("/{token}/activated")
def start_submit(
    token: str, request: Request, db: DbDep, settings: SettingsDep, raw: FormFields
) -> Response:
    posted = posted_visit(request, db, settings, token, raw)
    if isinstance(posted, Response):
        return posted
    visit, raw = posted
    specs = registry.checkin_start_fields()
    data, errors = _parse(CheckinEpisodeStart, specs, raw, settings)
    if data is not None:
        try:
            entries.start_episode(
                db, link=visit.link, data=data, now=utcnow(), ip=client_ip(request)
            )
            return _home(visit, "started")
        except entries.EpisodeAlreadyOpen as exc:
            return _form_page(
                request,
                settings,
                visit,
                _START,
                FormState(specs, raw, form_id=""),
                extra={"open_episode": exc.episode},
                status_code=409,
            )
        except Invalid as exc:
            errors = messages_from_invalid(exc, specs)
    form = FormState(specs, raw, form_id="", errors=errors)
    return _form_page(request, settings, visit, _START, form, status_code=422)


@router.get("/{token}/back")
def close_form(token: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    specs = registry.checkin_close_fields()
    return _episode_form(
        request, db, settings, token, page=_BACK, specs=specs, open_episode_as="episode"
    )


@router.post("/{token}/back")
def close_submit(
    token: str, request: Request, db: DbDep, settings: SettingsDep, raw: FormFields
) -> Response:
    posted = posted_visit(request, db, settings, token, raw)
    if isinstance(posted, Response):
        return posted
    visit, raw = posted
    specs = registry.checkin_close_fields()
    data, errors = _parse(CheckinEpisodeClose, specs, raw, settings)
    if data is not None:
        try:
            entries.close_episode(
                db, link=visit.link, data=data, now=utcnow(), ip=client_ip(request)
            )
            return _home(visit, "back")
        except Invalid as exc:
            errors = messages_from_invalid(exc, specs)
    form = FormState(specs, raw, form_id="", errors=errors)
    return _form_page(
        request,
        settings,
        visit,
        _BACK,
        form,
        extra={"episode": entries.open_episode(db, visit.link)},
        status_code=422,
    )


@router.get("/{token}/daily")
def daily_form(token: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    vocabulary = entries.zone_vocabulary(db, settings, visit.link)
    form = FormState(registry.checkin_daily_fields(vocabulary), {}, form_id="")
    return _form_page(request, settings, visit, _DAILY, form)


@router.post("/{token}/daily")
def daily_submit(
    token: str, request: Request, db: DbDep, settings: SettingsDep, raw: FormFields
) -> Response:
    posted = posted_visit(request, db, settings, token, raw)
    if isinstance(posted, Response):
        return posted
    visit, raw = posted
    specs = registry.checkin_daily_fields(entries.zone_vocabulary(db, settings, visit.link))
    data, errors = _parse(CheckinDaily, specs, raw, settings)
    if data is not None:
        entries.daily_checkin(db, link=visit.link, data=data, now=utcnow(), ip=client_ip(request))
        return _home(visit, "daily")
    form = FormState(specs, raw, form_id="", errors=errors)
    return _form_page(request, settings, visit, _DAILY, form, status_code=422)


# --- Corrections of the client's own times ---------------------------------------------------


def _times_page(
    request: Request,
    settings: Settings,
    visit: Visit,
    episode: Episode,
    form: FormState,
    *,
    status_code: int = 200,
) -> Response:
    page = _Page(
        "Correct the times",
        "You can correct the times of what you entered here for 24 hours.",
        "Save the times",
        f"episodes/{episode.id}",
    )
    return _form_page(
        request,
        settings,
        visit,
        page,
        form,
        extra={"version": episode.version},
        status_code=status_code,
    )


def _own_episode(db: DbSession, visit: Visit, episode_id: uuid.UUID) -> Episode | None:
    return next(
        (e for e in entries.correctable_episodes(db, visit.link, utcnow()) if e.id == episode_id),
        None,
    )


@router.get("/{token}/episodes/{episode_id}")
def times_form(
    token: str, episode_id: uuid.UUID, request: Request, db: DbDep, settings: SettingsDep
) -> Response:
    visit = _visit(request, db, settings, token)
    if isinstance(visit, Response):
        return visit
    episode = _own_episode(db, visit, episode_id)
    if episode is None:
        return _not_here(request, settings, visit)
    tz = settings.timezone
    values = local_input_values("started_at", episode.started_at, tz)
    if episode.baseline_at is not None:
        values |= local_input_values("baseline_at", episode.baseline_at, tz)
    form = FormState(registry.checkin_times_fields(), values, form_id="")
    return _times_page(request, settings, visit, episode, form)


@router.post("/{token}/episodes/{episode_id}")
def times_submit(
    token: str,
    episode_id: uuid.UUID,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    raw: FormFields,
) -> Response:
    posted = posted_visit(request, db, settings, token, raw)
    if isinstance(posted, Response):
        return posted
    visit, raw = posted
    episode = _own_episode(db, visit, episode_id)
    if episode is None:
        return _not_here(request, settings, visit)
    specs = registry.checkin_times_fields()
    version = raw.get("version", "")
    data, errors = _parse(
        CheckinEpisodeTimes,
        specs,
        raw,
        settings,
        extra={"version": int(version) if version.isdigit() else -1},
    )
    if data is not None:
        try:
            entries.correct_times(
                db,
                link=visit.link,
                episode_id=episode.id,
                data=data,
                now=utcnow(),
                ip=client_ip(request),
            )
            return _home(visit, "times")
        except NotFound:
            return _not_here(request, settings, visit)
        except Conflict:
            errors = {"started_at": "These times were changed since you opened this page."}
            db.refresh(episode)
            return _times_page(
                request,
                settings,
                visit,
                episode,
                FormState(specs, raw, form_id="", errors=errors),
                status_code=409,
            )
        except Invalid as exc:
            errors = messages_from_invalid(exc, specs)
    form = FormState(specs, raw, form_id="", errors=errors)
    return _times_page(request, settings, visit, episode, form, status_code=422)


def _not_here(request: Request, settings: Settings, visit: Visit) -> Response:
    return _render(
        request,
        settings,
        visit,
        "checkin/message.html",
        {
            "title": "This entry can no longer be changed here",
            "message": "Entries can be corrected here for 24 hours. Your practitioner can "
            "still correct it with you.",
        },
        status_code=404,
    )
