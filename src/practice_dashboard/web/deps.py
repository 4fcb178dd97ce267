"""Page dependencies: the logged-in person, CSRF checks, and the context every page shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip, note_caller
from practice_dashboard.errors import AppError, Forbidden
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.security import mask_csrf_token
from practice_dashboard.services.accounts import login_session, mfa
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


class MfaEnrolmentRequired(AppError):
    """Rendered as a redirect to the set-up page: the practice requires a second factor and
    this account has none yet, so nothing else opens until it is set up."""

    status_code = 303
    default_detail = "Set up two-factor authentication to continue"


async def require_any_login(login: OptionalLogin) -> ActiveLogin:
    """A live login, whether or not it still has to set up its second factor."""
    if login is None:
        raise LoginRequired()
    return login


EnrolmentLogin = Annotated[ActiveLogin, Depends(require_any_login)]


def require_login(login: EnrolmentLogin, db: DbDep, settings: SettingsDep) -> ActiveLogin:
    """A live login that may use the dashboard: enrolled in MFA when the practice requires it."""
    # Checked on every page (not only at login): turning the setting on also stops logins
    # that began before it, and an admin's MFA reset takes effect at once.
    if settings.mfa_required and not mfa.is_enrolled(db, login.user.id):
        raise MfaEnrolmentRequired()
    return login


WebLogin = Annotated[ActiveLogin, Depends(require_login)]


async def web_actor(login: WebLogin, request: Request) -> Actor:
    return Actor(user=login.user, ip=client_ip(request))


WebActor = Annotated[Actor, Depends(web_actor)]


async def _check_csrf(request: Request, login: ActiveLogin) -> ActiveLogin:
    form = await request.form()
    submitted = form.get("csrf_token")
    if not login_session.csrf_matches(
        login.login, submitted if isinstance(submitted, str) else None
    ):
        raise Forbidden(
            "This form has expired or did not come from this site; reload and try again"
        )
    return login


async def verify_csrf(request: Request, login: WebLogin) -> ActiveLogin:
    """Every state-changing form carries the login's CSRF token (synchroniser token pattern)."""
    return await _check_csrf(request, login)


CsrfLogin = Annotated[ActiveLogin, Depends(verify_csrf)]


async def verify_enrolment_csrf(request: Request, login: EnrolmentLogin) -> ActiveLogin:
    """The CSRF check for the few forms open before the second factor is set up (the set-up
    itself, logging out)."""
    return await _check_csrf(request, login)


EnrolmentCsrfLogin = Annotated[ActiveLogin, Depends(verify_enrolment_csrf)]


async def require_admin_page(login: WebLogin) -> ActiveLogin:
    if login.user.role != Role.ADMIN:
        raise Forbidden("Only an admin can manage accounts")
    return login


AdminLogin = Annotated[ActiveLogin, Depends(require_admin_page)]


async def page_context(
    request: Request, settings: SettingsDep, login: OptionalLogin
) -> dict[str, Any]:
    """What the layout needs on every page: who is here, their CSRF token, words and zone."""
    user = login.user if login else None
    vocabulary = (user.zone_vocabulary if user else None) or settings.zone_vocabulary
    return {
        "request": request,
        "user": user,
        # Masked afresh for each page (BREACH: pages are gzipped).
        "csrf_token": mask_csrf_token(login.login.csrf_token) if login else None,
        "vocabulary": vocabulary,
        "practice_name": settings.practice_name,
        "tz": settings.timezone,
    }


PageContext = Annotated[dict[str, Any], Depends(page_context)]
