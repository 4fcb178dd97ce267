"""Benchmarks: caseload and metrics on a generated practice, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.run                 # both databases (PostgreSQL if reachable)
    .venv/bin/python -m bench.run --db sqlite --clients 500 --repeat 10

Prints median and p95 wall time of each request, measured in-process through the real app
(routing, validation, database, JSON), and the number of SQL statements each sends.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text, update

from bench.generate import BenchPractice, generate, migrated_database
from practice_dashboard.app import create_app
from practice_dashboard.db import create_session_factory, session_scope
from practice_dashboard.models import ClientSummary, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.analytics import summary
from practice_dashboard.warmup import settle


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1


def measure(
    name: str, call: Callable[[], Any], counter: StatementCounter, repeat: int
) -> dict[str, Any]:
    call()  # warm-up (imports, caches, first summary refresh)
    timings, statements = [], []
    for _ in range(repeat):
        before = counter.count
        started = time.perf_counter()
        response = call()
        timings.append((time.perf_counter() - started) * 1000)
        statements.append(counter.count - before)
        assert response.status_code == 200, response.text
    p50, p95, size = statistics.median(timings), percentile(timings, 0.95), len(response.content)
    print(
        f"  {name:<58} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   "
        f"{max(statements):3d} SQL   {size / 1024:7.1f} KiB",
        flush=True,
    )
    return {
        "name": name,
        "p50_ms": p50,
        "p95_ms": p95,
        "statements": max(statements),
        "bytes": size,
    }


def run_backend(backend: str, clients: int, repeat: int) -> list[dict[str, Any]]:
    with ExitStack() as stack:
        settings, engine = stack.enter_context(migrated_database(backend))
        print(
            f"\n== {backend}: generating {clients} clients × 2 years + one 5-year client",
            flush=True,
        )
        started = time.perf_counter()
        practice: BenchPractice = generate(engine, settings, clients=clients)
        print(f"   {practice.rows:,} records in {time.perf_counter() - started:.1f} s", flush=True)
        factory = create_session_factory(engine)
        started = time.perf_counter()
        with session_scope(factory) as db:
            refreshed = summary.refresh_all(db, settings=settings)
        elapsed = time.perf_counter() - started
        print(
            f"   refreshed {refreshed} summaries in {elapsed:.1f} s "
            f"({elapsed / refreshed * 1000:.1f} ms per client)",
            flush=True,
        )
        if backend == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        engine.dispose()

        app = create_app(settings)
        counter = StatementCounter(app.state.engine)
        api = stack.enter_context(TestClient(app))
        # As a served worker is once it has answered (warmup.py).
        settle(app)
        now = utcnow()

        def headers(user_id: Any) -> dict[str, str]:
            # Freshly loaded demo accounts are at token generation 0.
            token = create_access_token(settings, user_id, now, generation=0)
            return {"Authorization": f"Bearer {token}"}

        practitioner, supervisor = (
            headers(practice.practitioner_id),
            headers(practice.supervisor_id),
        )
        long_client = practice.long_client_id
        long_owner = headers(practice.long_owner_id)
        results = [
            measure(
                "metrics: 5-year client (~1,800 obs, ~600 episodes)",
                lambda: api.get(f"/api/v1/clients/{long_client}/metrics", headers=long_owner),
                counter,
                repeat,
            ),
            measure(
                "caseload: practitioner, 150 clients (all on one page)",
                lambda: api.get("/api/v1/caseload?limit=150", headers=practitioner),
                counter,
                repeat,
            ),
            measure(
                f"caseload: supervisor over {practice.clients} clients (page of 50)",
                lambda: api.get("/api/v1/caseload?limit=50", headers=supervisor),
                counter,
                repeat,
            ),
            measure(
                f"caseload: supervisor over {practice.clients} clients (page of 500)",
                lambda: api.get("/api/v1/caseload?limit=500", headers=supervisor),
                counter,
                repeat,
            ),
            measure(
                "caseload: supervisor, filter flag=engagement_risk",
                lambda: api.get(
                    "/api/v1/caseload?flag=engagement_risk&limit=50", headers=supervisor
                ),
                counter,
                repeat,
            ),
        ]

        # Pages, as a browser gets them (cookie login).
        cookies = {}
        with session_scope(create_session_factory(app.state.engine)) as db:
            for key, user_id in (
                ("practitioner", practice.practitioner_id),
                ("long_owner", practice.long_owner_id),
            ):
                user = db.get(User, user_id)
                assert user is not None
                token, _ = login_session.start(db, settings, user=user, now=now, ip=None)
                cookies[key] = {login_session.COOKIE_NAME: token}
        results.append(
            measure(
                "page: client page, 5-year client (HTML + chart data)",
                lambda: api.get(f"/clients/{long_client}", cookies=cookies["long_owner"]),
                counter,
                repeat,
            )
        )
        # The record page lists every entry (a page of 50, newest first) whatever the record's
        # size; the last page is the deepest OFFSET into the ~2,500 entries of five years.
        results.append(
            measure(
                "page: record page, 5-year client (first page of 50)",
                lambda: api.get(f"/clients/{long_client}/record", cookies=cookies["long_owner"]),
                counter,
                repeat,
            )
        )
        results.append(
            measure(
                "page: record page, 5-year client (last page)",
                lambda: api.get(
                    f"/clients/{long_client}/record?page=1000", cookies=cookies["long_owner"]
                ),
                counter,
                repeat,
            )
        )
        whole_course = f"/clients/{long_client}?start={(now - timedelta(days=5 * 366)).date()}"
        results.append(
            measure(
                "page: client page, 5-year client, whole course (LTTB)",
                lambda: api.get(whole_course, cookies=cookies["long_owner"]),
                counter,
                repeat,
            )
        )
        results.append(
            measure(
                "page: caseload, practitioner with 150 clients",
                lambda: api.get("/?per_page=200", cookies=cookies["practitioner"]),
                counter,
                repeat,
            )
        )

        # The first caseload of a new practice day recomputes every summary it shows.
        def cold_supervisor() -> Any:
            with app.state.engine.begin() as connection:
                connection.execute(
                    update(ClientSummary).values(as_of=ClientSummary.as_of - 1)
                    if backend == "postgresql"
                    else text("UPDATE client_summary SET as_of = date(as_of, '-1 day')")
                )
            return api.get("/api/v1/caseload?limit=50", headers=supervisor)

        results.append(
            measure(
                f"caseload: supervisor, COLD new day "
                f"(≤{settings.summary_refresh_budget} refreshed in-request)",
                cold_supervisor,
                counter,
                max(2, repeat // 5),
            )
        )
        app.state.engine.dispose()
        return results


def postgres_reachable() -> bool:
    import psycopg

    url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3
        ).close()
    except psycopg.Error:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in backends and not postgres_reachable():
        if args.db == "postgresql":
            raise SystemExit("PostgreSQL is not reachable (set TEST_POSTGRES_URL)")
        print("!! PostgreSQL not reachable: benchmarking SQLite only")
        backends = ["sqlite"]
    for backend in backends:
        run_backend(backend, args.clients, args.repeat)


if __name__ == "__main__":
    main()
