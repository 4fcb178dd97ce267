"""One headless Chromium, driven over the DevTools protocol through a pipe.

Chromium's ``--remote-debugging-pipe`` reads protocol messages on its fd 3 and writes replies
and events on its fd 4, each a JSON object ended by a NUL byte. No port is opened, so no other
local process can drive this browser, and no dependency beyond the standard library is needed.

Many threads may call :meth:`Browser.call` at once: each call gets its own id, one reader
thread hands every reply to the call that waits for it and every event to the handler of its
session (a page's flattened DevTools session). When a session ends (its page closed or its
renderer gone), the calls still waiting on it fail at once: Chromium drops a command that
reached the session as it ended, and its caller would otherwise wait out its deadline.

The browser and its helper processes run in a session of their own, so they can be stopped
together; the browser is always reaped (no zombie) by whoever stops it.
"""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: Flags that keep the browser quiet and offline; the page's own requests are checked too.
FLAGS: Final = (
    "--headless",
    "--no-sandbox",  # the container's user namespace rules out Chromium's own sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",  # Docker's /dev/shm is 64 MB
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    # Offline by construction: no host name resolves, so a stray URL fails instead of leaking.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # No browser-UI pages (omnibox pop-ups) in each new window: two renderers per PDF saved.
    "--disable-features=PreloadTopChromeWebUI,WebUIOmniboxPopup,WebUIOmniboxAimPopup,"
    "WebUIOmniboxFullPopup",
)

#: The fds Chromium reads commands from and writes replies to (fixed by Chromium).
_CHILD_IN: Final = 3
_CHILD_OUT: Final = 4
#: Parent-side fds are moved at least this high, clear of the child's 0-4.
_FD_FLOOR: Final = 10
#: Last lines of Chromium's stderr kept to explain a crash.
_STDERR_LINES: Final = 40


class BrowserGone(Exception):
    """The browser died or its pipe broke: a fresh browser may succeed."""


class ProtocolError(Exception):
    """The browser answered a command with an error."""


class SessionGone(ProtocolError):
    """A command went to a tab's session that no longer exists (the tab was closed)."""


#: DevTools' error code for a command sent to a session that no longer exists.
_SESSION_NOT_FOUND: Final = -32001
#: Events that say a page's session has ended: the page's own, then the browser's (handed to
#: the page's handler too).
_ENDED: Final = ("Inspector.detached", "Inspector.targetCrashed", "Target.detachedFromTarget")


@dataclass(eq=False)
class _Reply:
    session: str | None
    done: threading.Event = field(default_factory=threading.Event)
    message: dict[str, Any] | None = None


EventHandler = Callable[[str, dict[str, Any]], None]


