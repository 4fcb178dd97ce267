"""`practice-dashboard export …` and `practice-dashboard import …`: the sub-command groups.

Each kind of export lives in its own module (csv_commands, fhir, pdf) and registers its
commands on these groups, so the modules never touch one another. The groups import those
modules on first use only: they need the services (SQLAlchemy, FastAPI's errors, numpy),
which `practice-dashboard --help` and `serve` should not wait for.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperGroup

COMMAND_MODULES = (
    "practice_dashboard.cli.csv_commands",
    "practice_dashboard.cli.fhir",
    "practice_dashboard.cli.pdf",
)


class _LoadedOnUse(TyperGroup):
    """A group whose commands are imported when it is used, not when the CLI starts."""

    apps: ClassVar[dict[str, typer.Typer]] = {}

    def _load(self) -> None:
        if self.commands or self.name not in self.apps:
            return
        for module in COMMAND_MODULES:
            importlib.import_module(module)
        self.commands.update(typer.main.get_group(self.apps[self.name]).commands)

    # Typed loosely: typer 0.2x hands over its vendored click's Context and Command classes.
    def list_commands(self, ctx: Any) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._load()
        return super().get_command(ctx, cmd_name)


export_app = typer.Typer(
    cls=_LoadedOnUse, help="Export progress summaries (PDF), CSV files and FHIR bundles."
)
import_app = typer.Typer(
    cls=_LoadedOnUse, help="Import records from CSV files (dry-run first, all-or-nothing)."
)
_LoadedOnUse.apps.update({"export": export_app, "import": import_app})
