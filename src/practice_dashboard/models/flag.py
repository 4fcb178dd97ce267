from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class FlagAcknowledgement(IdMixin, TimestampMixin, Base):
    """A practitioner saw a flag and acted; it stays quiet until its evidence changes."""

    __tablename__ = "flag_acknowledgement"
    __table_args__ = (Index("ix_flag_acknowledgement_client_code_at", "client_id", "code", "at"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    code: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(10))
    # Which signals fired, as the domain's stable fingerprint: a new signal brings the flag back.
    fingerprint: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    acknowledged_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # Un-acknowledging keeps the row (and its note) and marks it withdrawn: the flag speaks again.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    withdrawn_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
