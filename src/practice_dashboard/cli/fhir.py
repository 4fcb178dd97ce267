"""`practice-dashboard export fhir`: one client's record as a FHIR R4 Bundle file."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from practice_dashboard.cli.export import export_app, import_app
from practice_dashboard.config import get_settings
from practice_dashboard.db import (
    SessionFactory,
    create_db_engine,
    create_session_factory,
    session_scope,
)
from practice_dashboard.errors import AppError

__all__ = ["export_app", "import_app"]


@contextmanager
def _database() -> Iterator[SessionFactory]:
    from practice_dashboard.services.analytics import summary

    settings = get_settings()
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    summary.install(factory, settings)
    try:
        yield factory
    finally:
        engine.dispose()


def _write(path: str, content: str) -> None:
    """Write the bundle readable by its owner only: it holds clinical data."""
    if path == "-":
        typer.echo(content)
        return
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when overwriting a file that was readable by others
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


@export_app.command("fhir")
def export_fhir(
    client: Annotated[str, typer.Option("--client", help="The client's id")],
    as_: Annotated[str, typer.Option("--as", help="E-mail of the account exporting (scoping)")],
    out: Annotated[str, typer.Option("--out", help="File to write, or - for standard output")],
) -> None:
    """Export one client's record as a FHIR R4 collection Bundle (audited, scoped to --as)."""
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services.accounts import user as user_service
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.exchange import fhir as fhir_export

    try:
        client_id = uuid.UUID(client.strip())
    except ValueError:
        typer.echo(f"error: --client must be a client id, not {client!r}", err=True)
        raise typer.Exit(code=1) from None
    try:
        with _database() as factory, session_scope(factory) as db:
            user = user_service.get_by_email(db, as_)
            if user is None or not user.is_active:
                typer.echo(f"error: no active account with e-mail {as_}", err=True)
                raise typer.Exit(code=1)
            bundle = fhir_export.export_client(
                db, client_id=client_id, actor=Actor(user=user, ip=None), now=utcnow()
            )
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from exc
    # The audit event is committed before the file is written: if writing fails, the log
    # over-reports an export rather than ever missing one that happened.
    try:
        _write(out, json.dumps(bundle, ensure_ascii=False, indent=2))
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc.strerror}", err=True)
        raise typer.Exit(code=1) from exc
    if out != "-":
        counts = fhir_export.resource_counts(bundle)
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        typer.echo(f"wrote {out}: {summary}", err=True)
