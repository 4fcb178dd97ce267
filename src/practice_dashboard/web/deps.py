"""Page dependencies: the logged-in person, CSRF checks, and the context every page shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip, note_caller
from practice_dashboard.errors import AppError, Forbidden
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.accounts.login_session import COOKIE_NAME, ActiveLogin
from practice_dashboard.services.audit import Actor


class LoginRequired(AppError):
    """Rendered as a redirect to /login (pages) rather than an error."""

    status_code = 303
    default_detail = "Please log in"


def secure_cookie(request: Request, secure_setting: bool | None) -> bool:
    """Whether a cookie gets the Secure flag: the setting, else when the request is HTTPS."""
    return secure_setting if secure_setting is not None else request.url.scheme == "https"


def get_optional_login(request: Request, db: DbDep, settings: SettingsDep) -> ActiveLogin | None:
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    login = login_session.resolve(db, settings, token=token, now=utcnow())
    if login is not None:
        note_caller(request, login.user)
    return login


OptionalLogin = Annotated[ActiveLogin | None, Depends(get_optional_login)]


def require_login(login: OptionalLogin) -> ActiveLogin:
    if login is None:
        raise LoginRequired()
    return login


WebLogin = Annotated[ActiveLogin, Depends(require_login)]


def web_actor(login: WebLogin, request: Request) -> Actor:
    return Actor(user=login.user, ip=client_ip(request))


WebActor = Annotated[Actor, Depends(web_actor)]


async def verify_csrf(request: Request, login: WebLogin) -> ActiveLogin:
    """Every state-changing form carries the login's CSRF token (synchroniser token pattern)."""
    form = await request.form()
    submitted = form.get("csrf_token")
    if not login_session.csrf_matches(
        login.login, submitted if isinstance(submitted, str) else None
    ):
        raise Forbidden(
            "This form has expired or did not come from this site; reload and try again"
        )
    return login


CsrfLogin = Annotated[ActiveLogin, Depends(verify_csrf)]


def require_admin_page(login: WebLogin) -> ActiveLogin:
    if login.user.role != Role.ADMIN:
        raise Forbidden("Only an admin can manage accounts")
    return login


AdminLogin = Annotated[ActiveLogin, Depends(require_admin_page)]


def page_context(request: Request, settings: SettingsDep, login: OptionalLogin) -> dict[str, Any]:
    """What the layout needs on every page: who is here, their CSRF token, words and zone."""
    user = login.user if login else None
    vocabulary = (user.zone_vocabulary if user else None) or settings.zone_vocabulary
    return {
        "request": request,
        "user": user,
        "csrf_token": login.login.csrf_token if login else None,
        "vocabulary": vocabulary,
        "practice_name": settings.practice_name,
        "tz": settings.timezone,
    }


PageContext = Annotated[dict[str, Any], Depends(page_context)]
