from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    ArchivedMixin,
    Base,
    IdMixin,
    RecordStatusMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import (
    Attendance,
    HomeworkCompletion,
    Modality,
    SessionKind,
    checked,
)


class Session(IdMixin, TimestampMixin, VersionedMixin, RecordStatusMixin, ArchivedMixin, Base):
    """One meeting of practitioner and client (the domain word, not a database session)."""

    __tablename__ = "session"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 1 AND 480", name="duration_range"),
        CheckConstraint(
            "engagement IS NULL OR engagement BETWEEN 0 AND 10", name="engagement_range"
        ),
        Index("ix_session_client_starts_at", "client_id", "starts_at"),
        Index("ix_session_practitioner_starts_at", "practitioner_id", "starts_at"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=50)
    kind: Mapped[SessionKind] = mapped_column(
        checked(SessionKind, "session_kind"), default=SessionKind.THERAPY
    )
    modality: Mapped[Modality] = mapped_column(
        checked(Modality, "modality"), default=Modality.IN_PERSON
    )
    attendance: Mapped[Attendance] = mapped_column(
        checked(Attendance, "attendance"), default=Attendance.SCHEDULED
    )
    engagement: Mapped[int | None] = mapped_column(Integer, default=None)
    homework_assigned: Mapped[bool] = mapped_column(Boolean, default=False)
    homework_completed: Mapped[HomeworkCompletion | None] = mapped_column(
        checked(HomeworkCompletion, "homework_completed"), default=None
    )
    notes: Mapped[str | None] = mapped_column(Text, default=None)
