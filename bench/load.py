"""Read load through the real server: the client page and the metrics API at rising concurrency.

    .venv/bin/python -m bench.load                                  # both databases
    .venv/bin/python -m bench.load --engine sqlite --seconds 5

Per engine: a scratch database (SQLite in a temp folder; PostgreSQL a scratch database on
127.0.0.1:5432, skipped with a message when unreachable), migrated, with a small practice from
`bench.generate` (20 clients over 2 years plus one client with 5 years of daily data). The
installed `practice-dashboard serve` (uvicorn, loopback, a free port; 1 worker on SQLite, 1 and
2 workers on PostgreSQL) serves it with its default settings. The long client's practitioner
then asks for that client's page (`/clients/{id}`, signed in with a browser login) and its
metrics (`/api/v1/clients/{id}/metrics`, bearer token) from `c` concurrent callers, each on
its own connection (as each person's browser is) and sending its next request as soon as the
last is answered, for `--seconds` at each of c = 1, 16, 64 and 128, in `--rounds` rounds that
interleave the concurrencies (OK/s is the median round's; the other columns pool the rounds).
Every request is a read that the server audits. A last step per server has one caller read
the metrics while `--logins` callers (48 by default) post wrong passwords for made-up e-mails
to `/api/v1/auth/token` as fast as they are answered: the signed-in caller's row, and the
login answers by status.

Counted per row: answered requests and their rate, latency percentiles, server errors (5xx
other than 503), 503s (the overload guard shedding load, with Retry-After), hangs (answers
slower than 5 s, and requests that got no answer within `--timeout`) and connections closed
without an answer (dropped); how late the callers' own event loop ran (caller lag: a latency
near it is the load generator's, not the server's); the server processes' CPU time per OK
answer, from /proc (whether concurrency costs the server more per answer: once one caller
keeps a worker busy, that is all that can lower the rate); and how busy the machine was, with
the load generator's own share of a core. After the table, each concurrency's OK/s against
one caller's, the median of the rounds' ratios. Loopback only; bounded by `--seconds` per
step and `--timeout` per request; the scratch databases are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.checkin_load import (
    measured_server_env,
    postgres_reachable,
    scratch_database,
    server_env,
    start_server,
)
from bench.generate import generate
from bench.run import percentile
from bench.startup import free_port, installed_cli
from practice_dashboard.cli.common import unit_of_work
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine
from practice_dashboard.models import User
from practice_dashboard.security import create_access_token
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.accounts.login_session import COOKIE_NAME

CONCURRENCY = (1, 16, 64, 128)
HANG_SECONDS = 5.0
SHED = 503


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    path: str
    headers: dict[str, str]
    cookies: dict[str, str]


@dataclass
class Step:
    latencies_s: list[float] = field(default_factory=list)
    ok_latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0
    dropped: int = 0
    wall_s: float = 0.0
    #: The longest this process's event loop was late (its own CPU starvation, not the
    #: server's): a latency near it says more about the load generator than the server.
    client_lag_s: float = 0.0
    #: CPU seconds the server's processes used during the step (None: not measurable here).
    server_cpu_s: float | None = None
    #: CPU seconds this load generator used during the step.
    caller_cpu_s: float = 0.0
    #: Busy and total CPU time of the whole machine during the step (all cores, /proc/stat).
    machine_busy_s: float = 0.0
    machine_total_s: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies_s)

    @property
    def cpu_ms_per_ok(self) -> str:
        """Server CPU per OK answer: whether concurrency costs the server more per page."""
        if self.server_cpu_s is None or not self.statuses[200]:
            return "-"
        return f"{self.server_cpu_s / self.statuses[200] * 1000:.1f}"

    @property
    def shares(self) -> str:
        """The machine's cores busy, and this load generator's part of one core, in %: on a
        small machine the callers take CPU from the server they measure."""
        busy = (
            f"{self.machine_busy_s / self.machine_total_s * 100:.0f}"
            if self.machine_total_s
            else "-"
        )
        caller = f"{self.caller_cpu_s / self.wall_s * 100:.0f}" if self.wall_s else "-"
        return f"{busy} | {caller}"

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != SHED)

    @property
    def hangs(self) -> int:
        return sum(1 for t in self.latencies_s if t > HANG_SECONDS) + self.no_answer

    #: OK/s of each round, when the step is several rounds pooled (`add`).
    round_rates: list[float] = field(default_factory=list)

    @property
    def ok_per_second(self) -> float:
        """The median round's OK/s (pooled over the whole step when it ran once)."""
        if self.round_rates:
            return statistics.median(self.round_rates)
        return self.statuses[200] / self.wall_s if self.wall_s else 0.0

    def add(self, round_: Step) -> None:
        """Pool one more round of the same step into this one."""
        self.latencies_s += round_.latencies_s
        self.ok_latencies_s += round_.ok_latencies_s
        self.statuses.update(round_.statuses)
        self.no_answer += round_.no_answer
        self.dropped += round_.dropped
        self.wall_s += round_.wall_s
        self.client_lag_s = max(self.client_lag_s, round_.client_lag_s)
        if round_.server_cpu_s is not None:
            self.server_cpu_s = (self.server_cpu_s or 0.0) + round_.server_cpu_s
        self.caller_cpu_s += round_.caller_cpu_s
        self.machine_busy_s += round_.machine_busy_s
        self.machine_total_s += round_.machine_total_s
        self.round_rates.append(round_.ok_per_second)


