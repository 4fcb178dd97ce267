"""`serve --workers N`: N uvicorn workers, each with a listening socket of its own.

uvicorn's own workers share one listening socket, and each worker's event loop accepts every
connection waiting when it wakes: a burst of kept-alive connections all landed on one worker
(16 of 16 in 6 of 6 tries, `ss -tnp`), so two workers served a burst no faster than one.
Here every worker listens on its own socket bound with SO_REUSEPORT, and the kernel spreads
new connections over the sockets by a hash of their addresses.

The parent owns the sockets, so a worker that dies is replaced on the very same socket and the
connections queued on it wait for the replacement instead of being refused. A worker's event
loop sends a heartbeat down a pipe; one silent for `worker_timeout_seconds` (hung) is killed
and replaced the same way. SIGHUP replaces every worker in turn, each new one started beside
the old on its socket before the old one stops; a stopping worker answers the requests of the
connections it has already accepted, even one still on its way (`_WorkerServer.shutdown`).
The parent stops every worker on SIGINT or SIGTERM; a worker that fails to start stops the
whole server (exit code 3, uvicorn's), since its replacement would fail the same way.
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
from dataclasses import dataclass, field
from typing import Final, TypedDict

import uvicorn

APP: Final = "practice_dashboard.asgi:app"
STARTUP_FAILURE: Final = 3  # uvicorn's exit code for a server that could not start
# How long a stopping worker may take to finish its requests before it is killed.
STOP_GRACE_SECONDS: Final = 30.0
# How long a replacement started by SIGHUP may take to serve before the restart is given up.
START_SECONDS: Final = 120.0
BACKLOG: Final = 2048  # uvicorn's default, per worker's socket
# How long a stopping worker, no longer accepting, waits for the requests of connections it has
# just accepted before it closes those still without one.
REQUESTS_ON_THEIR_WAY_SECONDS: Final = 0.5
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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn stops accepting and at once closes every connection without a request in
        # progress, including one it accepted a moment ago whose request is still on its way:
        # that client gets a closed connection, not an answer (a reset page, a lost POST).
        # Stop accepting first (the socket stays open in the parent and the other workers,
        # so new connections wait there), and give such requests a moment to arrive: those
        # that do are answered, the connection then closed.
        for server in self.servers:
            server.close()
        await asyncio.sleep(REQUESTS_ON_THEIR_WAY_SECONDS)
        await super().shutdown(sockets)


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
    # A hang-up is the parent's to act on (it replaces the workers in turn), not each worker's.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config = uvicorn.Config(APP, host=host, port=port, **SERVER_OPTIONS)
    server = _WorkerServer(config, pipe, beat_seconds)
    threading.Thread(
        target=_stop_when_orphaned, args=(server, parent), name="orphan-check", daemon=True
    ).start()
    # Neither goes on to a process this worker starts (Chromium for PDFs): a pipe kept open
    # there would hide this worker's end from its parent.
    os.set_inheritable(pipe, False)
    with socket.socket(fileno=listen_fd) as sock:
        sock.set_inheritable(False)
        server.run(sockets=[sock])
    return 0 if server.started else STARTUP_FAILURE


@dataclass
class _Worker:
    """One worker process, as its parent sees it."""

    process: subprocess.Popen[bytes]
    exited: int  # a pidfd, readable once the process has exited
    pipe: int | None  # the read end of the pipe it tells STARTED and BEATs on (None: closed)
    started: bool = False
    heard: float = field(default_factory=time.monotonic)  # when it last wrote

    def hear(self) -> None:
        """Read what it wrote: it has started, it beats, or (end of file) it is gone."""
        assert self.pipe is not None
        try:
            message = os.read(self.pipe, 512)
        except BlockingIOError:  # nothing yet (the pipe never blocks the parent)
            return
        if not message:
            os.close(self.pipe)
            self.pipe = None
            return
        self.started = self.started or STARTED in message
        self.heard = time.monotonic()

    def reap(self) -> int:
        """Collect the exited process and close what the parent held for it; its exit code."""
        exit_code = self.process.wait()
        os.close(self.exited)
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None
        return exit_code


@dataclass
class _Slot:
    """One worker's place: its socket outlives the processes that serve on it."""

    number: int
    sock: socket.socket
    worker: _Worker | None = None


