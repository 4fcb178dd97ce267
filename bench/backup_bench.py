"""A backup under concurrent writes: how long it takes, how many writes went on, what came back.

    .venv/bin/python -m bench.backup_bench SOURCE_URL EMPTY_TARGET_URL OUT

SOURCE_URL should hold a practice (e.g. `practice-dashboard demo`); a thread keeps logging
observations for its first client through the records service (each commit an acknowledged
write) while `backup` runs, then the backup is restored into EMPTY_TARGET_URL. It reports the
backup's time and size, the writes acknowledged before and during it, and whether every write
acknowledged before it is in the restored database.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import Client, Observation, User
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Zone
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.services import backup
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import observation


def settings_for(url: str) -> Settings:
    return Settings(environment="test", database_url=url, summary_refresh_interval_seconds=0)


class Writer(threading.Thread):
    """Logs one observation per transaction until stopped; (time, id) once committed."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.acknowledged: list[tuple[float, uuid.UUID]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        engine = create_db_engine(self.settings)
        factory = create_session_factory(engine)
        summary.install(factory, self.settings)
        with session_scope(factory) as db:
            client = db.scalars(select(Client).order_by(Client.id)).first()
            assert client is not None, "the source database has no client"
            client_id, user_id = client.id, client.practitioner_id
        try:
            while not self.stop.is_set():
                record_id = uuid7()
                with session_scope(factory) as db:
                    user = db.get(User, user_id)
                    assert user is not None
                    row = ObservationCreate(
                        observed_at=utcnow() - timedelta(minutes=1), zone=Zone.WITHIN, activation=3
                    )
                    observation.create_observations(
                        db,
                        client_id=client_id,
                        data=[row],
                        actor=Actor(user),
                        batch=False,
                        record_ids=[record_id],
                    )
                self.acknowledged.append((time.monotonic(), record_id))
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_url")
    parser.add_argument("target_url")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    source, target = settings_for(args.source_url), settings_for(args.target_url)

    writer = Writer(source)
    writer.start()
    while len(writer.acknowledged) < 20 and writer.is_alive():
        time.sleep(0.01)
    started = time.monotonic()
    before = {record_id for _, record_id in writer.acknowledged}
    taken = backup.backup(source, args.out)
    finished = time.monotonic()
    time.sleep(1)
    writer.stop.set()
    writer.join()
    during = sum(1 for at, _ in writer.acknowledged if started <= at <= finished)

    check = backup.restore(target, args.out)
    engine = create_db_engine(target)
    with engine.connect() as connection:
        restored = set(connection.scalars(select(Observation.id)))
    engine.dispose()
    print(f"backup: {finished - started:.2f} s, {taken.size_bytes:,} bytes ({taken.engine})")
    print(
        f"writes acknowledged: {len(before)} before the backup, {during} while it ran, "
        f"{len(writer.acknowledged)} in all"
    )
    print(
        f"restored: {taken.counts.get('observation', 0)} observations in the backup, "
        f"{len(restored)} restored; every write acknowledged before it: {before <= restored}; "
        f"problems: {check.problems or 'none'}; counts as printed: {check.counts == taken.counts}"
    )


if __name__ == "__main__":
    main()