def prepare(url: str, cli: Path, settings: Settings) -> tuple[list[Target], int]:
    """Migrate, generate the practice, sign its long client's practitioner in twice."""
    subprocess.run(
        [str(cli), "migrate"], env=server_env(url), check=True, stdout=subprocess.DEVNULL
    )
    engine = create_db_engine(settings)
    try:
        practice = generate(engine, settings, clients=20)
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    with unit_of_work(settings) as db:
        owner = db.get(User, practice.long_owner_id)
        assert owner is not None
        cookie, _ = login_session.start(db, settings, user=owner, now=now, ip="127.0.0.1")
    token = create_access_token(settings, owner.id, now, generation=owner.token_generation)
    client = practice.long_client_id
    targets = [
        Target("client page", f"/clients/{client}", {}, {COOKIE_NAME: cookie}),
        Target(
            "metrics API",
            f"/api/v1/clients/{client}/metrics",
            {"Authorization": f"Bearer {token}"},
            {},
        ),
    ]
    return targets, practice.rows


async def caller(http: httpx.AsyncClient, target: Target, until: float, step: Step) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        try:
            response = await http.get(target.path)
        except httpx.TimeoutException:
            step.no_answer += 1
            continue
        except httpx.TransportError:
            step.dropped += 1  # the connection closed without an answer
            await asyncio.sleep(0.1)
            continue
        elapsed = time.perf_counter() - started
        step.latencies_s.append(elapsed)
        step.statuses[response.status_code] += 1
        if response.status_code == 200:
            step.ok_latencies_s.append(elapsed)
        if response.status_code == SHED:
            # What a polite client does with Retry-After (capped: the step is short).
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of process `pid` and its children (the workers), from
    /proc; None where there is no /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            # After the command name's closing parenthesis: state, ppid, … utime (12th),
            # stime (13th).
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot, from /proc/stat; zeros without it."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0, 0.0
    ticks = [int(value) for value in first[1:8]]  # user nice system idle iowait irq softirq
    tick = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / tick, sum(ticks) / tick


