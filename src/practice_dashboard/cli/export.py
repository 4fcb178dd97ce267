"""`practice-dashboard export …` and `practice-dashboard import …`: the sub-command groups.

Each kind of export lives in its own module (cli_csv, cli_fhir, cli_pdf) and registers its
commands on these groups, so the modules never touch one another.
"""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Export progress summaries (PDF), CSV files and FHIR bundles.")
import_app = typer.Typer(help="Import records from CSV files (dry-run first, all-or-nothing).")
