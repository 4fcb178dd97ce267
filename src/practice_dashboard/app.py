"""create_app(settings): the one place the application is assembled."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from practice_dashboard import __version__
from practice_dashboard.api.openapi import install_openapi
from practice_dashboard.api.router import include_api
from practice_dashboard.api.routes import health
from practice_dashboard.compression import (
    PrecompressedStaticFiles,
    ResponseCompression,
    precompress,
)
from practice_dashboard.config import Settings, get_settings
from practice_dashboard.db import create_db_engine, create_session_factory
from practice_dashboard.dependencies import no_nul_characters
from practice_dashboard.errors import install_error_handlers
from practice_dashboard.middleware import BodySizeLimit, HeadAsGet, InFlightLimit
from practice_dashboard.security import install_log_redaction
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.analytics.refresher import SummaryRefresher
from practice_dashboard.services.reports import pdf
from practice_dashboard.web.deps import MfaEnrolmentRequired
from practice_dashboard.web.error_pages import mfa_enrolment_redirect, render_error_page
from practice_dashboard.web.printing import print_renderer
from practice_dashboard.web.router import include_web
from practice_dashboard.web.security import SecurityHeaders
from practice_dashboard.web.templating import STATIC_DIR

# FastAPI imports pydantic.v1, a whole second copy of pydantic, only to refuse v1 models: as it
# builds each route, and in `jsonable_encoder` for an object it has no encoder for. Its checks
# catch an ImportError and then take every model for a v2 one. This app has no v1 models and
# nothing it depends on imports pydantic.v1, so marked absent it costs a worker nothing instead
# of about 1 MiB and 27 ms of its warm-up; anything that did import it would fail at once with
# an ImportError, never quietly.
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_db_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        refresher = None
        if settings.summary_refresh_interval_seconds > 0:
            refresher = SummaryRefresher(app.state.session_factory, settings)
            refresher.start()
        yield
        if refresher is not None:
            refresher.stop()
        pdf.shutdown()  # the PDF browser, if this process started one
        engine.dispose()

    app = FastAPI(
        title="Practice Dashboard API",
        version=__version__,
        description=(
            "Track how clients' nervous systems change over care: activation episodes, recovery "
            "time, window of tolerance, engagement and burnout-risk flags. Every client-scoped "
            "route answers 404 for a client the caller may not see."
        ),
        lifespan=lifespan,
        # /docs is served from local files by the web layer (no CDN).
        docs_url=None,
        redoc_url=None,
        # PostgreSQL cannot store a NUL: refused in every parameter of every route, up front.
        dependencies=[Depends(no_nul_characters)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    summary.install(app.state.session_factory, settings)
    app.state.print_renderer = print_renderer  # for the API's PDFs (services.reports.printing)

    install_error_handlers(app, html_renderer=render_error_page)
    # Its own handler (before AppError's by class): a redirect to the set-up page, not /login.
    app.add_exception_handler(MfaEnrolmentRequired, mfa_enrolment_redirect)
    install_log_redaction()

    app.include_router(health.router)
    include_api(app)
    include_web(app)
    install_openapi(app)
    # A .gz copy of each CSS and JS file, made once (only stats when they are fresh).
    precompress(STATIC_DIR)
    app.mount("/static", PrecompressedStaticFiles(directory=STATIC_DIR), name="static")
    # Innermost: compresses what the routes answer; the headers below are added around it.
    app.add_middleware(ResponseCompression)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    # Next: the client address and scheme everything else sees (audit trail, login
    # throttling, Secure cookies). X-Forwarded-* are believed only from the configured proxy;
    # uvicorn's own proxy handling is off (cli/serve.py), so this is the one place it happens.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    # Outermost of all: an overloaded worker answers 503 before any other work is done.
    app.add_middleware(
        InFlightLimit,
        limit=settings.requests_in_flight,
        queue_seconds=settings.request_queue_seconds,
        queue_length=settings.request_queue_length,
    )
    return app
