"""Generate a large synthetic practice for the benchmarks, fast (Core bulk inserts).

2,000 clients × 2 years: one supervisor over 13 practitioners with ~150 clients each, daily
observations, a few activation episodes a week, weekly sessions, monthly PHQ-9/GAD-7; plus
one long-term client with 5 years of daily data (~1,800 observations, ~600 episodes).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert

from practice_dashboard import migrate
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine
from practice_dashboard.models import (
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    Supervision,
    User,
)
from practice_dashboard.models.base import uuid7
from practice_dashboard.security import hash_password

CHUNK = 5_000
BENCH_PASSWORD = "bench-password-not-secret"


@dataclass(frozen=True)
class BenchPractice:
    supervisor_id: uuid.UUID
    practitioner_id: uuid.UUID  # a practitioner with 150 clients
    long_client_id: uuid.UUID  # 5 years of daily data
    long_owner_id: uuid.UUID
    clients: int
    rows: int


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def _client_rows(
    rng: random.Random, client_id: uuid.UUID, practitioner_id: uuid.UUID, days: int, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    start = now - timedelta(days=days)
    trend = rng.choice((-1.0, -0.5, 0.0, 0.5))  # improving … worsening over care
    base_recovery = rng.uniform(40, 120)
    observations, episodes, sessions, measures = [], [], [], []
    for day in range(days):
        t = start + timedelta(days=day, hours=rng.uniform(8, 21))
        progress = day / days
        activation = max(0, min(10, round(rng.gauss(5 - 2 * progress * -trend, 1.8))))
        zone = "within" if activation <= 6 else ("hyper" if rng.random() < 0.75 else "hypo")
        observations.append(
            {
                "id": uuid7(),
                "client_id": client_id,
                "observed_at": t,
                "source": "client",
                "zone": zone,
                "activation": activation,
                "capacity": max(0, min(10, round(rng.gauss(4 + 3 * progress, 1.5)))),
                "safety": None,
                "body_connection": None,
                "notes": None,
                "session_id": None,
                "recorded_by_id": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        if rng.random() < 0.33:
            onset = t + timedelta(hours=rng.uniform(0, 3))
            recovery = base_recovery * (1 + trend * progress) * math.exp(rng.gauss(0, 0.35))
            recovered = rng.random() > 0.07
            episodes.append(
                {
                    "id": uuid7(),
                    "client_id": client_id,
                    "started_at": onset,
                    "recognized_at": onset + timedelta(minutes=rng.uniform(2, 30)),
                    "peak_intensity": rng.randint(4, 10),
                    "baseline_at": onset + timedelta(minutes=max(3.0, recovery))
                    if recovered
                    else None,
                    "trigger": "bench",
                    "trigger_category": rng.choice(("work", "family", "health")),
                    "strategies": ["paced breathing"],
                    "self_compassion": rng.randint(2, 9),
                    "notes": None,
                    "session_id": None,
                    "recorded_by_id": None,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if day % 7 == 3:
            attended = rng.random() < 0.88
            sessions.append(
                {
                    "id": uuid7(),
                    "client_id": client_id,
                    "practitioner_id": practitioner_id,
                    "starts_at": start.replace(hour=10) + timedelta(days=day),
                    "duration_minutes": 50,
                    "kind": "therapy",
                    "modality": "video",
                    "attendance": "attended"
                    if attended
                    else rng.choice(("no_show", "late_cancel")),
                    "engagement": rng.randint(4, 9) if attended else None,
                    "homework_assigned": attended,
                    "homework_completed": rng.choice(("yes", "partial", "no"))
                    if attended and day > 7
                    else None,
                    "notes": None,
                    "version": 1,
                    "archived_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if day % 28 == 0:
            level = max(0, min(3, round(2 - progress * (1 - trend))))
            items = [max(0, min(3, level + rng.choice((-1, 0, 0, 1)))) for _ in range(9)]
            items[8] = 0
            measures.append(
                {
                    "id": uuid7(),
                    "client_id": client_id,
                    "instrument": "phq9",
                    "administered_at": t,
                    "items": items,
                    "total": float(sum(items)),
                    "subscales": None,
                    "severity": None,
                    "source": "client",
                    "recorded_by_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return {
        "observation": observations,
        "episode": episodes,
        "session": sessions,
        "measure": measures,
    }


def generate(
    engine: Engine, settings: Settings, *, clients: int = 2_000, seed: int = 7
) -> BenchPractice:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    password_hash = hash_password(settings, BENCH_PASSWORD)
    users: list[dict[str, Any]] = []
    supervisor_id = uuid7()
    users.append(
        {
            "id": supervisor_id,
            "email": "supervisor@bench.practice",
            "full_name": "Bench Supervisor",
            "role": "supervisor",
        }
    )
    practitioners = [uuid7() for _ in range(math.ceil(clients / 150))]
    for n, pid in enumerate(practitioners):
        users.append(
            {
                "id": pid,
                "email": f"p{n}@bench.practice",
                "full_name": f"Practitioner {n}",
                "role": "therapist",
            }
        )
    for row in users:
        row.update(
            password_hash=password_hash,
            is_active=True,
            version=1,
            created_at=now,
            updated_at=now,
        )
    links = [
        {
            "id": uuid7(),
            "supervisor_id": supervisor_id,
            "supervisee_id": pid,
            "created_at": now,
            "updated_at": now,
        }
        for pid in practitioners
    ]
    total = 0
    long_client_id = uuid7()
    with engine.begin() as connection:
        connection.execute(insert(User), users)
        connection.execute(insert(Supervision), links)
        for n in range(clients + 1):
            client_id = long_client_id if n == clients else uuid7()
            pid = practitioners[-1] if n == clients else practitioners[n // 150]
            days = 5 * 365 if n == clients else 2 * 365
            _insert_client(connection, client_id, pid, f"Client {n:05d}", days, now)
            total += _insert_rows(connection, _client_rows(rng, client_id, pid, days, now))
    return BenchPractice(
        supervisor_id, practitioners[0], long_client_id, practitioners[-1], clients + 1, total
    )


def today() -> date:
    return datetime.now(UTC).date()


def _insert_client(
    connection: Connection,
    client_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    name: str,
    days: int,
    now: datetime,
) -> None:
    """An active client whose intake was `days` ago, weekly sessions expected."""
    connection.execute(
        insert(Client),
        [
            {
                "id": client_id,
                "practitioner_id": practitioner_id,
                "display_name": name,
                "status": "active",
                "intake_date": (now - timedelta(days=days)).date(),
                "session_cadence_days": 7,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "external_ref": None,
                "date_of_birth": None,
                "discharged_on": None,
                "goals": None,
                "archived_at": None,
            }
        ],
    )


def _insert_rows(connection: Connection, rows: dict[str, list[dict[str, Any]]]) -> int:
    """A client's generated records (`_client_rows`), in chunks; how many were written."""
    models = {
        "session": Session,
        "observation": Observation,
        "episode": Episode,
        "measure": Measure,
    }
    total = 0
    for table, model in models.items():
        for chunk in _chunks(rows.get(table, [])):
            connection.execute(insert(model), chunk)
        total += len(rows.get(table, []))
    return total


