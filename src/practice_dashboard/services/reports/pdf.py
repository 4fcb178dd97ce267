"""HTML → PDF with the system's headless Chromium, offline, without a browser start per PDF.

One Chromium per app process (``services.reports.chromium``) is started on the first PDF and
kept; each PDF gets a fresh, isolated browser context (no cookies, storage or cache shared
with the last one), which is thrown away once the PDF is made. After each PDF the next one's
context and tab are opened in the background (a spare tab on a blank page, its renderer
running: starting a renderer is most of a small PDF's cost). The page is written to a
private temporary folder together with the files it links to (the partial plotly.js bundle,
app.js, print.css) and opened as ``file://…/report.html``.

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
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final

from practice_dashboard.config import Settings
from practice_dashboard.errors import AppError
from practice_dashboard.services.reports.chromium import Browser, BrowserGone, ProtocolError, Tab

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
#: Seconds a spare tab may take to open in the background.
SPARE_SECONDS: Final = 30.0
#: Seconds a spare tab has to answer when it is taken: one whose page went while it waited
#: is replaced at once, not waited on until the PDF's deadline (a once-seen 60 s stall).
SPARE_ANSWER_SECONDS: Final = 5.0
#: Seconds without a PDF after which the browser is stopped, giving back its memory (~230 MB
#: with its spare tab); the next PDF starts it again (~0.5-1 s more for that one PDF).
IDLE_SECONDS: Final = 900.0
#: True once the page at the given URL has loaded.
_LOADED_JS: Final = 'location.href === %s && document.readyState === "complete"'
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
#: The next PDF's tab, opening or open in the background, and the browser it belongs to.
_spare_lock = threading.Lock()
_spare: tuple[Browser, Future[Tab]] | None = None
_blank_folder: Path | None = None
#: When the last PDF ended (time.monotonic()), for the idle stop.
_last_used = 0.0


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
    """A symlink where possible (the plotly.js bundle is over 1 MB), else a copy."""
    try:
        target.symlink_to(source)
    except OSError:
        shutil.copyfile(source, target)


# --------------------------------------------------------------------------------------------
# The one browser of this process, and its spare tab
# --------------------------------------------------------------------------------------------


def _running_browser(executable: str, deadline: float) -> Browser:
    """This process's browser, started (under the lock, so once) if none is running."""
    global _browser, _last_used
    with _browser_lock:
        current = _browser
        if current is not None and current.executable == executable and current.alive:
            return current
        _browser = None
        _drop_spare()
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
        _last_used = time.monotonic()
    threading.Thread(
        target=_stop_when_idle, args=(browser,), name="pdf-idle-stop", daemon=True
    ).start()
    return browser


def _stop_when_idle(browser: Browser) -> None:
    """Stop `browser` once no PDF has been made for IDLE_SECONDS (ends when it is gone)."""
    global _browser
    while True:
        time.sleep(max(0.05, min(IDLE_SECONDS / 4, 60.0)))
        with _browser_lock:
            if _browser is not browser:
                return
            if time.monotonic() - _last_used < IDLE_SECONDS:
                continue
            # Only when no PDF holds a slot: none is printing or about to.
            held = 0
            while held < MAX_CONCURRENT and _slots.acquire(blocking=False):
                held += 1
            try:
                if held < MAX_CONCURRENT:
                    continue
                _browser = None
                _drop_spare()
            finally:
                for _ in range(held):
                    _slots.release()
        log.info("Chromium (pid %d) stopped after %.0f s without a PDF", browser.pid, IDLE_SECONDS)
        browser.close()
        return


def _discard(browser: Browser) -> None:
    """Stop a browser that failed; the next PDF starts a fresh one."""
    global _browser
    with _browser_lock:
        if _browser is browser:
            _browser = None
            _drop_spare()
    browser.close()


def browser_pid() -> int | None:
    """The process id of this process's PDF browser, if one is running."""
    with _browser_lock:
        browser = _browser
    return browser.pid if browser is not None and browser.alive else None


def shutdown() -> None:
    """Stop this process's PDF browser and its helpers (app shutdown, interpreter exit)."""
    global _browser, _blank_folder
    with _browser_lock:
        browser, _browser = _browser, None
        _drop_spare()
    if browser is not None:
        browser.close()
    with _spare_lock:
        folder, _blank_folder = _blank_folder, None
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


atexit.register(shutdown)


def _blank_page() -> Path:
    """An empty page (in a folder of its own) that spare tabs wait on."""
    global _blank_folder
    with _spare_lock:
        if _blank_folder is None:
            _blank_folder = Path(tempfile.mkdtemp(prefix="pd-pdf-blank-"))
            (_blank_folder / "blank.html").write_text(
                "<!doctype html><title>blank</title>", encoding="utf-8"
            )
        return _blank_folder / "blank.html"


