"""Load the demo practice: five accounts and about forty clients on believable courses of care.

Every number is simulated from a seeded `random.Random`, relative to `today`, so the demo always
looks current and the same `today` always gives the same data (see courses.py and care.py).
The rows are written in bulk, parents flushed before children; nothing is committed here.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Final

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import User
from practice_dashboard.services import audit
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.demo.accounts import (
    ACCOUNTS,
    ADMIN_EMAIL,
    DEFAULT_DEMO_PASSWORD,
    SUPERVISEES,
    create_accounts,
    demo_password,
    practitioner_self_checks,
)
from practice_dashboard.services.demo.client_sim import Rows
from practice_dashboard.services.demo.courses import COURSES, CourseName
from practice_dashboard.services.demo.roster import ROSTER
from practice_dashboard.services.demo.simulate import simulate_clients

LOGIN_HINT: Final = (
    "Served at http://127.0.0.1:8000/ (unless PORT says otherwise): the API docs at /docs "
    "(Authorize with an e-mail and the password), tokens via POST /api/v1/auth/token"
)


def _accounts_table(counts: Counter[str]) -> list[str]:
    lines = [f"  {'email':<28} {'role':<11} clients  can see"]
    for a in ACCOUNTS:
        lines.append(f"  {a.email:<28} {a.role.value:<11} {counts[a.key]:>7}  {a.sees}")
    return lines


def _stories(rows: Rows, users: dict[str, User]) -> list[str]:
    """Where each course's story can be seen: a short tour for whoever gives the demo."""
    owners = {u.id: key for key, u in users.items()}
    by_course: dict[CourseName, list[str]] = {}
    for client, plan in zip(rows.clients, ROSTER, strict=True):
        by_course.setdefault(plan.course, []).append(
            f"{client.display_name} ({owners[client.practitioner_id]})"
        )
    return [
        f"  {COURSES[name].summary}: {', '.join(clients)}" for name, clients in by_course.items()
    ]


def _password_line(password: str, is_default: bool) -> str:
    if is_default:
        return f"Password for every demo account: {password}"
    return "Password for every demo account: the one you supplied"


def _already_loaded_report() -> str:
    lines = [
        "The demo practice is already loaded; nothing was written.",
        "",
        "Accounts:",
        *(f"  {a.email:<28} {a.role.value}" for a in ACCOUNTS),
        "",
        "Password: the one given when the demo was loaded "
        f"(outside production the default is {DEFAULT_DEMO_PASSWORD}).",
        LOGIN_HINT,
    ]
    return "\n".join(lines)


def load_demo(
    db: DbSession,
    settings: Settings,
    *,
    password: str | None = None,
    today: date | None = None,
) -> str:
    """Load the demo practice (safe to run twice) and return a report of what was created.

    Everything is dated relative to `today` (default: today in the practice's time zone), which
    must not be in the future: measures cannot be. Flushes, never commits.
    """
    if user_service.get_by_email(db, ADMIN_EMAIL) is not None:
        return _already_loaded_report()
    secret, is_default = demo_password(settings, password)
    tz = settings.timezone
    today = today or datetime.now(tz).date()
    users = create_accounts(db, settings, secret)
    rows = simulate_clients(users, tz, today, settings.thresholds)
    self_checks = practitioner_self_checks(users, tz, today)
    db.add_all(rows.clients)
    db.flush()
    db.add_all(rows.sessions)
    db.flush()
    db.add_all(rows.observations)
    db.add_all(rows.episodes)
    db.add_all(rows.measures)
    db.add_all(rows.annotations)
    db.add_all(self_checks)
    audit.record(
        db,
        None,
        "demo_load",
        "practice",
        detail=f"demo practice as of {today.isoformat()}: {len(rows.clients)} clients",
    )
    db.flush()

    caseloads = Counter(plan.practitioner for plan in ROSTER)
    counts = (
        f"{len(users)} users, {len(SUPERVISEES)} supervision links, {len(rows.clients)} clients, "
        f"{len(rows.sessions)} sessions, {len(rows.observations)} observations, "
        f"{len(rows.episodes)} activation episodes, {len(rows.measures)} measures, "
        f"{len(rows.annotations)} annotations, {len(self_checks)} practitioner self-checks"
    )
    lines = [
        f"Demo practice loaded as of {today.isoformat()} ({settings.practice_timezone}).",
        f"Created {counts}.",
        "",
        "Accounts:",
        *_accounts_table(caseloads),
        "",
        "Stories to look for:",
        *_stories(rows, users),
        "",
        _password_line(secret, is_default),
        LOGIN_HINT,
    ]
    return "\n".join(lines)
