"""Errors that carry their HTTP status, rendered as JSON under /api."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


_TITLES = {
    400: "Something in that request was not right",
    401: "Please log in",
    403: "You do not have access to this",
    404: "We could not find that page",
    409: "Someone else changed this first",
    413: "That was too large",
    422: "Some of that could not be saved",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def _html(request: Request, status_code: int, detail: str) -> Response:
    from practice_dashboard.web.templating import templates

    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": _TITLES.get(status_code, "Something went wrong"),
            "detail": detail,
        },
        status_code=status_code,
    )


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        if _wants_json(request):
            return _render(exc)
        if exc.status_code == 303:  # a page that needs a login
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"/login?next={target}", status_code=303)
        return _html(request, exc.status_code, exc.detail)

    async def stale_data(request: Request, _exc: Exception) -> Response:
        # Two writers raced past the version check: the second UPDATE matched no row.
        return await app_error(request, Conflict())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _wants_json(request):
            return await http_exception_handler(request, exc)
        return _html(request, exc.status_code, str(exc.detail))

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged with its traceback for the operators; the person sees a calm page, never a trace.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if _wants_json(request):
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
        return _html(request, 500, "The error was logged. Please try again in a moment.")

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StaleDataError, stale_data)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
