"""Questionnaire assignments: list and create per client; change the rhythm; stop (archive)."""

from __future__ import annotations

import uuid

from fastapi import status

from practice_dashboard.api.deps import CurrentActor, VersionQuery
from practice_dashboard.api.responses import (
    CLIENT_READ,
    CLIENT_WRITE,
    VERSIONED_ACTION,
    VERSIONED_WRITE,
)
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models import Assignment
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.assignment import (
    AssignmentCreate,
    AssignmentRead,
    AssignmentUpdate,
)
from practice_dashboard.schemas.common import Page
from practice_dashboard.services.analytics.summary import practice_today
from practice_dashboard.services.checkins import assignments as assignment_service
from practice_dashboard.services.checkins.assignments import AssignmentView

router = Router(tags=["questionnaire assignments"])


def _read(view: AssignmentView) -> AssignmentRead:
    s = view.status
    return AssignmentRead.model_validate(view.assignment).model_copy(
        update={
            "next_due_on": s.next_due_on,
            "last_administered_on": s.last_administered_on,
            "due_now": s.due_now,
            "overdue_days": s.overdue_days,
            "overdue_beyond_grace": s.overdue_beyond_grace,
        }
    )


def _read_one(db: DbSession, settings: Settings, assignment: Assignment) -> AssignmentRead:
    (view,) = assignment_service.with_status(
        db,
        assignment.client_id,
        [assignment],
        today=practice_today(settings, utcnow()),
        grace_days=settings.thresholds.assessment_grace_days,
        zone=settings.timezone,
    )
    return _read(view)


@router.get(
    "/clients/{client_id}/assignments", response_model=Page[AssignmentRead], responses=CLIENT_READ
)
def list_assignments(
    client_id: uuid.UUID, actor: CurrentActor, db: DbDep, settings: SettingsDep
) -> Page[AssignmentRead]:
    """The client's live questionnaire assignments, each with its next due date and whether it
    is overdue beyond the practice's grace period (the `assessment_overdue` signal)."""
    views = assignment_service.list_assignments(
        db,
        client_id=client_id,
        actor=actor,
        today=practice_today(settings, utcnow()),
        grace_days=settings.thresholds.assessment_grace_days,
        zone=settings.timezone,
    )
    items = [_read(v) for v in views]
    return Page[AssignmentRead](items=items, total=len(items), limit=len(items), offset=0)


@router.post(
    "/clients/{client_id}/assignments",
    response_model=AssignmentRead,
    status_code=status.HTTP_201_CREATED,
    responses=CLIENT_WRITE,
)
def create_assignment(
    client_id: uuid.UUID,
    data: AssignmentCreate,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> AssignmentRead:
    """Assign a questionnaire (PHQ-9, GAD-7, CBI; never ORS/SRS) every `every_days` days."""
    assignment = assignment_service.create_assignment(
        db,
        client_id=client_id,
        data=data,
        actor=actor,
        today=practice_today(settings, utcnow()),
    )
    return _read_one(db, settings, assignment)


@router.patch(
    "/assignments/{assignment_id}", response_model=AssignmentRead, responses=VERSIONED_WRITE
)
def update_assignment(
    assignment_id: uuid.UUID,
    data: AssignmentUpdate,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> AssignmentRead:
    """Change an assignment's rhythm or dates; send the `version` you read."""
    assignment = assignment_service.update_assignment(
        db,
        assignment_id=assignment_id,
        data=data,
        actor=actor,
        today=practice_today(settings, utcnow()),
    )
    return _read_one(db, settings, assignment)


@router.delete(
    "/assignments/{assignment_id}", response_model=AssignmentRead, responses=VERSIONED_ACTION
)
def delete_assignment(
    assignment_id: uuid.UUID,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
    version: VersionQuery = None,
) -> AssignmentRead:
    """Stop an assignment: nothing more is due (kept in the record, archived)."""
    assignment = assignment_service.archive_assignment(
        db, assignment_id=assignment_id, actor=actor, version=version
    )
    return _read_one(db, settings, assignment)