def _high_fd(fd: int) -> int:
    """`fd` moved to a number >= _FD_FLOOR (close-on-exec); the original is closed."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _FD_FLOOR)
    os.close(fd)
    return moved


class Browser:
    """A running headless Chromium and its DevTools pipe."""

    def __init__(self, executable: str, *, start_timeout: float = 30.0) -> None:
        self.executable = executable
        self.owner_pid = os.getpid()
        self._profile = tempfile.mkdtemp(prefix="pd-chromium-")
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._replies: dict[int, _Reply] = {}
        self._handlers: dict[str, EventHandler] = {}
        self._next_id = 0
        self._gone = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)

        to_child_r, to_child_w = (_high_fd(fd) for fd in os.pipe())
        from_child_r, from_child_w = (_high_fd(fd) for fd in os.pipe())
        err_r, err_w = (_high_fd(fd) for fd in os.pipe())
        args = [
            executable,
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]
        try:
            # posix_spawn, not Popen: the pipe ends must land on fds 3 and 4 exactly, and a
            # preexec_fn is unsafe in a process with threads. setsid puts Chromium and its
            # helpers in one process group, stopped together.
            self.pid = os.posix_spawn(
                executable,
                args,
                {**os.environ, "HOME": self._profile},
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_DUP2, err_w, 2),
                    (os.POSIX_SPAWN_DUP2, to_child_r, _CHILD_IN),
                    (os.POSIX_SPAWN_DUP2, from_child_w, _CHILD_OUT),
                ],
                setsid=True,
            )
        except OSError:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w, err_r, err_w):
                os.close(fd)
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        for fd in (to_child_r, from_child_w, err_w):
            os.close(fd)
        self._out = to_child_w
        self._in = from_child_r
        self._reaped = False
        self._close_lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(
            target=self._read, args=(from_child_r,), name="chromium-pipe", daemon=True
        )
        self._reader.start()
        threading.Thread(
            target=self._drain_stderr, args=(err_r,), name="chromium-stderr", daemon=True
        ).start()
        try:
            self.version = str(
                self.call("Browser.getVersion", deadline=time.monotonic() + start_timeout)[
                    "product"
                ]
            )
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------------------------------
    # Commands and events
    # ----------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """The pipe is open and the process has not exited."""
        if self._gone or self._reaped or self.owner_pid != os.getpid():
            return False
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid:
            self._reaped = True
            return False
        return True

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\0"
        with self._write_lock:
            if self._gone:
                raise BrowserGone("the browser's pipe is closed")
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._out, view) :]
            except OSError as error:  # EPIPE: the browser is gone
                raise BrowserGone(f"writing to the browser failed: {error}") from error

    def _new_id(self) -> int:
        with self._state_lock:
            self._next_id += 1
            return self._next_id

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        deadline: float,
    ) -> dict[str, Any]:
        """Send a command and wait for its result until `deadline` (time.monotonic())."""
        ident = self._new_id()
        reply = _Reply(session)
        with self._state_lock:
            if self._gone:
                raise BrowserGone("the browser's pipe is closed")
            self._replies[ident] = reply
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            self._send(message)
            if not reply.done.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"{method}: no answer from the browser in time")
        finally:
            with self._state_lock:
                self._replies.pop(ident, None)
        answer = reply.message
        if answer is None:
            raise BrowserGone(f"{method}: the browser went away")
        if "error" in answer:
            error = answer["error"]
            text = f"{method}: {error.get('message')} ({error.get('code')})"
            if session and error.get("code") == _SESSION_NOT_FOUND:
                raise SessionGone(text)
            raise ProtocolError(text)
        result: dict[str, Any] = answer.get("result", {})
        return result

    def post(self, method: str, params: dict[str, Any], *, session: str) -> None:
        """Send a command without waiting for its answer (for event handlers)."""
        self._send({"id": self._new_id(), "method": method, "params": params, "sessionId": session})

    def on_events(self, session: str, handler: EventHandler | None) -> None:
        """Hand every event of `session` to `handler` (None: stop), in the reader thread."""
        with self._state_lock:
            if handler is None:
                self._handlers.pop(session, None)
            else:
                self._handlers[session] = handler

    def _read(self, fd: int) -> None:
        buffer = bytearray()
        try:
            while chunk := os.read(fd, 1 << 16):
                buffer += chunk
                while (end := buffer.find(b"\0")) >= 0:
                    self._dispatch(json.loads(bytes(buffer[:end])))
                    del buffer[: end + 1]
        except (OSError, ValueError) as error:
            log.warning("Chromium's DevTools pipe failed: %s", error)
        finally:
            with self._state_lock:
                self._gone = True
                waiting = list(self._replies.values())
                self._replies.clear()
                self._handlers.clear()
            for reply in waiting:
                reply.done.set()  # no message: the caller raises BrowserGone

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._state_lock:
                reply = self._replies.get(message["id"])
            if reply is not None:  # else an answer to post(), or to a call that gave up
                reply.message = message
                reply.done.set()
            return
        session = message.get("sessionId")
        if session is None and message.get("method") == "Target.detachedFromTarget":
            # Sent to the browser's own session after the page's last events: end its calls.
            session = message.get("params", {}).get("sessionId")
            self._end_session(session)
        with self._state_lock:
            handler = self._handlers.get(session) if session else None
        if handler is not None:
            try:
                handler(message.get("method", ""), message.get("params", {}))
            except BrowserGone:
                pass  # the reader sees the broken pipe next
            except Exception:
                log.exception("DevTools event handler failed")

    def _end_session(self, session: str | None) -> None:
        """Fail the calls still waiting on `session`, which has ended (reader thread only,
        so no reply of theirs can be set meanwhile)."""
        if not session:
            return
        ended = {"code": _SESSION_NOT_FOUND, "message": "the page's session ended"}
        with self._state_lock:
            waiting = [r for r in self._replies.values() if r.session == session]
        for reply in waiting:
            if not reply.done.is_set():  # else answered before the session ended
                reply.message = {"error": ended}
                reply.done.set()

    def _drain_stderr(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def stderr_tail(self) -> str:
        """Chromium's last lines on stderr (to explain a crash in the log)."""
        return "\n".join(self._stderr)

    # ----------------------------------------------------------------------------------------
    # Shutdown
    # ----------------------------------------------------------------------------------------

    def close(self, grace: float = 2.0) -> None:
        """Ask the browser to quit, then stop whatever is left of its process group; reap it."""
        if self.owner_pid != os.getpid():
            return  # a forked copy of this object: the browser belongs to the parent
        with self._close_lock:
            if not self._closed:
                self._close(grace)
                self._closed = True

    def _close(self, grace: float) -> None:
        if self.alive:
            try:
                self.call("Browser.close", deadline=time.monotonic() + grace)
            except (BrowserGone, ProtocolError, TimeoutError):
                pass
            ends = time.monotonic() + grace
            while self.alive and time.monotonic() < ends:
                time.sleep(0.02)
        # Helpers (renderers, zygote) left behind share the browser's process group.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not self._reaped:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self._reaped = True
        with self._write_lock:
            if self._out >= 0:
                os.close(self._out)
                self._out = -1
        # The reader ends at EOF (every writer is gone) and closes nothing itself.
        self._reader.join(timeout=grace)
        if not self._reader.is_alive() and self._in >= 0:
            os.close(self._in)
            self._in = -1
        shutil.rmtree(self._profile, ignore_errors=True)


