"""Start-up of a worker: `practice-dashboard serve` to its first 200, and its idle memory.

    .venv/bin/python -m bench.startup              # 5 starts, median and spread
    .venv/bin/python -m bench.startup --repeat 10

Each start runs the installed `practice-dashboard serve` (uvicorn, one worker, its default
`--migrate` against an already migrated database, as a real restart does) on a free loopback
port with a fresh SQLite database, polls GET /healthz until it answers 200, and reads the
server's resident memory (VmRSS) after a second of idleness.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HEALTH_PATH = "/healthz"
TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def one_start(cli: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from launch to the first 200, and idle RSS in MiB."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not answers(url):
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}")
            if time.perf_counter() - started > TIMEOUT_S:
                raise RuntimeError(f"no 200 from {url} within {TIMEOUT_S:.0f} s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        time.sleep(1.0)
        return elapsed, rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cli = Path(sys.executable).parent / "practice-dashboard"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/startup.db",
            "SECRET_KEY": "startup-benchmark-" + "k" * 32,
            "PRACTICE_DASHBOARD_ENVIRONMENT": "development",
        }
        subprocess.run([str(cli), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        runs = [one_start(cli, env) for _ in range(args.repeat)]
    seconds = [s for s, _ in runs]
    memory = [m for _, m in runs]
    print(
        f"first 200 on {HEALTH_PATH}: median {statistics.median(seconds):.2f} s "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f}, n={len(runs)}); "
        f"idle RSS median {statistics.median(memory):.0f} MiB"
    )


if __name__ == "__main__":
    main()
