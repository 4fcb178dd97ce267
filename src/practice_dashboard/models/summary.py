from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, UTCDateTime


class ClientSummary(Base):
    """Headline figures and flags of one client on one practice day (`as_of`), kept current on
    every write to its records.

    The caseload reads each client's row for today (its newest not after today) instead of
    recomputing every client's metrics per request. In the last hour of the practice day the
    refresher adds the next day's row beside today's (rolled over ahead of need), so midnight
    changes no figure anyone waits for; a write refreshes every row the client has. Derived:
    `practice-dashboard refresh-summaries` rebuilds it from the records.
    """

    __tablename__ = "client_summary"
    __table_args__ = (Index("ix_client_summary_as_of", "as_of"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"), primary_key=True)
    # The practice day these figures hold for: today's row, or tomorrow's rolled over ahead.
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    # The day the client's next row takes over (None: none yet), so "the row for today" is a
    # plain range test (`as_of <= today < valid_until`), not a search for the newest row.
    valid_until: Mapped[date | None] = mapped_column(Date, default=None)
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
