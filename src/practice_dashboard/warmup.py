"""Warm a worker once it serves: build what the first requests would otherwise pay for.

FastAPI builds each included route's handler (dependency analysis, parameter validators) the
first time routing walks past it, about 2 ms a route, and Jinja compiles a template the first
time a page renders it. Left alone, the first page after a start paid a few hundred
milliseconds of both. The worker answers as soon as the app is assembled; a background thread
then does this work, so neither the first 200 nor the first page waits for all of it.
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from practice_dashboard.web.templating import templates

logger = logging.getLogger(__name__)


def warm_up(app: FastAPI) -> None:
    """Build every route's handler and compile every page template, now."""
    for _ in iter_route_contexts(app.routes):
        pass
    environment = templates.env
    for name in environment.list_templates(extensions=["html"]):
        environment.get_template(name)


def _warm_up_quietly(app: FastAPI) -> None:
    try:
        warm_up(app)
    except Exception:
        # Only an optimisation: a request builds whatever this could not.
        logger.exception("warm-up failed; requests will build what they need")


def warm_up_in_background(app: FastAPI) -> threading.Thread:
    """Start `warm_up` on a daemon thread (it never holds up a shutdown)."""
    thread = threading.Thread(target=_warm_up_quietly, args=(app,), name="warm-up", daemon=True)
    thread.start()
    return thread
