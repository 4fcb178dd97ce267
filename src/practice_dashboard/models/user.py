from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import (
    Base,
    IdMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import Role, checked


class User(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A practitioner, supervisor or admin account."""

    __tablename__ = "user"

    # Stored lower-cased, so the unique constraint makes e-mail case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(checked(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Stamped into every API token; raising it (password change or reset, deactivation) makes
    # all older tokens fail at once. The server default gives existing rows a value.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Zone words in the dashboard: None = the practice's default (see Settings.zone_vocabulary).
    zone_vocabulary: Mapped[str | None] = mapped_column(String(20), default=None)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class Supervision(IdMixin, TimestampMixin, Base):
    """Supervisor → supervisee: read access to the supervisee's clients."""

    __tablename__ = "supervision"
    __table_args__ = (UniqueConstraint("supervisor_id", "supervisee_id"),)

    supervisor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    supervisee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
