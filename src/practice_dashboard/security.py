"""Password hashing (argon2id), signed bearer tokens and login throttling."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from practice_dashboard.config import Settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "practice-dashboard"
# Client check-in links live under this path; what follows it is the link's secret token.
CHECKIN_PATH_PREFIX = "/c/"
_CHECKIN_TOKEN_IN_PATH = re.compile(re.escape(CHECKIN_PATH_PREFIX) + r"[^/?#\s\"]+")
# Check-in browser sessions are signed for their own audience: never usable as an API token.
CHECKIN_AUDIENCE = "practice-dashboard-checkin"


@lru_cache(maxsize=8)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )


#: argon2 is CPU- and memory-hard by design (64 MiB each by default): only a few run at once,
#: however many logins or check-in codes arrive together; the rest wait their turn.
HASHING_AT_ONCE: Final = 2
_hashing = threading.BoundedSemaphore(HASHING_AT_ONCE)


def hash_password(settings: Settings, password: str) -> str:
    with _hashing:
        return password_hasher(settings).hash(password)


def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    try:
        with _hashing:
            return password_hasher(settings).verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(settings: Settings, password_hash: str) -> bool:
    return password_hasher(settings).check_needs_rehash(password_hash)


@lru_cache(maxsize=8)
def _dummy_hash(memory_kib: int, time_cost: int, parallelism: int) -> str:
    return _hasher(memory_kib, time_cost, parallelism).hash("not-a-real-password")


def burn_password_check(settings: Settings, password: str) -> None:
    """Spend the same time as a real check, so unknown e-mails cannot be told apart by timing."""
    dummy = _dummy_hash(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    verify_password(settings, dummy, password)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid bearer token says: whose it is and the account's token generation then."""

    user_id: uuid.UUID
    generation: int


def sign_claims(settings: Settings, claims: dict[str, Any]) -> str:
    """`claims` signed with the app's secret key (a JWT, HS256).

    PyJWT is imported here, on first use: it loads the cryptography package for key types
    this app never uses, about 9 MiB and 30 ms that a worker serving only practitioner pages
    never needs. Bearer tokens, check-in sessions and the step before a second factor load it.
    """
    import jwt

    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=TOKEN_ALGORITHM)


def verify_claims(
    settings: Settings,
    token: str,
    *,
    audience: str,
    require: tuple[str, ...],
    verify_exp: bool = True,
) -> dict[str, Any] | None:
    """The claims of `token` if it is signed with the app's key, HS256 only (never "none"),
    for `audience`, with every claim in `require`, and unexpired unless `verify_exp` is False
    (callers that check expiry at their own `now`); None for anything else."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[TOKEN_ALGORITHM],
            audience=audience,
            options={"require": list(require), "verify_exp": verify_exp},
        )
    except jwt.PyJWTError:
        return None
    return claims


def create_access_token(
    settings: Settings, user_id: uuid.UUID, now: datetime, *, generation: int
) -> str:
    """A signed bearer token for `user_id`, stamped with the account's current token generation."""
    claims = {
        "sub": str(user_id),
        "aud": TOKEN_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.access_token_minutes)).timestamp()),
        "typ": "access",
        "gen": generation,
    }
    return sign_claims(settings, claims)


def decode_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    claims = verify_claims(
        settings, token, audience=TOKEN_AUDIENCE, require=("exp", "iat", "sub", "aud", "gen")
    )
    if claims is None:
        return None
    generation = claims.get("gen")
    # bool is an int in Python; a token is only ever minted with a plain int.
    if claims.get("typ") != "access" or type(generation) is not int:
        return None
    try:
        return AccessClaims(user_id=uuid.UUID(str(claims["sub"])), generation=generation)
    except ValueError:
        return None


#: A sealed authenticator key starts with this; a base32 key (stored before sealing) cannot.
SEALED_PREFIX: Final = "fernet:"


class UnsealError(RuntimeError):
    """A sealed authenticator key that none of the configured keys opens."""


