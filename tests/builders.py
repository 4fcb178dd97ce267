"""Small typed builders for test data: `make_client(db, practitioner, **overrides)`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import count
from typing import TYPE_CHECKING, Any

import pyotp
from fastapi.testclient import TestClient

from practice_dashboard.config import Settings, get_settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    Annotation,
    AnnotationKind,
    CheckinLink,
    Client,
    Episode,
    Measure,
    MfaAuthenticator,
    Observation,
    Session,
    Supervision,
    User,
)
from practice_dashboard.models.enums import Attendance, Role, Zone
from practice_dashboard.security import create_access_token

if TYPE_CHECKING:
    import pytest

_serial = count(1)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# One real argon2id hash (of PASSWORD), computed once: hashing per user would slow every test.
PASSWORD = "correct horse battery"
_hash_cache: dict[str, str] = {}


def earlier_today(tz: tzinfo, before: timedelta, *, fraction: float = 0.5) -> datetime:
    """`before` ago, or, in the first moments of the practice's day (`tz`) when that would be
    yesterday, `fraction` of the way from its midnight to now: a time that has passed and is
    still today, whatever the hour the suite runs at."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz).astimezone(UTC)
    return max(now - before, midnight + (now - midnight) * fraction)


def password_hash(settings: Settings) -> str:
    from practice_dashboard.security import hash_password

    if PASSWORD not in _hash_cache:
        _hash_cache[PASSWORD] = hash_password(settings, PASSWORD)
    return _hash_cache[PASSWORD]


def make_user(
    db: DbSession, settings: Settings, role: Role = Role.THERAPIST, **overrides: Any
) -> User:
    n = next(_serial)
    values: dict[str, Any] = {
        "email": f"user{n}@example.org",
        "full_name": f"Practitioner {n}",
        "role": role,
        "password_hash": password_hash(settings),
        "is_active": True,
    }
    values.update(overrides)
    user = User(**values)
    db.add(user)
    db.flush()
    return user


def supervise(db: DbSession, supervisor: User, supervisee: User) -> Supervision:
    link = Supervision(supervisor_id=supervisor.id, supervisee_id=supervisee.id)
    db.add(link)
    db.flush()
    return link


CHECKIN_CODE = "2468"


def make_checkin_link(
    db: DbSession, settings: Settings, client: Client, **overrides: Any
) -> tuple[str, CheckinLink]:
    """A live check-in link for `client` with the code CHECKIN_CODE; returns (token, link)."""
    import secrets

    from practice_dashboard.security import hash_password
    from practice_dashboard.services.checkins.links import token_hash

    if CHECKIN_CODE not in _hash_cache:
        _hash_cache[CHECKIN_CODE] = hash_password(settings, CHECKIN_CODE)
    token = secrets.token_urlsafe(32)
    values: dict[str, Any] = {
        "client_id": client.id,
        "token_hash": token_hash(token),
        "code_hash": _hash_cache[CHECKIN_CODE],
        "created_by_id": client.practitioner_id,
        "expires_at": datetime.now(UTC) + timedelta(days=180),
        "failed_code_attempts": 0,
        "show_progress": False,
    }
    values.update(overrides)
    link = CheckinLink(**values)
    db.add(link)
    db.flush()
    return token, link


def make_client(db: DbSession, practitioner: User, **overrides: Any) -> Client:
    n = next(_serial)
    values: dict[str, Any] = {
        "display_name": f"Client {n:05d}",
        "intake_date": date(2026, 1, 5),
        "session_cadence_days": 7,
    }
    values.update(overrides)
    client = Client(practitioner_id=practitioner.id, **values)
    db.add(client)
    db.flush()
    return client


def make_session(db: DbSession, client: Client, **overrides: Any) -> Session:
    values: dict[str, Any] = {
        "starts_at": NOW - timedelta(days=7),
        "duration_minutes": 50,
        "attendance": Attendance.ATTENDED,
        "engagement": 7,
    }
    values.update(overrides)
    session = Session(client_id=client.id, practitioner_id=client.practitioner_id, **values)
    db.add(session)
    db.flush()
    return session


def make_observation(db: DbSession, client: Client, **overrides: Any) -> Observation:
    values: dict[str, Any] = {
        "observed_at": NOW - timedelta(days=1),
        "zone": Zone.WITHIN,
        "activation": 3,
    }
    values.update(overrides)
    observation = Observation(client_id=client.id, **values)
    db.add(observation)
    db.flush()
    return observation


def make_episode(db: DbSession, client: Client, **overrides: Any) -> Episode:
    start = overrides.pop("started_at", NOW - timedelta(days=2))
    values: dict[str, Any] = {
        "started_at": start,
        "recognized_at": start + timedelta(minutes=5),
        "baseline_at": start + timedelta(minutes=40),
        "peak_intensity": 7,
        "strategies": ["paced breathing"],
    }
    values.update(overrides)
    episode = Episode(client_id=client.id, **values)
    db.add(episode)
    db.flush()
    return episode


