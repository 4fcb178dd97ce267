"""The error family renders JSON under /api and hands every other path to the injected renderer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from practice_dashboard.errors import Invalid, NotFound, install_error_handlers


def _renderer(request: Request, status_code: int, detail: str) -> Response:
    return PlainTextResponse(f"page {status_code} {request.url.path}: {detail}", status_code)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app, html_renderer=_renderer)

    for prefix in ("", "/api"):

        @app.get(f"{prefix}/missing")
        def missing() -> None:
            raise NotFound("No such thing")

        @app.get(f"{prefix}/invalid")
        def invalid() -> None:
            raise Invalid([(("start",), "must be a date")], location="query")

        @app.get(f"{prefix}/broken")
        def broken() -> None:
            raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class TestRenderers:
    def test_api_errors_are_json(self, client: TestClient) -> None:
        missing = client.get("/api/missing")
        assert (missing.status_code, missing.json()) == (404, {"detail": "No such thing"})
        invalid = client.get("/api/invalid")
        assert invalid.status_code == 422
        assert invalid.json() == {
            "detail": [{"loc": ["query", "start"], "msg": "must be a date", "type": "value_error"}]
        }
        broken = client.get("/api/broken")
        assert (broken.status_code, broken.json()) == (500, {"detail": "Internal server error"})

    def test_other_paths_use_the_injected_renderer(self, client: TestClient) -> None:
        missing = client.get("/missing")
        assert (missing.status_code, missing.text) == (404, "page 404 /missing: No such thing")
        invalid = client.get("/invalid")
        assert (invalid.status_code, invalid.text) == (422, "page 422 /invalid: must be a date")
        unknown_route = client.get("/nowhere")
        assert (unknown_route.status_code, unknown_route.text) == (
            404,
            "page 404 /nowhere: Not Found",
        )
        broken = client.get("/broken")
        assert broken.status_code == 500
        assert broken.text == (
            "page 500 /broken: The error was logged. Please try again in a moment."
        )


class TestAllowHeader:
    """A 405's `Allow` lists every method served at the path, whichever route serves it."""

    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            # Three routes share the path, one method each.
            ("PUT", f"/api/v1/clients/{uuid.uuid4()}", "DELETE, GET, HEAD, PATCH"),
            (
                "PUT",
                f"/api/v1/clients/{uuid.uuid4()}/checkin-link",
                "DELETE, GET, HEAD, PATCH, POST",
            ),
            ("GET", f"/api/v1/sessions/{uuid.uuid4()}", "DELETE, PATCH"),
            ("DELETE", "/api/v1/clients", "GET, HEAD, POST"),
            ("PUT", "/openapi.json", "GET, HEAD"),
            # Pages keep the header on their HTML error page.
            ("DELETE", "/login", "GET, HEAD, POST"),
            # A fixed path and a path parameter both match /clients/new.
            ("PUT", "/clients/new", "GET, HEAD, POST"),
            ("PUT", "/static/css/app.css", "GET, HEAD"),
        ],
    )
    def test_examples(self, api: TestClient, method: str, path: str, allow: str) -> None:
        response = api.request(method, path)
        assert (response.status_code, response.headers.get("allow")) == (405, allow)

    def test_every_route_is_listed_for_its_path(self, app: FastAPI, api: TestClient) -> None:
        served: dict[str, set[str]] = {}
        for route in iter_route_contexts(app.routes):
            if route.methods and route.path:
                served.setdefault(route.path, set()).update(route.methods)
        wrong = []
        for path, methods in served.items():
            # Each path parameter filled with a value its own route accepts (a UUID or a word).
            url = re.sub(r"\{[^}]+\}", str(uuid.UUID(int=7)), path)
            response = api.request("PUT", url)  # no route serves PUT
            allow = set(response.headers.get("allow", "").split(", "))
            if response.status_code != 405 or not methods <= allow:
                wrong.append((path, response.status_code, sorted(methods), sorted(allow)))
        assert wrong == []
