from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from practice_dashboard.api.deps import CurrentActor, PagingDep, VersionQuery, page_of
from practice_dashboard.api.responses import (
    AUTHENTICATED,
    CLIENT_READ,
    VERSIONED_ACTION,
    VERSIONED_WRITE,
    errors,
)
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.routing import Router
from practice_dashboard.schemas.client import ClientCreate, ClientRead, ClientUpdate
from practice_dashboard.schemas.common import Page
from practice_dashboard.services.records import client as client_service

router = Router(prefix="/clients", tags=["clients"], responses=AUTHENTICATED)


@router.get("", response_model=Page[ClientRead])
def list_clients(
    actor: CurrentActor,
    db: DbDep,
    paging: PagingDep,
    status_: Annotated[ClientStatus | None, Query(alias="status")] = None,
    practitioner_id: uuid.UUID | None = None,
    search: Annotated[str | None, Query(max_length=100, description="Part of the name")] = None,
    archived: Annotated[bool, Query(description="List archived clients instead")] = False,
) -> Page[ClientRead]:
    """The clients the caller may see, by name."""
    items, total = client_service.list_clients(
        db,
        actor=actor,
        status=status_,
        practitioner_id=practitioner_id,
        search=search,
        archived=archived,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(ClientRead, items, total, paging)


@router.post(
    "", response_model=ClientRead, status_code=status.HTTP_201_CREATED, responses=errors(413)
)
def create_client(
    data: ClientCreate, actor: CurrentActor, db: DbDep, settings: SettingsDep
) -> ClientRead:
    """Add a client to the caller's own caseload; intake defaults to today in the practice."""
    today = utcnow().astimezone(settings.timezone).date()
    return ClientRead.model_validate(
        client_service.create_client(db, data=data, actor=actor, today=today)
    )


@router.get("/{client_id}", response_model=ClientRead, responses=CLIENT_READ)
def read_client(client_id: uuid.UUID, actor: CurrentActor, db: DbDep) -> ClientRead:
    """One client (404 if the caller may not see it)."""
    return ClientRead.model_validate(
        client_service.read_client(db, client_id=client_id, actor=actor)
    )


@router.patch("/{client_id}", response_model=ClientRead, responses=VERSIONED_WRITE)
def update_client(
    client_id: uuid.UUID, data: ClientUpdate, actor: CurrentActor, db: DbDep
) -> ClientRead:
    """Change a client's details; send the `version` you read (409 if someone changed it since)."""
    return ClientRead.model_validate(
        client_service.update_client(db, client_id=client_id, data=data, actor=actor)
    )


@router.delete("/{client_id}", response_model=ClientRead, responses=VERSIONED_ACTION)
def archive_client(
    client_id: uuid.UUID, actor: CurrentActor, db: DbDep, version: VersionQuery = None
) -> ClientRead:
    """Archive a client: hidden from lists, every record kept. Nothing is deleted."""
    return ClientRead.model_validate(
        client_service.archive_client(db, client_id=client_id, actor=actor, version=version)
    )


@router.post("/{client_id}/restore", response_model=ClientRead, responses=VERSIONED_ACTION)
def restore_client(
    client_id: uuid.UUID, actor: CurrentActor, db: DbDep, version: VersionQuery = None
) -> ClientRead:
    """Bring an archived client back into the caseload."""
    return ClientRead.model_validate(
        client_service.restore_client(db, client_id=client_id, actor=actor, version=version)
    )
