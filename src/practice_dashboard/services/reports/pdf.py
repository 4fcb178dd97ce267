"""HTML → PDF with the system's headless Chromium, offline, without a browser start per PDF.

One Chromium per app process (``services.reports.chromium``) is started on the first PDF and
kept; each PDF gets a fresh, isolated browser context (no cookies, storage or cache shared
with the last one), which is thrown away once the PDF is made. The page is written to a
private temporary folder together with the files it links to (plotly.min.js, app.js,
print.css) and opened as ``file://…/report.html``.

Nothing reaches the network: the page links only files beside it, Chromium's background
services are off, every host name resolves to nothing, and every request the page makes
outside its own folder is failed before it is sent (DevTools Fetch interception).

Charts are drawn by the page's own script (static/js/app.js) when it loads; the PDF is printed
once it says so (``data-charts-drawn`` on the root element, or every ``div.chart`` marked
``data-rendered``), or after :data:`CHART_WAIT_SECONDS` with whatever was drawn.

The browser is the ``chromium`` setting (``PRACTICE_DASHBOARD_CHROMIUM``),
default ``/usr/bin/chromium`` (Debian package ``chromium``). Without it: a 503. A browser that
died, or whose pipe broke, is started again and the PDF tried once more. ``shutdown()`` stops
it (the app's lifespan, and interpreter exit).
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from practice_dashboard.config import Settings
from practice_dashboard.errors import AppError
from practice_dashboard.services.reports.chromium import Browser, BrowserGone, ProtocolError

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ENV: Final = "PRACTICE_DASHBOARD_CHROMIUM"
#: Seconds one PDF may take, from its turn in the queue to its bytes (a summary needs < 1 s).
DEFAULT_TIMEOUT: Final = 60.0
#: Seconds a page may take to draw its charts before it is printed as it is (a chart that
#: cannot draw must not cost the practitioner the whole summary).
CHART_WAIT_SECONDS: Final = 15.0
#: Tabs one app process prints at once; each renderer needs ~100-200 MB of memory.
MAX_CONCURRENT: Final = 2
#: How long a request waits for a free slot before it is told to try again.
QUEUE_SECONDS: Final = 30.0
#: The print settings of ``chromium --print-to-pdf --no-pdf-header-footer`` (headless's
#: command handler), so a PDF looks as it did: paper size and margins from the page's CSS
#: @page rules, backgrounds printed, tagged for screen readers.
PRINT_OPTIONS: Final[Mapping[str, Any]] = {
    "displayHeaderFooter": False,
    "printBackground": True,
    "preferCSSPageSize": True,
    "generateTaggedPDF": True,
}
#: True once the page has loaded and drawn its charts (see the module docstring).
_READY_JS: Final = """(() => {
  if (location.href !== %s || document.readyState !== "complete") return false;
  if (document.fonts && document.fonts.status !== "loaded") return false;
  if (document.documentElement.dataset.chartsDrawn === "1") return true;
  return Array.from(document.querySelectorAll("div.chart"))
    .every((chart) => chart.dataset.rendered === "1");
})()"""
_POLL_SECONDS: Final = 0.01

_slots = threading.BoundedSemaphore(MAX_CONCURRENT)
_browser_lock = threading.Lock()
_browser: Browser | None = None


class PdfUnavailable(AppError):
    """Chromium is not installed (or not where the settings say)."""

    status_code = 503
    default_detail = "PDF export is not available: Chromium is not installed on the server"


class PdfBusy(AppError):
    status_code = 503
    default_detail = "The server is busy making other PDFs; try again in a minute"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "30"})


class PdfFailed(AppError):
    status_code = 500
    default_detail = "The PDF could not be made; the error was logged"


def chromium_path(settings: Settings | None = None) -> str:
    """The browser: the `chromium` setting (PRACTICE_DASHBOARD_CHROMIUM), else Debian's."""
    return settings.chromium if settings is not None else DEFAULT_CHROMIUM


