"""The DB+template ceiling of `bench.ceilings`: a minimal page that runs the same raw SQL as a
product page and renders a Jinja2 page of the same byte size, served like the product.

    .venv/bin/python -m bench.ceiling_app --plan plan.pickle --port 8001

The plan (written by `bench.ceilings`) holds, per page, the SELECT statements the product
issued for it (text and DBAPI parameters, captured with a `before_cursor_execute` listener)
and the product page's size in bytes. Each request checks out a pooled DBAPI connection of an
engine made by the product's own `create_db_engine` (same driver, same connection set-up),
runs every statement with `cursor.execute` + `fetchall`, and renders the rows as table cells,
repeated or cut to come near the product page's size and padded with a comment to it exactly
(`/page/{name}`), or as JSON arrays padded to the product response's size, written by the
product's own JSON writer (`/json/{name}`).
No sign-in, no audit, no ORM: what is left is what any page of that size must cost.

`bench.ceilings` also mounts this app in its own process, on the product's engine, to time
these pages through the same in-process client as the product's (the floors of rows 1 and 2).

It is served by the product's own `practice-dashboard serve` (one worker, `--no-migrate`):
`practice_dashboard.asgi` is replaced by this app before the command runs, so uvicorn gets
whatever settings the product gives it today.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic_core


@dataclass(frozen=True, slots=True)
class PagePlan:
    """What one product page read (statement text, DBAPI parameters) and how big it was."""

    statements: list[tuple[str, Any]]
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    pages: dict[str, PagePlan] = field(default_factory=dict)


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ name }}</title></head>
<body><h1>{{ name }}</h1><table>
{% for row in rows %}<tr>{% for value in row %}<td>{{ value }}</td>{% endfor %}</tr>
{% endfor %}</table><!--{{ pad }}--></body></html>
"""

BLANK = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>blank</title></head>"
    b"<body></body></html>"
)


def read_plan(path: Path) -> Plan:
    with path.open("rb") as file:
        plan = pickle.load(file)  # written by bench.ceilings in this run
    assert isinstance(plan, Plan)
    return plan


def write_plan(plan: Plan, path: Path) -> None:
    with path.open("wb") as file:
        pickle.dump(plan, file)


def fetch(connection: Any, statements: list[tuple[str, Any]]) -> list[tuple[Any, ...]]:
    """Every row of every statement, through the raw DBAPI cursor."""
    rows: list[tuple[Any, ...]] = []
    cursor = connection.cursor()
    try:
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            rows.extend(tuple(row) for row in cursor.fetchall())
    finally:
        cursor.close()
    return rows


class Sized:
    """Renders fetched rows to `size` bytes: the first `keep` rows (cycled when the output
    needs more rows than the SQL returned), then padding. Subclasses say how rows are written."""

    def __init__(self, name: str, size: int, sample: list[tuple[Any, ...]]) -> None:
        self.name = name
        self.keep = 0
        self.pad = ""
        empty = len(self._render([], ""))
        if sample:
            full = len(self._render(sample, ""))
            per_row = max(1.0, (full - empty) / len(sample))
            self.keep = max(0, int((size - empty) / per_row))
            while self.keep and len(self._render(self._rows(sample), "")) > size:
                self.keep = int(self.keep * 0.98)
        self.pad = " " * max(0, size - len(self._render(self._rows(sample), "")))

    def _rows(self, fetched: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not fetched:
            return []
        return [fetched[i % len(fetched)] for i in range(self.keep)]

    def _render(self, rows: list[tuple[Any, ...]], pad: str) -> bytes:
        raise NotImplementedError

    def render(self, fetched: list[tuple[Any, ...]]) -> bytes:
        return self._render(self._rows(fetched), self.pad)


class SizedPage(Sized):
    """An HTML table rendered by Jinja2, padded with a comment."""

    def __init__(self, name: str, size: int, sample: list[tuple[Any, ...]]) -> None:
        import jinja2

        self.template = jinja2.Environment(autoescape=True).from_string(TEMPLATE)
        super().__init__(name, size, sample)

    def _render(self, rows: list[tuple[Any, ...]], pad: str) -> bytes:
        return self.template.render(name=self.name, rows=rows, pad=pad).encode()


class SizedJson(Sized):
    """The rows as JSON arrays, padded to the product response's size, written by the writer
    the product's responses use: Pydantic's (FastAPI serializes a response model with it),
    which writes times, ids and decimals itself. Python's `json` with `default=str` took
    14.5 ms for the metrics response's rows on PostgreSQL, this 1.7 ms."""

    def _render(self, rows: list[tuple[Any, ...]], pad: str) -> bytes:
        return pydantic_core.to_json({"name": self.name, "rows": rows, "pad": pad})


def build_app(plan: Plan, engine: Any = None) -> Any:
    """A Starlette app: /healthz, /blank, and /page/{name} and /json/{name} for each planned
    page, reading through `engine` (default: one made from the environment's settings)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from practice_dashboard.config import Settings
    from practice_dashboard.db import create_db_engine

    if engine is None:  # served: the server's environment names the product's database
        engine = create_db_engine(Settings())
    pages: dict[str, tuple[PagePlan, Sized]] = {}
    jsons: dict[str, tuple[PagePlan, Sized]] = {}
    for name, planned_page in plan.pages.items():
        connection = engine.raw_connection()
        try:
            sample = fetch(connection, planned_page.statements)
        finally:
            connection.close()
        pages[name] = (planned_page, SizedPage(name, planned_page.size, sample))
        jsons[name] = (planned_page, SizedJson(name, planned_page.size, sample))

    def healthz(_request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    def blank(_request: Request) -> Response:
        return Response(BLANK, media_type="text/html; charset=utf-8")

    def sized(found: tuple[PagePlan, Sized] | None, media_type: str) -> Response:
        if found is None:
            return Response(b"no such page", status_code=404)
        planned, renderer = found
        connection = engine.raw_connection()
        try:
            rows = fetch(connection, planned.statements)
        finally:
            connection.close()  # back to the pool
        return Response(renderer.render(rows), media_type=media_type)

    def page(request: Request) -> Response:
        return sized(pages.get(request.path_params["name"]), "text/html; charset=utf-8")

    def as_json(request: Request) -> Response:
        return sized(jsons.get(request.path_params["name"]), "application/json")

    # Plain `def` endpoints run in the thread pool, as the product's routes do.
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/blank", blank),
            Route("/page/{name}", page),
            Route("/json/{name}", as_json),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args()
    # Run as __main__: the plan's classes are the ones of the module under its real name.
    from bench import ceiling_app as named

    # uvicorn imports the app by the product's import string; one worker imports it in this
    # process, where this stand-in module answers for it.
    stand_in = types.ModuleType("practice_dashboard.asgi")
    stand_in.app = named.build_app(named.read_plan(args.plan))  # type: ignore[attr-defined]
    sys.modules["practice_dashboard.asgi"] = stand_in
    from practice_dashboard.cli.main import app as cli

    sys.argv = ["practice-dashboard", "serve", "--port", str(args.port), "--workers", "1"]
    sys.argv.append("--no-migrate")
    cli()


if __name__ == "__main__":
    main()
