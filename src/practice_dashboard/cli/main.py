"""`practice-dashboard`: one CLI for every operation; this module assembles the commands."""

from __future__ import annotations

import typer

from practice_dashboard.cli import accounts, demo, serve
from practice_dashboard.cli import csv_commands as cli_csv
from practice_dashboard.cli import fhir as cli_fhir
from practice_dashboard.cli import pdf as cli_pdf
from practice_dashboard.cli.export import export_app, import_app

app = typer.Typer(help="Practice Dashboard: serve, migrate, manage accounts, load demo data.")
app.command()(serve.serve)
app.command()(serve.migrate)
app.command("create-user")(accounts.create_user)
app.command()(accounts.supervise)
app.command()(demo.demo)
app.command("refresh-summaries")(serve.refresh_summaries)
# Importing the command modules registers their commands on the export/import groups.
cli_csv.__name__, cli_fhir.__name__, cli_pdf.__name__  # noqa: B018
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


if __name__ == "__main__":  # pragma: no cover
    app()
