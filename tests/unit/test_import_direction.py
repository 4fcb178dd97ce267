"""Layers point one way: web, api, cli -> services -> domain, models (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "practice_dashboard"

#: (module path, imported package) pairs allowed against the rules below, each with its why.
ALLOWED = {
    # The CLI prints PDFs with the dashboard's print view (Jinja2 templates and the client
    # page's Plotly figures live in the web layer); the API gets it handed in by create_app.
    ("cli/pdf.py", "practice_dashboard.web"),
}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        for name in _imports(path):
            for banned in forbidden:
                if (name == banned or name.startswith(banned + ".")) and (
                    where,
                    banned,
                ) not in ALLOWED:
                    found.append(f"{where} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        (
            "domain",
            (
                "practice_dashboard.services",
                "practice_dashboard.api",
                "practice_dashboard.web",
                "practice_dashboard.models",
                "practice_dashboard.db",
                "sqlalchemy",
                "fastapi",
            ),
        ),
        (
            "models",
            ("practice_dashboard.services", "practice_dashboard.api", "practice_dashboard.web"),
        ),
        (
            "services",
            ("practice_dashboard.api", "practice_dashboard.web", "practice_dashboard.cli"),
        ),
        ("api", ("practice_dashboard.web", "practice_dashboard.cli")),
        ("web", ("practice_dashboard.api", "practice_dashboard.cli")),
        ("cli", ("practice_dashboard.web", "practice_dashboard.api")),
    ],
)
def test_no_import_against_the_direction(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(layer, forbidden) == []
