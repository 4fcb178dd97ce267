"""Every page passes axe-core with no serious or critical violation, at desktop and phone width.

Each role starts from its listed pages and follows every link the pages offer (one page of each
kind: client ids and query strings are set aside), so a page added later is checked without
naming it here. Error pages, a form shown again with errors, and the login page are visited on
purpose, as links never lead there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.accessibility import Violation, axe_context, blocking_violations
from tests.browser.conftest import LiveApp, shot
from tests.browser.test_dashboard import ADMIN, SUPERVISOR, THERAPIST, log_in

WIDTHS = {"desktop": 1366, "phone": 390}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Downloads, API calls and logging out are not pages.
NOT_PAGES = re.compile(r"\.(pdf|csv|json|js|css|png|svg)$|^/(api|static|vendor|logout)\b")
# Query keys that choose a different page rather than filter or sort the same one.
PAGE_KEYS = ("instrument",)
MISSING_CLIENT = "/clients/00000000-0000-4000-8000-000000000000"
MAX_PAGES = 60


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def axe_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page at one width that carries axe-core."""
    context = axe_context(browser, {"width": WIDTHS[request.param], "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_axe_is_in_every_page_and_finds_what_blocks(live_app: LiveApp, browser: Browser) -> None:
    """The checks below would pass vacuously if axe were missing or saw nothing: here a page
    of the app, loaded a second time, is given an unlabelled button and an image with no text."""
    context = axe_context(browser, {"width": WIDTHS["phone"], "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live_app.url}/login")
        page.reload()
        assert blocking_violations(page, "/login") == []
        page.evaluate(
            """() => document.querySelector("main").insertAdjacentHTML("beforeend",
                   '<button id="bare"></button><img id="bare-image" src="/static/none.png">')"""
        )
        found = {(v.rule, v.targets) for v in blocking_violations(page, "/login, spoiled")}
    finally:
        context.close()
    assert found == {("button-name", ("#bare",)), ("image-alt", ("#bare-image",))}


def shape(path: str) -> str:
    """A page's kind: its path with ids set aside and only the query keys that pick a page."""
    parts = urlsplit(path)
    query = "&".join(
        q for q in sorted(parts.query.split("&")) if q.split("=")[0] in PAGE_KEYS and q
    )
    return UUID.sub("{id}", parts.path) + (f"?{query}" if query else "")


def links(page: Page, app: LiveApp) -> list[str]:
    """Every same-app page a page links to, as paths with their query."""
    hrefs: list[str] = page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href]:not([download])'), a => a.href)"
    )
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != app.url or NOT_PAGES.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def check(page: Page, label: str, problems: list[Violation]) -> None:
    """Wait for charts and API docs to draw, then collect the page's blocking violations.
    (The page's own requests are done at its load event but for the API docs' schema, which
    the docs' drawing waits for: no wait for half a second of network silence, which took
    46 of these six tests' 140 s on 2026-12-07. That wait stays where requests are the
    subject: test_no_outside_requests.py.)"""
    page.wait_for_load_state("load")
    charts = page.locator("div.chart")
    if charts.count():
        expect(page.locator("div.chart[data-rendered='1']")).to_have_count(
            charts.count(), timeout=15_000
        )
    if page.locator("#swagger-ui").count():
        expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=15_000)
    problems.extend(blocking_violations(page, label))


def crawl(
    page: Page, app: LiveApp, start: list[str], width: str
) -> tuple[set[str], list[Violation]]:
    """Visit one page of each kind reachable from `start`; the kinds seen and what axe found."""
    queue = list(start)
    seen: set[str] = set()
    problems: list[Violation] = []
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        kind = shape(path)
        if kind in seen:
            continue
        seen.add(kind)
        response = page.goto(f"{app.url}{path}")
        assert response is not None, path
        assert response.status < 500, f"{path}: {response.status}"
        check(page, f"{kind} ({width})", problems)
        queue.extend(p for p in links(page, app) if shape(p) not in seen)
    return seen, problems


def report(problems: list[Violation]) -> str:
    return "serious or critical accessibility violations:\n" + "\n".join(map(str, problems))


def test_practitioner_pages_pass_axe(live_app: LiveApp, axe_page: Page) -> None:
    page, width = axe_page, _width(axe_page)
    problems: list[Violation] = []
    page.goto(f"{live_app.url}/login")
    check(page, f"/login ({width})", problems)
    page.fill("#email", THERAPIST)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    check(page, f"/login refused ({width})", problems)
    log_in(page, live_app, THERAPIST)
    expect(page.locator("tr[data-client]").first).to_be_visible()
    seen, found = crawl(page, live_app, ["/", "/import", "/audit", "/settings", "/docs"], width)
    problems += found
    for kind in (
        "/clients/{id}",
        "/clients/{id}/summary",
        "/clients/{id}/observations/new",
        "/clients/{id}/episodes/new",
        "/clients/{id}/sessions/new",
        "/clients/{id}/annotations/new",
        "/clients/{id}/measures/new",
        "/docs",
    ):
        assert kind in seen, f"{kind} was not reached from the caseload: {sorted(seen)}"

    # A form shown again with its errors, and the error pages.
    page.goto(f"{live_app.url}/")
    client = page.locator("a.client-name").first.get_attribute("href")
    page.goto(f"{live_app.url}{client}/observations/new")
    page.fill("#f-activation", "11")
    page.click("main form button[type=submit]")
    expect(page.locator("#activation-error")).to_be_visible()
    check(page, f"observation form with errors ({width})", problems)
    # The client page as a replay (as of today: every client was in care by then, whatever
    # its intake), with its banner; and a refused day.
    today = datetime.now(live_app.settings.timezone).date().isoformat()
    page.goto(f"{live_app.url}{client}?as_of={today}")
    expect(page.locator("#as-of-notice")).to_be_visible()
    check(page, f"client page as of a day ({width})", problems)
    page.goto(f"{live_app.url}{client}?as_of=tomorrow")
    expect(page.locator("#as-of-problem")).to_be_visible()
    check(page, f"client page with a refused day ({width})", problems)
    page.goto(f"{live_app.url}{MISSING_CLIENT}")
    check(page, f"404 ({width})", problems)
    shot(page, f"axe-practitioner-{width}")
    assert not problems, report(problems)


def test_supervisor_pages_pass_axe(live_app: LiveApp, axe_page: Page) -> None:
    page, width = axe_page, _width(axe_page)
    log_in(page, live_app, SUPERVISOR)
    seen, problems = crawl(page, live_app, ["/supervision", "/", "/audit", "/settings"], width)
    assert {"/supervision", "/clients/{id}", "/clients/{id}/summary"} <= seen, sorted(seen)
    page.goto(f"{live_app.url}/supervision")
    client = page.locator("main a[href^='/clients/']").first.get_attribute("href")
    response = page.goto(f"{live_app.url}{client}/observations/new")
    assert response is not None
    assert response.status == 403
    check(page, f"403 ({width})", problems)
    shot(page, f"axe-supervisor-{width}")
    assert not problems, report(problems)


def test_admin_pages_pass_axe(live_app: LiveApp, axe_page: Page) -> None:
    page, width = axe_page, _width(axe_page)
    log_in(page, live_app, ADMIN)
    seen, problems = crawl(page, live_app, ["/admin/users", "/audit", "/settings", "/docs"], width)
    assert "/admin/users/{id}" in seen, sorted(seen)
    shot(page, f"axe-admin-{width}")
    assert not problems, report(problems)


def _width(page: Page) -> str:
    size = page.viewport_size
    assert size is not None
    return next(name for name, px in WIDTHS.items() if px == size["width"])