def _derived_mfa_key(secret_key: str) -> str:
    # HMAC as the key-derivation step (HKDF's extract): a key for this one purpose.
    digest = hmac.new(secret_key.encode(), b"practice-dashboard mfa seal v1", hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii")


@lru_cache(maxsize=8)
def _crypter(keys: tuple[str, ...]) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet  # loaded on first use, not at start

    return MultiFernet([Fernet(key) for key in keys])


def _mfa_crypter(settings: Settings) -> MultiFernet:
    # The derived key comes last: keys sealed before MFA_KEYS was set still open, and
    # reseal-mfa moves them to the first configured key.
    derived = _derived_mfa_key(settings.secret_key.get_secret_value())
    keys = tuple(dict.fromkeys((*settings.mfa_key_list, derived)))
    return _crypter(keys)


def seal_mfa_secret(settings: Settings, secret: str) -> str:
    """The authenticator key as stored: sealed with the first MFA key."""
    return SEALED_PREFIX + _mfa_crypter(settings).encrypt(secret.encode()).decode("ascii")


def open_mfa_secret(settings: Settings, stored: str) -> str:
    """The base32 key from its stored form (one stored before sealing is returned as is)."""
    if not stored.startswith(SEALED_PREFIX):
        return stored
    from cryptography.fernet import InvalidToken

    try:
        token = stored.removeprefix(SEALED_PREFIX).encode("ascii")
        return _mfa_crypter(settings).decrypt(token).decode()
    except InvalidToken:
        raise UnsealError(
            "an authenticator key cannot be opened: the key that sealed it is not in "
            "PRACTICE_DASHBOARD_MFA_KEYS (or SECRET_KEY changed while MFA_KEYS was unset)"
        ) from None


def reseal_mfa_secret(settings: Settings, stored: str) -> str:
    """`stored` sealed again with the first MFA key (an unsealed one sealed for the first time)."""
    return seal_mfa_secret(settings, open_mfa_secret(settings, stored))


def backoff_seconds(failed_count: int, *, free_attempts: int, max_delay_seconds: int) -> int:
    """The wait after `failed_count` consecutive failures: the first `free_attempts` are free,
    then 1 s, doubling up to `max_delay_seconds`. The one throttling rule (logins and check-in
    codes)."""
    over = failed_count - free_attempts
    if over < 0:
        return 0
    return int(min(max_delay_seconds, 2 ** min(over, 30)))


def retry_after_seconds(
    failed_count: int,
    last_failed_at: datetime | None,
    now: datetime,
    *,
    free_attempts: int,
    max_delay_seconds: int,
) -> int:
    """Seconds still to wait after `failed_count` failures, the last at `last_failed_at`
    (0 = may try now). The wait always expires, so nobody can be locked out for good."""
    if last_failed_at is None:
        return 0
    delay = backoff_seconds(
        failed_count, free_attempts=free_attempts, max_delay_seconds=max_delay_seconds
    )
    remaining = (last_failed_at + timedelta(seconds=delay) - now).total_seconds()
    return max(0, int(remaining + 0.999))


@dataclass(frozen=True, slots=True)
class CheckinSessionClaims:
    """A check-in browser session: which link the code was entered for, and its CSRF token."""

    link_id: uuid.UUID
    csrf_token: str


def create_checkin_session(
    settings: Settings, link_id: uuid.UUID, now: datetime, *, csrf_token: str | None = None
) -> str:
    """A signed, short-lived value for the check-in cookie, given after the right code (and
    renewed, same CSRF token, on each page while in use).

    It holds the link's id (never its token) and a random CSRF token for the forms.
    """
    claims = {
        "sub": str(link_id),
        "aud": CHECKIN_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.checkin_session_minutes)).timestamp()),
        "typ": "checkin",
        "csrf": csrf_token or secrets.token_urlsafe(24),
    }
    return sign_claims(settings, claims)


def decode_checkin_session(
    settings: Settings, value: str, now: datetime
) -> CheckinSessionClaims | None:
    """The claims of a valid, unexpired check-in session at `now`; None for anything else."""
    claims = verify_claims(
        settings,
        value,
        audience=CHECKIN_AUDIENCE,
        require=("exp", "iat", "sub", "aud", "csrf"),
        verify_exp=False,
    )
    if claims is None:
        return None
    expires = claims.get("exp")
    csrf = claims.get("csrf")
    if claims.get("typ") != "checkin" or type(expires) is not int or not isinstance(csrf, str):
        return None
    if now.timestamp() >= expires:
        return None
    try:
        return CheckinSessionClaims(link_id=uuid.UUID(str(claims["sub"])), csrf_token=csrf)
    except ValueError:
        return None


def mask_csrf_token(token: str) -> str:
    """The token as a page carries it: a fresh random pad, then the token XOR the pad
    (URL-safe base64). Every page shows different bytes for the same token, so a compressed
    page's length cannot be used to guess it (BREACH); `csrf_token_matches` takes it back."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    masked = pad + bytes(p ^ t for p, t in zip(pad, raw, strict=True))
    return base64.urlsafe_b64encode(masked).rstrip(b"=").decode("ascii")


def _unmask(submitted: str) -> bytes | None:
    try:
        data = base64.urlsafe_b64decode(submitted + "=" * (-len(submitted) % 4))
    except (ValueError, binascii.Error):
        return None
    if not data or len(data) % 2:
        return None
    half = len(data) // 2
    return bytes(p ^ t for p, t in zip(data[:half], data[half:], strict=True))


def csrf_token_matches(expected: str, submitted: str | None) -> bool:
    """Whether a form's token is `expected`, masked (as pages carry it) or as it is (a form
    rendered before masking, or a program that holds the token itself)."""
    if submitted is None:
        return False
    want = expected.encode()
    unmasked = _unmask(submitted)
    # Both compared in constant time, whichever form was sent.
    masked_ok = secrets.compare_digest(want, unmasked if unmasked is not None else b"")
    plain_ok = secrets.compare_digest(want, submitted.encode())
    return masked_ok or plain_ok


def redact_checkin_tokens(text: str) -> str:
    """`text` with every check-in link's token replaced, for anything written to a log."""
    return _CHECKIN_TOKEN_IN_PATH.sub(CHECKIN_PATH_PREFIX + "[redacted]", text)


class RedactCheckinTokens(logging.Filter):
    """Keeps check-in tokens out of the access log (uvicorn logs each request's path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_checkin_tokens(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_checkin_tokens(record.msg)
        return True


def install_log_redaction() -> None:
    """Add the redaction to the access and error loggers once (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCheckinTokens) for f in logger.filters):
            logger.addFilter(RedactCheckinTokens())
