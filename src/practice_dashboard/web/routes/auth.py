"""Log in and out of the dashboard (cookie login; the API uses bearer tokens)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip, no_nul_in_form
from practice_dashboard.errors import TooManyRequests, Unauthorized
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.accounts.login_session import COOKIE_NAME
from practice_dashboard.web.deps import (
    EnrolmentCsrfLogin,
    OptionalLogin,
    PageContext,
    secure_cookie,
)
from practice_dashboard.web.login_flow import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    after_password,
    safe_next,
)
from practice_dashboard.web.templating import templates

router = Router()


@router.get("/login", name="login")
def login_page(
    request: Request,
    context: PageContext,
    settings: SettingsDep,
    login: OptionalLogin,
    next: str | None = None,
) -> Response:
    if login is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, context, settings, next=next)


def _login_form(
    request: Request,
    context: dict[str, Any],
    settings: Any,
    *,
    next: str | None,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> Response:
    # Login CSRF: a double-submit token, since there is no login session yet to hold one.
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {**context, "login_csrf": token, "next": safe_next(next), "error": error, "email": email},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request, settings.cookie_secure),
        max_age=3600,
        path=LOGIN_PATH,
    )
    return response


# A NUL in the e-mail would reach PostgreSQL's lookup (which refuses it): a 422 first.
@router.post("/login", dependencies=[Depends(no_nul_in_form)])
def login_submit(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    context: PageContext,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_form(
            request,
            context,
            settings,
            next=next,
            email=email,
            status_code=400,
            error="The login form expired; please try again.",
        )
    now = utcnow()
    if db.in_transaction():
        # The page context read a login cookie; end that read, because the password check runs
        # in short transactions of its own (on SQLite this one would hold the write lock).
        db.commit()
    try:
        user = user_service.authenticate(
            db, settings, email=email, password=password, now=now, ip=client_ip(request)
        )
    except Unauthorized:
        # Answered with a page, not raised: the unit of work commits the failure counter.
        return _login_form(
            request,
            context,
            settings,
            next=next,
            email=email,
            status_code=401,
            error="That e-mail and password do not match an account.",
        )
    except TooManyRequests as exc:
        return _login_form(
            request,
            context,
            settings,
            next=next,
            email=email,
            status_code=429,
            error=exc.detail,
        )
    return after_password(request, db, settings, user=user, next=next, now=now)


@router.post("/logout", name="logout")
def logout(login: EnrolmentCsrfLogin, db: DbDep) -> Response:
    """Ends the login on the server, so the cookie is useless even if it was copied."""
    login_session.end(db, login=login.login, now=utcnow())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
