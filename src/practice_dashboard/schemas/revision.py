from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from practice_dashboard.models import RecordKind
from practice_dashboard.schemas.common import Schema


class FieldChange(Schema):
    old: Any
    new: Any


class RevisionRead(Schema):
    """One edit of a record: what each changed field held before, and after."""

    id: uuid.UUID
    record_kind: RecordKind
    record_id: uuid.UUID
    version: int = Field(description="The version the edit was based on (the old values')")
    changes: dict[str, FieldChange]
    actor_id: uuid.UUID | None
    actor_name: str | None
    at: datetime


class History(Schema):
    """A record's revisions, oldest first."""

    record_kind: RecordKind
    record_id: uuid.UUID
    version: int = Field(description="The record's current version")
    items: list[RevisionRead]
