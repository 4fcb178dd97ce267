"""Login throttling, per (e-mail, source address) and per source address.

A pair that keeps failing waits (1 s, doubling to a ceiling) before its next password is even
checked; so does a source failing across many e-mails (spraying). A source that has not been
failing for an account is never held back by another source's guesses, so nobody can keep an
account's owner out. Unknown e-mails are counted exactly like accounts (same table, same key),
so the answers never tell which e-mails have an account.

Failures are written in their own short transactions (`db.separate_transaction`), never rolled
back with the request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import LoginFailure
from practice_dashboard.schemas.user import normalise_email
from practice_dashboard.security import retry_after_seconds

# IPv6 clients usually hold a whole /64: one source, however they vary the rest.
IPV6_SOURCE_PREFIX = 64


@dataclass(frozen=True, slots=True)
class ThrottleKeys:
    """The two counters a login attempt touches: its (e-mail, source) pair and its source."""

    pair: str
    source: str

    @property
    def all(self) -> tuple[str, str]:
        # Always locked in this order, so two attempts never wait on each other crosswise.
        return (self.pair, self.source) if self.pair < self.source else (self.source, self.pair)


def source_of(ip: str | None) -> str:
    """The throttled source for a client address: the address, an IPv6 address's /64."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_SOURCE_PREFIX), strict=False))
    return str(address)


def _hmac(settings: Settings, *parts: str) -> str:
    message = "\x00".join(("login-failure", *parts)).encode()
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def keys_for(settings: Settings, *, email: str, ip: str | None) -> ThrottleKeys:
    """The counters for an attempt: keyed hashes, so the table holds no e-mail or address."""
    source = source_of(ip)
    return ThrottleKeys(
        pair=_hmac(settings, "pair", normalise_email(email), source),
        source=_hmac(settings, "source", source),
    )


def _forget_before(settings: Settings, now: datetime) -> datetime:
    return now - timedelta(hours=settings.login_failure_forget_hours)


def _failures(settings: Settings, keys: ThrottleKeys, row: LoginFailure, now: datetime) -> int:
    """The failures a counter holds now.

    A day without failures forgets them all. A source's counter also forgets one failure per
    `login_source_forgive_minutes` without failures: an office behind one address, where
    someone mistypes now and then, never adds up to a wait, while a spraying source does.
    """
    if row.last_failed_at < _forget_before(settings, now):
        return 0
    if row.key != keys.source:
        return row.failures
    forgiven = max(
        0, (now - row.last_failed_at) // timedelta(minutes=settings.login_source_forgive_minutes)
    )
    return max(0, row.failures - forgiven)


def _wait(settings: Settings, keys: ThrottleKeys, rows: list[LoginFailure], now: datetime) -> int:
    wait = 0
    for row in rows:
        free = (
            settings.login_free_attempts
            if row.key == keys.pair
            else settings.login_source_free_attempts
        )
        wait = max(
            wait,
            retry_after_seconds(
                _failures(settings, keys, row, now),
                row.last_failed_at,
                now,
                free_attempts=free,
                max_delay_seconds=settings.login_max_delay_seconds,
            ),
        )
    return wait


def retry_after(db: DbSession, settings: Settings, *, keys: ThrottleKeys, now: datetime) -> int:
    """Seconds before this pair and source may try again (0 = now)."""
    rows = list(db.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys.all))))
    return _wait(settings, keys, rows, now)


def _ensure_rows(db: DbSession, keys: ThrottleKeys, now: datetime) -> None:
    # Every counter gets a row before it is locked, so concurrent first attempts queue on it
    # instead of all slipping past an empty table.
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for key in keys.all:
        db.execute(
            insert(LoginFailure)
            .values(key=key, failures=0, last_failed_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )


def _locked(db: DbSession, keys: ThrottleKeys, now: datetime) -> list[LoginFailure]:
    _ensure_rows(db, keys, now)
    return list(
        db.scalars(
            select(LoginFailure)
            .where(LoginFailure.key.in_(keys.all))
            .order_by(LoginFailure.key)
            .with_for_update()
        )
    )


def settle(
    db: DbSession, settings: Settings, *, keys: ThrottleKeys, accepted: bool, now: datetime
) -> int:
    """Record a checked password under its counters, locked; returns the wait that applies.

    When another attempt set a wait while this password was being checked, the answer is that
    wait (nothing recorded), right or wrong, so a burst of guesses learns nothing from the
    order its answers come back in. Otherwise a failure counts on both counters and a success
    clears the pair's counter (never the source's: a spraying source cannot reset it by
    logging in to an account of its own). Old rows are pruned on the way.
    """
    rows = _locked(db, keys, now)
    wait = _wait(settings, keys, rows, now)
    if wait:
        return wait
    if accepted:
        for row in rows:
            if row.key == keys.pair:
                db.delete(row)
            elif row.failures == 0:
                db.delete(row)  # only made to be locked
    else:
        for row in rows:
            row.failures = _failures(settings, keys, row, now) + 1
            row.last_failed_at = now
        db.flush()  # before pruning, which would otherwise take these rows for stale ones
        prune(db, settings, now=now)
    db.flush()
    return 0


#: Rows one prune deletes at most: the cost of a failed login stays small and bounded.
PRUNE_BATCH = 500


def prune(db: DbSession, settings: Settings, *, now: datetime) -> int:
    """Delete counters quiet for longer than the forget window (they count as zero anyway).

    Rows another attempt holds are skipped, never waited for (PostgreSQL), so pruning cannot
    deadlock with a login.
    """
    stale = (
        select(LoginFailure.id)
        .where(LoginFailure.last_failed_at < _forget_before(settings, now))
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    result = db.execute(delete(LoginFailure).where(LoginFailure.id.in_(stale)))
    return int(getattr(result, "rowcount", 0) or 0)
