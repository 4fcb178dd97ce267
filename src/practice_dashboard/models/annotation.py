from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    ArchivedMixin,
    Base,
    IdMixin,
    RecordStatusMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import checked


class AnnotationKind(StrEnum):
    LIFE_EVENT = "life_event"
    MEDICATION = "medication"
    CARE_CHANGE = "care_change"
    OTHER = "other"


class Annotation(IdMixin, TimestampMixin, VersionedMixin, RecordStatusMixin, ArchivedMixin, Base):
    """A dated note on a client's timeline, drawn on every time chart of that client."""

    __tablename__ = "annotation"
    __table_args__ = (Index("ix_annotation_client_at", "client_id", "at"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    at: Mapped[datetime]
    kind: Mapped[AnnotationKind] = mapped_column(checked(AnnotationKind, "annotation_kind"))
    label: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text, default=None)
