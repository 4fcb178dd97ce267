"""ASGI middleware: refuse oversized request bodies before anything reads them; shed overload."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """413 for a body larger than `max_bytes`, whether announced or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced < 0 or announced > self.max_bytes:
                    await self._refuse(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"Request body too large; the limit is {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised while a streamed body is read. An HTTPException because FastAPI turns any other
    error met while reading a body into "400 error parsing the body", hiding the 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body too large; the limit is {max_bytes} bytes")


#: Set in the scope of a HEAD request that `HeadAsGet` routes as its GET.
HEAD_AS_GET: Final = "practice_dashboard.head"


def request_method(scope: Scope) -> str:
    """The method the client sent (HEAD for a HEAD that `HeadAsGet` routes as GET)."""
    return "HEAD" if scope.get(HEAD_AS_GET) else str(scope["method"])


class HeadAsGet:
    """HEAD is GET without the body (RFC 9110 §9.3.2), wherever GET is served.

    Routes declare GET only, so a HEAD is routed as its GET (same checks, same headers,
    Content-Length included) and the body is dropped here. Static files answer HEAD
    themselves.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or scope["path"].startswith("/static/")
        ):
            await self.app(scope, receive, send)
            return

        async def headless(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_AS_GET: True}, receive, headless)


_BUSY_JSON = json.dumps({"detail": "The server is busy; try again in a moment"}).encode()
_HTML = b"text/html; charset=utf-8"
_BUSY_HEAD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
)
_BUSY_PAGE_RETRIES = (
    _BUSY_HEAD + '<meta http-equiv="refresh" content="{seconds}">'
    "<title>Busy</title></head><body><h1>The server is busy</h1>"
    "<p>Nothing was changed. This page will try again by itself in {seconds} seconds.</p>"
    "</body></html>"
)
_BUSY_FORM = (
    _BUSY_HEAD + "<title>Busy</title></head><body><h1>The server is busy</h1>"
    "<p>Nothing was saved yet. Please go back and send it again in {seconds} seconds.</p>"
    "</body></html>"
)


class InFlightLimit:
    """At most `limit` requests worked on at once; others wait while their expected wait fits
    the budget (`queue_seconds`; twice that for a write); the rest get a 503 with Retry-After.

    Every request runs its database work in the thread pool and holds one pooled connection,
    so past a few requests per core more at once only adds waiting, and past the pool's size
    requests wait on each other's connections. Capping here keeps the pool and the threads
    free, and answers overload fast instead of hanging for 30 s.

    The expected wait is the queue ahead times how long a request holds its slot (a moving
    average of what this worker measured), shared by the slots: a burst of cheap requests
    (a check-in page) queues deeply, a burst of dear ones (a five-year client page) is shed
    sooner, and nobody is admitted only to be turned away when the budget runs out. A write
    carries what a person typed, so it may wait twice as long before it is refused.
    `queue_length` caps the queue whatever the estimate. Static files and the health checks
    are not counted.
    """

    EXEMPT_PREFIXES = ("/static/", "/healthz", "/readyz")
    READS = frozenset({"GET", "HEAD", "OPTIONS"})
    WRITE_PATIENCE = 2.0
    # The first estimate of a slot's hold, before any request has been measured, and how much
    # each new measurement moves the average.
    INITIAL_HOLD_SECONDS = 0.05
    HOLD_WEIGHT = 0.1

    def __init__(self, app: ASGIApp, limit: int, queue_seconds: float, queue_length: int) -> None:
        self.app = app
        self.queue_seconds = queue_seconds
        self.queue_length = queue_length
        self.waiting = 0
        self.hold_seconds = self.INITIAL_HOLD_SECONDS
        self.limit = limit
        # One semaphore per event loop (a test client may run the app on more than one).
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.limit))
        return self._slots[1]

    def expected_wait(self) -> float:
        """Seconds a request joining the queue now can expect to wait for a slot."""
        return (self.waiting + 1) * self.hold_seconds / self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        budget = self.queue_seconds
        if scope.get("method", "GET") not in self.READS:
            budget *= self.WRITE_PATIENCE
        slots = self._semaphore()
        if not slots.locked():
            await slots.acquire()  # a free slot: taken at once, without suspending
        elif self.waiting >= self.queue_length or self.expected_wait() > budget:
            # The queue would not reach this request within its budget: answer now, cheaply.
            await self._shed(scope, send)
            return
        else:
            self.waiting += 1
            try:
                await asyncio.wait_for(slots.acquire(), timeout=budget)
            except TimeoutError:
                await self._shed(scope, send)
                return
            finally:
                self.waiting -= 1
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()
            held = time.perf_counter() - started
            self.hold_seconds += self.HOLD_WEIGHT * (held - self.hold_seconds)

    @property
    def retry_after(self) -> int:
        """Whole seconds until the queue has likely drained (at least one)."""
        return max(1, math.ceil(self.expected_wait()))

    async def _shed(self, scope: Scope, send: Send) -> None:
        # JSON under /api; a page elsewhere (a person's browser, a client's phone). Built from
        # constants: a shed request gets no templates, no database, nothing that costs.
        retry_after = self.retry_after
        if scope["path"].startswith("/api/"):
            body, kind = _BUSY_JSON, b"application/json"
        elif scope.get("method", "GET") in self.READS:
            # A page asks again by itself when the wait is over: nobody has to do anything.
            body, kind = _BUSY_PAGE_RETRIES.format(seconds=retry_after).encode(), _HTML
        else:
            body, kind = _BUSY_FORM.format(seconds=retry_after).encode(), _HTML
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                    (b"cache-control", b"no-store"),
                    # The retry comes on a new connection, which another worker process
                    # (one less busy: it is the one waiting to accept) may take: a kept-alive
                    # connection would bind the caller to this overloaded worker.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
