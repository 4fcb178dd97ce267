"""Check-in load: many clients submitting check-ins at once through the real server.

    .venv/bin/python -m bench.checkin_load                        # 200 clients, both databases
    .venv/bin/python -m bench.checkin_load --engine sqlite --clients 20 --rounds 1

Per engine: a fresh database (SQLite in a temp folder; PostgreSQL a scratch database on
127.0.0.1:5432, skipped with a message when unreachable), migrated; one practitioner and
`--clients` clients, each given a live check-in link and code by the product's own services.
Then the installed `practice-dashboard serve` (uvicorn, one worker, loopback, a free port)
serves that database, and every client at once does what a phone's browser does: opens its
link, reads the CSRF token from the code form and enters its code, then `--rounds` times
"Something activated me", "I'm back to baseline" and a daily check-in (GET each form, read
it, POST it, follow the 303 home). A write is acknowledged by its 303 (the unit of work
commits before the response is sent). A "busy" 503 from the overload guard is answered as a
phone's browser and its owner would: the page reloads itself after Retry-After, a form is sent
again (up to 10 tries each). Afterwards the stored rows are counted and compared with
the acknowledged writes. Loopback only; bounded by `--time-cap`; temp files and the scratch
database are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.run import percentile
from bench.startup import answers, free_port, installed_cli
from practice_dashboard.cli.common import unit_of_work
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory
from practice_dashboard.models import Episode, Observation
from practice_dashboard.models.enums import Role, Source
from practice_dashboard.schemas.checkin import CheckinLinkCreate
from practice_dashboard.schemas.client import ClientCreate
from practice_dashboard.schemas.user import UserCreate
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.checkins import links
from practice_dashboard.services.records import client as client_service
from tests.databases import fresh_database, postgres_admin_url

SECRET_KEY = "checkin-load-benchmark-" + "k" * 32
WRITES = ("activated", "back", "daily")
# What a lock problem looks like in the server's log, on either database.
LOCK_ERROR = re.compile(
    r"database is locked|database table is locked|deadlock detected|could not serialize access"
    r"|lock timeout|LockNotAvailable|could not obtain lock",
    re.IGNORECASE,
)
POOL_TIMEOUT = re.compile(r"QueuePool limit .* reached", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Link:
    client_id: uuid.UUID
    token: str
    code: str


@dataclass
class Tally:
    """Everything the simulated clients saw."""

    latencies_ms: list[float] = field(default_factory=list)
    write_latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    lock_bodies: int = 0
    timeouts: int = 0
    transport_errors: int = 0
    stopped_early: int = 0
    completed: int = 0
    busy_retries: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.timeouts + self.transport_errors


class FormReader(HTMLParser):
    """The inputs of the form that posts to `action` (the page's other forms, such as
    "leave", are ignored): its hidden values and its radio groups' choices."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.wanted = action
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self._done and a.get("action") == self.wanted:
            self._in_form = True
            self.action = self.wanted
        if not self._in_form or tag != "input" or "name" not in a:
            return
        name, kind = a["name"], a.get("type", "text")
        if kind == "hidden":
            self.hidden[name] = a.get("value", "")
        elif kind == "radio":
            self.radios.setdefault(name, []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def read_form(html: str, action: str) -> FormReader:
    reader = FormReader(action)
    reader.feed(html)
    return reader


# --- Set-up ------------------------------------------------------------------------------------


def postgres_reachable() -> str | None:
    """None when the scratch server answers, else why not."""
    url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


@contextmanager
def scratch_database(engine_name: str) -> Iterator[str]:
    """A new empty database (as the tests make theirs), dropped or deleted afterwards."""
    with fresh_database(engine_name) as url:
        yield url


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PRACTICE_DASHBOARD_ENVIRONMENT": "development",
    }


def measured_server_env(database_url: str) -> dict[str, str]:
    """`server_env` for a server whose reads are measured: no summary refresh in the
    background (the benchmark refreshes them first), so none runs beside what is timed."""
    return {**server_env(database_url), "PRACTICE_DASHBOARD_SUMMARY_REFRESH_INTERVAL_SECONDS": "0"}


