"""Commands registered on the export/import groups (see cli_export)."""

from __future__ import annotations

from practice_dashboard.cli_export import export_app, import_app

__all__ = ["export_app", "import_app"]
