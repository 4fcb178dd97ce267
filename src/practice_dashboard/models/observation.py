from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    Base,
    IdMixin,
    RecordStatusMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import Source, Zone, checked


def _scale(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR {column} BETWEEN 0 AND 10", name=f"{column}_range")


class Observation(IdMixin, TimestampMixin, VersionedMixin, RecordStatusMixin, Base):
    """A nervous-system check-in at a moment in time (in session or self-reported)."""

    __tablename__ = "observation"
    __table_args__ = (
        CheckConstraint("activation BETWEEN 0 AND 10", name="activation_range"),
        _scale("capacity"),
        _scale("safety"),
        _scale("body_connection"),
        Index("ix_observation_client_observed_at", "client_id", "observed_at"),
        # "The latest check-in of each source before the view" (fact_loading): without the
        # source, a source the client never used is looked for along their whole history.
        Index("ix_observation_client_source_observed_at", "client_id", "source", "observed_at"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id"), default=None, index=True
    )
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    observed_at: Mapped[datetime]
    source: Mapped[Source] = mapped_column(checked(Source, "source"), default=Source.PRACTITIONER)
    zone: Mapped[Zone] = mapped_column(checked(Zone, "zone"))
    activation: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    safety: Mapped[int | None] = mapped_column(Integer, default=None)
    body_connection: Mapped[int | None] = mapped_column(Integer, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
