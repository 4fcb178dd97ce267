from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from practice_dashboard.api.deps import CurrentUser
from practice_dashboard.api.responses import AUTHENTICATED, errors
from practice_dashboard.dependencies import DbDep, SettingsDep, client_ip
from practice_dashboard.models.base import utcnow
from practice_dashboard.schemas.user import Token, UserRead
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import user as user_service

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=Token, responses=errors(401, 413, 429))
def login_for_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DbDep,
    settings: SettingsDep,
    request: Request,
) -> Token:
    """Exchange e-mail (`username`) and password for a bearer token (OAuth2 password flow)."""
    now = utcnow()
    user = user_service.authenticate(
        db, settings, email=form.username, password=form.password, now=now, ip=client_ip(request)
    )
    return Token(
        access_token=create_access_token(settings, user.id, now, generation=user.token_generation),
        expires_in=settings.access_token_minutes * 60,
    )


@router.get("/me", response_model=UserRead, responses=AUTHENTICATED)
def me(user: CurrentUser) -> UserRead:
    """The caller's own account."""
    return UserRead.model_validate(user)
