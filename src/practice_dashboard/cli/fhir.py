"""`practice-dashboard export fhir`: one client's record as a FHIR R4 Bundle file."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer

from practice_dashboard.cli.common import fail, find_user, refusals_reported, save, unit_of_work
from practice_dashboard.cli.export import export_app, import_app

__all__ = ["export_app", "import_app"]


@export_app.command("fhir")
def export_fhir(
    client: Annotated[str, typer.Option("--client", help="The client's id")],
    as_: Annotated[str, typer.Option("--as", help="E-mail of the account exporting (scoping)")],
    out: Annotated[str, typer.Option("--out", help="File to write, or - for standard output")],
) -> None:
    """Export one client's record as a FHIR R4 collection Bundle (audited, scoped to --as)."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.models.base import utcnow
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.exchange import fhir as fhir_export

    try:
        client_id = uuid.UUID(client.strip())
    except ValueError:
        fail(f"--client must be a client id, not {client!r}")
    with refusals_reported(), unit_of_work(get_settings()) as db:
        bundle = fhir_export.export_client(
            db, client_id=client_id, actor=Actor(user=find_user(db, as_), ip=None), now=utcnow()
        )
    # The audit event is committed before the file is written: if writing fails, the log
    # over-reports an export rather than ever missing one that happened.
    save(out, json.dumps(bundle, ensure_ascii=False, indent=2) + "\n")
    if out != "-":
        counts = fhir_export.resource_counts(bundle)
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        typer.echo(f"wrote {out}: {summary}", err=True)
