"""Settings from the environment, one class, passed into create_app()."""

from __future__ import annotations

import base64
import binascii
import secrets
import warnings
from dataclasses import fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from practice_dashboard.domain.conventions import validate_conventions
from practice_dashboard.domain.flags import Thresholds

# OWASP Password Storage Cheat Sheet: argon2id with at least 19 MiB memory and 2 iterations.
ARGON2_MIN_MEMORY_KIB = 19_456
ARGON2_MIN_TIME_COST = 2

_PLACEHOLDER_SECRETS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "please-change",
    "dev",
    "development",
}


DEFAULT_CRISIS_TEXT = (
    "If you are thinking about harming yourself, or you feel you are in danger, please get help "
    "now: call your local emergency number (999 or 112 in the UK, 112 in the EU, 911 in the US "
    "and Canada) or go to the nearest emergency department.\n"
    "You can also talk to someone at any time, for free: in the UK and Ireland, Samaritans on "
    "116 123.\n"
    "These pages are not watched in real time, so your practitioner may not see your answers "
    "straight away."
)


def _key_list(value: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in value.split(",") if key.strip())


def default_database_url() -> str:
    return f"sqlite:///{Path('var/practice-dashboard.db').resolve()}"


class Settings(BaseSettings):
    """Every setting is PRACTICE_DASHBOARD_<NAME>; DATABASE_URL and SECRET_KEY also unprefixed."""

    model_config = SettingsConfigDict(
        env_prefix="PRACTICE_DASHBOARD_", env_file=None, extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default_factory=default_database_url,
        validation_alias=AliasChoices("DATABASE_URL", "PRACTICE_DASHBOARD_DATABASE_URL"),
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("SECRET_KEY", "PRACTICE_DASHBOARD_SECRET_KEY"),
    )
    practice_name: str = "Practice Dashboard"
    practice_timezone: str = "Europe/London"
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # argon2id cost; RFC 9106's second recommended option (64 MiB, t=3) by default.
    argon2_memory_kib: int = 65_536
    argon2_time_cost: int = 3
    argon2_parallelism: int = 1
    # Login throttling, counted per (e-mail, source address) and per source address: after
    # this many failures that pair (or, for spraying, that source) waits, doubling each time.
    # A source that has not been failing is never held back by another source's guesses.
    # Failures are forgotten after a quiet `login_failure_forget_hours`; a source's counter
    # also forgets one failure per `login_source_forgive_minutes` without failures.
    login_free_attempts: int = Field(default=5, ge=1)
    login_source_free_attempts: int = Field(default=20, ge=1)
    login_source_forgive_minutes: int = Field(default=3, ge=1, le=24 * 60)
    login_max_delay_seconds: int = Field(default=900, ge=1)
    login_failure_forget_hours: int = Field(default=24, ge=1, le=24 * 30)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed: the reverse proxy's
    # address(es) or networks, comma-separated. Empty = trust nobody; "*" = anybody, which lets
    # any client forge its address (audit trail, login throttling) unless the app's port is
    # reachable only through the proxy.
    forwarded_allow_ips: str = "127.0.0.1"
    # Client check-in links: lifetime (renewable), the signed browser session after the code,
    # and wrong codes: free attempts, then a doubling wait up to the ceiling; after
    # `checkin_code_max_failures` wrong codes in a row the link is revoked.
    checkin_link_days: int = Field(default=180, ge=1, le=3650)
    checkin_session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    checkin_code_free_attempts: int = Field(default=5, ge=1)
    checkin_code_max_delay_seconds: int = Field(default=900, ge=1)
    checkin_code_max_failures: int = Field(default=20, ge=2)
    # Shown at once on the check-in page when a client answers PHQ-9 item 9 above 0. Plain
    # text (markup stays text); line breaks are kept. Put the practice's own numbers here.
    crisis_text: str = Field(default=DEFAULT_CRISIS_TEXT, min_length=1, max_length=2000)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_batch_size: int = Field(default=1_000, ge=1)
    # How long a SQLite writer waits for the write lock; kept under the 5 s "hang" limit (a
    # writer holds the lock only for its own short transaction).
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)
    # Database connections per worker process: pool + overflow. The defaults (20) leave room
    # for 4 workers under PostgreSQL's default max_connections of 100; a request waits at most
    # `db_pool_timeout_seconds` for one.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # Overload: at most this many requests are worked on at once per worker (fewer than the
    # connections and the 40 threads, so none waits on another's thread or connection; and a
    # worker is one Python process, so more CPU-bound threads add no throughput, only delay);
    # others wait while their expected wait (measured) fits `request_queue_seconds` (twice
    # that for a write), at most `request_queue_length` of them; the rest get a fast 503 with
    # Retry-After instead of an answer after many seconds.
    # None: 1 on SQLite (all its work is Python in this process: two requests at once only
    # trade the GIL, measured slower by bench.load), 2 on PostgreSQL (one waits on the
    # server while the other computes).
    max_requests_in_flight: int | None = Field(default=None, ge=1)
    # `serve --workers N`: a worker whose event loop has not answered for this long (hung) is
    # killed and replaced. Requests run on threads, so even a slow one leaves the loop free.
    worker_timeout_seconds: float = Field(default=60.0, ge=1)
    request_queue_length: int = Field(default=128, ge=0)
    request_queue_seconds: float = Field(default=2.0, ge=0)
    # Browser logins: idle and absolute limits (capped at 30 minutes and 12 hours), and whether
    # the cookie is Secure: None = when the request came over HTTPS (behind a proxy too).
    session_idle_minutes: int = Field(default=30, ge=1, le=30)
    session_absolute_hours: int = Field(default=12, ge=1, le=12)
    cookie_secure: bool | None = None
    # Two-factor login (TOTP authenticator app plus one-time recovery codes) for every account:
    # None = on in production, off elsewhere. When on, an account without an authenticator is
    # sent to set one up after its password and can reach nothing else, and gets no API token.
    require_mfa: bool | None = None
    # Authenticator keys are stored sealed (Fernet: AES-128-CBC + HMAC-SHA256), so a copy of
    # the database alone does not give away anyone's second factor. Comma-separated Fernet
    # keys, newest first: the first seals, every one opens (add a new key in front, run
    # `practice-dashboard reseal-mfa`, then drop the old one). Unset: one key derived from
    # SECRET_KEY, which then cannot be rotated without first setting this (see the README).
    mfa_keys: SecretStr | None = None
    # Wrong second-factor codes per account: free attempts, then a doubling wait up to the
    # ceiling; and how long the step between the password and the code may take.
    mfa_code_free_attempts: int = Field(default=5, ge=1)
    mfa_code_max_delay_seconds: int = Field(default=900, ge=1)
    mfa_pending_minutes: int = Field(default=5, ge=1, le=30)
    # How zones are named in the dashboard; each user may choose otherwise. The stored data is
    # the same: within / hyper / hypo.
    zone_vocabulary: Literal["window", "polyvagal"] = "window"
    # Headless Chromium prints the PDF summaries (Debian's package; never a downloaded browser).
    chromium: str = "/usr/bin/chromium"
    # Caseload summaries from an earlier practice day: how many one request may recompute
    # (the rest are shown with their `as_of` date), and how often the background refresher
    # looks for stale ones (0 = never; then run `practice-dashboard refresh-summaries` daily).
    summary_refresh_budget: int = Field(default=100, ge=0)
    summary_refresh_interval_seconds: int = Field(default=300, ge=0)
    # How long before the practice's midnight the refresher computes the next day's summaries
    # ahead of need (0 = not ahead: at midnight they are recomputed after the fact), and how
    # long one batch of summary writes aims to hold the write lock (SQLite has one).
    summary_rollover_minutes: int = Field(default=60, ge=0, le=720)
    summary_write_hold_ms: int = Field(default=25, ge=1, le=1000)
    # Per-practice overrides of any flag or metric threshold, as JSON, for example
    # PRACTICE_DASHBOARD_FLAG_THRESHOLDS='{"max_caseload": 40, "stale_days": 21}'.
    # An operator (e.g. "srs_concern_operator": "<") is the one threshold given as text.
    flag_thresholds: dict[str, float | str] = Field(default_factory=dict)
    # The reliable-change convention per instrument (DOMAIN.md §3.4): "jacobson_truax" (the
    # default) or, for phq9 and gad7 only, "nhs_talking_therapies"; for example
    # PRACTICE_DASHBOARD_RCI_CONVENTIONS='{"phq9": "nhs_talking_therapies"}'.
    rci_conventions: dict[str, str] = Field(default_factory=dict)
    log_sql: bool = False

    @field_validator("practice_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("argon2_memory_kib")
    @classmethod
    def _argon2_memory_floor(cls, value: int) -> int:
        if value < ARGON2_MIN_MEMORY_KIB:
            raise ValueError(f"argon2 memory must be at least {ARGON2_MIN_MEMORY_KIB} KiB (OWASP)")
        return value

    @field_validator("argon2_time_cost")
    @classmethod
    def _argon2_time_floor(cls, value: int) -> int:
        if value < ARGON2_MIN_TIME_COST:
            raise ValueError(f"argon2 time cost must be at least {ARGON2_MIN_TIME_COST} (OWASP)")
        return value

    @model_validator(mode="after")
    def _secret_key_required_in_production(self) -> Settings:
        key = self.secret_key.get_secret_value()
        weak = key.strip().lower() in _PLACEHOLDER_SECRETS or len(key) < 32
        if self.environment == "production" and weak:
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        if not key:
            # Development only: an ephemeral key means tokens die with the process, which is fine.
            if self.environment == "development":
                warnings.warn(
                    "SECRET_KEY is not set; using a random key for this process only",
                    stacklevel=2,
                )
            self.secret_key = SecretStr(secrets.token_urlsafe(48))
        return self

    @field_validator("flag_thresholds")
    @classmethod
    def _known_thresholds(cls, value: dict[str, float | str]) -> dict[str, float | str]:
        defaults = Thresholds()
        # Conventions have their own setting; every other field is one number or operator.
        known = {f.name for f in fields(Thresholds)} - {"rci_conventions"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown flag thresholds: {', '.join(unknown)}")
        for name, given in value.items():
            wants_text = isinstance(getattr(defaults, name), str)
            if wants_text != isinstance(given, str):
                kind = "text" if wants_text else "a number"
                raise ValueError(f"flag threshold {name} must be {kind}, got {given!r}")
        return value

    @field_validator("rci_conventions")
    @classmethod
    def _known_conventions(cls, value: dict[str, str]) -> dict[str, str]:
        problems = validate_conventions(value)
        if problems:
            raise ValueError(f"PRACTICE_DASHBOARD_RCI_CONVENTIONS: {'; '.join(problems)}")
        return value

    @model_validator(mode="after")
    def _thresholds_are_consistent(self) -> Settings:
        # Build them once at start, so a bad operator or count stops the app here with the
        # domain's own message rather than on the first page that computes a flag.
        try:
            self.thresholds  # noqa: B018
        except ValueError as exc:
            raise ValueError(f"PRACTICE_DASHBOARD_FLAG_THRESHOLDS: {exc}") from exc
        return self

    @model_validator(mode="after")
    def _in_flight_fits_the_pool(self) -> Settings:
        # Each request in flight holds at most one connection; more would wait on the pool.
        connections = self.db_pool_size + self.db_max_overflow
        if self.requests_in_flight > connections:
            raise ValueError(
                f"max_requests_in_flight ({self.requests_in_flight}) must not exceed "
                f"db_pool_size + db_max_overflow ({connections})"
            )
        return self

    @field_validator("mfa_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for key in _key_list(value.get_secret_value()):
                try:
                    raw = base64.urlsafe_b64decode(key.encode("ascii"))
                except (ValueError, binascii.Error):
                    raw = b""
                if len(raw) != 32:
                    raise ValueError(
                        "each key must be a Fernet key: 32 random bytes in URL-safe base64 "
                        '(python -c "import base64, os; '
                        'print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
                    )
        return value

    @property
    def mfa_key_list(self) -> tuple[str, ...]:
        """The configured MFA_KEYS, newest first (empty when unset)."""
        return _key_list(self.mfa_keys.get_secret_value()) if self.mfa_keys is not None else ()

    @property
    def requests_in_flight(self) -> int:
        """How many requests one worker works on at once (`max_requests_in_flight`)."""
        if self.max_requests_in_flight is not None:
            return self.max_requests_in_flight
        return 1 if self.is_sqlite else 2

    @property
    def thresholds(self) -> Thresholds:
        """The practice's thresholds: DESIGN.md defaults with the configured overrides."""
        return _thresholds(
            tuple(self.flag_thresholds.items()), tuple(sorted(self.rci_conventions.items()))
        )

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.practice_timezone)

    @property
    def mfa_required(self) -> bool:
        """Whether every account needs a second factor (REQUIRE_MFA, else production only)."""
        if self.require_mfa is not None:
            return self.require_mfa
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=16)
def _thresholds(
    overrides: tuple[tuple[str, float | str], ...], conventions: tuple[tuple[str, str], ...]
) -> Thresholds:
    # Built once per configuration (Thresholds is frozen): pages ask for it on every view,
    # and building it validates every field.
    defaults = Thresholds()
    typed = {name: type(getattr(defaults, name))(value) for name, value in overrides}
    return replace(defaults, rci_conventions=conventions, **typed)


@lru_cache
def get_settings() -> Settings:
    return Settings()