def _new_tab(browser: Browser, deadline: float) -> Tab:
    """A tab whose renderer is already running, on the blank page.

    Starting a renderer is most of the cost of a small PDF; a file:// page opened later in
    the same tab reuses it (measured: a blank PDF 0.51 s from a new tab, 0.09 s from a spare,
    on a busy 2-core machine)."""
    blank = _blank_page()
    tab = Tab(browser, start=blank, deadline=deadline)
    try:
        _wait_until(tab, _LOADED_JS % json.dumps(blank.as_uri()), deadline, deadline)
    except BaseException:
        _close_tab(tab, deadline)
        raise
    return tab


def _drop_spare() -> None:
    """Forget the spare tab (its browser is going; the tab goes with it)."""
    global _spare
    with _spare_lock:
        _spare = None


def _prepare_spare(browser: Browser) -> None:
    """Open the next PDF's tab in the background, if none is ready or on its way."""
    global _spare
    with _spare_lock:
        if _spare is not None or not browser.alive:
            return
        future: Future[Tab] = Future()
        _spare = (browser, future)

    def prepare() -> None:
        try:
            future.set_result(_new_tab(browser, time.monotonic() + SPARE_SECONDS))
        except BaseException as error:  # handed to whoever takes the spare
            future.set_exception(error)

    threading.Thread(target=prepare, name="pdf-spare-tab", daemon=True).start()


def _take_tab(browser: Browser, deadline: float) -> Tab:
    """The spare tab if one is (or is about to be) ready, else a new one."""
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare[0] is browser:
        future = spare[1]
        try:
            tab = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            future.add_done_callback(_close_orphan)
        except Exception as error:
            log.info("The spare PDF tab could not be opened (%s); opening another", error)
        else:
            if not tab.gone and tab.browser.alive and _answers(tab, deadline):
                return tab
            _close_tab(tab, deadline)
    return _new_tab(browser, deadline)


def _answers(tab: Tab, deadline: float) -> bool:
    """Whether a spare tab's page still answers, within SPARE_ANSWER_SECONDS."""
    try:
        tab.call(
            "Runtime.evaluate",
            {"expression": "1", "returnByValue": True},
            deadline=min(deadline, time.monotonic() + SPARE_ANSWER_SECONDS),
        )
    except (TimeoutError, ProtocolError) as error:
        log.info("The spare PDF tab did not answer (%s); opening another", error)
        return False
    return True


def _close_orphan(future: Future[Tab]) -> None:
    if future.exception() is None:
        _close_tab(future.result(), time.monotonic() + 5.0)


def _close_tab(tab: Tab, deadline: float) -> None:
    """Close a tab; a browser that cannot do that in a few seconds is stuck, and replaced."""
    try:
        tab.close(deadline=max(deadline, time.monotonic() + 5.0))
    except (TimeoutError, ProtocolError) as error:
        log.warning("Chromium did not close a PDF's page (%s); it is restarted", error)
        _discard(tab.browser)
    except BrowserGone:
        pass


# --------------------------------------------------------------------------------------------
# One PDF
# --------------------------------------------------------------------------------------------


def _wait_until(tab: Tab, expression: str, give_up: float, deadline: float) -> bool:
    """Poll `expression` in the page until it is true (True) or `give_up` passes (False);
    TimeoutError once `deadline` passes."""
    while True:
        try:
            answer = tab.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True},
                deadline=deadline,
            )
            if answer.get("result", {}).get("value") is True:
                return True
        except ProtocolError:
            if tab.gone:
                raise
            # else between documents: the old one is gone, the new one not yet there
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError("the page did not load in time")
        if now >= give_up:
            return False
        time.sleep(_POLL_SECONDS)


def _print_page(browser: Browser, page: Path, deadline: float) -> bytes:
    """`page` (a file in its own folder) as PDF, in a fresh browser context closed after."""
    tab = _take_tab(browser, deadline)
    try:
        return _print_in(tab, page, deadline)
    except ProtocolError as error:
        if not tab.gone:
            raise
        # A spare tab whose page went while it waited (closed, or its renderer ended), seen
        # only once it was used: once more in a new tab.
        log.info("The PDF tab was gone (%s); opening another", error)
    return _print_in(_new_tab(browser, deadline), page, deadline)


def _print_in(tab: Tab, page: Path, deadline: float) -> bytes:
    """`page` printed in `tab`, which is closed after."""
    url = page.as_uri()
    try:
        tab.folder = page.parent.as_uri() + "/"
        tab.open(url, deadline=deadline)
        charts = min(deadline, time.monotonic() + CHART_WAIT_SECONDS)
        ready = _READY_JS % json.dumps(url)
        if not _wait_until(tab, ready, charts, deadline):
            log.warning("A printed page had not drawn its charts in %.0f s", CHART_WAIT_SECONDS)
        printed = tab.call("Page.printToPDF", dict(PRINT_OPTIONS), deadline=deadline)
    finally:
        _close_tab(tab, deadline)
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
    global _last_used
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
    finally:
        _last_used = time.monotonic()
        if browser is not None:
            _prepare_spare(browser)
