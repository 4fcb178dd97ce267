"""A client's private check-in link: created, renewed and revoked by the practitioner, opened
by the client with the link's token and a numeric code.

The token (`secrets.token_urlsafe(32)`, 256 bits) is returned once and only its SHA-256 is
stored; lookup is by that hash, so no token is ever compared character by character. The code
is stored as an argon2 hash. Every way a link stops working (revoked, expired, the client
discharged or archived, an unknown or altered token) gives the caller the same `None`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, defer_write, is_reading, kept_statement
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import CheckinLink, Client
from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.schemas.checkin import CheckinLinkCreate, CheckinLinkUpdate, LinkState
from practice_dashboard.security import (
    CHECKIN_PATH_PREFIX,
    backoff_seconds,
    hash_password,
    verify_password,
)
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor, LinkActor

# Only refresh `last_used_at` this often: a write per page view is needless load.
TOUCH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_path(token: str) -> str:
    """The link's path on this site; the one place its shape is written."""
    return f"{CHECKIN_PATH_PREFIX}{token}"


def client_can_check_in(client: Client) -> bool:
    return client.archived_at is None and client.status != ClientStatus.DISCHARGED


def state_of(link: CheckinLink, client: Client, now: datetime) -> LinkState:
    if link.revoked_at is not None:
        return "revoked"
    if not client_can_check_in(client):
        return "client_inactive"
    if now >= link.expires_at:
        return "expired"
    return "live"


@dataclass(frozen=True, slots=True)
class LinkView:
    """A link with its client and state, for the practitioner (never the token)."""

    link: CheckinLink
    client: Client
    state: LinkState


