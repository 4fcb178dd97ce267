"""`practice-dashboard demo`: the demo practice, loaded into the configured database."""

from __future__ import annotations

from typing import Annotated

import typer

from practice_dashboard.cli.common import refusals_reported, unit_of_work
from practice_dashboard.cli.serve import migrate


def demo(
    password: Annotated[
        str | None, typer.Option(help="Password for the demo accounts (default: printed)")
    ] = None,
) -> None:
    """Load the demo practice (safe to run twice) and print how to log in."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.services import demo as demo_service

    migrate()
    settings = get_settings()
    with refusals_reported(), unit_of_work(settings) as db:
        report = demo_service.load_demo(db, settings, password=password)
    typer.echo(report)
