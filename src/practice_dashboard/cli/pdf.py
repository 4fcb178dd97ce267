"""`practice-dashboard export summary` and `export packet`: progress summaries (PDF) and
supervision packets (PDF or CSV), exactly as the dashboard makes them.

Both act as the account named by --as (scoped and audited like the web routes). The database
is read in one unit of work, closed while Chromium prints, and the export is audited in a
second one before the file is written (so the log may over-report a failed write, never miss
an export that happened).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from practice_dashboard.cli.common import fail, find_user, open_database, refusals_reported, save
from practice_dashboard.cli.export import export_app, import_app

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


def _print_renderer() -> PrintRenderer:
    """The print view, so a PDF from the CLI looks like the dashboard's.

    The one web import left in cli/: the print view is Jinja2 templates plus the client
    page's Plotly figures, which live in the web layer; the API gets it handed in instead.
    """
    from practice_dashboard.web.printing import print_renderer

    return print_renderer


@export_app.command("summary")
def export_summary(
    client: Annotated[str, typer.Option("--client", help="The client's id")],
    as_: AsOption,
    out: Annotated[Path, typer.Option("--out", help="The PDF file to write")],
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """A client's progress summary for a period, as a PDF (needs Chromium)."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.db import session_scope
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services import periods
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.reports import pdf
    from practice_dashboard.services.reports import progress_summary as reports
    from practice_dashboard.services.reports.printing import summary_pdf, vocabulary_of

    try:
        client_id = uuid.UUID(client.strip())
    except ValueError:
        fail(f"--client must be a client id, not {client!r}")
    settings = get_settings()
    now = utcnow()
    with refusals_reported(), open_database(settings) as factory:
        pdf.ensure_chromium(settings)
        period = periods.parse_period(start, end, now=now, tz=settings.timezone)
        with session_scope(factory) as db:
            user = find_user(db, as_)
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
    save(out, data)
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
    from practice_dashboard.config import get_settings
    from practice_dashboard.db import session_scope
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services import periods
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.reports import pdf
    from practice_dashboard.services.reports import supervision_packet as packets
    from practice_dashboard.services.reports.printing import packet_pdf

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "csv"):
        fail(f"--out must end in .pdf or .csv, not {out.name!r}")
    settings = get_settings()
    now = utcnow()
    with refusals_reported(), open_database(settings) as factory:
        if fmt == "pdf":
            pdf.ensure_chromium(settings)
        period = periods.parse_period(start, end, now=now, tz=settings.timezone)
        with session_scope(factory) as db:
            actor = Actor(user=find_user(db, as_), ip=None)
            packet = packets.supervision_packet(
                db, actor=actor, settings=settings, period=period, now=now, supervisee=supervisee
            )
        if fmt == "pdf":
            data = packet_pdf(_print_renderer(), packet, settings=settings, now=now)
        else:
            data = ("\ufeff" + packets.packet_csv(packet)).encode("utf-8")
        with session_scope(factory) as db:
            packets.audit_packet_export(db, actor, packet, fmt=fmt)
    save(out, data)
    typer.echo(
        f"wrote {out}: supervision packet, {len(packet.clients)} clients, {period.label}",
        err=True,
    )
