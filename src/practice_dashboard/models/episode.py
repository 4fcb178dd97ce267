from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.domain.facts import minutes_between
from practice_dashboard.models.base import (
    Base,
    IdMixin,
    RecordStatusMixin,
    TimestampMixin,
    VersionedMixin,
)
from practice_dashboard.models.enums import Source, checked


class Episode(IdMixin, TimestampMixin, VersionedMixin, RecordStatusMixin, Base):
    """One activation: onset, optional recognition, peak, return to baseline."""

    __tablename__ = "episode"
    __table_args__ = (
        CheckConstraint("peak_intensity BETWEEN 0 AND 10", name="peak_range"),
        CheckConstraint(
            "self_compassion IS NULL OR self_compassion BETWEEN 0 AND 10",
            name="self_compassion_range",
        ),
        CheckConstraint(
            "recognized_at IS NULL OR recognized_at >= started_at", name="recognized_after_start"
        ),
        CheckConstraint(
            "baseline_at IS NULL OR baseline_at >= started_at", name="baseline_after_start"
        ),
        Index("ix_episode_client_started_at", "client_id", "started_at"),
        # A view's look-backs by source (fact_loading.episode_bounds: the client's own last
        # episode before it): without the source, a source never used is looked for along
        # the whole history.
        Index("ix_episode_client_source_started_at", "client_id", "source", "started_at"),
        # The client's own episode still open (checkins/entries.py `open_episode`, on every
        # check-in): only open episodes are in it, so finding none is one seek, not a walk
        # back through every episode they have closed.
        Index(
            "ix_episode_client_open",
            "client_id",
            "source",
            "started_at",
            sqlite_where=text("baseline_at IS NULL"),
            postgresql_where=text("baseline_at IS NULL"),
        ),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("session.id"), default=None, index=True
    )
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"), default=None)
    # Who reported it: the practitioner, or the client through the check-in link. The server
    # default gives episodes from before check-ins (and bulk inserts) `practitioner`.
    source: Mapped[Source] = mapped_column(
        checked(Source, "source"),
        default=Source.PRACTITIONER,
        server_default=Source.PRACTITIONER.value,
    )
    started_at: Mapped[datetime]
    recognized_at: Mapped[datetime | None] = mapped_column(default=None)
    peak_intensity: Mapped[int] = mapped_column(Integer)
    baseline_at: Mapped[datetime | None] = mapped_column(default=None)
    trigger: Mapped[str | None] = mapped_column(String(500), default=None)
    trigger_category: Mapped[str | None] = mapped_column(String(80), default=None)
    strategies: Mapped[list[str]] = mapped_column(JSON, default=list)
    self_compassion: Mapped[int | None] = mapped_column(Integer, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)

    @property
    def recovery_minutes(self) -> float | None:
        """Onset to back at baseline, in minutes (None while not recovered)."""
        return minutes_between(self.started_at, self.baseline_at)

    @property
    def recognition_minutes(self) -> float | None:
        """Onset to noticing the activation, in minutes (None when not recorded)."""
        return minutes_between(self.started_at, self.recognized_at)
