"""`serve --workers N`: N uvicorn workers, each with a listening socket of its own.

uvicorn's own workers share one listening socket, and each worker's event loop accepts every
connection waiting when it wakes: a burst of kept-alive connections all landed on one worker
(16 of 16 in 6 of 6 tries, `ss -tnp`), so two workers served a burst no faster than one.
Here every worker listens on its own socket bound with SO_REUSEPORT, and the kernel spreads
new connections over the sockets by a hash of their addresses.

The parent owns the sockets, so a worker that dies is replaced on the very same socket and the
connections queued on it wait for the replacement instead of being refused. A worker's event
loop sends a heartbeat down a pipe; one silent for `worker_timeout_seconds` (hung) is killed
and replaced the same way. The parent stops every worker on SIGINT or SIGTERM; a worker that
fails to start stops the whole server (exit code 3, uvicorn's), since its replacement would
fail the same way.
"""

from __future__ import annotations

import asyncio
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
# Heartbeats per worker timeout: a few may be late on a busy machine before one counts as hung.
BEATS_PER_TIMEOUT: Final = 6
STARTED, BEAT = b"1", b"."  # what a worker writes to its parent: once, then every beat

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
    """A uvicorn server that tells its parent, through a pipe, once it serves, and then beats
    from its event loop: a loop that stops beating is hung."""

    def __init__(self, config: uvicorn.Config, pipe: int, beat_seconds: float) -> None:
        super().__init__(config)
        self._pipe = pipe
        self._beat_seconds = beat_seconds
        self._beating: asyncio.Task[None] | None = None

    def _tell(self, message: bytes) -> None:
        # A parent that has stopped reading is stopping this worker anyway; a full pipe (a
        # parent that is not reading now) must not block the loop.
        with contextlib.suppress(OSError):
            os.write(self._pipe, message)

    async def _beat(self) -> None:
        while not self.should_exit:
            await asyncio.sleep(self._beat_seconds)
            self._tell(BEAT)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            os.set_blocking(self._pipe, False)
            self._tell(STARTED)
            self._beating = asyncio.get_running_loop().create_task(self._beat())


def _stop_when_orphaned(server: uvicorn.Server, parent: int) -> None:
    # A parent killed outright (SIGKILL, OOM) cannot stop its workers: they stop themselves.
    while not server.should_exit:
        if os.getppid() != parent:
            logger.warning("the serving process %d is gone; stopping", parent)
            server.should_exit = True
            return
        time.sleep(ORPHAN_CHECK_SECONDS)


def run_worker(
    host: str, port: int, listen_fd: int, pipe: int, beat_seconds: float, parent: int
) -> int:
    """A worker process: serve the app on the socket it was handed until told to stop."""
    # Ctrl-C reaches the whole process group, and the parent answers it with a SIGTERM to each
    # worker. While serving, uvicorn's own handler shuts down gracefully either way; before
    # (importing the app) and after (uvicorn raises the signal that stopped it again), a
    # KeyboardInterrupt here would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS)
    server = _WorkerServer(config, pipe, beat_seconds)
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
    pipe: int | None = None  # the read end of the pipe the worker tells STARTED and BEATs on
    started: bool = False
    heard: float = 0.0  # when the worker last wrote (time.monotonic)