async def run_step(
    port: int,
    target: Target,
    concurrency: int,
    seconds: float,
    timeout: float,
    server_pid: int | None = None,
) -> Step:
    step = Step()
    async with contextlib.AsyncExitStack() as stack:
        # One connection per caller, as each person's browser has its own: callers sharing
        # one pool waited there for a connection (seconds at 128), counted as the server's.
        callers = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    headers=target.headers,
                    cookies=target.cookies,
                    timeout=timeout,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                )
            )
            for _ in range(concurrency)
        ]
        await callers[0].get(target.path)  # warm: the first answer pays for imports and caches
        cpu_before = server_cpu_seconds(server_pid) if server_pid else None
        machine_before, own_before = machine_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            watch_lag(until, step), *(caller(http, target, until, step) for http in callers)
        )
        step.wall_s = time.perf_counter() - started
        step.caller_cpu_s = time.process_time() - own_before
        machine_after = machine_cpu_seconds()
        step.machine_busy_s = machine_after[0] - machine_before[0]
        step.machine_total_s = machine_after[1] - machine_before[1]
        cpu_after = server_cpu_seconds(server_pid) if server_pid else None
        if cpu_before is not None and cpu_after is not None:
            step.server_cpu_s = cpu_after - cpu_before
    return step


async def watch_lag(until: float, step: Step) -> None:
    """Record how late this event loop wakes from a short sleep (the callers' own delay)."""
    tick = 0.01
    while time.perf_counter() < until:
        asked = time.perf_counter()
        await asyncio.sleep(tick)
        step.client_lag_s = max(step.client_lag_s, time.perf_counter() - asked - tick)


async def guesser(http: httpx.AsyncClient, until: float, answers: Counter[int]) -> None:
    """Wrong passwords for made-up e-mails as fast as they are answered (an attacker's script)."""
    n = 0
    while time.perf_counter() < until:
        n += 1
        try:
            response = await http.post(
                "/api/v1/auth/token",
                data={"username": f"guess{n}@example.org", "password": "not the password"},
            )
        except httpx.HTTPError:
            answers[0] += 1
            continue
        answers[response.status_code] += 1


async def run_logins_beside(
    port: int, target: Target, guessers: int, seconds: float, timeout: float
) -> tuple[Step, Counter[int]]:
    """One signed-in caller on `target` while `guessers` post wrong logins beside it."""
    step, answers = Step(), Counter[int]()
    base = f"http://127.0.0.1:{port}"
    async with (
        httpx.AsyncClient(
            base_url=base, headers=target.headers, cookies=target.cookies, timeout=timeout
        ) as http,
        httpx.AsyncClient(
            base_url=base,
            timeout=timeout,
            limits=httpx.Limits(max_connections=guessers, max_keepalive_connections=guessers),
        ) as attackers,
    ):
        await http.get(target.path)
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            caller(http, target, until, step),
            *(guesser(attackers, until, answers) for _ in range(guessers)),
        )
        step.wall_s = time.perf_counter() - started
    return step, answers


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


def row(label: str, concurrency: int, step: Step) -> str:
    lat = [t * 1000 for t in step.latencies_s]
    ok = [t * 1000 for t in step.ok_latencies_s]

    def ms(q: float) -> str:
        return f"{percentile(lat, q):.0f}" if lat else "-"

    ok_max = f"{max(ok):.0f}" if ok else "-"

    return (
        f"| {label} | {concurrency} | {step.answered} | {step.ok_per_second:.1f} | {ms(0.5)} | "
        f"{ms(0.95)} | {max(lat):.0f} | {ok_max} | {step.server_errors} | {step.statuses[SHED]} | "
        f"{step.hangs} | {step.dropped} | {step.client_lag_s * 1000:.0f} | {step.cpu_ms_per_ok} | "
        f"{step.shares} |"
        if lat
        else f"| {label} | {concurrency} | 0 | 0 | - | - | - | - | - | - | {step.hangs} | "
        f"{step.dropped} | {step.client_lag_s * 1000:.0f} | - | {step.shares} |"
    )


