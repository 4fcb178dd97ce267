"""Readiness: the database takes a real, committed write."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from practice_dashboard.models import Heartbeat
from practice_dashboard.models.base import uuid7

PROBE = "readyz"


def _beat(engine: Engine, now: datetime) -> None:
    # Committed, not rolled back: a full disk only shows when the write reaches the WAL.
    with engine.begin() as connection:
        result = connection.execute(
            update(Heartbeat).where(Heartbeat.probe == PROBE).values(beat_at=now, updated_at=now)
        )
        if not result.rowcount:
            connection.execute(
                insert(Heartbeat).values(
                    id=uuid7(), probe=PROBE, beat_at=now, created_at=now, updated_at=now
                )
            )


def database_writable(engine: Engine, *, now: datetime) -> bool:
    """Whether the database answers and commits a write (a heartbeat row, rewritten)."""
    try:
        try:
            _beat(engine, now)
        except IntegrityError:
            _beat(engine, now)  # another instance wrote the first beat meanwhile: update it
    except SQLAlchemyError:
        return False
    return True
