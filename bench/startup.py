"""Start-up of a worker against its ceiling: `serve` to its first 200, idle memory, first page.

    .venv/bin/python -m bench.startup                          # both databases, 5 rounds
    .venv/bin/python -m bench.startup --engine sqlite --repeat 10

Per engine, a scratch database (as bench.load makes it: SQLite in a temp folder, PostgreSQL a
scratch database on 127.0.0.1:5432, skipped with a message when unreachable), migrated and
given bench.load's practice (20 clients plus one with 5 years of daily data). Each round then
starts, one after the other (interleaved, so both see the same load on a busy machine):

- the product: the installed `practice-dashboard serve` (uvicorn, one worker, its default
  `--migrate` against the already migrated database, as a real restart does);
- the ceiling: a minimal ASGI app that answers 200, run by `uvicorn.run` with the settings
  `serve` gives uvicorn (one worker, loopback, proxy headers off), from the same interpreter.

Each listens on a free loopback port and is polled on GET /healthz until it answers 200. Per
start: the wall time to that answer and the server's CPU time until then (steadier than wall
time on a busy machine); then, once the server has gone idle (its background warm-up done),
its CPU time and resident memory (VmRSS). The product then serves the long client's page
once, signed in: the first page's latency after a start. The project's modules are
byte-compiled first, as the Docker image does, so a start measures loading the code, not
compiling it.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEALTH_PATH = "/healthz"
TIMEOUT_S = 60.0
# Idle: less than 10 ms of CPU in a quarter of a second, looked at from a second after the 200.
IDLE_AFTER_S, IDLE_WINDOW_S, IDLE_CPU_S = 1.0, 0.25, 0.01
ROOT = Path(__file__).resolve().parents[1]

# The ceiling's server: what `practice-dashboard serve` passes to uvicorn, nothing else.
CEILING_SERVER = (
    "import sys, uvicorn; uvicorn.run('bench.startup:ceiling_app', host='127.0.0.1', "
    "port=int(sys.argv[1]), workers=1, reload=False, proxy_headers=False)"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def ceiling_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The least an ASGI app can be: lifespan acknowledged, 200 with a tiny body to anything."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b'{"status":"ok"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def installed_cli() -> Path:
    """The `practice-dashboard` command the benchmarks start: the one installed beside this
    interpreter (the project's .venv), else the one on PATH; exits when there is none."""
    beside = Path(sys.executable).parent / "practice-dashboard"
    if beside.exists():
        return beside
    found = shutil.which("practice-dashboard")
    if found is None:
        sys.exit("practice-dashboard is not installed (run scripts/bootstrap.sh)")
    return Path(found)


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, from /proc (Linux)."""
    # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclass(frozen=True)
class Start:
    port: int
    seconds: float  # launch to the first 200
    cpu_s: float  # the server's CPU time until then
    settled_cpu_s: float  # ... until it went idle (its warm-up included)
    idle_rss_mib: float  # once idle


def settle(pid: int) -> float:
    """Wait (at least a second) until the process stops using CPU; its CPU seconds by then."""
    time.sleep(IDLE_AFTER_S)
    before = cpu_seconds(pid)
    deadline = time.perf_counter() + TIMEOUT_S
    while time.perf_counter() < deadline:
        time.sleep(IDLE_WINDOW_S)
        now = cpu_seconds(pid)
        if now - before < IDLE_CPU_S:
            return now
        before = now
    raise RuntimeError(f"process {pid} still busy after {TIMEOUT_S:.0f} s")


@contextmanager
def started(command: list[str], env: dict[str, str]) -> Iterator[Start]:
    """Launch `command` (its last argument the port), wait for its first 200, measure, stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    began = time.perf_counter()
    server = subprocess.Popen(
        [*command, str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not answers(url):
            if server.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {server.returncode}")
            if time.perf_counter() - began > TIMEOUT_S:
                raise RuntimeError(f"no 200 from {url} within {TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        seconds = time.perf_counter() - began
        cpu = cpu_seconds(server.pid)
        settled = settle(server.pid)
        yield Start(port, seconds, cpu, settled, rss_mib(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=10)


def first_page_ms(port: int, path: str, cookies: dict[str, str]) -> float:
    """Latency of one signed-in GET, which must answer 200."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    return (time.perf_counter() - began) * 1000


def spread(values: list[float], fmt: str) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}} / {mid:{fmt}} / {high:{fmt}}"


def run_engine(engine_name: str, repeat: int, cli: Path) -> None:
    # Imported here: bench.load imports this module's helpers, and the ceiling's server
    # imports this module for `ceiling_app` alone.
    from bench.checkin_load import scratch_database, server_env
    from bench.load import prepare
    from practice_dashboard.config import Settings

    with scratch_database(engine_name) as url:
        env = server_env(url)
        settings = Settings(
            database_url=url, secret_key=env["SECRET_KEY"], environment="development"
        )
        targets, rows = prepare(url, cli, settings)
        page = next(target for target in targets if target.name == "client page")
        product = [str(cli), "serve", "--port"]
        ceiling = [sys.executable, "-c", CEILING_SERVER]
        products: list[Start] = []
        ceilings: list[Start] = []
        pages: list[float] = []
        for _ in range(repeat):
            with started(ceiling, env) as start:
                ceilings.append(start)
            with started(product, env) as start:
                products.append(start)
                pages.append(first_page_ms(start.port, page.path, page.cookies))

    def row(label: str, pick: Callable[[Start], float], fmt: str) -> str:
        ours = [pick(s) for s in products]
        theirs = [pick(s) for s in ceilings]
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        return (
            f"| {label} | {spread(ours, fmt)} | {spread(theirs, fmt)} | {spread(ratios, '.1f')} |"
        )

    print(
        f"\n== {engine_name}: {repeat} rounds, product and ceiling interleaved; "
        f"{rows:,} records; min / median / max"
    )
    print("| figure | product | ceiling | product ÷ ceiling |")
    print("|---|---|---|---|")
    print(row("`serve` to first 200 on /healthz, s", lambda s: s.seconds, ".2f"))
    print(row("CPU until then, s", lambda s: s.cpu_s, ".2f"))
    print(row("CPU until idle (warm-up included), s", lambda s: s.settled_cpu_s, ".2f"))
    print(row("idle RSS per worker, MiB", lambda s: s.idle_rss_mib, ".0f"))
    print(f"| first client page once idle (5-year client), ms | {spread(pages, '.0f')} | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from bench.checkin_load import postgres_reachable

    cli = installed_cli()
    # What the Docker image does at build time; a no-op when the bytecode is already there.
    compileall.compile_dir(ROOT / "src", quiet=1)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    for engine_name in engines:
        if engine_name == "postgresql" and (why := postgres_reachable()) is not None:
            print(f"\n== postgresql skipped: {why}")
            continue
        run_engine(engine_name, args.repeat, cli)


if __name__ == "__main__":
    main()