def prepare(database_url: str, clients: int, cli: Path) -> list[Link]:
    """Migrate; one practitioner and `clients` clients, each with a live link and code."""
    env = server_env(database_url)
    subprocess.run([str(cli), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY, environment="development")
    rng = random.Random(11)
    made: list[Link] = []
    with unit_of_work(settings) as db:
        practitioner = user_service.create_user(
            db,
            settings,
            data=UserCreate(
                email="load@example.org",
                full_name="Load Practitioner",
                role=Role.THERAPIST,
                password="load-benchmark-password",
            ),
            actor=None,
        )
        actor = Actor(practitioner)
        now = datetime.now(UTC)
        for n in range(clients):
            client = client_service.create_client(
                db,
                data=ClientCreate(display_name=f"Load client {n + 1:03d}"),
                actor=actor,
                today=now.date(),
            )
            code = f"{rng.randrange(10**6):06d}"
            token, _ = links.create_link(
                db,
                settings,
                client_id=client.id,
                data=CheckinLinkCreate(code=code),
                actor=actor,
                now=now,
            )
            made.append(Link(client.id, token, code))
    return made


def stored_rows(database_url: str, client_ids: list[uuid.UUID]) -> Counter[str]:
    """Self-reported rows of these clients: episodes started, closed, daily check-ins."""
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY, environment="development")
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:

            def count(model: type[Episode] | type[Observation], *extra: object) -> int:
                stmt = (
                    select(func.count())
                    .select_from(model)
                    .where(model.source == Source.CLIENT, model.client_id.in_(client_ids))
                )
                for condition in extra:
                    stmt = stmt.where(condition)  # type: ignore[arg-type]
                return int(db.scalar(stmt) or 0)

            return Counter(
                activated=count(Episode),
                back=count(Episode, Episode.baseline_at.is_not(None)),
                daily=count(Observation),
            )
    finally:
        engine.dispose()


# --- The simulated clients ---------------------------------------------------------------------


# The overload guard's answer, and how often a phone asks again after it before giving up.
BUSY = 503
BUSY_TRIES = 10


class ClientStopped(Exception):
    """A step went wrong: this client's remaining steps are not attempted."""


async def request(
    http: httpx.AsyncClient,
    tally: Tally,
    method: str,
    url: str,
    expected: int,
    *,
    data: dict[str, str] | None = None,
    write: str | None = None,
    label: str = "page",
) -> httpx.Response:
    for attempt in range(BUSY_TRIES):
        started = time.perf_counter()
        try:
            response = await http.request(method, url, data=data)
        except httpx.TimeoutException:
            tally.timeouts += 1
            raise ClientStopped from None
        except httpx.TransportError:
            tally.transport_errors += 1
            raise ClientStopped from None
        elapsed = (time.perf_counter() - started) * 1000
        tally.latencies_ms.append(elapsed)
        tally.statuses[response.status_code] += 1
        if response.status_code != BUSY or attempt == BUSY_TRIES - 1:
            break
        # "The server is busy": a page reloads itself after Retry-After (its meta refresh), a
        # person goes back and sends the form again; the guard refused it before any work.
        tally.busy_retries += 1
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    if write is not None:
        tally.write_latencies_ms.append(elapsed)
    if LOCK_ERROR.search(response.text):
        tally.lock_bodies += 1
    if response.status_code != expected:
        tally.unexpected[f"{method} {write or label} -> {response.status_code}"] += 1
        raise ClientStopped
    if write is not None:
        tally.acknowledged[write] += 1
    return response


async def submit(
    http: httpx.AsyncClient, tally: Tally, base: str, step: str, rng: random.Random
) -> None:
    """Open a form, fill in what a person must (a choice in each radio group), send it, and
    follow the redirect home."""
    page = await request(http, tally, "GET", f"{base}/{step}", 200, label=step)
    form = read_form(page.text, f"{base}/{step}")
    if form.action is None:
        tally.unexpected[f"GET {step}: no form"] += 1
        raise ClientStopped
    values = dict(form.hidden)
    for name, choices in form.radios.items():  # a choice in every group (zone, how strong)
        values[name] = rng.choice(choices)
    saved = await request(
        http, tally, "POST", form.action or f"{base}/{step}", 303, data=values, write=step
    )
    await request(http, tally, "GET", saved.headers["location"], 200, label="home")


async def one_client(
    port: int, link: Link, rounds: int, timeout: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    base = links.link_path(link.token)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=timeout, follow_redirects=False
    ) as http:
        try:
            code_page = await request(http, tally, "GET", base, 200, label="code page")
            form = read_form(code_page.text, f"{base}/code")
            values = {**form.hidden, "code": link.code}
            opened = await request(
                http, tally, "POST", form.action or f"{base}/code", 303, data=values, label="code"
            )
            await request(http, tally, "GET", opened.headers["location"], 200, label="home")
            for _ in range(rounds):
                for step in WRITES:
                    await submit(http, tally, base, step, rng)
            tally.completed += 1
        except ClientStopped:
            tally.stopped_early += 1


async def drive(
    port: int, made: list[Link], rounds: int, timeout: float, cap: float, tally: Tally
) -> bool:
    """All clients at once; False when the time cap cut the run short."""
    tasks = [
        asyncio.create_task(one_client(port, link, rounds, timeout, tally, seed=n))
        for n, link in enumerate(made)
    ]
    _, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return not pending


# --- One engine --------------------------------------------------------------------------------


