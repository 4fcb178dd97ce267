from __future__ import annotations

import uuid

from fastapi import status
from sqlalchemy import select

from practice_dashboard.api.deps import AdminUser, CurrentActor, PagingDep, page_of
from practice_dashboard.api.responses import ADMIN, errors
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models import Supervision, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.common import Page
from practice_dashboard.schemas.user import (
    SupervisionCreate,
    SupervisionRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from practice_dashboard.services.accounts import mfa
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.common import page

router = Router(prefix="/users", tags=["users"], responses=ADMIN)


@router.get("", response_model=Page[UserRead])
def list_users(_admin: AdminUser, db: DbDep, paging: PagingDep) -> Page[UserRead]:
    """All accounts (admin only)."""
    items, total = page(
        db, select(User), order_by=(User.email, User.id), limit=paging.limit, offset=paging.offset
    )
    return page_of(UserRead, items, total, paging)


@router.post(
    "", response_model=UserRead, status_code=status.HTTP_201_CREATED, responses=errors(413)
)
def create_user(
    data: UserCreate, _admin: AdminUser, actor: CurrentActor, db: DbDep, settings: SettingsDep
) -> UserRead:
    """Create an account (admin only)."""
    return UserRead.model_validate(user_service.create_user(db, settings, data=data, actor=actor))


@router.patch("/{user_id}", response_model=UserRead, responses=errors(404, 409, 413))
def update_user(
    user_id: uuid.UUID,
    data: UserUpdate,
    _admin: AdminUser,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> UserRead:
    """Change an account's name, role, password or active state (admin only)."""
    user = user_service.get_user(db, user_id)
    return UserRead.model_validate(
        user_service.update_user(db, settings, user=user, data=data, actor=actor)
    )


@router.get("/{user_id}/supervisees", response_model=list[SupervisionRead], responses=errors(404))
def list_supervisees(user_id: uuid.UUID, _admin: AdminUser, db: DbDep) -> list[SupervisionRead]:
    """The supervision links of a supervisor (admin only)."""
    user_service.get_user(db, user_id)
    links = db.scalars(
        select(Supervision)
        .where(Supervision.supervisor_id == user_id)
        .order_by(Supervision.created_at, Supervision.id)
    )
    return [SupervisionRead.model_validate(link) for link in links]


@router.post(
    "/{user_id}/supervisees",
    response_model=SupervisionRead,
    status_code=status.HTTP_201_CREATED,
    responses=errors(404, 409, 413),
)
def add_supervisee(
    user_id: uuid.UUID,
    data: SupervisionCreate,
    _admin: AdminUser,
    actor: CurrentActor,
    db: DbDep,
) -> SupervisionRead:
    """Let user `user_id` supervise `supervisee_id`: read access to the supervisee's clients."""
    supervisor = user_service.get_user(db, user_id)
    return SupervisionRead.model_validate(
        user_service.add_supervisee(db, supervisor=supervisor, data=data, actor=actor)
    )


@router.delete(
    "/{user_id}/supervisees/{supervisee_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
def remove_supervisee(
    user_id: uuid.UUID,
    supervisee_id: uuid.UUID,
    _admin: AdminUser,
    actor: CurrentActor,
    db: DbDep,
) -> None:
    """End a supervision link (admin only); no clinical data is touched."""
    user_service.remove_supervisee(
        db, supervisor_id=user_id, supervisee_id=supervisee_id, actor=actor
    )


@router.post(
    "/{user_id}/mfa/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
def reset_mfa(user_id: uuid.UUID, _admin: AdminUser, actor: CurrentActor, db: DbDep) -> None:
    """Remove an account's two-factor authentication (admin only; audited): its logins and
    tokens end, and it sets up a new authenticator at its next login. An admin's own is a 422:
    another admin resets it."""
    user = user_service.get_user(db, user_id)
    mfa.reset(db, user=user, now=utcnow(), actor=actor)
