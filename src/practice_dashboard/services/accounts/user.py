"""Accounts, supervision links and login."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from practice_dashboard.models import Supervision, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.user import SupervisionCreate, UserCreate, UserUpdate
from practice_dashboard.security import (
    burn_password_check,
    hash_password,
    login_retry_after,
    needs_rehash,
    verify_password,
)
from practice_dashboard.services import audit
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import apply_update

PRACTITIONER_ROLES = (Role.THERAPIST, Role.COACH, Role.SUPERVISOR)


def get_by_email(db: DbSession, email: str) -> User | None:
    return db.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()


def create_user(
    db: DbSession, settings: Settings, *, data: UserCreate, actor: Actor | None
) -> User:
    if get_by_email(db, data.email) is not None:
        raise Invalid([(("email",), "an account with this e-mail already exists")])
    user = User(
        email=data.email,
        full_name=data.full_name,
        role=data.role,
        password_hash=hash_password(settings, data.password),
        is_active=True,
        failed_login_count=0,
    )
    db.add(user)
    db.flush()
    audit.record(db, actor, "create", "user", user.id)
    return user


def update_user(
    db: DbSession, settings: Settings, *, user: User, data: UserUpdate, actor: Actor
) -> User:
    changed = apply_update(user, data, exclude={"password"})
    if data.password is not None:
        user.password_hash = hash_password(settings, data.password)
        changed["password"] = True
    if "password" in changed or changed.get("is_active") is False:
        # Whoever knew the old password (or held the account) must not stay logged in.
        end_all_logins(db, user=user, now=utcnow())
    if changed:
        db.flush()
        audit.record(db, actor, "update", "user", user.id, detail=",".join(sorted(changed)))
    return user


def end_all_logins(db: DbSession, *, user: User, now: datetime) -> None:
    """End every login session of `user` and make every API token issued so far fail."""
    user.token_generation += 1
    login_session.end_all_for(db, user=user, now=now)


def get_user(db: DbSession, user_id: uuid.UUID) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


def add_supervisee(
    db: DbSession, *, supervisor: User, data: SupervisionCreate, actor: Actor | None
) -> Supervision:
    supervisee = db.get(User, data.supervisee_id)
    if supervisee is None:
        raise Invalid([(("supervisee_id",), "no such user")])
    if supervisor.role not in PRACTITIONER_ROLES:
        raise Invalid([(("supervisor",), "an admin account cannot supervise")])
    if supervisee.role not in PRACTITIONER_ROLES:
        raise Invalid([(("supervisee_id",), "only practitioners can be supervised")])
    if supervisee.id == supervisor.id:
        raise Invalid([(("supervisee_id",), "a practitioner cannot supervise themselves")])
    existing = db.scalars(
        select(Supervision).where(
            Supervision.supervisor_id == supervisor.id,
            Supervision.supervisee_id == supervisee.id,
        )
    ).one_or_none()
    if existing is not None:
        return existing
    link = Supervision(supervisor_id=supervisor.id, supervisee_id=supervisee.id)
    db.add(link)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as exc:  # a concurrent request made the same link
        raise Conflict("This supervision link already exists") from exc
    audit.record(
        db, actor, "create", "supervision", link.id, detail=f"{supervisor.id}->{supervisee.id}"
    )
    return link


def authenticate(
    db: DbSession, settings: Settings, *, email: str, password: str, now: datetime, ip: str | None
) -> User:
    """The user for these credentials, or Unauthorized; throttles repeated failures per account."""
    user = get_by_email(db, email)
    if user is None:
        burn_password_check(settings, password)
        raise Unauthorized("Incorrect e-mail or password")
    wait = login_retry_after(settings, user.failed_login_count, user.last_failed_login_at, now)
    if wait > 0:
        # Refused before the password is checked, so guessing gains nothing while throttled.
        raise TooManyRequests(
            f"Too many failed attempts; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    if not verify_password(settings, user.password_hash, password) or not user.is_active:
        # A core UPDATE: an atomic increment under concurrent guesses, and it leaves the row's
        # optimistic `version` alone so an admin's pending edit does not turn into a conflict.
        db.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_login_count=User.failed_login_count + 1, last_failed_login_at=now)
        )
        audit.record(db, Actor(user, ip), "login_failed", "user", user.id)
        db.flush()
        # keep_changes: the failure count must survive the 401 that rolls back everything else.
        raise Unauthorized("Incorrect e-mail or password", keep_changes=True)
    values: dict[str, object] = {}
    if user.failed_login_count or user.last_failed_login_at:
        values.update(failed_login_count=0, last_failed_login_at=None)
    if needs_rehash(settings, user.password_hash):
        values["password_hash"] = hash_password(settings, password)
    if values:
        db.execute(update(User).where(User.id == user.id).values(**values))
    audit.record(db, Actor(user, ip), "login", "user", user.id)
    db.flush()
    return user


def remove_supervisee(
    db: DbSession, *, supervisor_id: uuid.UUID, supervisee_id: uuid.UUID, actor: Actor
) -> None:
    link = db.scalars(
        select(Supervision).where(
            Supervision.supervisor_id == supervisor_id, Supervision.supervisee_id == supervisee_id
        )
    ).one_or_none()
    if link is None:
        raise NotFound("Supervision link not found")
    audit.record(
        db, actor, "delete", "supervision", link.id, detail=f"{supervisor_id}->{supervisee_id}"
    )
    db.delete(link)
    db.flush()
