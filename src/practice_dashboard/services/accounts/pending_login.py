"""The step between a right password and the second factor: a short-lived signed value.

Not a login session: it opens nothing but the code form. It names the account and its token
generation (a password change or an MFA reset in between voids it), carries the form's CSRF
token and where to go afterwards, and is signed for its own audience, so it is never usable
as an API token or a check-in session.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from practice_dashboard.config import Settings
from practice_dashboard.security import csrf_token_matches, sign_claims, verify_claims

COOKIE_NAME: Final = "pd_mfa_pending"
AUDIENCE: Final = "practice-dashboard-mfa-pending"
_TYPE: Final = "mfa_pending"


@dataclass(frozen=True, slots=True)
class PendingLogin:
    user_id: uuid.UUID
    generation: int
    csrf_token: str
    next: str


def issue(
    settings: Settings, *, user_id: uuid.UUID, generation: int, next: str, now: datetime
) -> str:
    """The signed value for the pending-login cookie (valid `mfa_pending_minutes`)."""
    claims = {
        "sub": str(user_id),
        "aud": AUDIENCE,
        "typ": _TYPE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.mfa_pending_minutes)).timestamp()),
        "gen": generation,
        "csrf": secrets.token_urlsafe(24),
        "next": next,
    }
    return sign_claims(settings, claims)


def read(settings: Settings, value: str | None, now: datetime) -> PendingLogin | None:
    """The pending login in `value` if it is genuine and unexpired at `now`; else None."""
    if not value:
        return None
    claims = verify_claims(
        settings,
        value,
        audience=AUDIENCE,
        require=("exp", "iat", "sub", "aud", "gen", "csrf", "next"),
        verify_exp=False,
    )
    if claims is None:
        return None
    expires, generation = claims.get("exp"), claims.get("gen")
    csrf, target = claims.get("csrf"), claims.get("next")
    if (
        claims.get("typ") != _TYPE
        or type(expires) is not int
        or type(generation) is not int
        or not isinstance(csrf, str)
        or not isinstance(target, str)
        or now.timestamp() >= expires
    ):
        return None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        return None
    return PendingLogin(user_id=user_id, generation=generation, csrf_token=csrf, next=target)


def csrf_matches(pending: PendingLogin, submitted: str | None) -> bool:
    return csrf_token_matches(pending.csrf_token, submitted)
