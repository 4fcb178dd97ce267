from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, TimestampMixin, UTCDateTime


class Heartbeat(IdMixin, TimestampMixin, Base):
    """One row per probe, rewritten by each readiness check: proof the database takes writes
    (a full disk or a read-only database answers SELECT 1 all the same)."""

    __tablename__ = "heartbeat"

    probe: Mapped[str] = mapped_column(String(40), unique=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
