from __future__ import annotations

import uuid

from fastapi import status

from practice_dashboard.api.deps import CurrentActor, End, PagingDep, Start, VersionQuery, page_of
from practice_dashboard.api.responses import (
    CLIENT_READ,
    CLIENT_WRITE,
    VERSIONED_ACTION,
    VERSIONED_WRITE,
)
from practice_dashboard.dependencies import DbDep
from practice_dashboard.routing import Router
from practice_dashboard.schemas.annotation import AnnotationCreate, AnnotationRead, AnnotationUpdate
from practice_dashboard.schemas.common import Page
from practice_dashboard.services.records import annotation as annotation_service

router = Router(tags=["annotations"])


@router.get(
    "/clients/{client_id}/annotations", response_model=Page[AnnotationRead], responses=CLIENT_READ
)
def list_annotations(
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    paging: PagingDep,
    start: Start = None,
    end: End = None,
) -> Page[AnnotationRead]:
    """A client's timeline notes, newest first."""
    items, total = annotation_service.list_annotations(
        db,
        client_id=client_id,
        actor=actor,
        start=start,
        end=end,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(AnnotationRead, items, total, paging)


@router.post(
    "/clients/{client_id}/annotations",
    response_model=AnnotationRead,
    status_code=status.HTTP_201_CREATED,
    responses=CLIENT_WRITE,
)
def create_annotation(
    client_id: uuid.UUID, data: AnnotationCreate, actor: CurrentActor, db: DbDep
) -> AnnotationRead:
    """Add a dated note (life event, medication change, change in care) to the timeline."""
    return AnnotationRead.model_validate(
        annotation_service.create_annotation(db, client_id=client_id, data=data, actor=actor)
    )


@router.patch(
    "/annotations/{annotation_id}", response_model=AnnotationRead, responses=VERSIONED_WRITE
)
def update_annotation(
    annotation_id: uuid.UUID, data: AnnotationUpdate, actor: CurrentActor, db: DbDep
) -> AnnotationRead:
    """Correct a timeline note; send the `version` you read."""
    return AnnotationRead.model_validate(
        annotation_service.update_annotation(
            db, annotation_id=annotation_id, data=data, actor=actor
        )
    )


@router.delete(
    "/annotations/{annotation_id}", response_model=AnnotationRead, responses=VERSIONED_ACTION
)
def delete_annotation(
    annotation_id: uuid.UUID, actor: CurrentActor, db: DbDep, version: VersionQuery = None
) -> AnnotationRead:
    """Take a note off the timeline (kept in the record, marked archived)."""
    return AnnotationRead.model_validate(
        annotation_service.delete_annotation(
            db, annotation_id=annotation_id, actor=actor, version=version
        )
    )
