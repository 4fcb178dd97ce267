"""`practice-dashboard serve`, `migrate` and `refresh-summaries`: run and maintain the server."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from practice_dashboard.cli.common import open_database

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from practice_dashboard.config import Settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the database before serving")
    ] = True,
) -> None:
    """Serve the dashboard and the JSON API with uvicorn.

    More than one worker: each listens on a socket of its own (`cli.worker_pool`), so the
    kernel, not the first worker to wake, decides which one takes a connection.
    """
    import uvicorn

    from practice_dashboard import warmup
    from practice_dashboard.cli import worker_pool

    if "FORWARDED_ALLOW_IPS" in os.environ:
        # uvicorn's own variable, which earlier versions passed on: now ignored, and saying
        # so beats a proxy's address silently standing in for every client.
        typer.echo(
            "warning: FORWARDED_ALLOW_IPS is ignored; set PRACTICE_DASHBOARD_FORWARDED_ALLOW_IPS "
            "to the reverse proxy's address",
            err=True,
        )
    if workers < 1:
        raise typer.BadParameter("at least 1", param_hint="--workers")
    if reload and workers > 1:
        raise typer.BadParameter("--reload serves with one worker", param_hint="--workers")
    if workers == 1 and not reload and worker_pool.APP.partition(":")[0] not in sys.modules:
        # This process loads the app and serves it: its start, from the migration check's
        # imports on, runs with the collector paused. Loading the app starts the warm-up that
        # resumes it (warmup.py), so not when something else stands in for the app's module.
        warmup.pause_collector()
    try:
        if migrate_first:
            migrate()
        if workers == 1 or not worker_pool.supported():
            uvicorn.run(
                worker_pool.APP,
                host=host,
                port=port,
                workers=workers,
                reload=reload,
                **worker_pool.SERVER_OPTIONS,
            )
            return
        from practice_dashboard.config import get_settings

        timeout = get_settings().worker_timeout_seconds
        try:
            code = worker_pool.serve_workers(host, port, workers, timeout=timeout)
        except worker_pool.PortInUseError as error:
            typer.echo(f"error: {error.strerror}", err=True)
            raise typer.Exit(worker_pool.STARTUP_FAILURE) from error
        raise typer.Exit(code)
    finally:
        warmup.resume_collector()  # if the server stopped before it answered


def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Upgrade the database schema (to the newest revision by default); at the newest, also
    seal any authenticator key still stored in plain text (from before keys were sealed)."""
    from practice_dashboard import migrate as migrations
    from practice_dashboard.config import get_settings
    from practice_dashboard.db import create_db_engine

    settings = get_settings()
    # A bare engine: the summary hooks need the tables this command creates.
    engine = create_db_engine(settings)
    try:
        migrations.upgrade(engine, revision)
        sealed = _seal_plain_mfa_keys(engine, settings) if revision == "head" else 0
    finally:
        engine.dispose()
    typer.echo(f"database at {revision}")
    if sealed:
        typer.echo(f"{sealed} authenticator key(s) stored in plain text are now sealed")


def _seal_plain_mfa_keys(engine: Engine, settings: Settings) -> int:
    """Seal authenticator keys still stored in plain text (from before keys were sealed).

    Every start runs this: one query once all are sealed. The services it imports are the
    ones the app imports next anyway, so a start pays for no more than that query.
    """
    from practice_dashboard.db import create_session_factory, session_scope
    from practice_dashboard.services.accounts import mfa

    with session_scope(create_session_factory(engine)) as db:
        return mfa.reseal_all(db, settings, plain_only=True)


def refresh_summaries() -> None:
    """Recompute every client's caseload summary (e.g. nightly from cron, after bulk loads).

    In batches, each written in a short transaction, so a running server keeps answering.
    """
    from practice_dashboard.config import get_settings
    from practice_dashboard.services.analytics import summary_batches

    settings = get_settings()
    with open_database(settings) as factory:
        report = summary_batches.rebuild(factory, settings=settings)
    typer.echo(
        f"refreshed {report.written} client summaries in {report.batches} "
        f"batch{'' if report.batches == 1 else 'es'} "
        f"(longest write lock {report.longest_hold * 1000:.0f} ms)"
    )
