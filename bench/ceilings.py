"""Performance against ceilings (issue 13): every figure beside what the same work costs at least.

    .venv/bin/python -m bench.ceilings                       # both databases, 5 rounds
    .venv/bin/python -m bench.ceilings --db sqlite --rounds 3 --only 1,2,5
    .venv/bin/python -m bench.ceilings --quick --db sqlite --clients 5   # smoke run

Per engine it builds one practice (SQLite: a file in a temp folder; PostgreSQL: a scratch
database on 127.0.0.1:5432, skipped when unreachable unless --require-postgres): `--clients`
two-year clients under one practitioner, a 5-year client and a dense 20-year client (daily
check-ins, an episode every third day), summaries refreshed. It then runs the product and its
ceilings interleaved, round after round, and prints per row the product's figure, the
ceiling's and their ratio (min / median / max over the rounds) with the issue's target; "met"
judges the median.

 1  client page (6 months), server p50 in-process through the real app ÷ the same SELECTs
    replayed through the raw DBAPI cursor of the product's own engine (fetchall), the two
    timed alternately. The statements are captured from the product's request with a
    `before_cursor_execute` listener, so the ceiling follows whatever the product reads; the
    sign-in lookup, the audit chain (its lock, read and insert) and transaction control are
    left out (the output lists what was kept and what was left out).
 2  metrics API ÷ raw SQL, the same way.
    Their floors, timed the same way beside the same raw SQL, through the same kind of
    in-process client: 1f the DB+template page of row 3 (below), 1j the page's rows as JSON
    of the page's size (a page whose bytes are one data blob, as most of the product page's
    are its charts' data: the cheapest form of it), 2f the same for the metrics response
    (all bench/ceiling_app.py, mounted in this process on the product's engine, the JSON
    written by Pydantic as the API's is), 1e an empty response. No sign-in, audit, ORM or
    logic: a product figure under its floor's ratio cannot be had in this stack.
    1s and 2s are 1j and 2f asked for as the product's own reads are, through the product's
    app: signed in (cookie and page context; bearer token), the client found through
    `access`, the read audited, one transaction (bench/signed_in_floor.py). What any read
    of a client's data costs in this product before it computes or draws anything.
 3  client page RPS, 8 callers, closed loop, `practice-dashboard serve` with 1 worker ÷ the
    same raw SQL rendered by Jinja2 to a page of the same byte size (bench/ceiling_app.py),
    served by the same command with the same uvicorn settings.
 4  caseload page (all clients on one page) RPS ÷ its DB+template ceiling, 8 callers.
 5  the dense 20-year client's 6-month page ÷ the 5-year client's (server p50).
 6  PostgreSQL: client page RPS with 2 workers ÷ 1 worker, 16 callers.
 7  the client page and every JS/CSS it links, asked for with Accept-Encoding: gzip, br;
    bytes as received (and uncompressed).
 8  the client page in Debian Chromium, cold (fresh context) and warm (reload):
    DOMContentLoaded and charts drawn, ÷ a blank page's DCL from the same loopback.
 9  summary PDF of the 5-year client (default period) through the product's HTTP endpoint ÷ a
    blank local page printed through the product's persistent Chromium (in this process).
10  `practice-dashboard serve` to its first 200 and idle RSS (bench.startup.started, on this
    engine's database) ÷ the smallest uvicorn app (bench.startup.ceiling_app), measured alike.
11  caseload after midnight: `--with-midnight` runs `bench.midnight.run` when present.

Load steps ask with Accept-Encoding: identity on both sides (server work, not compression).
Loopback only; scratch databases and temp files are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text

from bench import ceiling_probes as probes
from bench.ceiling_app import PagePlan, Plan, build_app, write_plan
from bench.checkin_load import (
    SECRET_KEY,
    measured_server_env,
    postgres_reachable,
    start_server,
)
from bench.generate import dense_client, generate
from bench.load import Target, run_step, stop
from bench.signed_in_floor import signed_in_floors
from bench.startup import CEILING_SERVER, answers, free_port, installed_cli
from bench.startup import started as started_server
from practice_dashboard import migrate
from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import Client, User
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.analytics import summary
from practice_dashboard.warmup import settle
from tests.databases import fresh_database

ROWS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
SUB_ROWS = "abcdefjs"  # 8a-8d, 10a-10b, and the floors 1e, 1f, 1j, 1s, 2f, 2s
# Rows that need neither the served product nor the served DB+template app (timed in this
# process, or, 10a and 10b, on servers of their own).
NO_SHARED_SERVER = frozenset({"1", "1e", "1f", "1j", "1s", "2", "2f", "2s", "5", "10a", "10b"})
ROOT = Path(__file__).resolve().parents[1]
IDENTITY = {"Accept-Encoding": "identity"}
# Tables the sign-in check and the audit chain read: not the page's data.
SIGN_IN_TABLES = frozenset({"login_session", "user"})
AUDIT_TABLES = frozenset({"audit_event"})
FROM_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([a-z_][a-z0-9_]*)"?', re.IGNORECASE)


# --- Figures and the table -------------------------------------------------------------------


@dataclass
class Figure:
    """One row: the product's and the ceiling's value per round, and the issue's target on
    the ratio (`on="ratio"`) or on the product's own value (`on="product"`)."""

    row: str
    label: str
    unit: str
    ceiling_label: str
    target: str
    on: str
    op: str  # "<=" or ">="
    limit: float | None  # None: a floor, shown beside the row it bounds, judged by nothing
    percent: bool = False  # ratio shown as a percentage
    product: list[float] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        return [p / c for p, c in zip(self.product, self.ceiling, strict=False) if c]

    def verdict(self) -> str:
        values = self.ratios() if self.on == "ratio" else self.product
        if not values or self.limit is None:
            return "—" if not values else "floor"
        median = statistics.median(values)
        ok = median <= self.limit if self.op == "<=" else median >= self.limit
        return "met" if ok else "not met"