def ensure_chromium(settings: Settings | None = None) -> str:
    """The browser's path, or PdfUnavailable (checked before any work is done)."""
    path = chromium_path(settings)
    resolved = shutil.which(path)
    if resolved is None:
        log.warning("PDF export needs Chromium at %s (setting %s)", path, CHROMIUM_ENV)
        raise PdfUnavailable(
            "PDF export is not available: Chromium is not installed on the server "
            f"(expected at {path}; set {CHROMIUM_ENV})"
        )
    return resolved


def _place(source: Path, target: Path) -> None:
    """A symlink where possible (plotly.min.js is 4-5 MB), else a copy."""
    try:
        target.symlink_to(source)
    except OSError:
        shutil.copyfile(source, target)


# --------------------------------------------------------------------------------------------
# The one browser of this process
# --------------------------------------------------------------------------------------------


def _running_browser(executable: str, deadline: float) -> Browser:
    """This process's browser, started (under the lock, so once) if none is running."""
    global _browser
    with _browser_lock:
        current = _browser
        if current is not None and current.executable == executable and current.alive:
            return current
        _browser = None
        if current is not None:
            if current.owner_pid == os.getpid():
                log.warning(
                    "Chromium (pid %d) had stopped; starting it again. Its last words:\n%s",
                    current.pid,
                    current.stderr_tail(),
                )
            current.close()
        started = time.perf_counter()
        browser = Browser(executable, start_timeout=min(30.0, deadline - time.monotonic()))
        log.info(
            "%s started for PDFs (pid %d) in %.2f s",
            browser.version,
            browser.pid,
            time.perf_counter() - started,
        )
        _browser = browser
        return browser


def _discard(browser: Browser) -> None:
    """Stop a browser that failed; the next PDF starts a fresh one."""
    global _browser
    with _browser_lock:
        if _browser is browser:
            _browser = None
    browser.close()


def browser_pid() -> int | None:
    """The process id of this process's PDF browser, if one is running."""
    with _browser_lock:
        browser = _browser
    return browser.pid if browser is not None and browser.alive else None


def shutdown() -> None:
    """Stop this process's PDF browser and its helpers (app shutdown, interpreter exit)."""
    global _browser
    with _browser_lock:
        browser, _browser = _browser, None
    if browser is not None:
        browser.close()


atexit.register(shutdown)


# --------------------------------------------------------------------------------------------
# One PDF
# --------------------------------------------------------------------------------------------


def _offline_guard(browser: Browser, session: str, folder: str) -> Any:
    """A Fetch event handler: the page's own folder loads, any other request fails unsent."""

    def handle(method: str, params: dict[str, Any]) -> None:
        if method != "Fetch.requestPaused":
            return
        url = str(params["request"]["url"])
        if url.startswith(folder):
            browser.post(
                "Fetch.continueRequest", {"requestId": params["requestId"]}, session=session
            )
            return
        # The scheme and host only: a path or query could carry clinical words.
        log.warning(
            "A printed page asked for %s…; refused",
            urlsplit(url)._replace(path="", query="", fragment="").geturl(),
        )
        browser.post(
            "Fetch.failRequest",
            {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
            session=session,
        )

    return handle


def _wait_until_drawn(browser: Browser, session: str, url: str, deadline: float) -> None:
    """Wait until the page has loaded and drawn its charts (see the module docstring)."""
    charts_deadline = min(deadline, time.monotonic() + CHART_WAIT_SECONDS)
    expression = _READY_JS % json.dumps(url)
    while True:
        try:
            answer = browser.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True},
                session=session,
                deadline=deadline,
            )
            ready = answer.get("result", {}).get("value") is True
        except ProtocolError:
            ready = False  # between documents: the old one is gone, the new one not yet there
        if ready:
            return
        if time.monotonic() >= charts_deadline:
            if charts_deadline >= deadline:
                raise TimeoutError("the page did not load in time")
            log.warning("A printed page had not drawn its charts in %.0f s", CHART_WAIT_SECONDS)
            return
        time.sleep(_POLL_SECONDS)


