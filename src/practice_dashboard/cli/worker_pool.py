"""`serve --workers N`: N uvicorn workers, each with a listening socket of its own.

uvicorn's own workers share one listening socket, and each worker's event loop accepts every
connection waiting when it wakes: a burst of kept-alive connections all landed on one worker
(16 of 16 in 6 of 6 tries, `ss -tnp`), so two workers served a burst no faster than one.
Here every worker listens on its own socket bound with SO_REUSEPORT, and the kernel spreads
new connections over the sockets by a hash of their addresses.

The parent owns the sockets, so a worker that dies is replaced on the very same socket and the
connections queued on it wait for the replacement instead of being refused. It stops every
worker on SIGINT or SIGTERM; a worker that fails to start stops the whole server (exit code 3,
uvicorn's), since its replacement would fail the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Final, TypedDict

import uvicorn

APP: Final = "practice_dashboard.asgi:app"
STARTUP_FAILURE: Final = 3  # uvicorn's exit code for a server that could not start
# How long a stopping worker may take to finish its requests before it is killed.
STOP_GRACE_SECONDS: Final = 30.0
BACKLOG: Final = 2048  # uvicorn's default, per worker's socket
# A worker checks this often that its parent is alive, and stops once it is not.
ORPHAN_CHECK_SECONDS: Final = 1.0

logger = logging.getLogger("uvicorn.error")


class PortInUseError(OSError):
    """Something already listens on the port (perhaps another `serve`)."""


class ServerOptions(TypedDict):
    proxy_headers: bool


# Every worker's uvicorn settings beyond host and port, with one worker or many.
# The app believes X-Forwarded-* only from PRACTICE_DASHBOARD_FORWARDED_ALLOW_IPS
# (create_app); uvicorn's own handling would trust its FORWARDED_ALLOW_IPS as well.
SERVER_OPTIONS: Final[ServerOptions] = {"proxy_headers": False}


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int]]:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, (str(address[0]), int(address[1]))


def ensure_port_free(host: str, port: int) -> None:
    """Fail if anything listens on host:port.

    The workers' sockets share the port on purpose (SO_REUSEPORT), which would as quietly let
    them share it with another server run by the same user; this probe binds without it, so
    any listener at all makes it fail.
    """
    family, address = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn's own socket: a connection of an earlier run in TIME_WAIT is no listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise PortInUseError(
                error.errno, f"{host}:{port} is already in use ({error.strerror})"
            ) from error


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A socket listening on host:port that shares the port with the other workers'."""
    family, address = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


class _WorkerServer(uvicorn.Server):
    """A uvicorn server that tells its parent, through a pipe, once it serves."""

    def __init__(self, config: uvicorn.Config, ready_fd: int) -> None:
        super().__init__(config)
        self._ready_fd = ready_fd

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # A parent that has stopped reading is stopping this worker anyway.
            with contextlib.suppress(OSError):
                os.write(self._ready_fd, b"1")
            os.close(self._ready_fd)


def _stop_when_orphaned(server: uvicorn.Server, parent: int) -> None:
    # A parent killed outright (SIGKILL, OOM) cannot stop its workers: they stop themselves.
    while not server.should_exit:
        if os.getppid() != parent:
            logger.warning("the serving process %d is gone; stopping", parent)
            server.should_exit = True
            return
        time.sleep(ORPHAN_CHECK_SECONDS)


def run_worker(host: str, port: int, listen_fd: int, ready_fd: int, parent: int) -> int:
    """A worker process: serve the app on the socket it was handed until told to stop."""
    # Ctrl-C reaches the whole process group, and the parent answers it with a SIGTERM to each
    # worker. While serving, uvicorn's own handler shuts down gracefully either way; before
    # (importing the app) and after (uvicorn raises the signal that stopped it again), a
    # KeyboardInterrupt here would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS)
    server = _WorkerServer(config, ready_fd)
    threading.Thread(
        target=_stop_when_orphaned, args=(server, parent), name="orphan-check", daemon=True
    ).start()
    with socket.socket(fileno=listen_fd) as sock:
        server.run(sockets=[sock])
    return 0 if server.started else STARTUP_FAILURE


@dataclass
class _Slot:
    """One worker's place: its socket outlives the processes that serve on it."""

    number: int
    sock: socket.socket
    process: subprocess.Popen[bytes] | None = None
    exited: int | None = None  # a pidfd, readable once the process has exited
    ready: int | None = None  # the read end of the pipe the worker writes to once it serves
    started: bool = False


