"""Two-factor login: an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

Called after the password has been accepted (services.accounts.user.authenticate); nothing
here looks at passwords. Rules:

* codes are 6 digits per 30-second step, accepted one step either side (clock drift), and
  never twice: the step of the last accepted code is stored, and only a later one passes;
* a recovery code works once; only SHA-256 of each is kept, so they are shown once only;
* wrong codes (either kind) are throttled per account with the one doubling-wait rule
  (security.backoff_seconds); the count survives the failed request (keep_changes);
* an admin reset removes the authenticator and the codes and ends every login and token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import pyotp
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, writing
from practice_dashboard.errors import (
    Conflict,
    Forbidden,
    Invalid,
    TooManyRequests,
    Unauthorized,
)
from practice_dashboard.models import MfaAuthenticator, MfaRecoveryCode, User
from practice_dashboard.security import (
    SEALED_PREFIX,
    backoff_seconds,
    open_mfa_secret,
    reseal_mfa_secret,
    seal_mfa_secret,
)
from practice_dashboard.services import audit
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.audit import Actor, AnyActor

TOTP_DIGITS: Final = 6
TOTP_STEP_SECONDS: Final = 30
# One step either side of the server's: a phone clock a little off still works.
TOTP_VALID_WINDOW: Final = 1
RECOVERY_CODE_COUNT: Final = 10
# Crockford's base32 (no i, l, o, u): 16 characters carry 80 random bits.
_RECOVERY_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_LENGTH: Final = 16
_RECOVERY_GROUP: Final = 4
# What people may type for a misread character, Crockford-style.
_READ_AS: Final = str.maketrans({"o": "0", "i": "1", "l": "1"})
_TOTP_CODE: Final = re.compile(rf"\d{{{TOTP_DIGITS}}}")

# Audit actions (entity "user", the account concerned); the audit page suggests them.
ENROLLED: Final = "mfa_enrolled"
PASSED: Final = "mfa_passed"
FAILED: Final = "mfa_failed"
RECOVERY_USED: Final = "mfa_recovery_code_used"
RECOVERY_RENEWED: Final = "mfa_recovery_codes_renewed"
RESET: Final = "mfa_reset"
AUDIT_ACTIONS: Final = (ENROLLED, FAILED, PASSED, RECOVERY_RENEWED, RECOVERY_USED, RESET)

WRONG_CODE: Final = "That code is not right, or was already used. Try the newest code from the app."
NEEDS_SECOND_FACTOR: Final = (
    "This account has two-factor authentication: send the 6-digit code from the "
    "authenticator app (or a recovery code) as `otp`"
)
OWN_RESET: Final = "an admin cannot reset their own two-factor authentication; ask another admin"
ENROL_FIRST: Final = (
    "This practice requires two-factor authentication: log in to the dashboard in a browser "
    "to set up an authenticator app, then ask for a token again"
)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the person needs to add the account to their app: the key and its otpauth URI."""

    secret: str
    uri: str


@dataclass(frozen=True, slots=True)
class MfaStatus:
    enabled_at: datetime | None
    recovery_codes_left: int

    @property
    def enabled(self) -> bool:
        return self.enabled_at is not None


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)


def _authenticator(db: DbSession, user_id: uuid.UUID) -> MfaAuthenticator | None:
    return db.scalars(
        select(MfaAuthenticator).where(MfaAuthenticator.user_id == user_id)
    ).one_or_none()


def _confirmed(db: DbSession, user_id: uuid.UUID) -> MfaAuthenticator | None:
    found = _authenticator(db, user_id)
    return found if found is not None and found.confirmed_at is not None else None


def is_enrolled(db: DbSession, user_id: uuid.UUID) -> bool:
    """Whether the account has a confirmed second factor (one small query)."""
    return bool(
        db.scalar(
            select(
                exists().where(
                    MfaAuthenticator.user_id == user_id, MfaAuthenticator.confirmed_at.is_not(None)
                )
            )
        )
    )


def enrolled_user_ids(db: DbSession) -> set[uuid.UUID]:
    """Every account with a confirmed second factor (for the accounts list: one query)."""
    return set(
        db.scalars(
            select(MfaAuthenticator.user_id).where(MfaAuthenticator.confirmed_at.is_not(None))
        )
    )


def status(db: DbSession, user_id: uuid.UUID) -> MfaStatus:
    confirmed = _confirmed(db, user_id)
    left = db.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    )
    return MfaStatus(
        enabled_at=confirmed.confirmed_at if confirmed else None,
        recovery_codes_left=(left or 0) if confirmed else 0,
    )