def _print_page(browser: Browser, page: Path, deadline: float) -> bytes:
    """`page` (a file in its own folder) as PDF, in a fresh browser context closed after."""
    url = page.as_uri()
    context = browser.call(
        "Target.createBrowserContext", {"disposeOnDetach": True}, deadline=deadline
    )["browserContextId"]
    try:
        target = browser.call(
            "Target.createTarget",
            {"url": "about:blank", "browserContextId": context},
            deadline=deadline,
        )["targetId"]
        session = browser.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, deadline=deadline
        )["sessionId"]
        browser.on_events(session, _offline_guard(browser, session, page.parent.as_uri() + "/"))
        try:
            browser.call(
                "Fetch.enable",
                {"patterns": [{"urlPattern": "*"}]},
                session=session,
                deadline=deadline,
            )
            navigation = browser.call(
                "Page.navigate", {"url": url}, session=session, deadline=deadline
            )
            if navigation.get("errorText"):
                raise ProtocolError(f"Page.navigate: {navigation['errorText']}")
            _wait_until_drawn(browser, session, url, deadline)
            printed = browser.call(
                "Page.printToPDF", dict(PRINT_OPTIONS), session=session, deadline=deadline
            )
        finally:
            browser.on_events(session, None)
    finally:
        # Closing the context closes its page and ends its renderer; a browser that cannot
        # do that in a few seconds is stuck, and is replaced.
        try:
            browser.call(
                "Target.disposeBrowserContext",
                {"browserContextId": context},
                deadline=max(deadline, time.monotonic() + 5.0),
            )
        except (TimeoutError, ProtocolError) as error:
            log.warning("Chromium did not close a PDF's page (%s); it is restarted", error)
            _discard(browser)
        except BrowserGone:
            pass
    return base64.b64decode(printed["data"])


def html_to_pdf(
    html: str,
    *,
    assets: Mapping[str, Path],
    settings: Settings | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """Print `html` to PDF. `assets` maps file names the page links to their source files."""
    chromium = ensure_chromium(settings)
    if not _slots.acquire(timeout=QUEUE_SECONDS):
        raise PdfBusy()
    try:
        deadline = time.monotonic() + timeout
        with tempfile.TemporaryDirectory(prefix="pd-pdf-") as folder:
            root = Path(folder)
            page = root / "report.html"
            page.write_text(html, encoding="utf-8")
            for name, source in assets.items():
                _place(Path(source), root / name)
            # A browser that died (or whose pipe broke) before or during this PDF is
            # started again once; a second failure is not the browser's bad luck.
            try:
                data = _print_once(chromium, page, deadline)
            except BrowserGone as error:
                log.warning("Chromium went away during a PDF (%s); trying again", error)
                try:
                    data = _print_once(chromium, page, deadline)
                except BrowserGone as again:
                    log.error("Chromium failed twice in a row: %s", again)
                    raise PdfFailed() from again
    finally:
        _slots.release()
    if not data.startswith(b"%PDF-"):
        log.error("Chromium's PDF did not start with %%PDF-: %r", data[:20])
        raise PdfFailed()
    return data


def _print_once(executable: str, page: Path, deadline: float) -> bytes:
    """One try: BrowserGone when the browser died (it is discarded), else bytes or PdfFailed."""
    browser: Browser | None = None
    try:
        browser = _running_browser(executable, deadline)
        return _print_page(browser, page, deadline)
    except BrowserGone:
        if browser is not None:
            _discard(browser)
        raise
    except TimeoutError:
        log.error("Chromium did not finish a PDF in time")
        raise PdfFailed("The PDF took too long to make; please try again") from None
    except (ProtocolError, OSError) as error:
        log.error("Chromium could not print a PDF: %s", error)
        raise PdfFailed() from error