class WorkerPool:
    """Start, watch, replace and stop the workers of one `serve`."""

    def __init__(self, host: str, port: int, workers: int, *, timeout: float) -> None:
        self.host, self.port, self.workers = host, port, workers
        self.timeout = timeout
        self._slots: list[_Slot] = []
        self._wakeup_read, self._wakeup_write = os.pipe()
        self._stopping = False

    def _start(self, slot: _Slot) -> None:
        pipe_read, pipe_write = os.pipe()
        listen_fd = slot.sock.fileno()
        beat = self.timeout / BEATS_PER_TIMEOUT
        # A fresh interpreter running only this module: it imports the app as a lone uvicorn
        # would, and nothing of the command line (a forked or spawned copy would carry it).
        command = [sys.executable, "-m", __name__, self.host, str(self.port)]
        command += [str(listen_fd), str(pipe_write), repr(beat), str(os.getpid())]
        try:
            slot.process = subprocess.Popen(command, pass_fds=(listen_fd, pipe_write))
        finally:
            os.close(pipe_write)
        slot.exited = os.pidfd_open(slot.process.pid)
        slot.pipe, slot.started, slot.heard = pipe_read, False, time.monotonic()

    def _on_signal(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit code (0, or 3 if a worker failed to start)."""
        ensure_port_free(self.host, self.port)
        for number in range(1, self.workers + 1):
            sock = listening_socket(self.host, self.port, BACKLOG)
            # Port 0: the kernel picked one for the first socket; the others join it there.
            self.port = int(sock.getsockname()[1])
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
            pipes = {slot.pipe: slot for slot in self._slots if slot.pipe is not None}
            # A signal writes to the wake-up pipe, so it ends the wait at once.
            readable, _, _ = select.select(
                [*exits, *pipes, self._wakeup_read], [], [], self.timeout / BEATS_PER_TIMEOUT
            )
            for fd in readable:
                if fd == self._wakeup_read:
                    os.read(fd, 512)
                elif fd in pipes:
                    self._hear(pipes[fd])
                elif not self._stopping:
                    slot = exits[fd]
                    if slot.pipe is not None:
                        self._hear(slot)  # it may have written just before it exited
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
            self._kill_hung()
        return 0

    def _hear(self, slot: _Slot) -> None:
        """Read what a worker wrote: it has started, it beats, or (end of file) it is gone."""
        assert slot.pipe is not None
        message = os.read(slot.pipe, 512)
        if not message:
            os.close(slot.pipe)
            slot.pipe = None
            return
        slot.started = slot.started or STARTED in message
        slot.heard = time.monotonic()

    def _kill_hung(self) -> None:
        """Kill a started worker whose loop has not beaten for the timeout; its exit then
        replaces it. (A worker still starting is not timed: a cold start may be slow.)"""
        now = time.monotonic()
        for slot in self._slots:
            if slot.process is None or not slot.started or now - slot.heard < self.timeout:
                continue
            logger.error(
                "worker %d (pid %d) has not answered for %.0f s; killing it",
                slot.number,
                slot.process.pid,
                now - slot.heard,
            )
            slot.process.kill()
            slot.heard = now  # once: its exit comes next

    def _reap(self, slot: _Slot) -> int:
        """Collect an exited worker and close what the parent held for it; its exit code."""
        assert slot.process is not None
        exit_code = slot.process.wait()
        for fd in (slot.exited, slot.pipe):
            if fd is not None:
                os.close(fd)
        slot.process = slot.exited = slot.pipe = None
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


def supported() -> bool:
    """Whether this system has what the pool needs (Linux): elsewhere uvicorn's own workers
    serve, sharing one socket."""
    return hasattr(os, "pidfd_open") and hasattr(socket, "SO_REUSEPORT") and sys.platform == "linux"


def serve_workers(host: str, port: int, workers: int, *, timeout: float) -> int:
    """Serve the app with `workers` processes; the exit code."""
    # Built for its side effect: uvicorn's logging, so the pool logs as the workers do.
    uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS)
    return WorkerPool(host, port, workers, timeout=timeout).run()


if __name__ == "__main__":
    # How WorkerPool starts a worker: host, port, listening fd, pipe fd, beat, parent pid.
    host_arg, port_arg, listen_arg, pipe_arg, beat_arg, parent_arg = sys.argv[1:]
    port_number, listen, pipe, parent_pid = map(int, (port_arg, listen_arg, pipe_arg, parent_arg))
    sys.exit(run_worker(host_arg, port_number, listen, pipe, float(beat_arg), parent_pid))
