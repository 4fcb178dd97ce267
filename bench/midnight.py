"""No slow mornings: caseload views across the practice's midnight, 2,000 clients.

    .venv/bin/python -m bench.midnight                       # SQLite file, then PostgreSQL
    .venv/bin/python -m bench.midnight --db sqlite --clients 500 --views 40

In-process through the real app (routing, auth, database, templates), on a file SQLite
database and on PostgreSQL (when reachable), with a few concurrent callers asking for caseload
views (the page and the API, several filters and sorts, a supervisor over every client and a
practitioner with 150). The practice's clock is faked (the routes' and the write hooks' `now`,
and the refresher's injected clock; logins and tokens keep the real one), so each phase
happens at the time of day it is about:

0. the first build of every summary (nobody asking), per client;
1. noon, summaries current: the ceiling (what a caseload view costs at best);
2. the roll-over window opens (60 min before midnight): the refresher's round as the app runs
   it (computing tomorrow's summaries) while the callers ask;
3. the first hour after midnight (compressed: the fake clock runs fast), the refresher waking
   as the app's does: every view, against the ceiling, with how many summaries the requests
   themselves had to compute;
4. (printed with 3) the target: every view of the first hour within 200 ms;
5. the next noon, `refresh-summaries` (the batched rebuild) while the callers ask: its
   duration, its longest write-lock hold and the slowest view it delayed;
6. for contrast, the next midnight without a roll-over (refresher off), as before this change.

Prints p50 / p95 / max per phase; the write-lock holds are measured from the moment a batch's
transaction holds the lock (BEGIN IMMEDIATE returned) to its commit.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from bench.generate import generate, migrated_database
from bench.run import percentile, postgres_reachable
from practice_dashboard.app import create_app
from practice_dashboard.db import session_scope
from practice_dashboard.models import User
from practice_dashboard.models.base import utcnow
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.analytics import summary_batches
from practice_dashboard.services.analytics.refresher import SummaryRefresher
from practice_dashboard.services.analytics.summary import day_start, practice_today
from practice_dashboard.warmup import settle

TARGET_MS = 200.0
HOLD_TARGET_MS = 100.0
# Where the routes and the write hooks read the time; the bench moves it.
CLOCK_READERS = (
    "practice_dashboard.api.routes.analytics.utcnow",
    "practice_dashboard.web.routes.caseload_page.utcnow",
    "practice_dashboard.services.analytics.summary.utcnow",
)


class FakeClock:
    """The practice's time: set, or running `speed` times faster than the wall clock."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self.set(at)

    def set(self, at: datetime, speed: float = 0.0) -> None:
        with self._lock:
            self._at, self._since, self._speed = at, time.perf_counter(), speed

    def __call__(self) -> datetime:
        with self._lock:
            elapsed = (time.perf_counter() - self._since) * self._speed
            return self._at + timedelta(seconds=elapsed)


@dataclass
class Phase:
    name: str
    timings: list[float] = field(default_factory=list)
    by_view: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0

    def add(self, view: str, ms: float) -> None:
        self.timings.append(ms)
        self.by_view.setdefault(view, []).append(ms)


@dataclass
class Views:
    """The caseload views the callers cycle through."""

    supervisor: dict[str, str]
    practitioner: dict[str, str]
    practitioner_cookie: dict[str, str]
    supervisor_cookie: dict[str, str]

    def all(self) -> list[tuple[str, str, dict[str, Any]]]:
        sup, pra = {"headers": self.supervisor}, {"headers": self.practitioner}
        return [
            ("api supervisor page of 50", "/api/v1/caseload?limit=50", sup),
            ("api supervisor by name", "/api/v1/caseload?sort=name&limit=50", sup),
            ("api supervisor flag=engagement_risk", "/api/v1/caseload?flag=engagement_risk", sup),
            ("api supervisor next session", "/api/v1/caseload?sort=next_session&order=asc", sup),
            ("api practitioner 150", "/api/v1/caseload?limit=150", pra),
            ("page practitioner 150", "/?per_page=200", {"cookies": self.practitioner_cookie}),
            ("page supervisor", "/?sort=recovery", {"cookies": self.supervisor_cookie}),
            ("page supervisor alerts", "/?level=alert", {"cookies": self.supervisor_cookie}),
        ]


