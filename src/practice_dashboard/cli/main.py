"""`practice-dashboard`: one CLI for every operation; this module assembles the commands."""

from __future__ import annotations

import typer

from practice_dashboard.cli import accounts, backup, demo, serve
from practice_dashboard.cli.audit import audit_app
from practice_dashboard.cli.export import export_app, import_app

app = typer.Typer(
    help="Practice Dashboard: serve, migrate, back up, manage accounts, load demo data."
)
app.command()(serve.serve)
app.command()(serve.migrate)
app.command("create-user")(accounts.create_user)
app.command()(accounts.supervise)
app.command("reset-mfa")(accounts.reset_mfa)
app.command("reseal-mfa")(accounts.reseal_mfa)
app.command()(demo.demo)
app.command("refresh-summaries")(serve.refresh_summaries)
app.command()(backup.backup)
app.command()(backup.restore)
# The export/import groups import their command modules when used (cli/export.py).
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")
app.add_typer(audit_app, name="audit")


if __name__ == "__main__":  # pragma: no cover
    app()
