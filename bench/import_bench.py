"""Benchmark: CSV import of N observations against a bare bulk insert of the same rows.

    .venv/bin/python -m bench.import_bench                      # 1,000,000 rows, both databases
    .venv/bin/python -m bench.import_bench --rows 200000 --db sqlite

The rows are written once as an export file would hold them (20 clients, in client then time
order, with ids). For each database, each phase runs in a fresh database and its own process,
so the peak memory of one phase is not the next one's starting point:
- ceiling: the same file read with the csv module and its rows written with no checks of any
  kind, by a bare psycopg `COPY` (PostgreSQL) or `executemany` in one transaction (SQLite);
  the time inside those calls alone is printed too (the database's share);
- import: what `practice-dashboard import csv` does, minus the terminal: the file streamed
  through `services.exchange.csv.importer.import_csv` (parse, validate with the API's schemas, find
  duplicates in the file and the database, write, refresh client summaries), one transaction;
- export: the ceiling's rows streamed back out as the caseload CSV (`services.exchange.csv.export`),
  in the ceiling's process once its load is done.
It prints rows per second, the import's share of the ceiling, and peak memory: the process's
maximum resident set size (interpreter and libraries included; the figure before the import
shows that baseline).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from practice_dashboard import migrate
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import Client, User
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.exchange.csv.guard import neutralise
from practice_dashboard.services.exchange.csv.spec import COLUMNS, CsvKind
from tests.databases import fresh_database

SEED = 20261124
CLIENTS = 20
START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=37)
ZONES = ("within", "within", "within", "hyper", "hypo")
NOTES = ("slept badly", "after a difficult call", "-3 on the day before", "=calm walk")
OBSERVATION_COLUMNS = (
    "id",
    "client_id",
    "session_id",
    "recorded_by_id",
    "observed_at",
    "source",
    "zone",
    "activation",
    "capacity",
    "safety",
    "body_connection",
    "notes",
    "created_at",
    "updated_at",
)


def _ids() -> tuple[uuid.UUID, list[uuid.UUID]]:
    rng = random.Random(SEED)
    user = uuid.UUID(int=rng.getrandbits(128), version=4)
    return user, [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(CLIENTS)]


def _uuid7(rng: random.Random, ms: int) -> uuid.UUID:
    """A version 7 UUID for millisecond `ms`, as the app makes them (time-ordered)."""
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62)
    return uuid.UUID(int=value | rng.getrandbits(62))


def rows(n: int) -> Iterator[tuple[uuid.UUID, uuid.UUID, datetime, str, str, int, int, str | None]]:
    """The benchmark's observations: (id, client, observed_at, source, zone, activation,
    capacity, notes), the same every time, in export order (client, then time)."""
    rng = random.Random(SEED + 1)
    _, clients = _ids()
    base_ms = int(START.timestamp() * 1000)
    for i in range(n):
        client = i * CLIENTS // n
        yield (
            _uuid7(rng, base_ms + i),
            clients[client],
            START + STEP * i,
            "client" if rng.random() < 0.7 else "practitioner",
            rng.choice(ZONES),
            rng.randint(0, 10),
            rng.randint(0, 10),
            rng.choice(NOTES) if rng.random() < 0.1 else None,
        )


def write_csv(path: Path, n: int, tz: ZoneInfo) -> None:
    """The rows as an export file would hold them (one client's name and ref per row)."""
    _, clients = _ids()
    names = {c: (f"C-{i:03d}", f"Client {i:03d}") for i, c in enumerate(clients)}
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(COLUMNS[CsvKind.OBSERVATIONS])
        for rid, cid, at, source, zone, activation, capacity, notes in rows(n):
            ref, name = names[cid]
            writer.writerow(
                (
                    rid,
                    cid,
                    ref,
                    name,
                    "",
                    at.astimezone(tz).isoformat(),
                    source,
                    zone,
                    activation,
                    capacity,
                    "",
                    "",
                    neutralise(notes) if notes else "",
                )
            )


def _prepare(url: str) -> tuple[Settings, Any]:
    settings = Settings(
        environment="test",
        database_url=url,
        secret_key="bench-" + "x" * 40,
        summary_refresh_interval_seconds=0,
    )
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    user_id, clients = _ids()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(User.__table__).values(
                id=user_id,
                email="bench@example.org",
                full_name="Bench Therapist",
                role="therapist",
                password_hash="not-a-hash",
                is_active=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            insert(Client.__table__),
            [
                {
                    "id": cid,
                    "practitioner_id": user_id,
                    "display_name": f"Client {i:03d}",
                    "external_ref": f"C-{i:03d}",
                    "intake_date": date(2024, 1, 1),
                    "status": "active",
                    "session_cadence_days": 7,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, cid in enumerate(clients)
            ],
        )
    return settings, engine


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bare_rows(path: str, user: uuid.UUID, now: datetime, sqlite: bool) -> Iterator[list[Any]]:
    """The CSV's rows with the least work a database will accept: no checks of any kind."""
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    stamp: Any = now.strftime(fmt) if sqlite else now
    user_value: Any = user.hex if sqlite else user
    chunk: list[Any] = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for rid, cid, _ref, _name, sid, at, source, zone, act, cap, safe, body, notes in reader:
            if sqlite:  # SQLite keeps times as UTC text and UUIDs as 32 hex digits
                rid, cid = rid.replace("-", ""), cid.replace("-", "")
                at = datetime.fromisoformat(at).astimezone(UTC).strftime(fmt)
            chunk.append(
                (rid, cid, sid or None, user_value, at, source, zone, act, cap or None,
                 safe or None, body or None, notes or None, stamp, stamp)
            )  # fmt: skip
            if len(chunk) == 10_000:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def ceiling(backend: str, n: int, path: str) -> dict[str, float]:
    """The same file's rows written by a bare COPY / executemany in one transaction, unchecked.

    `db_seconds` is the time inside the COPY / executemany calls alone (the database's share).
    """
    with fresh_database(backend) as url:
        _settings, engine = _prepare(url)
        user_id, _ = _ids()
        raw = engine.raw_connection()
        names = ", ".join(OBSERVATION_COLUMNS)
        db_seconds = 0.0
        try:
            started = time.perf_counter()
            chunks = _bare_rows(path, user_id, datetime.now(UTC), backend == "sqlite")
            if backend == "postgresql":
                driver: Any = raw.driver_connection
                with driver.cursor() as cursor:
                    for chunk in chunks:
                        mark = time.perf_counter()
                        with cursor.copy(f"COPY observation ({names}) FROM STDIN") as copy:
                            for row in chunk:
                                copy.write_row(row)
                        db_seconds += time.perf_counter() - mark
                mark = time.perf_counter()
                driver.commit()
            else:
                cursor = raw.cursor()
                cursor.execute("BEGIN")
                sql = f"INSERT INTO observation ({names}) VALUES ({', '.join('?' * 14)})"
                for chunk in chunks:
                    mark = time.perf_counter()
                    cursor.executemany(sql, chunk)
                    db_seconds += time.perf_counter() - mark
                mark = time.perf_counter()
                cursor.execute("COMMIT")
            db_seconds += time.perf_counter() - mark
            seconds = time.perf_counter() - started
        finally:
            raw.close()
        peak = _peak_mb()
        # The rows are in: time the caseload export here, in a process not grown by the import.
        export_seconds = export(_settings, engine)
        engine.dispose()
    return {
        "seconds": seconds,
        "rows_per_second": n / seconds,
        "db_seconds": db_seconds,
        "peak_mb": peak,
        "export_seconds": export_seconds,
        "export_rows_per_second": n / export_seconds,
        "export_peak_mb": _peak_mb(),
    }


def export(settings: Settings, engine: Any) -> float:
    """Stream the whole caseload's observations out as CSV (to nowhere); the seconds taken."""
    from practice_dashboard.services.accounts import user as user_service
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.exchange.csv import export as csv_export

    factory = create_session_factory(engine)
    with session_scope(factory) as db:
        user = user_service.get_by_email(db, "bench@example.org")
        assert user is not None
        plan = csv_export.plan_export(
            db,
            actor=Actor(user=user),
            kind=CsvKind.OBSERVATIONS,
            client_id=None,
            today=datetime.now(UTC).date(),
        )
    started = time.perf_counter()
    for _text in csv_export.iter_csv(factory, plan, tz=settings.timezone):
        pass
    return time.perf_counter() - started


def run_import(backend: str, n: int, path: str) -> dict[str, float]:
    """The CSV import itself, as the CLI runs it, committed in one transaction."""
    from practice_dashboard.services.accounts import user as user_service
    from practice_dashboard.services.audit import Actor
    from practice_dashboard.services.exchange.csv import importer as csv_import

    with fresh_database(backend) as url:
        settings, engine = _prepare(url)
        factory = create_session_factory(engine)
        summary.install(factory, settings)
        before = _peak_mb()
        started = time.perf_counter()
        with session_scope(factory) as db, open(path, "rb") as f:
            user = user_service.get_by_email(db, "bench@example.org")
            assert user is not None
            report = csv_import.import_csv(
                db,
                actor=Actor(user=user),
                kind=CsvKind.OBSERVATIONS,
                stream=f,
                settings=settings,
                dry_run=False,
                filename=os.path.basename(path),
            )
        seconds = time.perf_counter() - started
        assert report.committed, report.summary()
        assert report.new == n, report.summary()
        engine.dispose()
    return {
        "seconds": seconds,
        "rows_per_second": n / seconds,
        "peak_mb": _peak_mb(),
        "start_mb": before,
    }


def _child(queue: Any, target: str, args: tuple[Any, ...]) -> None:
    queue.put(globals()[target](*args))


def in_process(target: str, *args: Any) -> dict[str, float]:
    """Run one phase in a fresh process, so its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, target, args))
    process.start()
    result: dict[str, float] = queue.get()
    process.join()
    return result


def postgres_reachable() -> bool:
    try:
        with fresh_database("postgresql"):
            return True
    except Exception as exc:
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipping it")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in backends and not postgres_reachable():
        backends.remove("postgresql")
    with tempfile.TemporaryDirectory(prefix="pd-import-bench-") as folder:
        path = Path(folder) / "observations.csv"
        started = time.perf_counter()
        write_csv(path, args.rows, ZoneInfo("Europe/London"))
        size_mb = path.stat().st_size / 1e6
        print(
            f"{args.rows:,} observations, {CLIENTS} clients: {size_mb:.0f} MB of CSV "
            f"(written in {time.perf_counter() - started:.1f} s)"
        )
        for backend in backends:
            bare = in_process("ceiling", backend, args.rows, str(path))
            ours = in_process("run_import", backend, args.rows, str(path))
            bare_name = "COPY" if backend == "postgresql" else "executemany"
            share = ours["rows_per_second"] / bare["rows_per_second"]
            print(f"\n{backend}")
            print(
                f"  ceiling (bare {bare_name}): {bare['rows_per_second']:>9,.0f} rows/s "
                f"({bare['seconds']:.1f} s, {bare['db_seconds']:.1f} s of it in the database), "
                f"peak {bare['peak_mb']:.0f} MB"
            )
            print(
                f"  CSV import:              {ours['rows_per_second']:>9,.0f} rows/s "
                f"({ours['seconds']:.1f} s) = {share:.0%} of the ceiling, "
                f"peak {ours['peak_mb']:.0f} MB (process at {ours['start_mb']:.0f} MB before)"
            )
            print(
                f"  CSV export:              {bare['export_rows_per_second']:>9,.0f} rows/s "
                f"({bare['export_seconds']:.1f} s), peak {bare['export_peak_mb']:.0f} MB "
                f"(process at {bare['peak_mb']:.0f} MB before)"
            )


if __name__ == "__main__":
    main()
