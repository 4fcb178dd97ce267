"""Warm a worker once it serves: build the route handlers the first requests would build.

FastAPI builds each included route's handler (dependency analysis, parameter validators) the
first time routing walks past it, about 2 ms a route: the first page after a start paid for
most of the 150 routes, a few hundred milliseconds. The worker answers as soon as the app is
assembled; a background thread then builds them, so neither the first 200 waits for it nor,
once it is done (well under a second on an idle machine), the first page. Page templates are
left to compile on first use: compiling all of them up front costs more memory (about 4 MiB a
worker) than the first page's own few cost it in time.

Then the thread hands what the worker has built so far (modules, routes, the app: about
200,000 objects) to ``gc.freeze``. They live as long as the worker, yet every full collection
walked them all again: a full collection falls due every few pages of a long client history,
and cost about 10 ms a page on average there (``gc.callbacks``, the dense 20-year client of
``bench.ceilings``). Frozen, a full collection walks only what requests leave behind.
"""

from __future__ import annotations

import gc
import logging
import threading

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

logger = logging.getLogger(__name__)


def warm_up(app: FastAPI) -> None:
    """Build every route's handler now (walking the routes as routing would)."""
    for _ in iter_route_contexts(app.routes):
        pass


def freeze_long_lived() -> None:
    """Take everything alive now out of the collector's reach (it stays alive; its garbage
    is collected first, so none of that is kept for good)."""
    gc.collect()
    gc.freeze()


def _warm_up_quietly(app: FastAPI) -> None:
    try:
        warm_up(app)
    except Exception:
        # Only an optimisation: a request builds whatever this could not.
        logger.exception("warm-up failed; requests will build the routes they need")
    freeze_long_lived()


def warm_up_in_background(app: FastAPI) -> threading.Thread:
    """Start `warm_up` on a daemon thread (it never holds up a shutdown)."""
    thread = threading.Thread(target=_warm_up_quietly, args=(app,), name="warm-up", daemon=True)
    thread.start()
    return thread
