"""Warm a worker once it serves: build the route handlers the first requests would build.

FastAPI builds each included route's handler (dependency analysis, parameter validators) the
first time routing walks past it, about 2 ms a route: the first page after a start paid for
most of the 150 routes, a few hundred milliseconds. The worker answers as soon as the app is
assembled; a background thread then builds them, so neither the first 200 waits for it nor,
once it is done (well under a second on an idle machine), the first page. Page templates are
left to compile on first use: compiling all of them up front costs more memory (about 4 MiB a
worker) than the first page's own few cost it in time.

The thread waits for the worker's first answer (a health check, as a start is watched) or
``WARM_UP_AFTER_SECONDS``, whichever comes first. Started at once, it shared the interpreter
with the rest of the start (uvicorn's own imports, binding, the first request) and put off the
first 200 by most of its own work: 2.21 s against 1.34 s without it (``bench.startup``, SQLite,
medians of 3, on 2026-12-06).

Then the thread hands what the worker has built so far (modules, routes, the app: about
200,000 objects) to ``gc.freeze``. They live as long as the worker, yet every full collection
walked them all again: a full collection falls due every few pages of a long client history,
and cost about 10 ms a page on average there (``gc.callbacks``, the dense 20-year client of
``bench.ceilings``). Frozen, a full collection walks only what requests leave behind.

While the worker starts, the collector is paused (``pause_collector``), from before the app's
modules load until that freeze. Nearly everything a start allocates lives as long as the
worker, so the collector's ~300 young and ~30 older collections over it found about 1,200
unreachable objects among some 215,000, yet cost about a fifth of the start: ``serve`` to its
first 200 took 1.27 s with it and 1.01 s paused (medians of 10 starts each, the two
alternating, SQLite, on 2026-12-07). The warm-up's full collection then takes whatever garbage
the start did leave, before it freezes the rest, and the collector resumes.

This module imports nothing heavy at its top: the entry points call ``pause_collector``
before anything else is loaded.
"""

from __future__ import annotations

import gc
import logging
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

#: With no request by then, the worker warms up anyway.
WARM_UP_AFTER_SECONDS: Final = 5.0

# Whether pause_collector turned the collector off (and so resume_collector turns it back on).
_paused = False


def pause_collector() -> None:
    """Pause the garbage collector while a worker starts; the warm-up resumes it. A no-op
    when the collector is already off (paused here, or by whoever runs the process)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Turn the collector back on if pause_collector turned it off."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()


def warm_up(app: FastAPI) -> None:
    """Build every route's handler now (walking the routes as routing would)."""
    from fastapi.routing import iter_route_contexts

    for _ in iter_route_contexts(app.routes):
        pass


def freeze_long_lived() -> None:
    """Take everything alive now out of the collector's reach (it stays alive; its garbage
    is collected first, so none of that is kept for good)."""
    gc.collect()
    gc.freeze()


class AnsweredOnce:
    """ASGI middleware: sets ``answered`` once the first HTTP request has been answered."""

    def __init__(self, app: ASGIApp, answered: threading.Event) -> None:
        self.app = app
        self.answered = answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.answered.is_set():
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.answered.set()


def settle(app: FastAPI) -> None:
    """What a served worker does once it has answered: build every route, then freeze what
    it built. The benchmarks call it on their in-process app, to measure it as served."""
    try:
        warm_up(app)
    except Exception:
        # Only an optimisation: a request builds whatever this could not.
        logger.exception("warm-up failed; requests will build the routes they need")
    freeze_long_lived()


def _warm_up_quietly(app: FastAPI, answered: threading.Event) -> None:
    answered.wait(WARM_UP_AFTER_SECONDS)
    try:
        settle(app)
    finally:
        # After the freeze: its full collection has taken the start's garbage.
        resume_collector()


def warm_up_in_background(app: FastAPI) -> threading.Thread:
    """Warm `app` up on a daemon thread (it never holds up a shutdown) once it has answered
    its first request, or after WARM_UP_AFTER_SECONDS, then resume a paused collector. Call
    before the app serves."""
    answered = threading.Event()
    app.add_middleware(AnsweredOnce, answered=answered)
    thread = threading.Thread(
        target=_warm_up_quietly, args=(app, answered), name="warm-up", daemon=True
    )
    thread.start()
    return thread
