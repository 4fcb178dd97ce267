from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.security import OAuth2PasswordRequestForm

from practice_dashboard.api.deps import CurrentUser
from practice_dashboard.api.responses import AUTHENTICATED, errors
from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.user import Token, UserRead
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import mfa
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.audit import Actor

router = Router(tags=["auth"])


OtpField = Annotated[
    str | None,
    Form(
        max_length=64,
        description=(
            "The second factor, for an account with two-factor authentication: the 6-digit "
            "code from its authenticator app, or one of its recovery codes (each works once)."
        ),
    ),
]


# The token route's own words for its errors (the body is the shared `ErrorMessage`).
_TOKEN_ERRORS = errors(401, 403, 413, 429)
_TOKEN_ERRORS[401]["description"] = (
    "Wrong e-mail or password; or the account has two-factor authentication and `otp` is "
    "missing, wrong or already used"
)
_TOKEN_ERRORS[403]["description"] = (
    "The practice requires two-factor authentication and the account has none yet: set it up "
    "in the dashboard first"
)
_TOKEN_ERRORS[429]["description"] = "Too many wrong passwords or codes; wait `Retry-After` seconds"


@router.post("/auth/token", response_model=Token, responses=_TOKEN_ERRORS)
def login_for_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DbDep,
    settings: SettingsDep,
    request: Request,
    otp: OtpField = None,
) -> Token:
    """Exchange e-mail (`username`) and password, plus `otp` for an account with two-factor
    authentication, for a bearer token (OAuth2 password flow)."""
    now = utcnow()
    user = user_service.authenticate(
        db, settings, email=form.username, password=form.password, now=now, ip=client_ip(request)
    )
    # After the password only: the second factor is never asked of an unknown account.
    mfa.check_for_token(
        db, settings, user=user, otp=otp, now=now, actor=Actor(user, client_ip(request))
    )
    return Token(
        access_token=create_access_token(settings, user.id, now, generation=user.token_generation),
        expires_in=settings.access_token_minutes * 60,
    )


@router.get("/me", response_model=UserRead, responses=AUTHENTICATED)
def me(user: CurrentUser) -> UserRead:
    """The caller's own account."""
    return UserRead.model_validate(user)