def _num(value: float, unit: str) -> str:
    digits = 0 if abs(value) >= 100 else (1 if abs(value) >= 10 else 2)
    return f"{value:.{digits}f} {unit}".strip()


def _ratio(value: float, percent: bool) -> str:
    return f"{value * 100:.0f}%" if percent else f"{value:.2f}×"


def table(figures: list[Figure]) -> list[str]:
    lines = [
        "| # | figure | product (median) | ceiling (median) | ratio min / median / max "
        "| target | |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for f in figures:
        product = _num(statistics.median(f.product), f.unit) if f.product else "—"
        ceiling = (
            f"{_num(statistics.median(f.ceiling), f.unit)} ({f.ceiling_label})"
            if f.ceiling
            else (f.ceiling_label or "—")
        )
        ratios = f.ratios()
        spread = (
            " / ".join(
                _ratio(v, f.percent) for v in (min(ratios), statistics.median(ratios), max(ratios))
            )
            if ratios
            else "—"
        )
        lines.append(
            f"| {f.row} | {f.label} | {product} | {ceiling} | {spread} | {f.target} "
            f"| {f.verdict()} |"
        )
    return lines


def figures_for(engine_name: str, practice_clients: int) -> dict[str, Figure]:
    rows = [
        Figure("1", "client page (6 months), server p50 ÷ raw SQL", "ms", "raw SQL",
               "≤ 3×", "ratio", "<=", 3.0),
        Figure("1f", "floor of 1: DB+template page of the same size, in-process ÷ raw SQL",
               "ms", "raw SQL", "(1: ≤ 3×)", "ratio", "<=", None),
        Figure("1j", "floor of 1: the page's rows as JSON of the page's size, in-process ÷ "
               "raw SQL", "ms", "raw SQL", "(1: ≤ 3×)", "ratio", "<=", None),
        Figure("1s", "floor of 1: 1j signed in, scoped and audited through the product's app "
               "÷ raw SQL", "ms", "raw SQL", "(1: ≤ 3×)", "ratio", "<=", None),
        Figure("1e", "floor of 1 and 2: an empty response, in-process ÷ the page's raw SQL",
               "ms", "raw SQL", "(1: ≤ 3×; 2: ≤ 2.5×)", "ratio", "<=", None),
        Figure("2", "metrics API, server p50 ÷ raw SQL", "ms", "raw SQL", "≤ 2.5×", "ratio",
               "<=", 2.5),
        Figure("2f", "floor of 2: the same rows as JSON of the same size, in-process ÷ raw SQL",
               "ms", "raw SQL", "(2: ≤ 2.5×)", "ratio", "<=", None),
        Figure("2s", "floor of 2: 2f signed in (bearer), scoped and audited through the "
               "product's app ÷ raw SQL", "ms", "raw SQL", "(2: ≤ 2.5×)", "ratio", "<=", None),
        Figure("3", "client page RPS, 8 callers, 1 worker ÷ DB+template page", "req/s",
               "DB+template", "≥ 40%", "ratio", ">=", 0.40, percent=True),
        Figure("4", f"caseload page ({practice_clients} clients) RPS, 8 callers ÷ DB+template",
               "req/s", "DB+template", "≥ 60%", "ratio", ">=", 0.60, percent=True),
        Figure("5", "6-month page, dense 20-year client ÷ 5-year client (p50)", "ms",
               "5-year client", "≤ 1.5×", "ratio", "<=", 1.5),
        Figure("6", "client page RPS, 16 callers: 2 workers ÷ 1 worker", "req/s",
               "1 worker", "≥ 1.7×", "ratio", ">=", 1.7),
        Figure("7", "first client page on the wire (HTML + JS + CSS, as received)", "KB",
               "", "≤ 1000 KB", "product", "<=", 1000.0),
        Figure("8a", "Chromium cold: DOMContentLoaded", "ms", "blank page DCL", "≤ 500 ms",
               "product", "<=", 500.0),
        Figure("8b", "Chromium cold: charts drawn", "ms", "blank page DCL", "≤ 700 ms",
               "product", "<=", 700.0),
        Figure("8c", "Chromium warm: DOMContentLoaded", "ms", "blank page DCL", "≤ 200 ms",
               "product", "<=", 200.0),
        Figure("8d", "Chromium warm: charts drawn", "ms", "blank page DCL", "≤ 300 ms",
               "product", "<=", 300.0),
        Figure("9", "summary PDF, 5-year client (HTTP)", "s", "blank print", "≤ 1.0 s",
               "product", "<=", 1.0),
        Figure("10a", "`serve` to first 200", "s", "minimal uvicorn app", "≤ 1.0 s",
               "product", "<=", 1.0),
        Figure("10b", "idle RSS per worker", "MiB", "minimal uvicorn app", "≤ 120 MB",
               "product", "<=", 120 * 1e6 / 2**20),
    ]  # fmt: skip
    if engine_name != "postgresql":
        rows = [f for f in rows if f.row != "6"]
    return {f.row: f for f in rows}


# --- Statements a page reads -----------------------------------------------------------------


def table_of(statement: str) -> str:
    found = FROM_TABLE.search(statement)
    return found.group(1).lower() if found else "?"


def page_reads(
    seen: list[tuple[str, Any]],
) -> tuple[list[tuple[str, Any]], list[str], list[str]]:
    """The SELECTs that read the page's data, and (table lists) what was kept and left out:
    writes and transaction control, statements that read no table (the audit chain's lock),
    the audit chain, and the sign-in lookup (login session / user reads before the first
    other read)."""
    kept: list[tuple[str, Any]] = []
    kept_tables: list[str] = []
    left_out: list[str] = []
    for statement, parameters in seen:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        name = table_of(statement)
        if verb not in ("SELECT", "WITH"):
            left_out.append(f"{verb} {name}" if verb in ("INSERT", "UPDATE", "DELETE") else verb)
        elif name == "?":  # no table: a lock (the audit chain's on PostgreSQL) or a constant
            left_out.append(f"no table ({statement.split()[1].split('(')[0]})")
        elif name in AUDIT_TABLES:
            left_out.append(f"audit read ({name})")
        elif not kept and name in SIGN_IN_TABLES:
            left_out.append(f"sign-in ({name})")
        else:
            kept.append((statement, parameters))
            kept_tables.append(name)
    return kept, kept_tables, left_out


class Capture:
    """Records the statements one request sends through the product's engine."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.seen: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        many: bool,
    ) -> None:
        if self.on and not many:
            self.seen.append((statement, parameters))

    @contextmanager
    def capturing(self) -> Iterator[list[tuple[str, Any]]]:
        self.seen = []
        self.on = True
        try:
            yield self.seen
        finally:
            self.on = False


def raw_replay_ms(engine: Engine, statements: list[tuple[str, Any]]) -> float:
    """One replay: a pooled DBAPI connection, every statement executed and fetched."""
    started = time.perf_counter()
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    return (time.perf_counter() - started) * 1000


def paired_p50(
    product: Callable[[], float], ceiling: Callable[[], float], n: int
) -> tuple[float, float]:
    """Medians of `n` timings each, taken alternately, so both see the same machine load."""
    pairs = [(product(), ceiling()) for _ in range(n)]
    return statistics.median(p for p, _ in pairs), statistics.median(c for _, c in pairs)


# --- The practice and the servers ------------------------------------------------------------


@dataclass
class Setup:
    engine_name: str
    url: str
    settings: Settings
    api: TestClient
    capture: Capture
    cookie: str
    token: str
    client_page: str
    dense_page: str
    metrics: str
    caseload: str
    pdf: str
    clients: int
    notes: list[str] = field(default_factory=list)
    trouble: Counter[str] = field(default_factory=Counter)
    plan: Plan = field(default_factory=Plan)
    floor: TestClient | None = None  # bench/ceiling_app.py in this process: the floors
    client_id: uuid.UUID | None = None

    def signed_in_floor(self, kind: str) -> str:
        """Floors 1s and 2s: routes mounted in the product's app (bench/signed_in_floor.py)."""
        return f"/bench-floor/{kind}/{self.client_id}"

    @property
    def engine(self) -> Engine:
        engine: Engine = self.api.app.state.engine  # type: ignore[attr-defined]
        return engine

    def get(self, path: str, **headers: str) -> httpx.Response:
        # A page signs in with the login cookie, the API with the bearer token alone.
        signed_in = {} if "Authorization" in headers else {login_session.COOKIE_NAME: self.cookie}
        response: httpx.Response = self.api.get(
            path, headers={**IDENTITY, **headers}, cookies=signed_in
        )
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
        return response

    def server_ms(self, path: str, **headers: str) -> float:
        started = time.perf_counter()
        self.get(path, **headers)
        return (time.perf_counter() - started) * 1000

    def floor_ms(self, path: str) -> float:
        assert self.floor is not None
        started = time.perf_counter()
        response = self.floor.get(path, headers=IDENTITY)
        if response.status_code != 200:
            raise RuntimeError(f"floor {path} answered {response.status_code}")
        return (time.perf_counter() - started) * 1000


def build(stack: ExitStack, engine_name: str, clients: int) -> Setup:
    """The practice, migrated and generated once; the product app in-process; a sign-in."""
    url = stack.enter_context(fresh_database(engine_name))
    settings = Settings(
        environment="development",
        database_url=url,
        secret_key=SECRET_KEY,
        summary_refresh_interval_seconds=0,
    )
    started = time.perf_counter()
    engine = create_db_engine(settings)
    try:
        migrate.upgrade(engine)
        practice = generate(engine, settings, clients=clients)
        dense = dense_client(engine, practitioner_id=practice.long_owner_id)
        with session_scope(create_session_factory(engine)) as db:
            summary.refresh_all(db, settings=settings)
        if engine_name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    app = create_app(settings)
    api = stack.enter_context(TestClient(app))
    now = datetime.now(UTC)
    with session_scope(create_session_factory(app.state.engine)) as db:
        owner = db.get(User, practice.long_owner_id)
        assert owner is not None
        cookie, _ = login_session.start(db, settings, user=owner, now=now, ip="127.0.0.1")
        token = create_access_token(settings, owner.id, now, generation=owner.token_generation)
    print(
        f"   practice: {practice.clients + 1} clients (a 5-year and a "
        f"dense 20-year client among them) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    # As a served worker is once it has answered (warmup.py).
    settle(app)
    client = practice.long_client_id
    setup = Setup(
        engine_name=engine_name,
        url=url,
        settings=settings,
        api=api,
        capture=Capture(app.state.engine),
        cookie=cookie,
        token=token,
        client_page=f"/clients/{client}",
        dense_page=f"/clients/{dense}",
        metrics=f"/api/v1/clients/{client}/metrics",
        caseload="/?per_page=200",
        pdf=f"/clients/{client}/summary.pdf",
        clients=caseload_size(app.state.engine, practice.long_owner_id),
        client_id=client,
    )
    plan_pages(setup)
    setup.floor = stack.enter_context(TestClient(build_app(setup.plan, engine=app.state.engine)))
    app.include_router(signed_in_floors(setup.plan))
    return setup


def caseload_size(engine: Engine, practitioner_id: uuid.UUID) -> int:
    """Clients on the signed-in practitioner's caseload page (all on one page)."""
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count())
            .select_from(Client)
            .where(Client.practitioner_id == practitioner_id)
        )
    return int(count or 0)


