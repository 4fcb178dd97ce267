"""`serve --workers N`: real servers, started as an operator would, watched through /proc.

A connection's worker is found from the kernel's own tables: the server side of each
connection is a socket inode in /proc/net/tcp, and the worker holding it has that inode
among its open files. On SQLite, in the SQLite leg only: what is tested is the processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from practice_dashboard.cli import worker_pool

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading and /proc are Linux's"
    ),
    # Processes and sockets, the same whatever the engine: once a run (a minute of servers).
    pytest.mark.engine_independent,
]

CLI = Path(sys.executable).with_name("practice-dashboard")
BURST = 16  # connections opened at once, as bench.ceilings' row 6 does


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(database: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "worker-pool-test-" + "k" * 32,
        "PRACTICE_DASHBOARD_ENVIRONMENT": "development",
        **extra,
    }


class Server:
    """A `practice-dashboard serve --workers 2` process and what it says on stderr."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def get(self, sock: socket.socket) -> bytes:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        return sock.recv(4096)


def _start(database: Path, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(CLI), "serve", *args], env=_environment(database, **env), stderr=sink
        )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    database = tmp_path / "pool.db"
    migrate = subprocess.run(
        [str(CLI), "migrate"], env=_environment(database), capture_output=True, check=False
    )
    assert migrate.returncode == 0, migrate.stderr
    return database


@contextmanager
def _serving(database: Path, log: Path, **env: str) -> Iterator[Server]:
    port = _free_port()
    process = _start(database, log, "--workers", "2", "--port", str(port), "--no-migrate", **env)
    running = Server(process, port, log)
    try:
        _until(lambda: _both_serve(running), "both workers serve")
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture
def server(database: Path, tmp_path: Path) -> Iterator[Server]:
    with _serving(database, tmp_path / "serve.log") as running:
        yield running


def _both_serve(server: Server) -> bool:
    """Both workers have answered (so both have started): a burst of connections, each
    answered, held by both. A worker still starting answers its share once it serves."""
    if len(server.workers()) != 2 or not _answers(server.port):
        return False
    with _burst(server) as (answered, clients):
        if answered != BURST:
            return False
        held = _holders(server, clients)
        return len(held) == 2 and all(held.values())


def _alive(pid: int) -> bool:
    """Running: not gone, and not a zombie waiting for its parent to collect it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _holders(server: Server, clients: list[socket.socket]) -> Counter[int]:
    """How many of `clients`' connections each worker holds the server side of."""
    client_ports = {sock.getsockname()[1] for sock in clients}
    server_sides = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server.port and remote_port in client_ports:
            server_sides.add(fields[9])
    by_worker = {pid: len(_socket_inodes(pid) & server_sides) for pid in server.workers()}
    assert sum(by_worker.values()) == len(clients), by_worker
    return Counter(by_worker)


@contextmanager
def _burst(server: Server) -> Iterator[tuple[int, list[socket.socket]]]:
    """BURST connections opened at once, each asked for a page (on whichever socket it lands:
    one whose worker is (re)starting waits for it): how many got their 200, and the
    connections, open until the block ends."""
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(BURST)]
    try:
        answered = 0
        for sock in clients:
            sock.settimeout(30)
            answered += server.get(sock).startswith(b"HTTP/1.1 200")
        yield answered, clients
    finally:
        for sock in clients:
            sock.close()


def _a_burst_is_answered(server: Server) -> None:
    with _burst(server) as (answered, _):
        assert answered == BURST


def test_a_burst_of_connections_spreads_over_the_workers(server: Server) -> None:
    # uvicorn's shared socket gave all 16 to one worker; with a socket each, the kernel's hash
    # leaves them all on one worker with odds of 2 in 2**16.
    with _burst(server) as (answered, clients):
        assert answered == BURST
        held = _holders(server, clients)
    assert len(held) == 2
    assert all(count > 0 for count in held.values()), held


def test_a_worker_that_dies_is_replaced_and_no_connection_is_refused(server: Server) -> None:
    killed, survivor = server.workers()
    os.kill(killed, signal.SIGKILL)
    # Dead (a connection it had already accepted would die with it), not yet replaced: then
    # connections hashed to its socket wait there, as the parent keeps it open, and the
    # replacement answers them.
    _until(lambda: not _alive(killed), "the killed worker is dead", 10)
    _a_burst_is_answered(server)
    _until(lambda: len(server.workers()) == 2, "a second worker again")
    workers = server.workers()
    assert survivor in workers
    assert killed not in workers
    restart = r"worker [12] stopped \(exit code -9\); starting another on its socket"
    assert re.search(restart, server.log.read_text())


def test_sigterm_stops_every_worker_and_exits_cleanly(server: Server) -> None:
    workers = server.workers()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not _answers(server.port)


def test_ctrl_c_in_the_terminal_stops_every_worker_without_a_traceback(
    database: Path, tmp_path: Path
) -> None:
    # Ctrl-C sends SIGINT to the terminal's whole process group: the parent and its workers.
    log = tmp_path / "serve.log"
    port = _free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(CLI), "serve", "--workers", "2", "--port", str(port), "--no-migrate"],
            env=_environment(database),
            stderr=sink,
            start_new_session=True,  # a group of its own, as a terminal's job is
        )
    running = Server(process, port, log)
    try:
        _until(lambda: _both_serve(running), "both workers serve")
        workers = running.workers()
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert "Traceback" not in log.read_text()
    assert log.read_text().count("Finished server process") == 2