def make_measure(db: DbSession, client: Client, **overrides: Any) -> Measure:
    values: dict[str, Any] = {
        "instrument": "phq9",
        "administered_at": NOW - timedelta(days=3),
        "items": [1, 1, 1, 1, 1, 1, 1, 1, 0],
        "total": 8.0,
        "severity": "mild",
    }
    values.update(overrides)
    measure = Measure(client_id=client.id, **values)
    db.add(measure)
    db.flush()
    return measure


def make_annotation(db: DbSession, client: Client, **overrides: Any) -> Annotation:
    values: dict[str, Any] = {
        "at": NOW - timedelta(days=4),
        "kind": AnnotationKind.LIFE_EVENT,
        "label": "moved house",
    }
    values.update(overrides)
    annotation = Annotation(client_id=client.id, **values)
    db.add(annotation)
    db.flush()
    return annotation


def auth_headers(settings: Settings, user: User) -> dict[str, str]:
    token = create_access_token(
        settings, user.id, datetime.now(UTC), generation=user.token_generation
    )
    return {"Authorization": f"Bearer {token}"}


def login_cookies(db: DbSession, settings: Settings, user: User) -> tuple[dict[str, str], str]:
    """A live browser login for `user`: (cookies for the test client, its CSRF token)."""
    from practice_dashboard.services.accounts import login_session

    token, login = login_session.start(db, settings, user=user, now=datetime.now(UTC), ip=None)
    db.flush()
    return {login_session.COOKIE_NAME: token}, login.csrf_token


def sign_in(api: TestClient, db: DbSession, settings: Settings, user: User) -> str:
    """Sign `api` in as `user` through a live browser login (committed, so the app sees it),
    in place of whoever was signed in; its CSRF token, for forms."""
    cookies, csrf = login_cookies(db, settings, user)
    db.commit()
    api.cookies.clear()
    api.cookies.update(cookies)
    return csrf


#: Recovery minutes vary around a client's usual by these factors, in turn (a spread of about
#: 0.15 in log minutes, so a monitoring chart has an SD to standardise with).
RECOVERY_JITTER = (1.0, 0.8, 1.15, 0.9, 1.25, 0.85, 1.05, 0.95, 1.2, 0.75)


def make_recovery_course(
    db: DbSession,
    client: Client,
    *,
    first: datetime,
    until: datetime,
    change: datetime | None = None,
    usual_minutes: float = 45,
    slow_minutes: float = 150,
    every: timedelta = timedelta(hours=84),
) -> list[Episode]:
    """Episodes from `first`, one every `every` (default: two a week) before `until`, noticed
    after 5 minutes and back at about `usual_minutes`; from `change` on, about `slow_minutes`."""
    episodes = []
    i = 0
    while (start := first + i * every) < until:
        slow = change is not None and start >= change
        minutes = (slow_minutes if slow else usual_minutes) * RECOVERY_JITTER[i % 10]
        episodes.append(
            make_episode(
                db,
                client,
                started_at=start,
                recognized_at=start + timedelta(minutes=5),
                baseline_at=start + timedelta(minutes=minutes),
            )
        )
        i += 1
    return episodes


@dataclass(frozen=True)
class MfaSetup:
    """A confirmed authenticator for a test account: its key and its ten recovery codes."""

    secret: str
    recovery_codes: list[str]

    def code(self, at: datetime | None = None, *, steps: int = 0) -> str:
        """The app's code at `at` (default now), `steps` time steps later."""
        return pyotp.TOTP(self.secret).at(at or datetime.now(UTC), counter_offset=steps)


def make_mfa(db: DbSession, settings: Settings, user: User, **overrides: Any) -> MfaSetup:
    """Two-factor authentication on for `user` (no code used yet), with recovery codes; the
    key is stored sealed, as the app stores it."""
    from practice_dashboard.security import seal_mfa_secret
    from practice_dashboard.services.accounts import mfa

    secret = pyotp.random_base32()
    values: dict[str, Any] = {
        "secret": seal_mfa_secret(settings, secret),
        "confirmed_at": datetime.now(UTC),
        "failed_count": 0,
    }
    values.update(overrides)
    db.add(MfaAuthenticator(user_id=user.id, **values))
    db.flush()
    return MfaSetup(secret, mfa.issue_recovery_codes(db, user_id=user.id))


@contextmanager
def cli_environment(monkeypatch: pytest.MonkeyPatch, url: str, **extra: str) -> Iterator[None]:
    """While the block runs, the CLI reaches `url` through its environment, with a test secret
    key, the suite's cheapest accepted password hashing and any `extra` variables; its
    settings are read afresh at the start and again at the end."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "c" * 40)
    monkeypatch.setenv("PRACTICE_DASHBOARD_ENVIRONMENT", "test")
    monkeypatch.setenv("PRACTICE_DASHBOARD_ARGON2_MEMORY_KIB", "19456")
    monkeypatch.setenv("PRACTICE_DASHBOARD_ARGON2_TIME_COST", "2")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()
