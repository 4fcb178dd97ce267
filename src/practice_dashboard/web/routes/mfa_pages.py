"""Two-factor login pages: the code form after the password, and setting up the authenticator.

The code form works from the signed pending-login cookie (no login session yet); the set-up
page is open to a login that still has to set up its second factor (web/deps EnrolmentLogin),
since that is where such a login is sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip
from practice_dashboard.errors import Invalid, TooManyRequests, Unauthorized
from practice_dashboard.models import User
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.security import mask_csrf_token
from practice_dashboard.services.accounts import mfa, pending_login
from practice_dashboard.services.audit import Actor
from practice_dashboard.web.deps import (
    CsrfLogin,
    EnrolmentCsrfLogin,
    EnrolmentLogin,
    OptionalLogin,
    PageContext,
)
from practice_dashboard.web.login_flow import safe_next, start_login
from practice_dashboard.web.qr import qr_svg
from practice_dashboard.web.templating import templates

router = Router()
# A TOTP code is 6 digits and a recovery code 19 characters with its dashes; room for spaces.
CodeField = Annotated[str, Form(max_length=64)]
CsrfField = Annotated[str, Form(max_length=100)]
FORM_EXPIRED = "The form expired; please enter the code again."


def _code_form(
    request: Request,
    context: dict[str, Any],
    pending: pending_login.PendingLogin,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "login_mfa.html",
        {**context, "pending_csrf": mask_csrf_token(pending.csrf_token), "error": error},
        status_code=status_code,
    )


def _to_login() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(pending_login.COOKIE_NAME, path="/login")
    return response


def _pending_account(
    db: DbDep, pending: pending_login.PendingLogin | None
) -> tuple[pending_login.PendingLogin, User] | None:
    """The pending login and its account, if both still hold (same token generation: a
    password change or MFA reset in between voids the step)."""
    if pending is None:
        return None
    user = db.get(User, pending.user_id)
    if user is None or not user.is_active or user.token_generation != pending.generation:
        return None
    return pending, user


@router.get("/login/mfa", name="login_mfa")
def login_code_page(
    request: Request,
    context: PageContext,
    settings: SettingsDep,
    db: DbDep,
    login: OptionalLogin,
) -> Response:
    """The second step of logging in: a code from the authenticator app, or a recovery code."""
    if login is not None:
        return RedirectResponse("/", status_code=303)
    value = request.cookies.get(pending_login.COOKIE_NAME)
    found = _pending_account(db, pending_login.read(settings, value, utcnow()))
    if found is None:
        return _to_login()
    return _code_form(request, context, found[0])


@router.post("/login/mfa")
def login_code_submit(
    request: Request,
    context: PageContext,
    settings: SettingsDep,
    db: DbDep,
    code: CodeField = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Check the code; a right one starts the login session, wrong ones are throttled."""
    now = utcnow()
    value = request.cookies.get(pending_login.COOKIE_NAME)
    found = _pending_account(db, pending_login.read(settings, value, now))
    if found is None:
        return _to_login()
    pending, user = found
    if not pending_login.csrf_matches(pending, csrf_token):
        return _code_form(request, context, pending, status_code=400, error=FORM_EXPIRED)
    try:
        mfa.verify(
            db, settings, user=user, code=code, now=now, actor=Actor(user, client_ip(request))
        )
    except Unauthorized as exc:
        # Answered with the form, not raised: the unit of work commits the failure count.
        return _code_form(request, context, pending, status_code=401, error=exc.detail)
    except TooManyRequests as exc:
        return _code_form(request, context, pending, status_code=429, error=exc.detail)
    return start_login(
        request, db, settings, user=user, next=safe_next(pending.next), now=now, enrolled=True
    )


def _account_page(
    context: dict[str, Any],
    db: DbDep,
    settings: SettingsDep,
    user: User,
    *,
    recovery_codes: list[str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    status = mfa.status(db, user.id)
    values: dict[str, Any] = {
        **context,
        "nav": "settings",
        "status": status,
        "required": settings.mfa_required,
        "recovery_codes": recovery_codes,
        "errors": errors or {},
    }
    if not status.enabled:
        enrolment = mfa.start_enrolment(db, settings, user=user)
        values["secret_groups"] = [
            enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4)
        ]
        values["qr"] = qr_svg(enrolment.uri, label="QR code to add this account to an app")
    return templates.TemplateResponse(
        context["request"], "account_mfa.html", values, status_code=status_code
    )


@router.get("/account/mfa", name="account_mfa")
def account_mfa_page(
    context: PageContext, login: EnrolmentLogin, db: DbDep, settings: SettingsDep
) -> Response:
    """Two-factor authentication for the caller's own account: set it up, or its state."""
    return _account_page(context, db, settings, login.user)


@router.post("/account/mfa/confirm", name="account_mfa_confirm")
def confirm_mfa(
    request: Request,
    context: PageContext,
    login: EnrolmentCsrfLogin,
    db: DbDep,
    settings: SettingsDep,
    code: CodeField = "",
) -> Response:
    """Turn the second factor on with a first code from the app; shows the recovery codes once."""
    actor = Actor(login.user, client_ip(request))
    try:
        codes = mfa.confirm_enrolment(
            db, settings, user=login.user, code=code, now=utcnow(), actor=actor
        )
    except Invalid as exc:
        return _account_page(
            context, db, settings, login.user, errors={"code": exc.detail}, status_code=422
        )
    return _account_page(context, db, settings, login.user, recovery_codes=codes)


@router.post("/account/mfa/recovery-codes", name="account_mfa_recovery_codes")
def renew_recovery_codes(
    request: Request,
    context: PageContext,
    login: CsrfLogin,
    db: DbDep,
    settings: SettingsDep,
    code: CodeField = "",
) -> Response:
    """New recovery codes for a current code from the app; the old ones stop working."""
    actor = Actor(login.user, client_ip(request))
    try:
        codes = mfa.renew_recovery_codes(
            db, settings, user=login.user, code=code, now=utcnow(), actor=actor
        )
    except Unauthorized as exc:
        return _account_page(
            context, db, settings, login.user, errors={"renew": exc.detail}, status_code=422
        )
    except TooManyRequests as exc:
        return _account_page(
            context, db, settings, login.user, errors={"renew": exc.detail}, status_code=429
        )
    return _account_page(context, db, settings, login.user, recovery_codes=codes)
