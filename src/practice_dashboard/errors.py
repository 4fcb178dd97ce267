"""Errors that carry their HTTP status, rendered as JSON under /api and as pages elsewhere.

The page renderer is injected by `create_app`: this module imports nothing from the web layer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from practice_dashboard.middleware import request_method
from practice_dashboard.security import redact_checkin_tokens

log = logging.getLogger(__name__)


class AppError(Exception):
    status_code = 400
    default_detail = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
    ):
        super().__init__(detail or self.default_detail)
        self.detail = detail or self.default_detail
        self.headers = headers
        # Normally an error rolls the unit of work back; a few (a failed login's counter) must
        # be written all the same.
        self.keep_changes = keep_changes


class NotFound(AppError):
    status_code = 404
    default_detail = "Not found"


class Forbidden(AppError):
    status_code = 403
    default_detail = "You may not do this"


class Conflict(AppError):
    status_code = 409
    default_detail = "This record was changed by someone else; reload it and try again"


class Unauthorized(AppError):
    status_code = 401
    default_detail = "Not authenticated"

    def __init__(self, detail: str | None = None, *, keep_changes: bool = False):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, keep_changes=keep_changes)


class TooManyRequests(AppError):
    status_code = 429
    default_detail = "Too many attempts; wait and try again"


class PayloadTooLarge(AppError):
    status_code = 413
    default_detail = "Request body too large"


class Invalid(AppError):
    """A 422 in FastAPI's own shape, for rules that need the database or the registry."""

    status_code = 422

    def __init__(
        self, problems: Sequence[tuple[Sequence[str | int], str]], *, location: str = "body"
    ):
        super().__init__("; ".join(msg for _, msg in problems))
        # `location` is where the bad fields came from: the body, or "query" for list filters.
        self.problems = [
            {"loc": [location, *loc], "msg": msg, "type": "value_error"} for loc, msg in problems
        ]


NUL_MESSAGE = "must not contain a NUL character"


def refuse_nul(problems: Sequence[tuple[str, str]]) -> RequestValidationError:
    """A 422 naming each (location, name) whose text holds a NUL, which PostgreSQL cannot store
    (SQLite would, silently): refused on every database alike."""
    return RequestValidationError(
        [
            {"type": "value_error", "loc": (where, name), "msg": NUL_MESSAGE}
            for where, name in problems
        ]
    )


def _printable(value: Any) -> Any:
    """`value` with everything JSON cannot carry made into text: a 422 echoes the input it
    refused, and that input may hold NaN or Infinity (Python's JSON parser reads them), a lone
    surrogate (valid JSON, not encodable as UTF-8) or bytes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return _printable(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """FastAPI's 422 body (`detail`: loc, msg, type, input, ctx), always encodable."""
    return {"detail": _printable(jsonable_encoder(_printable(list(exc.errors()))))}


# Renders an error as an HTML page for the dashboard: (request, status code, detail) -> response.
# Supplied by `create_app`, so this module needs nothing from the web layer.
HtmlErrorRenderer = Callable[[Request, int, str], Response]


def _render(exc: AppError) -> JSONResponse:
    body: dict[str, Any]
    if isinstance(exc, Invalid):
        body = {"detail": exc.problems}
    else:
        body = {"detail": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/healthz", "/readyz", "/openapi.json")


def allowed_methods(request: Request) -> str:
    """The `Allow` header for a 405: every method some route serves at this path.

    Starlette answers a 405 with the methods of the first route whose path matched, which is
    wrong when routes share a path (GET and PATCH /clients/{id} are two routes).
    """
    # Matched from the application's root (a mounted app's scope has its own root path), with
    # a method no route serves, so every route at this path matches partially.
    root_path = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    scope = {**request.scope, "root_path": root_path, "method": "\0"}
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(scope)
        if match == Match.NONE:
            continue
        if isinstance(route.original_route, Mount) and isinstance(
            route.original_route.app, StaticFiles
        ):
            methods |= {"GET", "HEAD"}
        else:
            methods |= set(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")  # served for every GET (middleware.HeadAsGet)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI, *, html_renderer: HtmlErrorRenderer) -> None:
    """JSON errors under /api (and the health checks); `html_renderer` for every other path."""

    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        if _wants_json(request):
            return _render(exc)
        return html_renderer(request, exc.status_code, exc.detail)

    async def stale_data(request: Request, _exc: Exception) -> Response:
        # Two writers raced past the version check: the second UPDATE matched no row.
        return await app_error(request, Conflict())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request)}
        if _wants_json(request):
            return await http_exception_handler(request, exc)
        response = html_renderer(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    async def invalid_request(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(validation_body(exc), status_code=422)

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged with its traceback for the operators; the person sees a calm page, never a trace.
        log.error(
            "unhandled error on %s %s",
            request_method(request.scope),
            redact_checkin_tokens(request.url.path),
            exc_info=exc,
        )
        if _wants_json(request):
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
        return html_renderer(request, 500, "The error was logged. Please try again in a moment.")

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StaleDataError, stale_data)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
