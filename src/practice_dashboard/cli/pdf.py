"""`practice-dashboard export summary` and `export packet`: progress summaries (PDF) and
supervision packets (PDF or CSV), exactly as the dashboard makes them.

Both act as the account named by --as (scoped and audited like the web routes). The database
is read in one unit of work, closed while Chromium prints, and the export is audited in a
second one before the file is written (so the log may over-report a failed write, never miss
an export that happened).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from practice_dashboard.cli.export import export_app, import_app
from practice_dashboard.config import Settings, get_settings
from practice_dashboard.db import (
    SessionFactory,
    create_db_engine,
    create_session_factory,
    session_scope,
)
from practice_dashboard.errors import AppError, Invalid

if TYPE_CHECKING:
    from practice_dashboard.services.reports.printing import PrintRenderer

__all__ = ["export_app", "import_app"]

StartOption = Annotated[
    str | None,
    typer.Option("--start", help="First day (2026-01-31) or ISO time; default 6 months ago"),
]
EndOption = Annotated[
    str | None, typer.Option("--end", help="Last day, included (or ISO time); default today")
]
AsOption = Annotated[str, typer.Option("--as", help="E-mail of the account exporting (scoping)")]


def _factory(settings: Settings) -> SessionFactory:
    from practice_dashboard.services.analytics import summary

    factory = create_session_factory(create_db_engine(settings))
    summary.install(factory, settings)
    return factory


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _error(exc: AppError) -> typer.Exit:
    if isinstance(exc, Invalid):
        problems = "; ".join(f"--{p['loc'][-1]}: {p['msg']}" for p in exc.problems)
        return _fail(problems)
    return _fail(exc.detail)


def _print_renderer() -> PrintRenderer:
    """The print view, so a PDF from the CLI looks like the dashboard's.

    The one web import left in cli/: the print view is Jinja2 templates plus the client
    page's Plotly figures, which live in the web layer; the API gets it handed in instead.
    """
    from practice_dashboard.web.printing import print_renderer

    return print_renderer


def _write(path: Path, data: bytes) -> None:
    """Readable by its owner only: the file holds clinical data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@export_app.command("summary")
def export_summary(
    client: Annotated[str, typer.Option("--client", help="The client's id")],
    as_: AsOption,
    out: Annotated[Path, typer.Option("--out", help="The PDF file to write")],
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """A client's progress summary for a period, as a PDF (needs Chromium)."""
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services import periods
    from practice_dashboard.services.accounts import user as user_service
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.reports import pdf
    from practice_dashboard.services.reports import progress_summary as reports
    from practice_dashboard.services.reports.printing import summary_pdf, vocabulary_of

    try:
        client_id = uuid.UUID(client.strip())
    except ValueError:
        raise _fail(f"--client must be a client id, not {client!r}") from None
    settings = get_settings()
    factory = _factory(settings)
    now = utcnow()
    try:
        pdf.ensure_chromium(settings)
        period = periods.parse_period(start, end, now=now, tz=settings.timezone)
        with session_scope(factory) as db:
            user = user_service.get_by_email(db, as_)
            if user is None or not user.is_active:
                raise _fail(f"no active account with e-mail {as_}")
            actor = Actor(user=user, ip=None)
            summary = reports.progress_summary(
                db, client_id=client_id, actor=actor, settings=settings, period=period, now=now
            )
        vocabulary = vocabulary_of(user, settings)
        data = summary_pdf(
            _print_renderer(), summary, settings=settings, vocabulary=vocabulary, now=now
        )
        with session_scope(factory) as db:
            reports.audit_summary_export(db, actor, summary, fmt="pdf")
    except AppError as exc:
        raise _error(exc) from exc
    try:
        _write(out, data)
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror}") from exc
    typer.echo(f"wrote {out}: progress summary, {period.label}", err=True)


@export_app.command("packet")
def export_packet(
    as_: AsOption,
    out: Annotated[
        Path, typer.Option("--out", help="File to write: .pdf (needs Chromium) or .csv")
    ],
    supervisee: Annotated[
        str | None,
        typer.Option("--supervisee", help="One supervisee's e-mail (or id); default: all"),
    ] = None,
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """A supervision packet: every supervisee client's headline figures and flags, and load."""
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services import periods
    from practice_dashboard.services.accounts import user as user_service
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.reports import pdf
    from practice_dashboard.services.reports import supervision_packet as packets
    from practice_dashboard.services.reports.printing import packet_pdf

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "csv"):
        raise _fail(f"--out must end in .pdf or .csv, not {out.name!r}")
    settings = get_settings()
    factory = _factory(settings)
    now = utcnow()
    try:
        if fmt == "pdf":
            pdf.ensure_chromium(settings)
        period = periods.parse_period(start, end, now=now, tz=settings.timezone)
        with session_scope(factory) as db:
            user = user_service.get_by_email(db, as_)
            if user is None or not user.is_active:
                raise _fail(f"no active account with e-mail {as_}")
            actor = Actor(user=user, ip=None)
            packet = packets.supervision_packet(
                db, actor=actor, settings=settings, period=period, now=now, supervisee=supervisee
            )
        if fmt == "pdf":
            data = packet_pdf(_print_renderer(), packet, settings=settings, now=now)
        else:
            data = ("\ufeff" + packets.packet_csv(packet)).encode("utf-8")
        with session_scope(factory) as db:
            packets.audit_packet_export(db, actor, packet, fmt=fmt)
    except AppError as exc:
        raise _error(exc) from exc
    try:
        _write(out, data)
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror}") from exc
    typer.echo(
        f"wrote {out}: supervision packet, {len(packet.clients)} clients, {period.label}",
        err=True,
    )
