"""Server time of the client page and the metrics API against the raw SQL they issue.

    .venv/bin/python -m bench.reads_profile --db sqlite --repeat 20
    .venv/bin/python -m bench.reads_profile --db postgresql --profile page   # cProfile, top 40
    (--profile page | metrics | dense-page | dense-metrics: which request is profiled)
    py-spy record -o page.json --format speedscope -- \
        .venv/bin/python -m bench.reads_profile --profile page --sampler --repeat 300
    (--sampler: the request repeated without cProfile, whose cost per call inflates many small
    calls, for a sampling profiler outside the process; it sees every thread, the event loop's
    too)

A small generated practice (bench/generate.py, 150 clients) plus a dense 20-year client built
here (three check-ins a day), so the 6-month page of a long, dense history can be compared with
the 5-year client's. Per request: server p50 through the real app in-process, and the raw SQL
ceiling: the SELECT statements that request issued, re-run with the same DBAPI driver and
parameters, fetching every row. Figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from bench.generate import dense_client, generate, migrated_database
from practice_dashboard.app import create_app
from practice_dashboard.db import create_session_factory, session_scope
from practice_dashboard.models import User
from practice_dashboard.models.base import utcnow
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.analytics import metrics as metrics_service
from practice_dashboard.services.analytics import summary
from practice_dashboard.warmup import settle
from practice_dashboard.web.routes import client_page

DENSE_YEARS = 20
DENSE_PER_DAY = 3


class Statements:
    """The statements a request sends, kept to re-run as the raw SQL ceiling."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.recording = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.recording:
            self.seen.append((statement, parameters))

    def record(self, call: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.seen, self.recording = [], True
        try:
            call()
        finally:
            self.recording = False
        return [(s, p) for s, p in self.seen if s.lstrip().upper().startswith("SELECT")]


def raw_sql_ms(engine: Engine, statements: list[tuple[str, Any]], repeat: int) -> float:
    connection = engine.raw_connection()
    try:
        timings = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            cursor = connection.cursor()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            cursor.close()
            timings.append((time.perf_counter() - started) * 1000)
        connection.rollback()
    finally:
        connection.close()
    return statistics.median(timings[1:])


def server_ms(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the app runs in its threads, so
    on a busy machine the CPU time is the steadier figure of the product's own work)."""
    call()
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = call()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--profile", choices=("page", "metrics", "dense-page", "dense-metrics"), default=None
    )
    parser.add_argument(
        "--sampler",
        action="store_true",
        help="with --profile: repeat the request without cProfile, for an outside sampler",
    )
    parser.add_argument("--statements", action="store_true", help="print what each request sends")
    parser.add_argument(
        "--dense-per-day",
        type=int,
        default=DENSE_PER_DAY,
        help="the dense client's check-ins a day",
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        settings, engine = stack.enter_context(migrated_database(args.db))
        practice = generate(engine, settings, clients=args.clients)
        dense = dense_client(
            engine,
            practitioner_id=practice.long_owner_id,
            years=DENSE_YEARS,
            per_day=args.dense_per_day,
        )
        # As the app's writes leave them: a page goes on from a monitoring checkpoint only
        # for a client whose summary stamps their records (client_view.py).
        with session_scope(create_session_factory(engine)) as db:
            summary.refresh_all(db, settings=settings)
        if args.db == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        engine.dispose()

        app = create_app(settings)
        statements = Statements(app.state.engine)
        api = stack.enter_context(TestClient(app))
        now = utcnow()
        with session_scope(create_session_factory(app.state.engine)) as db:
            owner = db.get(User, practice.long_owner_id)
            assert owner is not None
            token, _ = login_session.start(db, settings, user=owner, now=now, ip=None)
        cookies = {login_session.COOKIE_NAME: token}
        bearer = create_access_token(settings, practice.long_owner_id, now, generation=0)
        headers = {"Authorization": f"Bearer {bearer}"}
        # As a served worker is once it has answered (warmup.py).
        settle(app)

        calls: dict[str, Callable[[], Any]] = {}
        for label, cid in (("5-year", practice.long_client_id), ("dense 20-year", dense)):
            calls[f"page 6 months, {label}"] = lambda cid=cid: api.get(
                f"/clients/{cid}", cookies=cookies
            )
            calls[f"metrics API, {label}"] = lambda cid=cid: api.get(
                f"/api/v1/clients/{cid}/metrics", headers=headers
            )
        if args.profile:
            name = {
                "page": "page 6 months, 5-year",
                "metrics": "metrics API, 5-year",
                "dense-page": "page 6 months, dense 20-year",
                "dense-metrics": "metrics API, dense 20-year",
            }[args.profile]
            if args.sampler:
                for _ in range(args.repeat):
                    calls[name]()
                return
            # The route runs in a worker thread: profile inside it, around the handler's work.
            profiler = cProfile.Profile()
            module, attr = (
                (metrics_service, "client_metrics")
                if args.profile.endswith("metrics")
                else (client_page, "_render")
            )
            inner = getattr(module, attr)

            def profiled(*a: Any, **k: Any) -> Any:
                profiler.enable()
                try:
                    return inner(*a, **k)
                finally:
                    profiler.disable()

            calls[name]()
            setattr(module, attr, profiled)
            for _ in range(args.repeat):
                calls[name]()
            setattr(module, attr, inner)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            return
        print(f"== {args.db}: {args.clients} clients + 5-year + dense 20-year (busy machine)")
        server: dict[str, float] = {}
        for name, call in calls.items():
            server[name], cpu = server_ms(call, args.repeat)
            selects = statements.record(call)
            if args.statements:
                for sent, _ in statements.seen:
                    print("     ", " ".join(sent.split())[:150])
            raw = raw_sql_ms(app.state.engine, selects, args.repeat)
            print(
                f"  {name:<30} server p50 {server[name]:7.1f} ms (CPU {cpu:6.1f})   "
                f"raw SQL {raw:6.2f} ms ({len(selects)} SELECTs)   "
                f"ratio {server[name] / raw:5.1f}x (CPU {cpu / raw:5.1f}x)",
                flush=True,
            )
        for kind in ("page 6 months", "metrics API"):
            ratio = server[f"{kind}, dense 20-year"] / server[f"{kind}, 5-year"]
            print(f"  {kind}: dense 20-year / 5-year = {ratio:.2f}x")


if __name__ == "__main__":
    main()
