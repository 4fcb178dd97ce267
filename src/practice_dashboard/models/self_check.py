from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, TimestampMixin


class SelfCheck(IdMixin, TimestampMixin, Base):
    """A practitioner's own measure (e.g. Copenhagen Burnout Inventory), scored on write."""

    __tablename__ = "self_check"
    __table_args__ = (Index("ix_self_check_practitioner_at", "practitioner_id", "administered_at"),)

    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    instrument: Mapped[str] = mapped_column(String(40))
    administered_at: Mapped[datetime]
    items: Mapped[list[int | None] | None] = mapped_column(JSON, default=None)
    total: Mapped[float | None] = mapped_column(Float, default=None)
    subscales: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    severity: Mapped[str | None] = mapped_column(String(40), default=None)
