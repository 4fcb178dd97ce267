"""Layers point one way: web, api, cli -> services -> domain, models; domain stays pure.

Every module under src/practice_dashboard is parsed with `ast` (nothing is imported), so an
import inside a function or under TYPE_CHECKING counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

import practice_dashboard

PACKAGE_DIR: Final = Path(practice_dashboard.__file__).parent
ROOT: Final = "practice_dashboard"

WEB, API, CLI, APP = f"{ROOT}.web", f"{ROOT}.api", f"{ROOT}.cli", f"{ROOT}.app"
SERVICES, MODELS, DB = f"{ROOT}.services", f"{ROOT}.models", f"{ROOT}.db"
# The entry points (web pages, JSON API, command line) are peers: none imports another, and
# nothing below them imports any of them or the app that assembles them.
ENTRY_POINTS: Final = (WEB, API, CLI, APP)

# Importing module (its name, or a package prefix) -> modules it must not import.
FORBIDDEN: Final[dict[str, tuple[str, ...]]] = {
    f"{ROOT}.domain": (
        *ENTRY_POINTS,
        SERVICES,
        MODELS,
        DB,
        # Pure: no database, no web framework, no figures.
        "sqlalchemy",
        "fastapi",
        "starlette",
        "jinja2",
        "plotly",
    ),
    f"{ROOT}.models": (*ENTRY_POINTS, SERVICES),
    f"{ROOT}.schemas": (*ENTRY_POINTS, SERVICES),
    SERVICES: ENTRY_POINTS,
    f"{ROOT}.errors": ENTRY_POINTS,
    f"{ROOT}.db": ENTRY_POINTS,
    f"{ROOT}.config": ENTRY_POINTS,
    f"{ROOT}.security": ENTRY_POINTS,
    f"{ROOT}.middleware": ENTRY_POINTS,
    f"{ROOT}.compression": ENTRY_POINTS,
    # Shared by api and web, so it may import neither.
    f"{ROOT}.dependencies": ENTRY_POINTS,
    # The route class every api and web router declares on.
    f"{ROOT}.routing": (*ENTRY_POINTS, SERVICES, MODELS, DB),
    API: (WEB, CLI, APP),
    WEB: (API, CLI, APP),
    CLI: (WEB, API),
    # Run by the launcher (asgi.py) on an assembled app, which it is handed.
    f"{ROOT}.warmup": ENTRY_POINTS,
}

# The one sanctioned exception: the CLI prints PDFs from the very print view the pages serve
# (the client page's Plotly charts stay in web/). A stale entry fails
# `test_the_allow_list_holds_only_live_violations`.
KNOWN_VIOLATIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        (f"{CLI}.pdf", f"{WEB}.printing"),
    }
)


def module_name(path: Path) -> str:
    """The dotted name of a source file under the package directory."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> Iterator[str]:
    """Every module `source` imports, absolute; `from a import b` yields `a.b` as well as `a`,
    since `b` may be a submodule (`from practice_dashboard import web`)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations() -> set[tuple[str, str]]:
    """(importer, imported) for every import that points the wrong way."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module = module_name(path)
        rules = [bad for layer, bad in FORBIDDEN.items() if _within(module, layer)]
        if not rules:
            continue
        source = path.read_text(encoding="utf-8")
        for imported in imported_modules(source, module, is_package=path.name == "__init__.py"):
            if any(_within(imported, bad) for forbidden in rules for bad in forbidden):
                found.add((module, imported))
    return found


def _matches_known(violation: tuple[str, str]) -> bool:
    importer, imported = violation
    return any(
        importer == known_importer and _within(imported, known_imported)
        for known_importer, known_imported in KNOWN_VIOLATIONS
    )


class TestImportDirection:
    def test_no_import_points_the_wrong_way(self) -> None:
        unexpected = sorted(v for v in violations() if not _matches_known(v))
        assert unexpected == [], "\n".join(f"{a} imports {b}" for a, b in unexpected)

    def test_the_allow_list_holds_only_live_violations(self) -> None:
        found = violations()
        stale = sorted(
            known
            for known in KNOWN_VIOLATIONS
            if not any(
                importer == known[0] and _within(imported, known[1]) for importer, imported in found
            )
        )
        assert stale == [], f"fixed, so remove from KNOWN_VIOLATIONS: {stale}"

    def test_every_source_file_is_checked(self) -> None:
        # A layer that is renamed or added without a rule would silently escape the check. Only
        # the package root, the app that assembles everything and its launchers are exempt.
        unruled = sorted(
            name
            for name in (module_name(p) for p in PACKAGE_DIR.rglob("*.py"))
            if not any(_within(name, layer) for layer in FORBIDDEN)
        )
        assert unruled == [ROOT, APP, f"{ROOT}.asgi", f"{ROOT}.migrate"]


class TestImportParsing:
    """The checker itself: every spelling of an import is seen."""

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("import practice_dashboard.web.templating", "practice_dashboard.web.templating"),
            ("from practice_dashboard.web import templating", "practice_dashboard.web.templating"),
            ("from practice_dashboard import web", "practice_dashboard.web"),
            ("from ..web.deps import WebLogin", "practice_dashboard.web.deps"),
            ("from .. import web", "practice_dashboard.web"),
            ("def f():\n    from practice_dashboard.web import x\n", "practice_dashboard.web.x"),
            (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    import practice_dashboard.web\n",
                "practice_dashboard.web",
            ),
        ],
        ids=[
            "import",
            "from-module",
            "from-package",
            "relative",
            "relative-bare",
            "local",
            "typing",
        ],
    )
    def test_an_import_of_web_is_found(self, source: str, expected: str) -> None:
        found = set(imported_modules(source, "practice_dashboard.services.reports"))
        assert expected in found
        assert any(_within(name, WEB) for name in found)

    def test_a_relative_import_in_a_package_init_is_resolved_from_the_package(self) -> None:
        found = set(imported_modules("from . import pdf", f"{SERVICES}.reports", is_package=True))
        assert f"{SERVICES}.reports.pdf" in found

    def test_similar_names_are_not_confused(self) -> None:
        assert not _within("practice_dashboard.webhooks", WEB)
        assert _within("practice_dashboard.web", WEB)
