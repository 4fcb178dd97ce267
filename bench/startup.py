"""Start-up of a worker: `practice-dashboard serve` to its first 200, and its idle memory.

    .venv/bin/python -m bench.startup              # 5 starts, median and spread
    .venv/bin/python -m bench.startup --repeat 10

Each start runs the installed `practice-dashboard serve` (uvicorn, one worker, its default
`--migrate` against an already migrated database, as a real restart does) on a free loopback
port with a fresh SQLite database and polls GET /healthz until it answers 200. It reports the
wall time to that answer, the server's CPU time until then (steadier than wall time on a busy
machine) and its resident memory (VmRSS) after a second of idleness.
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


def one_start(cli: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds from launch to the first 200, CPU seconds until then, and idle RSS in MiB."""
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
        cpu = cpu_seconds(server.pid)
        time.sleep(1.0)
        return elapsed, cpu, rss_mib(server.pid)
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
    seconds = [s for s, _, _ in runs]
    cpu = [c for _, c, _ in runs]
    memory = [m for _, _, m in runs]
    print(
        f"first 200 on {HEALTH_PATH}: median {statistics.median(seconds):.2f} s "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f}, n={len(runs)}); "
        f"CPU until then median {statistics.median(cpu):.2f} s; "
        f"idle RSS median {statistics.median(memory):.0f} MiB"
    )


if __name__ == "__main__":
    main()
