"""Browser login sessions: random cookie tokens, stored hashed, ended on the server."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, defer_write, kept_statement
from practice_dashboard.models import LoginSession, User
from practice_dashboard.security import csrf_token_matches

COOKIE_NAME = "pd_session"
# Only refresh `last_seen_at` this often: a write per page view is needless load.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ActiveLogin:
    user: User
    login: LoginSession


def start(
    db: DbSession, settings: Settings, *, user: User, now: datetime, ip: str | None
) -> tuple[str, LoginSession]:
    """A new login; returns the cookie token (shown once, never stored) and the row."""
    token = secrets.token_urlsafe(32)
    login = LoginSession(
        token_hash=_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
    )
    db.add(login)
    db.flush()
    return token, login


def resolve(db: DbSession, settings: Settings, *, token: str, now: datetime) -> ActiveLogin | None:
    """The live login for this cookie token, or None (unknown, ended, idle too long, expired)."""
    # Every page looks its login up: the statement is kept once built, the hash bound.
    statement = kept_statement(
        ("login by token",),
        lambda: (
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(
                LoginSession.token_hash == bindparam("token_hash"), LoginSession.ended_at.is_(None)
            )
        ),
    )
    row = db.execute(statement, {"token_hash": _hash(token)}).one_or_none()
    if row is None:
        return None
    login, user = row
    idle_limit = login.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= login.expires_at or now >= idle_limit or not user.is_active:
        _queue_update(db, login, ended_at=now)
        return None
    if now - login.last_seen_at >= TOUCH_EVERY:
        # Queued to the end of the unit of work: on a page view (a read) it is written in the
        # short write transaction after the read, never inside it.
        _queue_update(db, login, last_seen_at=now)
    return ActiveLogin(user=user, login=login)


def _queue_update(db: DbSession, login: LoginSession, **values: datetime) -> None:
    login_id = login.id

    def write(session: Session) -> None:
        session.execute(update(LoginSession).where(LoginSession.id == login_id).values(**values))

    defer_write(db, write)


def end(db: DbSession, *, login: LoginSession, now: datetime) -> None:
    if login.ended_at is None:
        login.ended_at = now
        db.flush()


def end_all_for(db: DbSession, *, user: User, now: datetime) -> None:
    """Log a user out everywhere (password change, deactivation)."""
    db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def csrf_matches(login: LoginSession, submitted: str | None) -> bool:
    return csrf_token_matches(login.csrf_token, submitted)
