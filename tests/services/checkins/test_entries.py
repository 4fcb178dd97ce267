"""Check-in entries in the service layer: the client's own episode still open."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models.enums import RecordStatus, Source
from practice_dashboard.services.checkins.entries import open_episode
from tests.builders import NOW, make_checkin_link, make_client, make_episode, make_user


def test_the_latest_own_open_episode_is_found_through_the_open_index(
    db: DbSession, settings: Settings
) -> None:
    """Closed episodes, the practitioner's, and one entered in error are passed over; on SQLite
    the lookup is answered by the partial index of open episodes (808b7fec10c8), so a long
    history of closed episodes is not walked."""
    client = make_client(db, make_user(db, settings))
    _, link = make_checkin_link(db, settings, client)
    day = timedelta(days=1)
    for n in range(30):  # a month of the client's own episodes, every one closed
        make_episode(db, client, started_at=NOW - (40 - n) * day, source=Source.CLIENT)
    wanted = make_episode(
        db, client, started_at=NOW - 5 * day, baseline_at=None, source=Source.CLIENT
    )
    make_episode(db, client, started_at=NOW - 2 * day, baseline_at=None)  # the practitioner's
    make_episode(
        db,
        client,
        started_at=NOW - day,
        baseline_at=None,
        source=Source.CLIENT,
        status=RecordStatus.ENTERED_IN_ERROR,
        status_reason="tapped twice",
    )
    make_episode(db, client, started_at=NOW - 3 * day, source=Source.CLIENT)  # closed, later

    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", seen)
    try:
        assert open_episode(db, link) is wanted
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    if connection.dialect.name == "sqlite":
        [(statement, parameters)] = sent
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        assert "ix_episode_client_open" in " ".join(map(str, plan.all()))


def test_none_open_is_none(db: DbSession, settings: Settings) -> None:
    client = make_client(db, make_user(db, settings))
    _, link = make_checkin_link(db, settings, client)
    make_episode(db, client, source=Source.CLIENT)  # closed
    make_episode(db, client, baseline_at=None)  # open, but the practitioner's
    assert open_episode(db, link) is None