class Tab:
    """A page in a browser context of its own, which may load only files under `folder`.

    Every request the page (or a worker it starts) makes is paused by DevTools' Fetch domain
    and let through only when it is a file under `folder`; anything else is failed unsent.
    Closing the tab disposes its context: cookies, storage and cache go with it.

    The tab opens on `start`, a file of the caller's with nothing to fetch (a blank page):
    starting there, not at about:blank, saves a renderer start, and nothing can be asked for
    before the guard is on.
    """

    def __init__(self, browser: Browser, *, start: Path, deadline: float) -> None:
        self.browser = browser
        self.folder = start.parent.as_uri() + "/"
        self.context = str(
            browser.call(
                "Target.createBrowserContext", {"disposeOnDetach": True}, deadline=deadline
            )["browserContextId"]
        )
        self.session = ""
        self.gone = False
        try:
            self.target = str(
                browser.call(
                    "Target.createTarget",
                    {"url": start.as_uri(), "browserContextId": self.context},
                    deadline=deadline,
                )["targetId"]
            )
            self.session = str(
                browser.call(
                    "Target.attachToTarget",
                    {"targetId": self.target, "flatten": True},
                    deadline=deadline,
                )["sessionId"]
            )
            browser.on_events(self.session, self._on_event)
            self.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, deadline=deadline)
        except BaseException:
            self.close(deadline=deadline)
            raise

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, deadline: float
    ) -> dict[str, Any]:
        """A command to this tab's page."""
        try:
            return self.browser.call(method, params, session=self.session, deadline=deadline)
        except SessionGone:
            # The detach event may not have arrived yet; the answer is proof enough.
            self.gone = True
            raise

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method in _ENDED:
            self.gone = True  # closed, or its renderer ended: no command reaches it now
            return
        if method != "Fetch.requestPaused":
            return
        url = str(params["request"]["url"])
        if url.startswith(self.folder):
            self.browser.post(
                "Fetch.continueRequest", {"requestId": params["requestId"]}, session=self.session
            )
            return
        # The scheme and host only: a path or query could carry clinical words.
        where = urlsplit(url)._replace(path="", query="", fragment="").geturl()
        log.warning("A printed page asked for %s…; refused", where)
        self.browser.post(
            "Fetch.failRequest",
            {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
            session=self.session,
        )

    def open(self, url: str, *, deadline: float) -> None:
        """Start loading `url` (a file under the tab's folder)."""
        navigation = self.call("Page.navigate", {"url": url}, deadline=deadline)
        if navigation.get("errorText"):
            raise ProtocolError(f"Page.navigate: {navigation['errorText']}")

    def close(self, *, deadline: float) -> None:
        """Dispose the tab's context (its page and renderer with it)."""
        if self.session:
            self.browser.on_events(self.session, None)
        self.browser.call(
            "Target.disposeBrowserContext", {"browserContextId": self.context}, deadline=deadline
        )