def dense_client(
    engine: Engine,
    *,
    practitioner_id: uuid.UUID,
    years: int = 20,
    per_day: int = 1,
    seed: int = 20,
) -> uuid.UUID:
    """One more client under `practitioner_id` with `years` of `per_day` check-ins a day, an
    activation episode every third day or so per pass, weekly sessions and monthly PHQ-9s: the
    history that a page showing the last 6 months should not have to read in full."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    days = years * 365
    client_id = uuid7()
    with engine.begin() as connection:
        _insert_client(
            connection, client_id, practitioner_id, f"Client dense {years} years", days, now
        )
        for n in range(per_day):
            # Every pass adds a day's check-ins and episodes; one course of sessions and
            # questionnaires is enough.
            rows = _client_rows(rng, client_id, practitioner_id, days, now)
            if n > 0:
                rows = {k: v for k, v in rows.items() if k in ("observation", "episode")}
            _insert_rows(connection, rows)
    return client_id


@contextmanager
def migrated_database(backend: str) -> Iterator[tuple[Settings, Engine]]:
    """A scratch database on `backend` ("sqlite" or "postgresql"), migrated to head, with the
    settings the benchmarks share: fast password hashing, and no background refresher (each
    bench refreshes summaries when it means to). Dropped afterwards."""
    from tests.databases import fresh_database  # the suite's scratch databases, one home

    with fresh_database(backend) as url:
        settings = Settings(
            environment="test",
            database_url=url,
            secret_key="bench-" + "k" * 40,
            argon2_memory_kib=19_456,
            argon2_time_cost=2,
            summary_refresh_interval_seconds=0,
        )
        engine = create_db_engine(settings)
        try:
            migrate.upgrade(engine)
            yield settings, engine
        finally:
            engine.dispose()