def plan_pages(setup: Setup) -> None:
    """Capture what each measured request reads (after one warm-up) for the ceilings."""
    requests: dict[str, Callable[[], httpx.Response]] = {
        "client": lambda: setup.get(setup.client_page),
        "metrics": lambda: setup.get(setup.metrics, Authorization=f"Bearer {setup.token}"),
        "caseload": lambda: setup.get(setup.caseload),
    }
    for name, call in requests.items():
        call()
        with setup.capture.capturing() as seen:
            response = call()
        kept, tables, left_out = page_reads(list(seen))
        setup.plan.pages[name] = PagePlan(kept, len(response.content))
        setup.notes.append(
            f"{name}: {len(response.content) / 1024:.0f} KiB; raw SQL ceiling = {len(kept)} of "
            f"{len(seen)} statements ({', '.join(tables)}); left out: {', '.join(left_out)}"
        )


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """A server process on loopback, once it answers /healthz; stopped afterwards."""
    with log.open("wb") as sink:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    started = time.perf_counter()
    try:
        while not answers(f"http://127.0.0.1:{port}/healthz"):
            if server.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited: {log.read_text()[-2000:]}")
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"{command[:3]} did not answer within 60 s")
            time.sleep(0.05)
        yield
    finally:
        stop(server)


