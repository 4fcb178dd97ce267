"""`practice-dashboard`: one CLI for every operation."""

from __future__ import annotations

import getpass
import os
from typing import Annotated, NoReturn

import typer

from practice_dashboard.cli import csv_commands as cli_csv
from practice_dashboard.cli import fhir as cli_fhir
from practice_dashboard.cli import pdf as cli_pdf
from practice_dashboard.cli.export import export_app, import_app
from practice_dashboard.config import Settings, get_settings
from practice_dashboard.db import (
    SessionFactory,
    create_db_engine,
    create_session_factory,
    session_scope,
)
from practice_dashboard.errors import AppError, Invalid
from practice_dashboard.models.enums import Role

app = typer.Typer(help="Practice Dashboard: serve, migrate, manage accounts, load demo data.")
# Importing the command modules registers their commands on the export/import groups.
cli_csv.__name__, cli_fhir.__name__, cli_pdf.__name__  # noqa: B018
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


def _settings() -> Settings:
    return get_settings()


def _factory(settings: Settings) -> SessionFactory:
    from practice_dashboard.services.analytics import summary

    factory = create_session_factory(create_db_engine(settings))
    summary.install(factory, settings)
    return factory


def _fail(exc: AppError) -> NoReturn:
    if isinstance(exc, Invalid):
        for problem in exc.problems:
            typer.echo(
                f"error: {'.'.join(str(p) for p in problem['loc'][1:])}: {problem['msg']}", err=True
            )
    else:
        typer.echo(f"error: {exc.detail}", err=True)
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the database before serving")
    ] = True,
) -> None:
    """Serve the dashboard and the JSON API with uvicorn."""
    import uvicorn

    if migrate_first:
        migrate()
    uvicorn.run(
        "practice_dashboard.asgi:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Upgrade the database schema (to the newest revision by default)."""
    from practice_dashboard import migrate as migrations

    engine = create_db_engine(_settings())
    try:
        migrations.upgrade(engine, revision)
    finally:
        engine.dispose()
    typer.echo(f"database at {revision}")


@app.command("create-user")
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
    from practice_dashboard.schemas.user import UserCreate
    from practice_dashboard.services.accounts import user as user_service

    secret = password or os.environ.get("PRACTICE_DASHBOARD_PASSWORD")
    if not secret:
        secret = getpass.getpass("Password: ")
        if secret != getpass.getpass("Repeat password: "):
            typer.echo("error: the passwords differ", err=True)
            raise typer.Exit(code=1)
    settings = _settings()
    try:
        data = UserCreate(email=email, role=role, full_name=full_name, password=secret)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    factory = _factory(settings)
    try:
        with session_scope(factory) as db:
            user = user_service.create_user(db, settings, data=data, actor=None)
            typer.echo(f"created {user.role.value} {user.email} ({user.id})")
    except AppError as exc:
        _fail(exc)


@app.command()
def supervise(
    supervisor: Annotated[str, typer.Option(help="The supervisor's e-mail")],
    supervisee: Annotated[str, typer.Option(help="The supervisee's e-mail")],
) -> None:
    """Link a supervisor to a supervisee (read access to the supervisee's clients)."""
    from practice_dashboard.schemas.user import SupervisionCreate
    from practice_dashboard.services.accounts import user as user_service

    factory = _factory(_settings())
    try:
        with session_scope(factory) as db:
            boss = user_service.get_by_email(db, supervisor)
            worker = user_service.get_by_email(db, supervisee)
            if boss is None or worker is None:
                missing = supervisor if boss is None else supervisee
                typer.echo(f"error: no account with e-mail {missing}", err=True)
                raise typer.Exit(code=1)
            link = user_service.add_supervisee(
                db, supervisor=boss, data=SupervisionCreate(supervisee_id=worker.id), actor=None
            )
            typer.echo(f"{boss.email} now supervises {worker.email} ({link.id})")
    except AppError as exc:
        _fail(exc)


@app.command()
def demo(
    password: Annotated[
        str | None, typer.Option(help="Password for the demo accounts (default: printed)")
    ] = None,
) -> None:
    """Load the demo practice (safe to run twice) and print how to log in."""
    from practice_dashboard.services import demo as demo_service

    migrate()
    settings = _settings()
    factory = _factory(settings)
    try:
        with session_scope(factory) as db:
            report = demo_service.load_demo(db, settings, password=password)
    except AppError as exc:
        _fail(exc)
    typer.echo(report)


@app.command("refresh-summaries")
def refresh_summaries() -> None:
    """Recompute every client's caseload summary (e.g. nightly from cron, after bulk loads)."""
    from practice_dashboard.services.analytics import summary

    settings = _settings()
    with session_scope(_factory(settings)) as db:
        count = summary.refresh_all(db, settings=settings)
    typer.echo(f"refreshed {count} client summaries")


if __name__ == "__main__":  # pragma: no cover
    app()
