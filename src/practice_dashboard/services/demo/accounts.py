"""The demo accounts: five logins on one password, supervision links, practitioners' self-checks."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid
from practice_dashboard.models import SelfCheck, Supervision, User
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import Role
from practice_dashboard.security import hash_password
from practice_dashboard.services.demo.care import cbi_items
from practice_dashboard.services.demo.draws import SEED, at_local, weekday
from practice_dashboard.services.records.measure import scored_fields

DEMO_DOMAIN: Final = "demo.practice"
PASSWORD_ENV: Final = "PRACTICE_DASHBOARD_DEMO_PASSWORD"
# Well known on purpose (it is printed), so it is refused in production.
DEFAULT_DEMO_PASSWORD: Final = "window-of-tolerance"
MIN_PASSWORD_LENGTH: Final = 12


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo login; `key` names it in the roster (roster.py)."""

    key: str
    email: str
    full_name: str
    role: Role
    sees: str


ACCOUNTS: Final = (
    DemoAccount(
        "admin",
        f"admin@{DEMO_DOMAIN}",
        "Alex Morgan",
        Role.ADMIN,
        "accounts and supervision links only; no clinical data",
    ),
    DemoAccount(
        "supervisor",
        f"supervisor@{DEMO_DOMAIN}",
        "Dr Ruth Adeyemi",
        Role.SUPERVISOR,
        "own clients, plus read-only all clients of both therapists and the coach",
    ),
    DemoAccount(
        "therapist1",
        f"therapist1@{DEMO_DOMAIN}",
        "Maya Lindqvist",
        Role.THERAPIST,
        "own clients only",
    ),
    DemoAccount(
        "therapist2",
        f"therapist2@{DEMO_DOMAIN}",
        "Daniel Osei",
        Role.THERAPIST,
        "own clients only",
    ),
    DemoAccount(
        "coach",
        f"coach@{DEMO_DOMAIN}",
        "Sofia Marín",
        Role.COACH,
        "own clients only",
    ),
)
ADMIN_EMAIL: Final = ACCOUNTS[0].email
SUPERVISEES: Final = ("therapist1", "therapist2", "coach")


def demo_password(settings: Settings, password: str | None) -> tuple[str, bool]:
    """The password for every demo account, and whether it is the well-known default."""
    secret = password or os.environ.get(PASSWORD_ENV)
    if not secret:
        if settings.environment == "production":
            raise Invalid(
                [
                    (
                        ("password",),
                        "demo accounts in production need a password: pass --password or set "
                        f"{PASSWORD_ENV} (the default demo password is public)",
                    )
                ]
            )
        return DEFAULT_DEMO_PASSWORD, True
    if len(secret) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            [(("password",), f"the demo password needs at least {MIN_PASSWORD_LENGTH} characters")]
        )
    return secret, False


def create_accounts(db: DbSession, settings: Settings, password: str) -> dict[str, User]:
    """Add the demo users and the supervisor's links; returns the users by account key."""
    # All demo accounts share one password, so one argon2 hash (the slow part) serves them all.
    password_hash = hash_password(settings, password)
    users = {
        a.key: User(
            id=uuid7(),
            email=a.email,
            full_name=a.full_name,
            role=a.role,
            password_hash=password_hash,
            is_active=True,
        )
        for a in ACCOUNTS
    }
    db.add_all(users.values())
    # Without ORM relationships the unit of work cannot order tables by foreign key, so each
    # parent table is flushed before its children.
    db.flush()
    db.add_all(
        Supervision(supervisor_id=users["supervisor"].id, supervisee_id=users[key].id)
        for key in SUPERVISEES
    )
    return users


# Practitioners' own CBI (personal, work-related, client-related) at the start and the latest
# check; all below the 50-point line, so `practitioner_load` fires only on the coach's alerts.
SELF_CHECK_LEVELS: Final = {
    "supervisor": ((30, 28, 22), (32, 30, 24)),
    "therapist1": ((34, 30, 26), (36, 33, 30)),
    "therapist2": ((28, 26, 20), (33, 31, 27)),
    "coach": ((32, 30, 28), (44, 42, 46)),
}
SELF_CHECK_INTERVAL_WEEKS: Final = 8
SELF_CHECKS_EACH: Final = 5


def practitioner_self_checks(users: dict[str, User], tz: ZoneInfo, today: date) -> list[SelfCheck]:
    """A CBI self-check every eight weeks for each practitioner, the latest last week."""
    rng = random.Random(f"{SEED}:self-checks")
    checks: list[SelfCheck] = []
    last = SELF_CHECKS_EACH - 1
    for key, (first, latest) in SELF_CHECK_LEVELS.items():
        for n in range(SELF_CHECKS_EACH):
            day = weekday(today - timedelta(weeks=1 + SELF_CHECK_INTERVAL_WEEKS * (last - n)))
            p = n / last
            personal, work, client_related = (
                a + (b - a) * p + rng.gauss(0, 2.5) for a, b in zip(first, latest, strict=True)
            )
            items = cbi_items(rng, personal, work, client_related)
            at = at_local(day, 17, 30, tz)
            checks.append(
                SelfCheck(practitioner_id=users[key].id, **scored_fields("cbi", at, items, None))
            )
    return checks
