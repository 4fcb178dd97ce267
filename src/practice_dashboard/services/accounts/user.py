"""Accounts, supervision links and login."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, separate_transaction
from practice_dashboard.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from practice_dashboard.models import Supervision, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.user import (
    SupervisionCreate,
    UserCreate,
    UserUpdate,
    normalise_email,
)
from practice_dashboard.security import (
    burn_password_check,
    hash_password,
    needs_rehash,
    verify_password,
)
from practice_dashboard.services import audit
from practice_dashboard.services.accounts import login_session, login_throttle
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import apply_update

PRACTITIONER_ROLES = (Role.THERAPIST, Role.COACH, Role.SUPERVISOR)


def get_by_email(db: DbSession, email: str) -> User | None:
    email = normalise_email(email)
    return db.scalars(select(User).where(User.email == email)).one_or_none()


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
    )
    db.add(user)
    db.flush()
    audit.record(db, actor, "create", "user", user.id)
    return user


def own_account_problems(
    *, account: User, actor: User, role: str | None, is_active: bool | None
) -> list[tuple[tuple[str], str]]:
    """Why an admin may not make this change to their own account (empty: they may).

    Giving up one's own admin role or deactivating oneself could leave the practice without
    an admin; another admin has to do it.
    """
    if account.id != actor.id:
        return []
    problems: list[tuple[tuple[str], str]] = []
    if role is not None and role != Role.ADMIN:
        problems.append((("role",), "you cannot give up your own admin role; ask another admin"))
    if is_active is False:
        problems.append(
            (("is_active",), "you cannot deactivate your own account; ask another admin")
        )
    return problems


def update_user(
    db: DbSession, settings: Settings, *, user: User, data: UserUpdate, actor: Actor
) -> User:
    problems = own_account_problems(
        account=user, actor=actor.user, role=data.role, is_active=data.is_active
    )
    if problems:
        raise Invalid(problems)
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


BAD_LOGIN = "Incorrect e-mail or password"


def _throttled(wait: int) -> TooManyRequests:
    # One answer for every throttled attempt, whichever counter holds it and whoever the
    # e-mail belongs to (or not).
    return TooManyRequests(
        f"Too many failed attempts; try again in {wait} seconds",
        headers={"Retry-After": str(wait)},
    )


def authenticate(
    db: DbSession, settings: Settings, *, email: str, password: str, now: datetime, ip: str | None
) -> User:
    """The user for these credentials, or Unauthorized; throttled per (e-mail, source) and
    per source (services/accounts/login_throttle.py).

    Known and unknown e-mails take the same steps (an argon2 check, the same counters) and get
    the same answers. The throttle is read and written in short transactions of their own, and
    argon2 runs outside any transaction, so a login never holds SQLite's write lock while it
    hashes. Call it before the unit of work `db` has begun (see `separate_transaction`).
    """
    keys = login_throttle.keys_for(settings, email=email, ip=ip)
    with separate_transaction(db) as side:
        wait = login_throttle.retry_after(side, settings, keys=keys, now=now)
        # Refused before the password is checked, so guessing gains nothing while throttled.
        found = None if wait else get_by_email(side, email)
    if wait:
        _record_refused_login(db, "login_throttled", ip)
        raise _throttled(wait)
    if found is None:
        burn_password_check(settings, password)
        accepted = False
    else:
        accepted = verify_password(settings, found.password_hash, password) and found.is_active
    with separate_transaction(db) as side:
        wait = login_throttle.settle(side, settings, keys=keys, accepted=accepted, now=now)
    if wait:
        _record_refused_login(db, "login_throttled", ip)
        raise _throttled(wait)
    user = db.get(User, found.id) if found is not None else None
    if user is None or not accepted:
        if user is not None:
            audit.record_refusal(db, Actor(user, ip), "login_failed", "user", user.id)
        else:
            _record_refused_login(db, "login_failed", ip)
        # keep_changes: the audit row must survive the 401 that rolls back everything else.
        raise Unauthorized(BAD_LOGIN, keep_changes=True)
    if needs_rehash(settings, user.password_hash):
        db.execute(
            update(User)
            .where(User.id == user.id)
            .values(password_hash=hash_password(settings, password))
        )
    audit.record(db, Actor(user, ip), "login", "user", user.id)
    db.flush()
    return user


def _record_refused_login(db: DbSession, action: str, ip: str | None) -> None:
    # Without the address typed (it may be anyone's, or a typo of one): the IP is the trace.
    audit.record_refusal(db, None, action, "user", detail="account not named", ip=ip)


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
