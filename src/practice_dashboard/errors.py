"""Errors that carry their HTTP status, rendered as JSON under /api."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError


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


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return _render(exc)

    async def stale_data(_request: Request, _exc: Exception) -> JSONResponse:
        # Two writers raced past the version check: the second UPDATE matched no row.
        return _render(Conflict())

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StaleDataError, stale_data)
