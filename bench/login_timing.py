"""Login timing: does a wrong password for an unknown e-mail take as long as for an account?

    .venv/bin/python -m bench.login_timing                      # 100 guesses of each, both engines
    .venv/bin/python -m bench.login_timing --engine sqlite --guesses 40

Per engine: a fresh database with one account, served by the installed `practice-dashboard
serve` (uvicorn, one worker, loopback, production argon2 cost). Wrong passwords for the
account and for an unknown e-mail, in a shuffled order, each from its own source address
(`X-Forwarded-For`, believed from 127.0.0.1, the default trusted proxy) so none is throttled.
Prints each kind's latency and the difference of the means with a 95% interval; then checks
through the real server that the guessing source waits while another source logs in.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.checkin_load import postgres_reachable, scratch_database, server_env, start_server
from bench.startup import free_port, installed_cli
from practice_dashboard.cli.common import unit_of_work
from practice_dashboard.config import Settings
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.user import UserCreate
from practice_dashboard.services.accounts import user as user_service

EMAIL = "timing@example.org"
PASSWORD = "timing-benchmark-password"


def prepare(url: str, cli: Path) -> None:
    import subprocess

    env = server_env(url)
    subprocess.run([str(cli), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    settings = Settings(database_url=url, secret_key=env["SECRET_KEY"], environment="development")
    with unit_of_work(settings) as db:
        user_service.create_user(
            db,
            settings,
            data=UserCreate(
                email=EMAIL, full_name="Timing", role=Role.THERAPIST, password=PASSWORD
            ),
            actor=None,
        )


def _login(client: httpx.Client, email: str, password: str, source: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.post(
        "/api/v1/auth/token",
        data={"username": email, "password": password},
        headers={"X-Forwarded-For": source},
    )
    return response.status_code, (time.perf_counter() - started) * 1000


def _summary(name: str, values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=10)
    return (
        f"   {name:<8} n={len(values)}  mean {statistics.fmean(values):6.1f} ms  "
        f"median {statistics.median(values):6.1f}  p10 {cuts[0]:6.1f}  p90 {cuts[-1]:6.1f}  "
        f"sd {statistics.stdev(values):5.1f}"
    )


def run_engine(engine_name: str, guesses: int, cli: Path) -> None:
    print(f"== {engine_name}: {guesses} wrong guesses for each kind", flush=True)
    with scratch_database(engine_name) as url, tempfile.TemporaryDirectory() as tmp:
        prepare(url, cli)
        port = free_port()
        server = start_server(cli, server_env(url), port, Path(tmp) / "server.log")
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                order = ["known"] * guesses + ["unknown"] * guesses
                random.Random(7).shuffle(order)
                times: dict[str, list[float]] = {"known": [], "unknown": []}
                statuses: set[int] = set()
                for n, kind in enumerate(order):
                    source = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
                    email = EMAIL if kind == "known" else f"nobody{n}@example.org"
                    status, elapsed = _login(client, email, "wrong password", source)
                    statuses.add(status)
                    times[kind].append(elapsed)
                print(_summary("known", times["known"]))
                print(_summary("unknown", times["unknown"]))
                diff = statistics.fmean(times["unknown"]) - statistics.fmean(times["known"])
                se = (
                    statistics.variance(times["known"]) / guesses
                    + statistics.variance(times["unknown"]) / guesses
                ) ** 0.5
                print(
                    f"   unknown - known: {diff:+.1f} ms (95% interval {diff - 1.96 * se:+.1f} "
                    f"to {diff + 1.96 * se:+.1f}); statuses {sorted(statuses)}"
                )
                attacker, owner = "203.0.113.66", "198.51.100.7"
                answers = [_login(client, EMAIL, "guess", attacker)[0] for _ in range(6)]
                right_from_attacker = _login(client, EMAIL, PASSWORD, attacker)[0]
                right_from_owner = _login(client, EMAIL, PASSWORD, owner)[0]
                print(
                    f"   guessing source: {answers}, then the right password: "
                    f"{right_from_attacker}; the owner's source: {right_from_owner}"
                )
        finally:
            server.terminate()
            server.wait(timeout=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--guesses", type=int, default=100)
    args = parser.parse_args(argv)
    cli = installed_cli()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine_name in engines:
        if engine_name == "postgresql" and (why := postgres_reachable()):
            print(f"== postgresql skipped: {why}")
            continue
        run_engine(engine_name, args.guesses, cli)


if __name__ == "__main__":
    main()
