"""What `bench.ceilings` measures outside the app's process: the page on the wire, the page in
Chromium, the summary PDF and a server's start, each beside its ceiling.

Loopback only: every URL here is a server this benchmark started on 127.0.0.1.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import Browser, Response, sync_playwright

# The browser tests' Chromium and its flags (headless, no sandbox, nothing that phones home).
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

BROWSER_ENCODINGS = "gzip, br"


# --- On the wire ---------------------------------------------------------------------------


class LinkedFiles(HTMLParser):
    """The scripts and style sheets a page makes the browser fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"])
        rel = set(a.get("rel", "").lower().split())
        if tag == "link" and a.get("href") and rel & {"stylesheet", "preload", "modulepreload"}:
            self.urls.append(a["href"])


@dataclass(frozen=True, slots=True)
class Fetched:
    path: str
    encoding: str  # Content-Encoding as sent ("identity" when none)
    received: int  # body bytes as received (compressed when the server compressed)
    uncompressed: int  # body bytes of the same URL asked for with identity


def _get(url: str, cookie: str, encoding: str) -> tuple[bytes, str]:
    """The body exactly as it came over the socket (urllib never decodes it)."""
    request = urllib.request.Request(
        url, headers={"Accept-Encoding": encoding, "Cookie": cookie, "User-Agent": "ceilings"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
        return response.read(), response.headers.get("Content-Encoding", "identity")


def on_the_wire(base: str, path: str, cookie: str) -> list[Fetched]:
    """The page and every JS/CSS file it links, asked for as a browser asks (gzip, br), and
    again uncompressed."""
    body, encoding = _get(base + path, cookie, BROWSER_ENCODINGS)
    plain, _ = _get(base + path, cookie, "identity")
    files = [Fetched(path, encoding, len(body), len(plain))]
    reader = LinkedFiles()
    reader.feed(plain.decode("utf-8", "replace"))
    for link in dict.fromkeys(reader.urls):  # each file once, as a browser's cache would
        url = urljoin(base + path, link)
        if urlsplit(url).netloc != urlsplit(base).netloc:
            raise RuntimeError(f"the page links a file on another host: {url}")
        body, encoding = _get(url, cookie, BROWSER_ENCODINGS)
        plain, _ = _get(url, cookie, "identity")
        files.append(Fetched(urlsplit(url).path, encoding, len(body), len(plain)))
    return files


# --- In Chromium ---------------------------------------------------------------------------

# Notes the moment every chart is drawn: app.js marks each div.chart data-rendered="1" (or the
# page marks <html data-charts-drawn="1">), watched from before the page's own scripts run.
CHARTS_DRAWN_WATCH = """
(() => {
  window.__chartsDrawnAt = null;
  const drawn = () => {
    const root = document.documentElement;
    if (root && root.dataset.chartsDrawn === "1") return true;
    const charts = document.querySelectorAll("div.chart");
    return charts.length > 0 && Array.from(charts).every((c) => c.dataset.rendered === "1");
  };
  const check = () => {
    if (window.__chartsDrawnAt === null && drawn()) window.__chartsDrawnAt = performance.now();
  };
  new MutationObserver(check).observe(document, {
    attributes: true, subtree: true, attributeFilter: ["data-rendered", "data-charts-drawn"],
  });
})();
"""
# A function, not an expression: Playwright polls an expression with `eval`, which the pages'
# Content-Security-Policy (script-src 'self') refuses.
CHARTS_DRAWN = "() => window.__chartsDrawnAt !== null"
DCL_MS = "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


@dataclass(frozen=True, slots=True)
class BrowserTimes:
    """Milliseconds from navigation start (request sent) in Chromium."""

    cold_dcl: float
    cold_drawn: float
    warm_dcl: float
    warm_drawn: float
    blank_cold_dcl: float
    blank_warm_dcl: float


def _visit(browser: Browser, url: str, cookie: tuple[str, str] | None, charts: bool) -> list[float]:
    """Cold (a fresh context: empty cache) then warm (a reload in that context): DCL and,
    for a page with charts, the moment the last chart was drawn."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        if cookie is not None:
            context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": url}])
        context.add_init_script(CHARTS_DRAWN_WATCH)
        page = context.new_page()
        times: list[float] = []

        def note(response: Response | None) -> None:
            if response is None or response.status != 200:
                raise RuntimeError(f"{url} answered {response and response.status}")
            times.append(float(page.evaluate(DCL_MS)))
            if charts:
                page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
                times.append(float(page.evaluate("window.__chartsDrawnAt")))

        note(page.goto(url, wait_until="load"))
        note(page.reload(wait_until="load"))
        return times
    finally:
        context.close()


def in_chromium(page_url: str, blank_url: str, cookie: tuple[str, str]) -> BrowserTimes:
    """The client page and a blank page from the same loopback, in one Debian Chromium
    (its start is not counted: a user's browser is already running)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            cold_dcl, cold_drawn, warm_dcl, warm_drawn = _visit(browser, page_url, cookie, True)
            blank_cold, blank_warm = _visit(browser, blank_url, None, False)
        finally:
            browser.close()
    return BrowserTimes(cold_dcl, cold_drawn, warm_dcl, warm_drawn, blank_cold, blank_warm)


BLANK_PAGE = "<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>"


# --- PDF ------------------------------------------------------------------------------------


def blank_print_seconds() -> float:
    """A blank local page printed through the product's own persistent Chromium (started by
    this process's first call, as the server's is by its first PDF): the least a PDF costs."""
    from practice_dashboard.services.reports import pdf

    if pdf.browser_pid() is None:  # the server's browser is warm too: start ours unmeasured
        pdf.html_to_pdf(BLANK_PAGE, assets={})
    started = time.perf_counter()
    document = pdf.html_to_pdf(BLANK_PAGE, assets={})
    elapsed = time.perf_counter() - started
    if not document.startswith(b"%PDF-"):
        raise RuntimeError("Chromium printed no PDF of the blank page")
    return elapsed
