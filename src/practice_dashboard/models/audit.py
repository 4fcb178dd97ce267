from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, UTCDateTime, utcnow


class AuditEvent(IdMixin, Base):
    """Who read or changed which record, or was refused, and when. Append-only.

    Every row is chained to the one before it (`seq` order): `hash` is a SHA-256 over the row's
    fields and `prev_hash` (services/audit.py). UPDATE and DELETE are refused by triggers.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_client_at", "client_id", "at"),
        Index("ix_audit_event_actor_at", "actor_id", "at"),
        Index("ix_audit_event_entity", "entity", "entity_id"),
        Index("ix_audit_event_seq", "seq", unique=True),
    )

    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    # Set instead of actor_id when the client acted through their check-in link.
    checkin_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkin_link.id"), default=None
    )
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The client whose record was touched, so a client's whole history is one indexed read.
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("client.id"), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    detail: Mapped[str | None] = mapped_column(String(500), default=None)
    # The clients a list view showed (one row per view), as id strings.
    client_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Position in the chain (1, 2, ...), the previous row's hash, and this row's.
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