class WorkerPool:
    """Start, watch, replace and stop the workers of one `serve`."""

    def __init__(self, host: str, port: int, workers: int, *, timeout: float) -> None:
        self.host, self.port, self.workers = host, port, workers
        self.timeout = timeout
        self._slots: list[_Slot] = []
        self._wakeup_read, self._wakeup_write = os.pipe()
        self._stopping = False
        self._restart_asked = False

    def _spawn(self, slot: _Slot) -> _Worker:
        pipe_read, pipe_write = os.pipe()
        listen_fd = slot.sock.fileno()
        beat = self.timeout / BEATS_PER_TIMEOUT
        # A fresh interpreter running only this module: it imports the app as a lone uvicorn
        # would, and nothing of the command line (a forked or spawned copy would carry it).
        command = [sys.executable, "-m", __name__, self.host, str(self.port)]
        command += [str(listen_fd), str(pipe_write), repr(beat), str(os.getpid())]
        try:
            process = subprocess.Popen(command, pass_fds=(listen_fd, pipe_write))
        finally:
            os.close(pipe_write)
        os.set_blocking(pipe_read, False)
        return _Worker(process, os.pidfd_open(process.pid), pipe_read)

    def _on_stop(self, *_: object) -> None:
        self._stopping = True

    def _on_hangup(self, *_: object) -> None:
        self._restart_asked = True

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit code (0, or 3 if a worker failed to start).
        SIGHUP replaces the workers one at a time (to take up new code installed in place; the
        settings come from this process's environment, which a signal cannot change)."""
        ensure_port_free(self.host, self.port)
        for number in range(1, self.workers + 1):
            sock = listening_socket(self.host, self.port, BACKLOG)
            # Port 0: the kernel picked one for the first socket; the others join it there.
            self.port = int(sock.getsockname()[1])
            self._slots.append(_Slot(number, sock))
        os.set_blocking(self._wakeup_write, False)
        previous_wakeup = signal.set_wakeup_fd(self._wakeup_write)
        handlers = {
            signal.SIGINT: self._on_stop,
            signal.SIGTERM: self._on_stop,
            signal.SIGHUP: self._on_hangup,
        }
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            logger.info(
                "Serving on http://%s:%d with %d workers, each on a socket of its own (parent %d)",
                self.host,
                self.port,
                self.workers,
                os.getpid(),
            )
            for slot in self._slots:
                slot.worker = self._spawn(slot)
            return self._watch()
        finally:
            self._stop([slot.worker for slot in self._slots if slot.worker is not None])
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            for slot in self._slots:
                slot.sock.close()
            os.close(self._wakeup_read)
            os.close(self._wakeup_write)

    def _watch(self) -> int:
        while not self._stopping:
            workers = [(slot, slot.worker) for slot in self._slots if slot.worker is not None]
            exits = {worker.exited: (slot, worker) for slot, worker in workers}
            pipes = {worker.pipe: worker for _, worker in workers if worker.pipe is not None}
            # A signal writes to the wake-up pipe, so it ends the wait at once.
            readable, _, _ = select.select(
                [*exits, *pipes, self._wakeup_read], [], [], self.timeout / BEATS_PER_TIMEOUT
            )
            for fd in readable:
                if fd == self._wakeup_read:
                    os.read(fd, 512)
                elif fd in pipes:
                    pipes[fd].hear()
                elif not self._stopping:
                    slot, worker = exits[fd]
                    if worker.pipe is not None:
                        worker.hear()  # it may have written just before it exited
                    exit_code = worker.reap()
                    slot.worker = None
                    if not worker.started:
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
                    slot.worker = self._spawn(slot)
                    break  # the fds just waited on have changed
            self._kill_hung()
            if self._restart_asked and not self._stopping:
                self._restart_asked = False
                self._restart_all()
        return 0

    def _kill_hung(self) -> None:
        """Kill a started worker whose loop has not beaten for the timeout; its exit then
        replaces it. (A worker still starting is not timed: a cold start may be slow.)"""
        now = time.monotonic()
        for slot in self._slots:
            worker = slot.worker
            if worker is None or not worker.started or now - worker.heard < self.timeout:
                continue
            if worker.pipe is not None:
                # A beat written while the pool looked elsewhere (a SIGHUP restart waiting on
                # another worker, or a replacement just made) is not silence.
                worker.hear()
                if now - worker.heard < self.timeout:
                    continue
            logger.error(
                "worker %d (pid %d) has not answered for %.0f s; killing it",
                slot.number,
                worker.process.pid,
                now - worker.heard,
            )
            worker.process.kill()
            worker.heard = now  # once: its exit comes next

    def _restart_all(self) -> None:
        """Replace each worker in turn: the new one serves on the slot's socket beside the old,
        which is stopped only once the new one has started, so no connection is refused. A
        replacement that cannot start leaves the old workers serving."""
        logger.info("SIGHUP: replacing the workers one at a time")
        for slot in self._slots:
            old = slot.worker
            new = self._spawn(slot)
            if not self._started(new):
                new.process.kill()
                exit_code = new.reap()
                if not self._stopping:
                    logger.error(
                        "worker %d's replacement failed to start (exit code %s); the running "
                        "workers stay",
                        slot.number,
                        exit_code,
                    )
                return
            slot.worker = new
            if old is not None:
                self._stop([old])
        logger.info("SIGHUP: every worker replaced")

    def _started(self, worker: _Worker) -> bool:
        """Wait until `worker` serves (True), or exits, takes longer than START_SECONDS, or the
        pool is told to stop (False)."""
        deadline = time.monotonic() + START_SECONDS
        while not self._stopping:
            assert worker.pipe is not None
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            fds = [worker.pipe, worker.exited, self._wakeup_read]
            readable, _, _ = select.select(fds, [], [], left)
            if self._wakeup_read in readable:
                os.read(self._wakeup_read, 512)
            if worker.pipe in readable:
                worker.hear()
                if worker.started:
                    return True
            if worker.exited in readable or worker.pipe is None:
                return False
        return False

    def _stop(self, workers: list[_Worker]) -> None:
        """SIGTERM (uvicorn finishes what it is answering), then SIGKILL after the grace."""
        for worker in workers:
            worker.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("worker pid %d did not stop in time; killing it", worker.process.pid)
                worker.process.kill()
            worker.reap()


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
