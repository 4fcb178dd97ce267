"""What follows a right password in the browser: the second factor, or the login itself.

Shared by the password form (web/routes/auth.py) and the code form (web/routes/mfa_pages.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.dependencies import client_ip
from practice_dashboard.models import User
from practice_dashboard.services.accounts import login_session, mfa, pending_login
from practice_dashboard.web.deps import secure_cookie

# The login form's double-submit CSRF cookie (there is no login session yet to hold a token).
LOGIN_CSRF_COOKIE: Final = "pd_login_csrf"
# Both pre-login cookies live on /login only (the code form is /login/mfa).
LOGIN_PATH: Final = "/login"


def safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect to another host after login.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def after_password(
    request: Request, db: DbSession, settings: Settings, *, user: User, next: str, now: datetime
) -> Response:
    """The account with a second factor goes on to the code form (with a signed pending-login
    cookie, not a login); any other account is logged in."""
    if not mfa.is_enrolled(db, user.id):
        return start_login(request, db, settings, user=user, next=next, now=now, enrolled=False)
    value = pending_login.issue(
        settings, user_id=user.id, generation=user.token_generation, next=safe_next(next), now=now
    )
    response = RedirectResponse(request.app.url_path_for("login_mfa"), status_code=303)
    response.set_cookie(
        pending_login.COOKIE_NAME,
        value,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request, settings.cookie_secure),
        max_age=settings.mfa_pending_minutes * 60,
        path=LOGIN_PATH,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


def start_login(
    request: Request,
    db: DbSession,
    settings: Settings,
    *,
    user: User,
    next: str,
    now: datetime,
    enrolled: bool,
) -> Response:
    """A new login session cookie, then `next`; or the set-up page first when the practice
    requires a second factor and this account has none."""
    token, _ = login_session.start(db, settings, user=user, now=now, ip=client_ip(request))
    target = safe_next(next)
    if settings.mfa_required and not enrolled:
        target = str(request.app.url_path_for("account_mfa"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        login_session.COOKIE_NAME,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request, settings.cookie_secure),
        max_age=settings.session_absolute_hours * 3600,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    response.delete_cookie(pending_login.COOKIE_NAME, path=LOGIN_PATH)
    return response