@contextmanager
def product_server(cli: Path, env: dict[str, str], log: Path, workers: int) -> Iterator[int]:
    port = free_port()
    server = start_server(cli, env, port, log, workers=workers)
    try:
        yield port
    finally:
        stop(server)


# --- One round -------------------------------------------------------------------------------


@dataclass
class Ports:
    product: int = 0
    ceiling: int = 0
    product_2w: int = 0


def load_rps(
    port: int, target: Target, callers: int, seconds: float, trouble: Counter[str]
) -> float:
    """200s per second of a closed-loop step (bench.load's callers); what was not a 200 is
    added up in `trouble` for the notes."""
    step = asyncio.run(run_step(port, target, callers, seconds, timeout=30.0))
    where = f"{target.name} on :{port}, {callers} callers"
    trouble[f"{where}: 503 shed"] += step.statuses[503]
    trouble[f"{where}: other 5xx"] += step.server_errors
    trouble[f"{where}: dropped or over 5 s"] += step.dropped + step.hangs
    return step.ok_per_second


def warm_up(setup: Setup, ports: Ports, seconds: float) -> None:
    """One unmeasured load step per server (every worker's first pages pay for imports and
    caches), and a few in-process requests."""
    cookies = {login_session.COOKIE_NAME: setup.cookie}
    for path in (setup.client_page, setup.dense_page, setup.caseload):
        setup.get(path)
    steps = []
    if ports.product:
        steps += [(ports.product, Target("warm-up", setup.client_page, IDENTITY, cookies), 8)]
        steps += [(ports.product, Target("warm-up", setup.caseload, IDENTITY, cookies), 8)]
        steps += [(ports.ceiling, Target("warm-up", "/page/client", IDENTITY, {}), 8)]
        steps += [(ports.ceiling, Target("warm-up", "/page/caseload", IDENTITY, {}), 8)]
    if ports.product_2w:
        steps += [(ports.product_2w, Target("warm-up", setup.client_page, IDENTITY, cookies), 16)]
    for port, target, callers in steps:
        asyncio.run(run_step(port, target, callers, seconds, timeout=30.0))
    if ports.ceiling:
        sizes = []
        for name, planned in setup.plan.pages.items():
            body = httpx.get(f"http://127.0.0.1:{ports.ceiling}/page/{name}", headers=IDENTITY)
            sizes.append(f"{name} {len(body.content):,} B (product {planned.size:,} B)")
        setup.notes.append("DB+template pages as served: " + ", ".join(sizes))


