"""`practice-dashboard export csv` and `practice-dashboard import csv` (docs/csv-format.md).

Both act as a named user (`--as EMAIL`) with exactly that user's access, and both are
audited like the API. An import prints every problem as it is found (row and column), then a
summary; its exit status is 1 when anything was wrong, and then nothing was written.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from practice_dashboard.cli.common import (
    find_user,
    open_database,
    refusals_reported,
    save,
    unit_of_work,
)
from practice_dashboard.cli.export import export_app, import_app
from practice_dashboard.services.exchange.csv.spec import CsvKind

__all__ = ["export_app", "import_app"]

KindOption = Annotated[
    CsvKind,
    typer.Option(help="clients, sessions, observations, episodes, measures or annotations"),
]
AsOption = Annotated[
    str, typer.Option("--as", help="Act as this user (e-mail): their access, their audit trail")
]


@export_app.command("csv")
def export_csv(
    kind: KindOption,
    out: Annotated[Path, typer.Option(help="The file to write; '-' for standard output")],
    as_email: AsOption,
    client: Annotated[
        uuid.UUID | None,
        typer.Option(help="One client's id (default: every client you may see)"),
    ] = None,
) -> None:
    """Export one kind of record as CSV, for one client or the whole caseload."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.db import session_scope
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services.analytics.summary import practice_today
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.exchange.csv import export as csv_export

    settings = get_settings()
    with open_database(settings) as factory:
        with refusals_reported(), session_scope(factory) as db:
            plan = csv_export.plan_export(
                db,
                actor=Actor(user=find_user(db, as_email)),
                kind=kind,
                client_id=client,
                today=practice_today(settings, utcnow()),
            )
        # The rows stream from the database while the file is written (owner-only).
        save(out, csv_export.iter_csv(factory, plan, tz=settings.timezone))
    if str(out) != "-":
        typer.echo(f"exported {kind.value} of {len(plan.client_ids)} client(s) to {out}", err=True)


@import_app.command("csv")
def import_csv(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file")
    ],
    kind: KindOption,
    as_email: AsOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; write nothing")
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)"),
    ] = None,
) -> None:
    """Import a CSV file of one kind: every row, or (on any problem) none."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from practice_dashboard.config import get_settings
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.exchange.csv import importer as csv_import

    settings = get_settings()
    console = Console(stderr=True, highlight=False)
    show = console.is_terminal if progress is None else progress
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=True,
    )
    task = bar.add_task("dry run" if dry_run else "importing", total=file.stat().st_size)

    def on_problem(problem: csv_import.Problem) -> None:
        console.print(f"problem: {problem}", markup=False, soft_wrap=True)

    with bar, unit_of_work(settings) as db, file.open("rb") as stream:
        report = csv_import.import_csv(
            db,
            actor=Actor(user=find_user(db, as_email)),
            kind=kind,
            stream=stream,
            settings=settings,
            dry_run=dry_run,
            filename=file.name,
            on_problem=on_problem,
            on_progress=lambda done: bar.update(task, completed=done),
        )
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(code=1)