def fire(
    app: FastAPI, views: Views, phase: Phase, *, callers: int, until: Callable[[int], bool]
) -> None:
    """`callers` threads, each with its own client, cycling through the views until `until`
    (given the number of views done so far) says stop."""
    done = [0]
    lock = threading.Lock()
    plan = views.all()

    def caller(offset: int) -> None:
        with TestClient(app) as api:
            i = offset
            while True:
                with lock:
                    if until(done[0]):
                        return
                    done[0] += 1
                name, url, kwargs = plan[i % len(plan)]
                i += 1
                started = time.perf_counter()
                response = api.get(url, **kwargs)
                ms = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status_code == 200:
                        phase.add(name, ms)
                    else:
                        phase.errors += 1

    threads = [threading.Thread(target=caller, args=(n * 3,)) for n in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def report(phase: Phase, ceiling: Phase | None = None) -> None:
    t = phase.timings
    if not t:
        print(f"  {phase.name:<52} no views", flush=True)
        return
    p50, p95 = statistics.median(t), percentile(t, 0.95)
    line = (
        f"  {phase.name:<52} {len(t):4d} views  "
        f"p50 {p50:7.1f}  p95 {p95:7.1f}  max {max(t):7.1f} ms"
    )
    if ceiling is not None and ceiling.timings:
        line += f"   ÷ ceiling p50 {p50 / statistics.median(ceiling.timings):4.2f}×"
    if phase.errors:
        line += f"   ({phase.errors} not 200)"
    print(line, flush=True)


def view_lines(phase: Phase) -> None:
    for name, values in phase.by_view.items():
        print(
            f"      {name:<40} p50 {statistics.median(values):7.1f}  max {max(values):7.1f} ms",
            flush=True,
        )


@contextmanager
def in_background(work: Callable[[], Any]) -> Iterator[dict[str, Any]]:
    """Run `work` in a thread; yields a dict that gets `seconds` and `result` when it ends."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.perf_counter()
        outcome["result"] = work()
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=run, name="bench-background")
    thread.start()
    try:
        yield outcome
    finally:
        thread.join()


def holds(batch: summary_batches.BatchReport) -> str:
    if not batch.holds:
        return "no batches"
    ms = [h * 1000 for h in batch.holds]
    return (
        f"{batch.batches} batches, write lock held p50 {statistics.median(ms):.1f} / "
        f"max {max(ms):.1f} ms (target ≤ {HOLD_TARGET_MS:.0f})"
    )


def run_backend(backend: str, clients: int, callers: int, views_per_phase: int) -> None:
    with ExitStack() as stack:
        settings, engine = stack.enter_context(migrated_database(backend))
        print(f"\n== {backend}: {clients} clients × 2 years + one 5-year client", flush=True)
        started = time.perf_counter()
        practice = generate(engine, settings, clients=clients)
        print(f"   {practice.rows:,} records in {time.perf_counter() - started:.1f} s", flush=True)
        if backend == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        engine.dispose()

        real_now = utcnow()
        day = practice_today(settings, real_now)
        midnight = day_start(day + timedelta(days=1), settings.timezone)
        noon = midnight - timedelta(hours=12)
        clock = FakeClock(noon)
        for reader in CLOCK_READERS:
            stack.enter_context(patch(reader, clock))

        app = create_app(settings)
        factory = app.state.session_factory
        in_requests = {"summaries": 0}

        @event.listens_for(app.state.engine, "before_cursor_execute")
        def _count(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
        ) -> None:
            # Summaries written from a request's thread (the refresher's is not one).
            if statement.startswith("INSERT INTO client_summary") and not (
                threading.current_thread().name.startswith(("bench-background", "MainThread"))
            ):
                in_requests["summaries"] += len(parameters) if many else 1

        def bearer(user_id: Any) -> dict[str, str]:
            token = create_access_token(settings, user_id, real_now, generation=0)
            return {"Authorization": f"Bearer {token}"}

        cookies = {}
        with session_scope(factory) as db:
            for key, user_id in (
                ("practitioner", practice.practitioner_id),
                ("supervisor", practice.supervisor_id),
            ):
                user = db.get(User, user_id)
                assert user is not None
                token, _ = login_session.start(db, settings, user=user, now=real_now, ip=None)
                cookies[key] = {login_session.COOKIE_NAME: token}
        views = Views(
            bearer(practice.supervisor_id),
            bearer(practice.practitioner_id),
            cookies["practitioner"],
            cookies["supervisor"],
        )
        # As a served worker is once it has answered (warmup.py): its routes built and what it
        # built frozen, out of the full collections' walk. Without it every full collection
        # walked the whole app again (about 240,000 objects, none frozen), as no served
        # worker does.
        settle(app)

        def count(n: int) -> Callable[[int], bool]:
            return lambda done: done >= n

        # 0. The summaries of the generated practice, built with nobody asking.
        with in_background(
            lambda: summary_batches.rebuild(factory, settings=settings, clock=clock)
        ) as build:
            pass
        print(
            f"   first build: {build['result'].written} clients in {build['seconds']:.1f} s "
            f"({build['seconds'] / max(1, build['result'].written) * 1000:.1f} ms per client), "
            f"{holds(build['result'])}",
            flush=True,
        )

        # 1. The ceiling: summaries current.
        ceiling = Phase("1. noon, summaries current (ceiling)")
        fire(app, views, ceiling, callers=callers, until=count(views_per_phase))
        report(ceiling)
        view_lines(ceiling)

        # 2. The roll-over window opens: the refresher's round while the callers ask.
        refresher = SummaryRefresher(factory, settings, clock=clock)
        clock.set(midnight - timedelta(minutes=settings.summary_rollover_minutes))
        rolling = Phase("2. roll-over window, during the refresher's round")
        with in_background(refresher.refresh_until_current) as rollover:
            fire(app, views, rolling, callers=callers, until=lambda _d: "seconds" in rollover)
        print(
            f"   roll-over: {rollover['result'].written} clients in {rollover['seconds']:.1f} s, "
            f"{holds(rollover['result'])}",
            flush=True,
        )
        report(rolling, ceiling)

        # 3. The first hour after midnight, compressed; the refresher wakes as the app's does.
        in_requests["summaries"] = 0
        first_hour = Phase("3. first hour after midnight")
        hour_seconds = 30.0  # wall seconds the fake hour takes
        clock.set(midnight + timedelta(seconds=1), speed=3600 / hour_seconds)
        stop = threading.Event()
        rounds: list[summary_batches.BatchReport] = []

        def refresher_loop() -> None:
            while not stop.is_set():
                rounds.append(refresher.refresh_until_current())
                stop.wait(refresher.seconds_to_next_round() * hour_seconds / 3600)

        with in_background(refresher_loop):
            ends = time.perf_counter() + hour_seconds
            fire(
                app,
                views,
                first_hour,
                callers=callers,
                until=lambda _d: time.perf_counter() >= ends,
            )
            stop.set()
        pruned = sum(r.pruned for r in rounds)
        longest = max((h for r in rounds for h in r.holds), default=0.0) * 1000
        print(
            f"   refresher after midnight: {len(rounds)} rounds, {pruned} old rows dropped, "
            f"{sum(r.written for r in rounds)} refreshed, longest write lock {longest:.1f} ms; "
            f"summaries computed inside requests: {in_requests['summaries']}",
            flush=True,
        )
        report(first_hour, ceiling)
        view_lines(first_hour)
        t = first_hour.timings
        verdict = "met" if t and max(t) <= TARGET_MS else "NOT met"
        print(
            f"   target: every view ≤ {TARGET_MS:.0f} ms in the first hour: {verdict}", flush=True
        )

        # 5. refresh-summaries on a running server (the next day at noon): a full rebuild under
        # load.
        clock.set(midnight + timedelta(hours=12))
        rebuilding = Phase("5. next noon, during refresh-summaries (full rebuild)")
        with in_background(
            lambda: summary_batches.rebuild(factory, settings=settings, clock=clock)
        ) as rebuild:
            fire(app, views, rebuilding, callers=callers, until=lambda _d: "seconds" in rebuild)
        print(
            f"   refresh-summaries: {rebuild['result'].written} clients in "
            f"{rebuild['seconds']:.1f} s, {holds(rebuild['result'])}",
            flush=True,
        )
        report(rebuilding, ceiling)

        # 6. For contrast: the next midnight with no roll-over (the refresher was off).
        in_requests["summaries"] = 0
        clock.set(midnight + timedelta(days=1, seconds=1))  # the refresher is not running
        cold = Phase("6. next midnight, NOT rolled over (as before)")
        fire(app, views, cold, callers=callers, until=count(max(3, views_per_phase // 20)))
        report(cold, ceiling)
        print(f"   summaries computed inside requests: {in_requests['summaries']}", flush=True)
        app.state.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--callers", type=int, default=3)
    parser.add_argument("--views", type=int, default=80, help="views in the ceiling phase")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in backends and not postgres_reachable():
        if args.db == "postgresql":
            raise SystemExit("PostgreSQL is not reachable (set TEST_POSTGRES_URL)")
        print("!! PostgreSQL not reachable: SQLite only")
        backends = ["sqlite"]
    for backend in backends:
        run_backend(backend, args.clients, args.callers, args.views)


if __name__ == "__main__":
    main()