def _unrevoked(db: DbSession, client_id: uuid.UUID, *, lock: bool = False) -> CheckinLink | None:
    stmt = select(CheckinLink).where(
        CheckinLink.client_id == client_id, CheckinLink.revoked_at.is_(None)
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.scalars(stmt).one_or_none()


def _lock_client(db: DbSession, client: Client) -> None:
    # Serialises link changes per client (NO KEY UPDATE, as the summary refresh does), so two
    # "create" clicks cannot both make a live link
    # (the partial unique index would refuse the second; this turns that into a wait).
    db.execute(select(Client.id).where(Client.id == client.id).with_for_update(key_share=True))


def _current(db: DbSession, client_id: uuid.UUID) -> CheckinLink | None:
    """The unrevoked link, or else the latest one (one query: the unrevoked one sorts first;
    there is at most one, by the partial unique index)."""
    statement = kept_statement(
        ("current checkin link",),
        lambda: (
            select(CheckinLink)
            .where(CheckinLink.client_id == bindparam("client_id"))
            .order_by(
                case((CheckinLink.revoked_at.is_(None), 0), else_=1),
                CheckinLink.created_at.desc(),
                CheckinLink.id.desc(),
            )
            .limit(1)
        ),
    )
    return db.scalars(statement, {"client_id": client_id}).one_or_none()


def find_link(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    now: datetime,
    client: Client | None = None,
) -> LinkView | None:
    """The client's current link (unrevoked, or else the latest), or None. Not audited on its
    own: the client page that shows it is. ``client``: the client as the caller already read
    it through ``access`` (not read again)."""
    if client is None or client.id != client_id:
        client = access.get_visible_client(db, actor.user, client_id)
    link = _current(db, client.id)
    return None if link is None else LinkView(link, client, state_of(link, client, now))


def get_link(db: DbSession, *, client_id: uuid.UUID, actor: Actor, now: datetime) -> LinkView:
    """The client's current link, 404 when it has none; audited."""
    view = find_link(db, client_id=client_id, actor=actor, now=now)
    if view is None:
        raise NotFound("This client has no check-in link")
    audit.record(db, actor, "read", "checkin_link", view.link.id, client_id=view.client.id)
    return view


def create_link(
    db: DbSession,
    settings: Settings,
    *,
    client_id: uuid.UUID,
    data: CheckinLinkCreate,
    actor: Actor,
    now: datetime,
) -> tuple[str, LinkView]:
    """A new link for the client; returns its token (shown once) and the link.

    A client has at most one link that works: an earlier unrevoked one is revoked here.
    """
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    if not client_can_check_in(client):
        raise Invalid(
            [(("client_id",), "a discharged or archived client cannot be given a check-in link")]
        )
    _lock_client(db, client)
    previous = _unrevoked(db, client.id, lock=True)
    if previous is not None:
        _revoke(db, previous, actor, now, reason="replaced")
    token = secrets.token_urlsafe(32)
    link = CheckinLink(
        client_id=client.id,
        token_hash=token_hash(token),
        code_hash=hash_password(settings, data.code),
        created_by_id=actor.user.id,
        expires_at=now + timedelta(days=settings.checkin_link_days),
        show_progress=data.show_progress,
        failed_code_attempts=0,
    )
    db.add(link)
    db.flush()
    audit.record(db, actor, "create", "checkin_link", link.id, client_id=client.id)
    return token, LinkView(link, client, state_of(link, client, now))


def _revoke(
    db: DbSession, link: CheckinLink, actor: Actor | None, now: datetime, *, reason: str | None
) -> None:
    link.revoked_at = now
    link.revoked_by_id = actor.user.id if actor else None
    db.flush()
    audit.record(
        db, actor, "revoke", "checkin_link", link.id, client_id=link.client_id, detail=reason
    )


def revoke_link(db: DbSession, *, client_id: uuid.UUID, actor: Actor, now: datetime) -> LinkView:
    """Revoke the client's link at once (404 when none is unrevoked)."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    _lock_client(db, client)
    link = _unrevoked(db, client.id, lock=True)
    if link is None:
        raise NotFound("This client has no check-in link to revoke")
    _revoke(db, link, actor, now, reason=None)
    return LinkView(link, client, state_of(link, client, now))


def update_link(
    db: DbSession,
    settings: Settings,
    *,
    client_id: uuid.UUID,
    data: CheckinLinkUpdate,
    actor: Actor,
    now: datetime,
) -> LinkView:
    """Renew the link (a new expiry from now), change its code, or switch "Your progress"."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    _lock_client(db, client)
    link = _unrevoked(db, client.id, lock=True)
    if link is None:
        raise NotFound("This client has no check-in link; create one")
    changed: list[str] = []
    if data.renew:
        link.expires_at = now + timedelta(days=settings.checkin_link_days)
        changed.append("expires_at")
    if data.code is not None:
        link.code_hash = hash_password(settings, data.code)
        link.failed_code_attempts = 0
        link.locked_until = None
        changed.append("code")
    if data.show_progress is not None and data.show_progress != link.show_progress:
        link.show_progress = data.show_progress
        changed.append("show_progress")
    db.flush()
    if changed:
        audit.record(
            db,
            actor,
            "update",
            "checkin_link",
            link.id,
            client_id=client.id,
            detail=",".join(changed),
        )
    return LinkView(link, client, state_of(link, client, now))


# --- The client's side -----------------------------------------------------------------------


def open_link(
    db: DbSession, *, token: str, now: datetime, lock: bool = False
) -> CheckinLink | None:
    """The live link for this token, or None, alike for every reason a link does not work."""
    if not token or len(token) > 200:
        return None
    stmt = (
        select(CheckinLink, Client)
        .join(Client, Client.id == CheckinLink.client_id)
        .where(CheckinLink.token_hash == token_hash(token))
    )
    if lock:
        stmt = stmt.with_for_update(of=CheckinLink)
    row = db.execute(stmt).one_or_none()
    if row is None:
        return None
    link, client = row
    return link if state_of(link, client, now) == "live" else None


def live_link_locked(db: DbSession, link_id: uuid.UUID, now: datetime) -> CheckinLink | None:
    """The link by id, locked, if it still works (as :func:`open_link`)."""
    row = db.execute(
        select(CheckinLink, Client)
        .join(Client, Client.id == CheckinLink.client_id)
        .where(CheckinLink.id == link_id)
        .with_for_update(of=CheckinLink)
    ).one_or_none()
    if row is None:
        return None
    link, client = row
    return link if state_of(link, client, now) == "live" else None


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    """The answer to a code: accepted, or how long to wait (0 = may try again now), or
    `revoked` when too many wrong codes ended the link."""

    accepted: bool
    retry_after: int = 0
    revoked: bool = False


def retry_after(link: CheckinLink, now: datetime) -> int:
    if link.locked_until is None or now >= link.locked_until:
        return 0
    return max(1, int((link.locked_until - now).total_seconds() + 0.999))


def check_code(
    db: DbSession,
    settings: Settings,
    *,
    link: CheckinLink,
    code: str,
    now: datetime,
    ip: str | None,
) -> CodeOutcome:
    """Check the code for a live link (locked by the caller), with per-link throttling.

    While the link must wait, the code is not even checked. Wrong codes count up; after
    `checkin_code_free_attempts` each one doubles the wait, and after
    `checkin_code_max_failures` in a row the link is revoked. The caller commits either way.
    """
    wait = retry_after(link, now)
    if wait:
        # Not even hashed: a flood of attempts during the wait costs the server nothing.
        return CodeOutcome(accepted=False, retry_after=wait)
    matched = verify_password(settings, link.code_hash, code)
    return record_code(db, settings, link=link, matched=matched, now=now, ip=ip)


def record_code(
    db: DbSession,
    settings: Settings,
    *,
    link: CheckinLink,
    matched: bool,
    now: datetime,
    ip: str | None,
) -> CodeOutcome:
    """Record a checked code on its link (locked by the caller): open it, or count the miss,
    set the wait, and revoke the link after too many."""
    actor = LinkActor(link_id=link.id, client_id=link.client_id, ip=ip)
    if matched:
        link.failed_code_attempts = 0
        link.locked_until = None
        link.last_used_at = now
        db.flush()
        audit.record(db, actor, "open", "checkin_link", link.id, client_id=link.client_id)
        return CodeOutcome(accepted=True)
    link.failed_code_attempts += 1
    audit.record(db, actor, "wrong_code", "checkin_link", link.id, client_id=link.client_id)
    if link.failed_code_attempts >= settings.checkin_code_max_failures:
        _revoke(db, link, None, now, reason="too many wrong codes")
        return CodeOutcome(accepted=False, revoked=True)
    delay = backoff_seconds(
        link.failed_code_attempts,
        free_attempts=settings.checkin_code_free_attempts,
        max_delay_seconds=settings.checkin_code_max_delay_seconds,
    )
    link.locked_until = now + timedelta(seconds=delay) if delay else None
    db.flush()
    return CodeOutcome(accepted=False, retry_after=delay)


def touch(db: DbSession, link: CheckinLink, now: datetime) -> None:
    """Note that the client used the link (shown to the practitioner as "last used")."""
    if link.last_used_at is None or now - link.last_used_at >= TOUCH_EVERY:
        if not is_reading(db):
            link.last_used_at = now
            db.flush()
            return
        link_id = link.id

        def write(session: Session) -> None:
            session.execute(
                update(CheckinLink).where(CheckinLink.id == link_id).values(last_used_at=now)
            )

        # A page view (a read) queues it to the short write transaction after the read.
        defer_write(db, write)
