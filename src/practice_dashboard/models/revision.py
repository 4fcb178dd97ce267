from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, TimestampMixin, utcnow
from practice_dashboard.models.enums import checked


class RecordKind(StrEnum):
    """The client-scoped records that can be corrected (the API's path segment, singular)."""

    SESSION = "session"
    OBSERVATION = "observation"
    EPISODE = "episode"
    MEASURE = "measure"
    ANNOTATION = "annotation"


class Revision(IdMixin, TimestampMixin, Base):
    """One edit of a record: the fields it changed, each with its value before and after."""

    __tablename__ = "revision"
    __table_args__ = (Index("ix_revision_record", "record_kind", "record_id", "version"),)

    record_kind: Mapped[RecordKind] = mapped_column(checked(RecordKind, "record_kind"))
    record_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"), index=True)
    # The version the edit was based on: the old values are what that version held.
    version: Mapped[int] = mapped_column(Integer)
    # {field: {"old": value, "new": value}}, values as JSON (times as ISO 8601 text).
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