def start_enrolment(db: DbSession, settings: Settings, *, user: User) -> Enrolment:
    """The key to add to an authenticator app; the same one until it is confirmed.

    Refused once a second factor is on: replacing it needs a reset by an admin, so a stolen
    login session alone cannot swap the factor for the attacker's own.
    """
    found = _authenticator(db, user.id)
    if found is not None and found.confirmed_at is not None:
        raise Forbidden("Two-factor authentication is already on for this account")
    if found is None:
        found = MfaAuthenticator(
            user_id=user.id,
            secret=seal_mfa_secret(settings, pyotp.random_base32()),
            failed_count=0,
        )
        try:
            # The set-up page is a read: the new key gets a short write transaction of its own.
            with writing(db), db.begin_nested():
                db.add(found)
                db.flush()
        except IntegrityError:
            # The same person's other tab got there first: show the key it stored (the
            # savepoint's rollback has already taken the new row out of the session).
            found = _authenticator(db, user.id)
            if found is None or found.confirmed_at is not None:
                raise Conflict("Two-factor set-up changed meanwhile; reload the page") from None
    secret = open_mfa_secret(settings, found.secret)
    uri = _totp(secret).provisioning_uri(name=user.email, issuer_name=settings.practice_name)
    return Enrolment(secret=secret, uri=uri)


def confirm_enrolment(
    db: DbSession, settings: Settings, *, user: User, code: str, now: datetime, actor: AnyActor
) -> list[str]:
    """Turn the second factor on with a first right code; returns the new recovery codes.

    A wrong code is a 422 on `code` (the person is logged in and typing from the screen).
    """
    found = _authenticator(db, user.id)
    if found is None or found.confirmed_at is not None:
        raise Invalid([(("code",), "start the set-up again: there is no key waiting")])
    step = _matching_step(settings, found, code, now)
    if step is None:
        raise Invalid([(("code",), WRONG_CODE)])
    found.confirmed_at = now
    found.last_used_step = step
    found.failed_count = 0
    found.last_failed_at = None
    db.flush()
    codes = issue_recovery_codes(db, user_id=user.id)
    audit.record(db, actor, ENROLLED, "user", user.id)
    return codes


def renew_recovery_codes(
    db: DbSession, settings: Settings, *, user: User, code: str, now: datetime, actor: AnyActor
) -> list[str]:
    """New recovery codes (the old ones stop working), given a current authenticator code."""
    verify(db, settings, user=user, code=code, now=now, actor=actor, allow_recovery=False)
    codes = issue_recovery_codes(db, user_id=user.id)
    audit.record(db, actor, RECOVERY_RENEWED, "user", user.id)
    return codes


