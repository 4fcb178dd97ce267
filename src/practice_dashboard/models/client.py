from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    ArchivedMixin,
    Base,
    IdMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import ClientStatus, checked


class Client(IdMixin, TimestampMixin, VersionedMixin, ArchivedMixin, Base):
    """A person in care, owned by one practitioner. Deleting archives."""

    __tablename__ = "client"
    __table_args__ = (
        CheckConstraint("session_cadence_days BETWEEN 1 AND 365", name="cadence_range"),
        Index("ix_client_practitioner_name", "practitioner_id", "display_name"),
    )

    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    display_name: Mapped[str] = mapped_column(String(120))
    external_ref: Mapped[str | None] = mapped_column(String(120), default=None)
    date_of_birth: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[ClientStatus] = mapped_column(
        checked(ClientStatus, "client_status"), default=ClientStatus.ACTIVE
    )
    intake_date: Mapped[date] = mapped_column(Date)
    discharged_on: Mapped[date | None] = mapped_column(Date, default=None)
    goals: Mapped[str | None] = mapped_column(Text, default=None)
    session_cadence_days: Mapped[int] = mapped_column(Integer, default=7)
