"""Request dependencies, declared once as `Annotated` aliases and reused by every route."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip, note_caller
from practice_dashboard.errors import Forbidden, Unauthorized
from practice_dashboard.models import User
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.common import Page, UtcDatetime
from practice_dashboard.security import decode_access_token
from practice_dashboard.services.audit import Actor

MAX_PAGE_SIZE = 500

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_current_user(
    db: DbDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    request: Request,
) -> User:
    """The active account a bearer token belongs to, if the token is still current; else 401."""
    if not token:
        raise Unauthorized()
    claims = decode_access_token(settings, token)
    if claims is None:
        raise Unauthorized("Invalid or expired token")
    user = db.get(User, claims.user_id)
    # A token from before the last password change, reset or deactivation no longer counts.
    if user is None or not user.is_active or claims.generation != user.token_generation:
        raise Unauthorized("Invalid or expired token")
    note_caller(request, user)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_actor(user: CurrentUser, request: Request) -> Actor:
    return Actor(user=user, ip=client_ip(request))


CurrentActor = Annotated[Actor, Depends(get_actor)]


async def require_admin(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise Forbidden("Only an admin can manage accounts")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int


async def get_paging(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(get_paging)]

S = TypeVar("S", bound=BaseModel)


def page_of(schema: type[S], items: Sequence[Any], total: int, paging: Paging) -> Page[S]:
    """One list response: the rows as `schema`, with the total and the paging asked for."""
    return Page[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(i) for i in items],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


Start = Annotated[
    UtcDatetime | None, Query(description="From this time (inclusive, ISO 8601 with offset)")
]
End = Annotated[UtcDatetime | None, Query(description="Up to this time (exclusive)")]
VersionQuery = Annotated[
    int | None, Query(description="The version this request is based on (409 if stale)")
]
