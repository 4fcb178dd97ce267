"""`practice-dashboard audit verify`: check the audit trail's hash chain from the first row."""

from __future__ import annotations

from typing import Annotated

import typer

from practice_dashboard.cli.common import fail, unit_of_work

audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@audit_app.command()
def verify(
    batch: Annotated[int, typer.Option(min=1, help="Rows read per query")] = 1000,
) -> None:
    """Walk the chain in order; print OK and the count, or the first broken link (exit 1)."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.services import audit

    with unit_of_work(get_settings()) as db:
        report = audit.verify_chain(db, batch=batch)
    if not report.ok:
        fail(
            f"audit chain broken at seq {report.broken_seq} (id {report.broken_id}): "
            f"{report.problem}; {report.checked} rows before it are intact"
        )
    typer.echo(f"OK: {report.checked} audit rows, chain intact")
