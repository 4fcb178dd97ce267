from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, UTCDateTime


class ClientSummary(Base):
    """Headline figures and flags of one client, kept current on every write to its records.

    The caseload reads this table instead of recomputing every client's metrics per request.
    It is derived data: `practice-dashboard refresh-summaries` rebuilds it from the records, and
    a summary computed on an earlier practice day is recomputed before it is shown.
    """

    __tablename__ = "client_summary"
    __table_args__ = (Index("ix_client_summary_as_of", "as_of"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_session_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    recovery_median_minutes: Mapped[float | None] = mapped_column(Float, default=None)
    recovery_direction: Mapped[str] = mapped_column(String(20))
    time_in_window: Mapped[float | None] = mapped_column(Float, default=None)
    # 0 none, 1 watch, 2 alert, 3 safety alert (unacknowledged flags only), for SQL sorting.
    flag_rank: Mapped[int] = mapped_column(Integer, default=0)
    # The same rank over every raised flag, acknowledged ones too: what supervision and the
    # "with an alert" count read, so acknowledging never hides a client from supervision.
    raised_rank: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Space-delimited codes of active flags (" safety engagement_risk "): LIKE-filterable.
    flag_codes: Mapped[str] = mapped_column(String(200), default=" ")
    headline: Mapped[dict[str, Any]] = mapped_column(JSON)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