def verify(
    db: DbSession,
    settings: Settings,
    *,
    user: User,
    code: str,
    now: datetime,
    actor: AnyActor,
    allow_recovery: bool = True,
) -> None:
    """Accept `code` as the account's second factor, or raise.

    TooManyRequests while the account waits after wrong codes (checked before the code, so
    guessing gains nothing meanwhile); Unauthorized for a wrong, replayed or used code, with
    the failure counted and kept.
    """
    found = _confirmed(db, user.id)
    if found is None:
        raise Unauthorized("Two-factor authentication is not set up for this account")
    wait = _retry_after(settings, found, now)
    if wait > 0:
        raise TooManyRequests(
            f"Too many wrong codes; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    typed = code.strip().replace(" ", "")
    if _TOTP_CODE.fullmatch(typed):
        accepted = _accept_totp(db, settings, found, typed, now)
        action = PASSED
    else:
        accepted = allow_recovery and _spend_recovery_code(db, user.id, typed, now)
        action = RECOVERY_USED
    if not accepted:
        # A core UPDATE: an atomic increment under concurrent guesses.
        db.execute(
            update(MfaAuthenticator)
            .where(MfaAuthenticator.id == found.id)
            .values(failed_count=MfaAuthenticator.failed_count + 1, last_failed_at=now)
        )
        audit.record(db, actor, FAILED, "user", user.id)
        db.flush()
        raise Unauthorized(WRONG_CODE, keep_changes=True)
    if found.failed_count or found.last_failed_at is not None:
        db.execute(
            update(MfaAuthenticator)
            .where(MfaAuthenticator.id == found.id)
            .values(failed_count=0, last_failed_at=None)
        )
    audit.record(db, actor, action, "user", user.id)
    db.flush()


def check_for_token(
    db: DbSession,
    settings: Settings,
    *,
    user: User,
    otp: str | None,
    now: datetime,
    actor: AnyActor,
) -> None:
    """The second-factor rule for an API token: needed when the account has one; refused
    (403) when the practice requires one and the account has none yet."""
    if is_enrolled(db, user.id):
        if not otp or not otp.strip():
            raise Unauthorized(NEEDS_SECOND_FACTOR)
        verify(db, settings, user=user, code=otp, now=now, actor=actor)
    elif settings.mfa_required:
        raise Forbidden(ENROL_FIRST)


def reset(db: DbSession, *, user: User, now: datetime, actor: AnyActor | None) -> None:
    """Remove the account's authenticator and recovery codes, and end all its logins and
    tokens: the person sets up a new one at their next login (admin only; audited).

    Never one's own (a 422 on `user_id`): a stolen admin login must not be able to strip the
    admin's second factor; another admin, or the CLI (no actor), resets it.
    """
    if isinstance(actor, Actor) and actor.user.id == user.id:
        raise Invalid([(("user_id",), OWN_RESET)], location="path")
    db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    db.execute(delete(MfaAuthenticator).where(MfaAuthenticator.user_id == user.id))
    user_service.end_all_logins(db, user=user, now=now)
    db.flush()
    audit.record(db, actor, RESET, "user", user.id)


def reseal_all(db: DbSession, settings: Settings, *, plain_only: bool = False) -> int:
    """Seal every stored authenticator key with the first MFA key (keys stored before sealing
    are sealed for the first time), or with `plain_only` only those; returns how many. Raises
    UnsealError, changing nothing, when a key cannot be opened with the configured keys."""
    query = select(MfaAuthenticator.id, MfaAuthenticator.secret)
    if plain_only:
        query = query.where(MfaAuthenticator.secret.not_like(f"{SEALED_PREFIX}%"))
    found = db.execute(query).all()
    resealed = [(row.id, reseal_mfa_secret(settings, row.secret)) for row in found]
    for row_id, sealed in resealed:
        db.execute(
            update(MfaAuthenticator).where(MfaAuthenticator.id == row_id).values(secret=sealed)
        )
    db.flush()
    return len(resealed)


def _matching_step(
    settings: Settings, found: MfaAuthenticator, code: str, now: datetime
) -> int | None:
    typed = code.strip().replace(" ", "")
    if not _TOTP_CODE.fullmatch(typed):
        return None
    try:
        return _totp(open_mfa_secret(settings, found.secret)).verify_and_get_timecode(
            typed, for_time=now, valid_window=TOTP_VALID_WINDOW
        )
    except (OTPVerificationError, ValueError):
        return None


def _accept_totp(
    db: DbSession, settings: Settings, found: MfaAuthenticator, code: str, now: datetime
) -> bool:
    step = _matching_step(settings, found, code, now)
    if step is None:
        return False
    # Only a step later than the last accepted one, claimed atomically: the same code sent
    # twice at once passes at most once.
    claimed = db.execute(
        update(MfaAuthenticator)
        .where(
            MfaAuthenticator.id == found.id,
            or_(
                MfaAuthenticator.last_used_step.is_(None),
                MfaAuthenticator.last_used_step < step,
            ),
        )
        .values(last_used_step=step)
    )
    return bool(getattr(claimed, "rowcount", 0))


def _spend_recovery_code(db: DbSession, user_id: uuid.UUID, typed: str, now: datetime) -> bool:
    normalised = normalise_recovery_code(typed)
    if normalised is None:
        return False
    spent = db.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user_id,
            MfaRecoveryCode.code_hash == _hash(normalised),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return bool(getattr(spent, "rowcount", 0))


def normalise_recovery_code(typed: str) -> str | None:
    """The code's 16 characters as stored, or None if it cannot be a recovery code."""
    cleaned = typed.strip().lower().replace("-", "").replace(" ", "").translate(_READ_AS)
    if len(cleaned) != _RECOVERY_LENGTH or any(c not in _RECOVERY_ALPHABET for c in cleaned):
        return None
    return cleaned


def _hash(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def issue_recovery_codes(db: DbSession, *, user_id: uuid.UUID) -> list[str]:
    """Replace the account's recovery codes; returns them grouped for reading (shown once)."""
    db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    raw = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    db.add_all(MfaRecoveryCode(user_id=user_id, code_hash=_hash(code)) for code in raw)
    db.flush()
    return [
        "-".join(code[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_LENGTH, _RECOVERY_GROUP))
        for code in raw
    ]


def _retry_after(settings: Settings, found: MfaAuthenticator, now: datetime) -> int:
    if found.last_failed_at is None:
        return 0
    delay = backoff_seconds(
        found.failed_count,
        free_attempts=settings.mfa_code_free_attempts,
        max_delay_seconds=settings.mfa_code_max_delay_seconds,
    )
    if delay == 0:
        return 0
    remaining = (found.last_failed_at + timedelta(seconds=delay) - now).total_seconds()
    return max(0, int(remaining + 0.999))
