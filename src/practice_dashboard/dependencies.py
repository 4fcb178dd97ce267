"""Request dependencies shared by the JSON API and the pages: settings, the unit of work, caller IP.

Kept outside `api/` and `web/` so both layers can use them without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, SessionFactory, finishing, start_reading
from practice_dashboard.errors import AppError, Forbidden, NotFound, refuse_nul
from practice_dashboard.middleware import request_method
from practice_dashboard.models import User
from practice_dashboard.security import redact_checkin_tokens
from practice_dashboard.services import audit

# Requests that only read: a deferred transaction, their audit rows written after the read.
READ_METHODS = frozenset({"GET", "HEAD"})
# The `request.state` attribute naming the signed-in caller, for the record of a refusal.
_CALLER = "audit_caller"


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[DbSession]:
    """The unit of work: commit when the handler returns, roll back when it raises.

    GET and HEAD read (db.start_reading); a 403 or 404 for a signed-in caller is recorded as
    a refusal, written after the rollback, with the same answer to the caller.
    """
    factory: SessionFactory = request.app.state.session_factory
    db = factory()
    if request.method in READ_METHODS:
        start_reading(db)
    with finishing(db, keep_on_error=_keeps_changes):
        try:
            yield db
        except (Forbidden, NotFound) as exc:
            _record_refusal(db, request, exc)
            raise


def _keeps_changes(exc: BaseException) -> bool:
    # An AppError may keep what was written before it (e.g. a failed login's counter).
    return isinstance(exc, AppError) and exc.keep_changes


def note_caller(request: Request, user: User) -> None:
    """Remember who is signed in, so a refusal later in the request names them."""
    setattr(request.state, _CALLER, user)


def _record_refusal(db: DbSession, request: Request, exc: AppError) -> None:
    user: User | None = getattr(request.state, _CALLER, None)
    if user is None:
        return  # not signed in: the 401 / login redirect is the whole story
    path = redact_checkin_tokens(request.url.path)
    audit.record_refusal(
        db,
        audit.Actor(user=user, ip=client_ip(request)),
        audit.DENIED,
        "request",
        detail=f"{exc.status_code} {request_method(request.scope)} {path}",
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a 2xx always means "stored".
DbDep = Annotated[DbSession, Depends(get_db, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def no_nul_characters(request: Request) -> None:
    """Refuse a NUL in any path or query parameter (a 422 naming each): run for every route,
    before its own parameters are read or the database is asked anything. JSON bodies are
    checked by their schemas (`schemas.common.InputSchema`), forms by `no_nul_in_form`."""
    problems = [
        ("path", name)
        for name, value in request.path_params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    problems += [
        ("query", name)
        for name, value in request.query_params.multi_items()
        if "\x00" in name or "\x00" in value
    ]
    if problems:
        raise refuse_nul(problems)


async def no_nul_in_form(request: Request) -> None:
    """Refuse a NUL in any field of a posted form (a 422 naming each): for the API's forms (the
    token, the CSV upload) and the login form. The dashboard's record forms read their fields
    through the input schemas, which show the same refusal next to the field."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return
    form = await request.form()  # already read (and size-limited) by the route: cached
    problems = [
        ("body", name)
        for name, value in form.multi_items()
        if "\x00" in name or (isinstance(value, str) and "\x00" in value)
    ]
    if problems:
        raise refuse_nul(problems)