HEADER = (
    "| engine, target | concurrency | answered | OK/s | p50 ms | p95 ms | max ms | max ms (200) | "
    "5xx (not 503) | 503 shed | hangs > 5 s | dropped | caller lag max ms | "
    "server CPU ms per OK | machine busy % | callers' CPU % |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def scaling(label: str, steps: dict[int, Step]) -> str:
    """Each concurrency's OK/s against one caller's, round by round (the median ratio)."""
    if 1 not in steps or not steps[1].round_rates:
        return f"{label}: no one-caller step to compare with"
    alone = steps[1].round_rates
    parts = []
    for concurrency, step in steps.items():
        if concurrency == 1:
            continue
        ratios = [n / one for n, one in zip(step.round_rates, alone, strict=True) if one]
        parts.append(
            f"{concurrency} ÷ 1 = {statistics.median(ratios):.3f} "
            f"({min(ratios):.3f}–{max(ratios):.3f})"
        )
    return f"{label}: throughput {'; '.join(parts)}"


def run_engine(
    engine_name: str, args: argparse.Namespace, cli: Path, ratios: list[str]
) -> list[str]:
    workers_list = (1,) if engine_name == "sqlite" else tuple(args.pg_workers)
    lines: list[str] = []
    with scratch_database(engine_name) as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=url, secret_key=server_env(url)["SECRET_KEY"], environment="development"
        )
        started = time.perf_counter()
        targets, rows = prepare(url, cli, settings)
        print(
            f"== {engine_name}: {rows:,} records in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        for workers in workers_list:
            port = free_port()
            log = Path(tmp) / f"server-{workers}.log"
            env = measured_server_env(url)
            server = start_server(cli, env, port, log, workers=workers)
            try:
                for target in targets:
                    label = f"{engine_name} {workers}w, {target.name}"
                    steps = {concurrency: Step() for concurrency in args.concurrency}
                    # Rounds interleave the concurrencies, so a slow spell of the machine
                    # falls on all of them rather than on one.
                    for _ in range(args.rounds):
                        for concurrency, step in steps.items():
                            step.add(
                                asyncio.run(
                                    run_step(
                                        port,
                                        target,
                                        concurrency,
                                        args.seconds,
                                        args.timeout,
                                        server.pid,
                                    )
                                )
                            )
                    for concurrency, step in steps.items():
                        lines.append(row(label, concurrency, step))
                        print(lines[-1], flush=True)
                    ratios.append(scaling(label, steps))
                    print(ratios[-1], flush=True)
                if args.logins:
                    metrics = targets[-1]
                    step, answers = asyncio.run(
                        run_logins_beside(port, metrics, args.logins, args.seconds, args.timeout)
                    )
                    label = (
                        f"{engine_name} {workers}w, {metrics.name} beside {args.logins} "
                        "wrong logins"
                    )
                    lines.append(row(label, 1, step))
                    print(lines[-1], flush=True)
                    print(f"   login answers: {dict(sorted(answers.items()))}", flush=True)
            finally:
                stop(server)
            errors = [
                line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line
            ]
            if errors:
                print(f"   server log: {len(errors)} ERROR lines, first: {errors[0][:300]}")
            if args.keep_log:
                Path(args.keep_log).write_text(log.read_text(errors="replace"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=8.0, help="Length of each step")
    parser.add_argument("--timeout", type=float, default=30.0, help="Per-request limit")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument(
        "--rounds", type=int, default=3, help="Rounds over the concurrencies (medians reported)"
    )
    parser.add_argument("--pg-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep-log", help="Copy the (last) server log here")
    parser.add_argument(
        "--logins",
        type=int,
        default=48,
        help="Wrong-login callers beside one metrics caller (0: skip that step)",
    )
    args = parser.parse_args()
    cli = installed_cli()
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    lines: list[str] = []
    ratios: list[str] = []
    for engine_name in engines:
        if engine_name == "postgresql" and (why := postgres_reachable()) is not None:
            print(f"== postgresql skipped: {why}")
            continue
        lines += run_engine(engine_name, args, cli, ratios)
    print()
    print(HEADER)
    print("\n".join(lines))
    print()
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
