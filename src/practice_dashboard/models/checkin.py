from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    ArchivedMixin,
    Base,
    IdMixin,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
)


class CheckinLink(IdMixin, TimestampMixin, Base):
    """A client's private check-in link. Only the SHA-256 of the link's random token is stored,
    and the numeric code only as an argon2 hash, so a database leak opens no link.

    At most one link per client is unrevoked (a partial unique index; an expired link is
    revoked when a new one replaces it). Wrong codes are throttled per link.
    """

    __tablename__ = "checkin_link"
    __table_args__ = (
        CheckConstraint("failed_code_attempts >= 0", name="failed_code_attempts_range"),
        Index(
            "uq_checkin_link_one_unrevoked_per_client",
            "client_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failed_code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Whether the client sees the calm "Your progress" view on their check-in pages.
    show_progress: Mapped[bool] = mapped_column(Boolean, default=False)


class Assignment(IdMixin, TimestampMixin, VersionedMixin, ArchivedMixin, Base):
    """A questionnaire the client answers on a rhythm through the check-in link: one
    administration is due every `every_days` from `starts_on` until `ends_on` (if set)."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint("every_days BETWEEN 1 AND 365", name="every_days_range"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
        Index("ix_assignment_client_instrument", "client_id", "instrument"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    instrument: Mapped[str] = mapped_column(String(40))
    every_days: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