def test_workers_stop_themselves_when_the_serving_process_is_killed(server: Server) -> None:
    workers = server.workers()
    server.process.kill()
    server.process.wait(timeout=10)
    _until(
        lambda: not [pid for pid in workers if Path(f"/proc/{pid}").exists()],
        "orphaned workers stop",
        seconds=15,
    )


def test_a_hung_worker_is_killed_and_replaced(database: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with _serving(database, log, PRACTICE_DASHBOARD_WORKER_TIMEOUT_SECONDS="5") as server:
        hung, survivor = server.workers()
        os.kill(hung, signal.SIGSTOP)  # its event loop stops beating
        try:
            _until(lambda: hung not in server.workers(), "the hung worker is killed", 20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hung, signal.SIGCONT)
        _until(lambda: len(server.workers()) == 2, "a second worker again")
        assert survivor in server.workers()
        _a_burst_is_answered(server)
        assert re.search(r"worker [12] \(pid \d+\) has not answered for \d+ s", log.read_text())
        # The one left alone beat all along: never taken for hung.
        assert log.read_text().count("has not answered") == 1


class _Caller(threading.Thread):
    """Opens a connection and asks for a page, again and again, counting what fails."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.answered, self.failed = port, 0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    ok = sock.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            self.answered += ok
            self.failed += not ok


def test_sighup_replaces_every_worker_and_refuses_no_connection(server: Server) -> None:
    old = set(server.workers())
    caller = _Caller(server.port)
    caller.start()
    try:
        server.process.send_signal(signal.SIGHUP)
        _until(lambda: "every worker replaced" in server.log.read_text(), "the restart ends", 60)
    finally:
        caller.stopping.set()
        caller.join(timeout=60)
    new = set(server.workers())
    assert len(new) == 2
    assert not new & old
    assert caller.failed == 0
    assert caller.answered > 20
    _a_burst_is_answered(server)
    assert server.process.poll() is None


def test_a_replacement_that_cannot_start_leaves_the_workers_serving(
    database: Path, tmp_path: Path
) -> None:
    # A deploy that broke the code: new interpreters fail at start, the running ones are fine.
    hook = tmp_path / "hook"
    hook.mkdir()
    log = tmp_path / "serve.log"
    with _serving(database, log, PYTHONPATH=str(hook)) as server:
        before = set(server.workers())
        (hook / "sitecustomize.py").write_text("raise SystemExit(1)\n")
        server.process.send_signal(signal.SIGHUP)
        _until(lambda: "failed to start" in log.read_text(), "the restart is given up", 60)
        assert re.search(r"worker 1's replacement failed to start \(exit code 1\)", log.read_text())
        assert set(server.workers()) == before
        _a_burst_is_answered(server)
        assert server.process.poll() is None


def test_a_worker_that_cannot_start_stops_the_server(database: Path, tmp_path: Path) -> None:
    # A database URL no driver can open: the app cannot assemble, in every worker alike.
    log = tmp_path / "serve.log"
    args = ("--workers", "2", "--port", str(_free_port()), "--no-migrate")
    process = _start(database, log, *args, DATABASE_URL="nosuchdb://nowhere")
    process.wait(timeout=60)
    assert process.returncode == worker_pool.STARTUP_FAILURE
    assert "failed to start" in log.read_text()
    assert "Can't load plugin: sqlalchemy.dialects:nosuchdb" in log.read_text()


def test_a_port_already_listened_on_is_refused(database: Path, tmp_path: Path) -> None:
    # Even by a socket that allows sharing the port, as another pool's would.
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        log = tmp_path / "serve.log"
        process = _start(database, log, "--workers", "2", "--port", str(port), "--no-migrate")
        process.wait(timeout=60)
    assert process.returncode == worker_pool.STARTUP_FAILURE
    assert f"127.0.0.1:{port} is already in use" in log.read_text()


async def _ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The least an app can answer: 200 to any request."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_stopping_worker_answers_a_request_already_on_its_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection the worker accepted just before it was told to stop, whose request arrives
    a moment later, is answered: not closed unanswered (as uvicorn closes every connection
    without a request in progress the moment it shuts down), which a client sees as a reset
    page, and which would lose a form's POST."""
    # A longer wait than the worker's own, so a busy test machine cannot make the request late.
    monkeypatch.setattr(worker_pool, "REQUESTS_ON_THEIR_WAY_SECONDS", 2.0)
    sock = worker_pool.listening_socket("127.0.0.1", 0, 16)
    port = sock.getsockname()[1]
    read_end, write_end = os.pipe()
    config = uvicorn.Config(_ok_app, lifespan="off", log_level="warning")
    server = worker_pool._WorkerServer(config, write_end, beat_seconds=60.0)
    serving = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    serving.start()
    try:
        _until(lambda: server.started, "the worker serves", 10)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            _until(lambda: bool(server.server_state.connections), "the connection is accepted", 5)
            server.should_exit = True  # as its SIGTERM handler does
            time.sleep(0.2)  # the worker's loop has noticed (it looks every 0.1 s)
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert client.recv(64).startswith(b"HTTP/1.1 200")
        serving.join(timeout=10)
        assert not serving.is_alive()
    finally:
        server.should_exit = True
        serving.join(timeout=10)
        sock.close()
        os.close(read_end)
        os.close(write_end)
