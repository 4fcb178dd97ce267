"""Loading the demo practice into an empty database (the brief: under about 10 s on SQLite).

    .venv/bin/python -m bench.demo_load                    # both engines, 3 rounds each
    .venv/bin/python -m bench.demo_load --db sqlite --rounds 5

Each round loads into a new scratch database, as `bench.checkin_load` makes them: SQLite in a
temp folder, PostgreSQL a scratch database on 127.0.0.1:5432 (skipped, with a message, when it
does not answer). The database is migrated first, untimed. Then what `practice-dashboard
demo` does after migrating is timed: `services.demo.load_demo` in one unit of work, with the
default settings (the production password hashing included). Prints min / median / max wall
time, the CPU time of this process, and the records written. A timing, so it lives here and
not in the test suite, where it would fail on a slow machine and prove nothing on a fast one.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from sqlalchemy import func, select

from bench.checkin_load import SECRET_KEY, postgres_reachable, scratch_database
from bench.startup import spread
from practice_dashboard import migrate
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import Client, Episode, Measure, Observation, Session
from practice_dashboard.services import demo

# A fixed day, so every round loads the same practice (the demo is generated back from it).
TODAY = date(2026, 12, 1)


def load_once(engine_name: str) -> tuple[float, float, int]:
    """One load into a new database: wall seconds, CPU seconds, and the records written."""
    with scratch_database(engine_name) as url:
        settings = Settings(database_url=url, secret_key=SECRET_KEY, environment="development")
        engine = create_db_engine(settings)
        try:
            migrate.upgrade(engine)
            factory = create_session_factory(engine)
            started, started_cpu = time.perf_counter(), time.process_time()
            with session_scope(factory) as db:
                demo.load_demo(db, settings, today=TODAY)
            wall = time.perf_counter() - started
            cpu = time.process_time() - started_cpu
            with session_scope(factory) as db:
                records = sum(
                    db.scalar(select(func.count()).select_from(model)) or 0
                    for model in (Client, Observation, Episode, Session, Measure)
                )
        finally:
            engine.dispose()
    return wall, cpu, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engines = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    print("| engine | rounds | wall s (min / median / max) | CPU s | records |")
    print("|---|---|---|---|---|")
    for engine_name in engines:
        if engine_name == "postgresql" and (why := postgres_reachable()) is not None:
            print(f"| postgresql | skipped: {why} | | | |")
            continue
        runs = [load_once(engine_name) for _ in range(args.rounds)]
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        print(
            f"| {engine_name} | {args.rounds} | {spread(walls, '.2f')} | {spread(cpus, '.2f')} | "
            f"{runs[0][2]:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
