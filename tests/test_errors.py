"""The error family renders JSON under /api and hands every other path to the injected renderer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
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
