"""`practice-dashboard create-user`, `supervise`, `reset-mfa`, `reseal-mfa`: accounts without
the web admin pages."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from practice_dashboard.cli.common import fail, find_user, refusals_reported, unit_of_work
from practice_dashboard.domain.roles import Role


def create_user(
    email: Annotated[str, typer.Option(help="Login e-mail")],
    role: Annotated[Role, typer.Option(help="therapist, coach, supervisor or admin")],
    full_name: Annotated[str, typer.Option("--full-name", help="Name shown in the dashboard")],
    password: Annotated[
        str | None,
        typer.Option(
            help="Prefer PRACTICE_DASHBOARD_PASSWORD or the prompt: shell history keeps this"
        ),
    ] = None,
) -> None:
    """Create an account; password from --password, PRACTICE_DASHBOARD_PASSWORD or a prompt."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.schemas.user import UserCreate
    from practice_dashboard.services.accounts import user as user_service

    secret = password or os.environ.get("PRACTICE_DASHBOARD_PASSWORD")
    if not secret:
        secret = getpass.getpass("Password: ")
        if secret != getpass.getpass("Repeat password: "):
            fail("the passwords differ")
    settings = get_settings()
    try:
        data = UserCreate(email=email, role=role, full_name=full_name, password=secret)
    except ValueError as exc:
        fail(str(exc))
    with refusals_reported(), unit_of_work(settings) as db:
        user = user_service.create_user(db, settings, data=data, actor=None)
        typer.echo(f"created {user.role.value} {user.email} ({user.id})")


def supervise(
    supervisor: Annotated[str, typer.Option(help="The supervisor's e-mail")],
    supervisee: Annotated[str, typer.Option(help="The supervisee's e-mail")],
) -> None:
    """Link a supervisor to a supervisee (read access to the supervisee's clients)."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.schemas.user import SupervisionCreate
    from practice_dashboard.services.accounts import user as user_service

    with refusals_reported(), unit_of_work(get_settings()) as db:
        # Any account, active or not: the link itself grants nothing to an inactive one.
        boss = find_user(db, supervisor, active_only=False)
        worker = find_user(db, supervisee, active_only=False)
        link = user_service.add_supervisee(
            db, supervisor=boss, data=SupervisionCreate(supervisee_id=worker.id), actor=None
        )
        typer.echo(f"{boss.email} now supervises {worker.email} ({link.id})")


def reset_mfa(
    email: Annotated[str, typer.Option(help="The e-mail of the account to reset")],
) -> None:
    """Remove an account's two-factor authentication and end its logins (lost phone; e.g. the
    only admin, whom no other admin can reset); it sets up a new one at its next login."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services.accounts import mfa

    with refusals_reported(), unit_of_work(get_settings()) as db:
        user = find_user(db, email, active_only=False)
        mfa.reset(db, user=user, now=utcnow(), actor=None)
        typer.echo(f"two-factor authentication reset for {user.email}; its logins have ended")


def reseal_mfa() -> None:
    """Seal every authenticator key with the first of PRACTICE_DASHBOARD_MFA_KEYS: after adding
    a new key in front (then the old one can go), or for keys stored before sealing."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.security import UnsealError
    from practice_dashboard.services.accounts import mfa

    settings = get_settings()
    try:
        with unit_of_work(settings) as db:
            count = mfa.reseal_all(db, settings)
    except UnsealError as exc:
        fail(f"{exc}; nothing was changed")
    typer.echo(f"{count} authenticator key(s) sealed with the first MFA key")