def one_round(
    setup: Setup,
    figures: dict[str, Figure],
    ports: Ports,
    args: argparse.Namespace,
    cli: Path,
    env: dict[str, str],
) -> None:
    want = figures.keys()
    n, seconds = args.requests, args.seconds
    raw = setup.plan.pages
    bearer = f"Bearer {setup.token}"
    pairs: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {
        "1": (
            lambda: setup.server_ms(setup.client_page),
            lambda: raw_replay_ms(setup.engine, raw["client"].statements),
        ),
        "1f": (
            lambda: setup.floor_ms("/page/client"),
            lambda: raw_replay_ms(setup.engine, raw["client"].statements),
        ),
        "1j": (
            lambda: setup.floor_ms("/json/client"),
            lambda: raw_replay_ms(setup.engine, raw["client"].statements),
        ),
        "1s": (
            lambda: setup.server_ms(setup.signed_in_floor("page")),
            lambda: raw_replay_ms(setup.engine, raw["client"].statements),
        ),
        "1e": (
            lambda: setup.floor_ms("/blank"),
            lambda: raw_replay_ms(setup.engine, raw["client"].statements),
        ),
        "2": (
            lambda: setup.server_ms(setup.metrics, Authorization=bearer),
            lambda: raw_replay_ms(setup.engine, raw["metrics"].statements),
        ),
        "2f": (
            lambda: setup.floor_ms("/json/metrics"),
            lambda: raw_replay_ms(setup.engine, raw["metrics"].statements),
        ),
        "2s": (
            lambda: setup.server_ms(setup.signed_in_floor("metrics"), Authorization=bearer),
            lambda: raw_replay_ms(setup.engine, raw["metrics"].statements),
        ),
        "5": (
            lambda: setup.server_ms(setup.dense_page),
            lambda: setup.server_ms(setup.client_page),
        ),
    }
    for row, (product, ceiling) in pairs.items():
        if row in want:
            product_ms, ceiling_ms = paired_p50(product, ceiling, n)
            figures[row].product.append(product_ms)
            figures[row].ceiling.append(ceiling_ms)
    cookies = {login_session.COOKIE_NAME: setup.cookie}
    for row, name, path, callers in (
        ("3", "client", setup.client_page, 8),
        ("4", "caseload", setup.caseload, 8),
    ):
        if row in want:
            ours = Target(f"product {name}", path, IDENTITY, cookies)
            least = Target(f"ceiling {name}", f"/page/{name}", IDENTITY, {})
            figures[row].product.append(
                load_rps(ports.product, ours, callers, seconds, setup.trouble)
            )
            figures[row].ceiling.append(
                load_rps(ports.ceiling, least, callers, seconds, setup.trouble)
            )
    if "6" in want:
        page = Target("product client page", setup.client_page, IDENTITY, cookies)
        figures["6"].ceiling.append(load_rps(ports.product, page, 16, seconds, setup.trouble))
        figures["6"].product.append(load_rps(ports.product_2w, page, 16, seconds, setup.trouble))
    base = f"http://127.0.0.1:{ports.product}"
    if "7" in want:
        files = probes.on_the_wire(
            base, setup.client_page, f"{login_session.COOKIE_NAME}={setup.cookie}"
        )
        figures["7"].product.append(sum(f.received for f in files) / 1000)
        if len(figures["7"].product) == 1:
            setup.notes.append(
                "on the wire: "
                + "; ".join(
                    f"{'the page' if f.path == setup.client_page else f.path.rsplit('/', 1)[-1]} "
                    f"{f.received / 1000:.0f} KB {f.encoding} "
                    f"({f.uncompressed / 1000:.0f} KB uncompressed)"
                    for f in files
                )
                + f"; total uncompressed {sum(f.uncompressed for f in files) / 1000:.0f} KB"
            )
    if any(r in want for r in ("8a", "8b", "8c", "8d")):
        times = probes.in_chromium(
            base + setup.client_page,
            f"http://127.0.0.1:{ports.ceiling}/blank",
            (login_session.COOKIE_NAME, setup.cookie),
        )
        for row, value, blank in (
            ("8a", times.cold_dcl, times.blank_cold_dcl),
            ("8b", times.cold_drawn, times.blank_cold_dcl),
            ("8c", times.warm_dcl, times.blank_warm_dcl),
            ("8d", times.warm_drawn, times.blank_warm_dcl),
        ):
            if row in want:
                figures[row].product.append(value)
                figures[row].ceiling.append(blank)
    if "9" in want:
        started = time.perf_counter()
        response = httpx.get(
            base + setup.pdf, cookies={login_session.COOKIE_NAME: setup.cookie}, timeout=120
        )
        figures["9"].product.append(time.perf_counter() - started)
        if response.status_code != 200 or not response.content.startswith(b"%PDF-"):
            raise RuntimeError(f"summary PDF answered {response.status_code}")
        figures["9"].ceiling.append(probes.blank_print_seconds())
    if "10a" in want or "10b" in want:
        # bench.startup's measurement: launch to the first 200, idle RSS once settled.
        with started_server([str(cli), "serve", "--port"], env) as product:
            pass
        with started_server([sys.executable, "-c", CEILING_SERVER], env) as minimal:
            pass
        for row, value, ceiling in (
            ("10a", product.seconds, minimal.seconds),
            ("10b", product.idle_rss_mib, minimal.idle_rss_mib),
        ):
            if row in want:
                figures[row].product.append(value)
                figures[row].ceiling.append(ceiling)


