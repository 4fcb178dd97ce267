from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    Base,
    IdMixin,
    RecordStatusMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import Source, checked


class Measure(IdMixin, TimestampMixin, VersionedMixin, RecordStatusMixin, Base):
    """One administration of a standardized instrument; the server scores it on write."""

    __tablename__ = "measure"
    __table_args__ = (
        Index("ix_measure_client_instrument_at", "client_id", "instrument", "administered_at"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    instrument: Mapped[str] = mapped_column(String(40))
    administered_at: Mapped[datetime]
    # Answers in the instrument's item order; null for total-only instruments (ORS, SRS).
    items: Mapped[list[int | None] | None] = mapped_column(JSON, default=None)
    source: Mapped[Source] = mapped_column(checked(Source, "source"), default=Source.CLIENT)
    # Scores are derived by the instrument registry when the measure is written.
    total: Mapped[float | None] = mapped_column(Float, default=None)
    subscales: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    severity: Mapped[str | None] = mapped_column(String(40), default=None)