class WorkerPool:
    """Start, watch, replace and stop the workers of one `serve`."""

    def __init__(self, host: str, port: int, workers: int) -> None:
        self.host, self.port, self.workers = host, port, workers
        self._slots: list[_Slot] = []
        self._wakeup_read, self._wakeup_write = os.pipe()
        self._stopping = False

    def _start(self, slot: _Slot) -> None:
        ready_read, ready_write = os.pipe()
        listen_fd = slot.sock.fileno()
        # A fresh interpreter running only this module: it imports the app as a lone uvicorn
        # would, and nothing of the command line (a forked or spawned copy would carry it).
        command = [sys.executable, "-m", __name__, self.host, str(self.port)]
        command += [str(listen_fd), str(ready_write), str(os.getpid())]
        try:
            slot.process = subprocess.Popen(command, pass_fds=(listen_fd, ready_write))
        finally:
            os.close(ready_write)
        slot.exited = os.pidfd_open(slot.process.pid)
        slot.ready, slot.started = ready_read, False

    def _on_signal(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit code (0, or 3 if a worker failed to start)."""
        ensure_port_free(self.host, self.port)
        for number in range(1, self.workers + 1):
            sock = listening_socket(self.host, self.port, BACKLOG)
            self._slots.append(_Slot(number, sock))
        os.set_blocking(self._wakeup_write, False)
        previous_wakeup = signal.set_wakeup_fd(self._wakeup_write)
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            logger.info(
                "Serving on http://%s:%d with %d workers, each on a socket of its own (parent %d)",
                self.host,
                self.port,
                self.workers,
                os.getpid(),
            )
            for slot in self._slots:
                self._start(slot)
            return self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            for slot in self._slots:
                slot.sock.close()
            os.close(self._wakeup_read)
            os.close(self._wakeup_write)

    def _watch(self) -> int:
        while not self._stopping:
            exits = {slot.exited: slot for slot in self._slots if slot.exited is not None}
            readies = {slot.ready: slot for slot in self._slots if slot.ready is not None}
            # A signal writes to the wake-up pipe, so it ends the wait at once.
            readable, _, _ = select.select([*exits, *readies, self._wakeup_read], [], [])
            for fd in readable:
                if fd == self._wakeup_read:
                    os.read(fd, 512)
                elif fd in readies:
                    slot = readies[fd]
                    slot.started = os.read(fd, 1) == b"1"
                    os.close(fd)
                    slot.ready = None
                elif not self._stopping:
                    slot = exits[fd]
                    if not slot.started and slot.ready is not None:
                        # It may have written to the pipe just before it exited.
                        slot.started = os.read(slot.ready, 1) == b"1"
                    exit_code = self._reap(slot)
                    if not slot.started:
                        logger.error(
                            "worker %d failed to start (exit code %s); stopping",
                            slot.number,
                            exit_code,
                        )
                        return STARTUP_FAILURE
                    logger.warning(
                        "worker %d stopped (exit code %s); starting another on its socket",
                        slot.number,
                        exit_code,
                    )
                    self._start(slot)
                    break  # the fds just waited on have changed
        return 0

    def _reap(self, slot: _Slot) -> int:
        """Collect an exited worker and close what the parent held for it; its exit code."""
        assert slot.process is not None
        exit_code = slot.process.wait()
        for fd in (slot.exited, slot.ready):
            if fd is not None:
                os.close(fd)
        slot.process = slot.exited = slot.ready = None
        return exit_code

    def _stop_all(self) -> None:
        running = [slot for slot in self._slots if slot.process is not None]
        for slot in running:
            assert slot.process is not None
            slot.process.terminate()  # SIGTERM: uvicorn finishes what it is answering
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for slot in running:
            assert slot.process is not None
            try:
                slot.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("worker %d did not stop in time; killing it", slot.number)
                slot.process.kill()
            self._reap(slot)


def serve_workers(host: str, port: int, workers: int) -> int:
    """Serve the app with `workers` processes; the exit code."""
    # Built for its side effect: uvicorn's logging, so the pool logs as the workers do.
    uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS)
    return WorkerPool(host, port, workers).run()


if __name__ == "__main__":
    # How WorkerPool starts a worker: host, port, listening fd, ready fd, parent pid.
    host_arg, *numbers = sys.argv[1:]
    port_number, listen, ready, parent_pid = (int(number) for number in numbers)
    sys.exit(run_worker(host_arg, port_number, listen, ready, parent_pid))