# --- One engine ------------------------------------------------------------------------------


def selected(figures: dict[str, Figure], only: set[str] | None) -> dict[str, Figure]:
    if not only:
        return figures
    return {k: f for k, f in figures.items() if k in only or k.rstrip(SUB_ROWS) in only}


def run_engine(engine_name: str, args: argparse.Namespace, cli: Path) -> list[str]:
    print(f"\n== {engine_name}: building the practice", flush=True)
    with ExitStack() as stack:
        setup = build(stack, engine_name, args.clients)
        figures = selected(figures_for(engine_name, setup.clients), args.only)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ceilings-")))
        plan_path = tmp / "plan.pickle"
        write_plan(setup.plan, plan_path)
        env = measured_server_env(setup.url)
        ceiling_env = {
            **env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
        ports = Ports()
        servers = set(figures) - NO_SHARED_SERVER
        if servers:
            ports.product = stack.enter_context(product_server(cli, env, tmp / "product.log", 1))
            ports.ceiling = free_port()
            stack.enter_context(
                serving(
                    [sys.executable, "-m", "bench.ceiling_app", "--plan", str(plan_path),
                     "--port", str(ports.ceiling)],
                    ceiling_env,
                    ports.ceiling,
                    tmp / "ceiling.log",
                )
            )  # fmt: skip
        if "6" in figures:
            ports.product_2w = stack.enter_context(
                product_server(cli, env, tmp / "product-2w.log", 2)
            )
        warm_up(setup, ports, args.seconds)
        for round_no in range(1, args.rounds + 1):
            started = time.perf_counter()
            one_round(setup, figures, ports, args, cli, ceiling_env)
            print(
                f"   round {round_no}/{args.rounds} in {time.perf_counter() - started:.0f} s: "
                + ", ".join(
                    f"{k} {_ratio(f.ratios()[-1], f.percent)}"
                    if f.ratios()
                    else f"{k} {_num(f.product[-1], f.unit)}"
                    for k, f in figures.items()
                    if f.product
                ),
                flush=True,
            )
        lines = [
            f"\n### {engine_name}: {args.rounds} rounds, {setup.clients} clients, "
            f"{args.requests} requests per p50, {args.seconds:g} s per load step "
            f"({os.cpu_count()} CPUs, shared with the load driver)",
            "",
            *table(list(figures.values())),
            "",
            *(f"- {note}" for note in setup.notes),
            *(f"- {what}: {n} in all rounds" for what, n in setup.trouble.items() if n),
        ]
        if args.with_midnight:
            lines += midnight(engine_name, args.quick)
    print("\n".join(lines), flush=True)
    return lines


def midnight(engine_name: str, quick: bool) -> list[str]:
    """Row 11 is measured by bench/midnight.py (its own practice of 2,000 clients and a faked
    clock); this is its hook: `run(engine_name)` returning lines, or else its
    `run_backend(backend, clients, callers, views_per_phase)`, which prints its own table."""
    try:
        module = importlib.import_module("bench.midnight")
    except ModuleNotFoundError:
        return ["- 11 caseload after midnight: bench.midnight is not there"]
    run = getattr(module, "run", None)
    if run is not None:
        return [f"- 11 caseload after midnight: {line}" for line in (run(engine_name) or [])]
    run_backend = getattr(module, "run_backend", None)
    if run_backend is None:
        return ["- 11 caseload after midnight: bench.midnight has neither run nor run_backend"]
    print(f"\n== {engine_name}: row 11, bench.midnight", flush=True)
    clients, views = (200, 20) if quick else (2_000, 80)
    run_backend(engine_name, clients, 3, views)
    return [f"- 11 caseload after midnight: bench.midnight's table above ({clients} clients)"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--require-postgres", action="store_true")
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (--quick: 1)")
    parser.add_argument("--clients", type=int, default=150, help="two-year clients (150)")
    parser.add_argument("--requests", type=int, default=None, help="per p50 (10; --quick 3)")
    parser.add_argument("--seconds", type=float, default=None, help="per load step (3; quick 0.5)")
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("--only", type=lambda s: {r.strip() for r in s.split(",") if r.strip()})
    parser.add_argument("--with-midnight", action="store_true", help="row 11 (bench.midnight)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.requests = args.requests or (3 if args.quick else 10)
    # A smoke run's load steps only need to answer; each saturates both cores while it lasts.
    args.seconds = args.seconds or (0.5 if args.quick else 3.0)
    if args.only and (unknown := {r.rstrip(SUB_ROWS) for r in args.only} - set(ROWS)):
        parser.error(f"no such rows: {', '.join(sorted(unknown))}")
    cli = installed_cli()
    engines = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in engines and (why := postgres_reachable()) is not None:
        if args.require_postgres or args.db == "postgresql":
            sys.exit(f"PostgreSQL is not reachable: {why}")
        print(f"== postgresql skipped: {why}")
        engines.remove("postgresql")
    started = time.perf_counter()
    lines: list[str] = []
    for engine_name in engines:
        lines += run_engine(engine_name, args, cli)
    print(f"\n== {time.perf_counter() - started:.0f} s in all", flush=True)
    if len(engines) > 1:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
