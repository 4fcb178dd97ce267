"""The error responses each API route documents: one home for their wording and body schema.

Every error but a 422 has the body `{"detail": "…"}` (errors.py renders AppError and HTTP
errors so); a 422 is FastAPI's `HTTPValidationError`, which `errors.Invalid` shares, and
FastAPI documents it by itself on every route that reads parameters or a body. Routers attach
the sets below, so a client generated from `/openapi.json` knows every status it can get.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Responses = dict[int | str, dict[str, Any]]


class ErrorMessage(BaseModel):
    """The body of every error response except a 422."""

    detail: str = Field(description="What went wrong, in words")


_WHY: dict[int, str] = {
    401: "Not authenticated: no bearer token, or an expired or revoked one (or, for the token "
    "route, a wrong e-mail or password)",
    403: "Not allowed: supervision gives read-only access, and accounts are for admins",
    404: "Not found, or not visible to the caller (the two are never told apart)",
    409: "Conflict: the `version` sent is not the stored one (or the change was already made); "
    "reload and try again",
    413: "Request body larger than the server's limit",
    429: "Too many attempts: wait and try again",
    503: "Not available now: the server cannot do this at the moment",
}


def errors(*statuses: int) -> Responses:
    """The documented error responses for `statuses` (each with the `ErrorMessage` body)."""
    return {status: {"model": ErrorMessage, "description": _WHY[status]} for status in statuses}


# Every route behind a bearer token.
AUTHENTICATED = errors(401)
# Admin-only account management.
ADMIN = errors(401, 403)
# A read of one client's data, by path: 404 when the caller may not see it.
CLIENT_READ = errors(401, 404)
# A write to one client's data: supervisors see the client, so they get 403, not 404.
CLIENT_WRITE = errors(401, 403, 404, 413)
# A write that carries the `version` it was based on.
VERSIONED_WRITE = errors(401, 403, 404, 409, 413)
# A body-less change that may carry `?version=` (archive, restore, stop).
VERSIONED_ACTION = errors(401, 403, 404, 409)