def start_server(
    cli: Path, env: dict[str, str], port: int, log: Path, *, workers: int = 1
) -> subprocess.Popen[bytes]:
    """`practice-dashboard serve` on loopback, once it answers `/healthz` (60 s at most)."""
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(cli), "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    started = time.perf_counter()
    while not answers(f"http://127.0.0.1:{port}/healthz"):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}: {log.read_text()}")
        if time.perf_counter() - started > 60:
            server.terminate()
            raise RuntimeError("the server did not answer within 60 s")
        time.sleep(0.05)
    return server


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.0f}" if values else "-"


def run_engine(engine_name: str, args: argparse.Namespace, cli: Path) -> None:
    print(f"== {engine_name}: {args.clients} clients x {args.rounds} rounds", flush=True)
    with scratch_database(engine_name) as url, tempfile.TemporaryDirectory() as tmp:
        setup_started = time.perf_counter()
        made = prepare(url, args.clients, cli)
        print(f"   set-up: {len(made)} links in {time.perf_counter() - setup_started:.1f} s")
        port = free_port()
        log = Path(tmp) / "server.log"
        server = start_server(cli, server_env(url), port, log)
        tally = Tally()
        try:
            started = time.perf_counter()
            finished = asyncio.run(
                drive(port, made, args.rounds, args.timeout, args.time_cap, tally)
            )
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:  # requests still stuck: no graceful end
                server.kill()
                server.wait(timeout=15)
        stored = stored_rows(url, [m.client_id for m in made])
        server_log = log.read_text(errors="replace")
        if args.keep_log:
            Path(args.keep_log).write_text(server_log)
    report(args, tally, stored, server_log, wall, finished)


def report(
    args: argparse.Namespace,
    tally: Tally,
    stored: Counter[str],
    server_log: str,
    wall: float,
    finished: bool,
) -> None:
    acknowledged = sum(tally.acknowledged[w] for w in WRITES)
    total_stored = sum(stored[w] for w in WRITES)
    lost = sum(max(0, tally.acknowledged[w] - stored[w]) for w in WRITES)
    unacknowledged = sum(max(0, stored[w] - tally.acknowledged[w]) for w in WRITES)
    server_errors = {s: n for s, n in sorted(tally.statuses.items()) if s >= 500 and s != BUSY}
    lock_lines = len(LOCK_ERROR.findall(server_log))
    pool_timeouts = len(POOL_TIMEOUT.findall(server_log))
    print(f"   acknowledged {acknowledged}, stored {total_stored}, lost {lost}")
    for w in WRITES:
        print(f"     {w:<10} acknowledged {tally.acknowledged[w]:5d}   stored {stored[w]:5d}")
    if unacknowledged:
        print(f"   stored without an acknowledgement (reply not received): {unacknowledged}")
    print(
        f"   clients {args.clients} ({tally.completed} completed every step), "
        f"requests {tally.requests}, wall time {wall:.1f} s"
        + ("" if finished else f" (time cap {args.time_cap:.0f} s reached)")
    )
    print(
        f"   server errors (not 503): {server_errors or 'none'}; 'busy' (503) answers "
        f"{tally.statuses[BUSY]}, each asked again after Retry-After ({tally.busy_retries} "
        f"times); lock errors: "
        f"{lock_lines} in the server log, {tally.lock_bodies} in responses; "
        f"pool timeouts {pool_timeouts}; timeouts {tally.timeouts}; "
        f"connection errors {tally.transport_errors}"
    )
    if tally.unexpected:
        print(
            f"   unexpected answers: {dict(tally.unexpected)}; clients stopped early: "
            f"{tally.stopped_early}"
        )
    lat, wlat = tally.latencies_ms, tally.write_latencies_ms
    print(
        f"   latency all requests: p50 {ms(lat, 0.5)} ms, p95 {ms(lat, 0.95)} ms, "
        f"max {max(lat, default=0):.0f} ms"
    )
    print(
        f"   latency writes (POST): p50 {ms(wlat, 0.5)} ms, p95 {ms(wlat, 0.95)} ms, "
        f"max {max(wlat, default=0):.0f} ms; throughput "
        f"{len(lat) / wall if wall else 0:.0f} requests/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="activated/back/daily cycles")
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument(
        "--time-cap", type=float, default=300.0, help="seconds for the clients' run per engine"
    )
    parser.add_argument("--keep-log", help="copy the server's log (stderr) to this file")
    args = parser.parse_args()
    if args.clients < 1 or args.rounds < 1:
        parser.error("--clients and --rounds must be at least 1")
    cli = installed_cli()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(f"check-in load, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
    for engine_name in engines:
        if engine_name == "postgresql":
            problem = postgres_reachable()
            if problem is not None:
                print(f"== postgresql: skipped, {postgres_admin_url()} unreachable ({problem})")
                continue
        run_engine(engine_name, args, cli)


if __name__ == "__main__":
    main()
