"""No page sends anything anywhere but the app itself, and no chart offers to (defect 6).

Every page of every demo role is visited in a real Chromium while every request the page makes
is watched; a request to any other origin fails the test. Every drawn chart is checked for a
mode bar without "Share chart" / Chart Studio buttons and with the cloud switched off.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import LiveApp, shot
from tests.browser.test_dashboard import ADMIN, SUPERVISOR, THERAPIST, log_in

# Schemes that never leave the browser (Plotly draws some icons from data: URIs).
LOCAL_SCHEMES = {"data", "blob", "about"}
CLOUD_WORDS = re.compile(r"cloud|share|chart studio|plotly\.com|edit in", re.IGNORECASE)
LOG_FORMS = (
    "sessions/new",
    "observations/new",
    "episodes/new",
    "measures/new",
    "measures/new?instrument=ors",
    "annotations/new",
)


class OutsideRequests:
    """Collects every request a page makes to an origin other than the app's."""

    def __init__(self, page: Page, app: LiveApp) -> None:
        self.origin = urlsplit(app.url)[:2]
        self.seen: list[str] = []
        self.outside: list[str] = []
        page.on("request", self.record)

    def record(self, request: Request) -> None:
        parts = urlsplit(request.url)
        self.seen.append(request.url)
        if parts.scheme not in LOCAL_SCHEMES and (parts.scheme, parts.netloc) != self.origin:
            self.outside.append(request.url)


def visit(page: Page, app: LiveApp, path: str, name: str) -> None:
    """Open a page, wait for its charts (if any) and check every chart's mode bar."""
    page.goto(f"{app.url}{path}")
    page.wait_for_load_state("networkidle")
    charts = page.locator("div.chart")
    count = charts.count()
    if count:
        expect(page.locator("div.chart[data-rendered='1']")).to_have_count(count, timeout=15_000)
        assert_private_mode_bars(page, path)
    shot(page, f"outside-{name}")


def assert_private_mode_bars(page: Page, path: str) -> None:
    """No mode-bar button can send a chart out, and Plotly's cloud settings are off."""
    found = page.evaluate(
        """() => Array.from(document.querySelectorAll("div.chart")).map(gd => ({
               id: gd.id,
               buttons: Array.from(gd.querySelectorAll(".modebar-btn")).map(b =>
                   [b.getAttribute("data-title") || "", b.getAttribute("data-attr") || "",
                    b.getAttribute("href") || ""].join(" ")),
               static: gd._context.staticPlot,
               sendToCloud: gd._context.showSendToCloud,
               server: gd._context.plotlyServerURL,
               logo: gd._context.displaylogo,
               links: Array.from(gd.querySelectorAll("a[href]")).map(a => a.href),
           }))"""
    )
    assert found, f"{path}: no chart was drawn"
    for chart in found:
        where = f"{path} #{chart['id']}"
        # Print-view charts are static (no mode bar at all); every other chart has one.
        assert chart["static"] or chart["buttons"], f"{where}: no mode bar was drawn"
        assert not [b for b in chart["buttons"] if CLOUD_WORDS.search(b)], (where, chart)
        assert chart["sendToCloud"] is False, where
        assert chart["server"] == "", where
        assert chart["logo"] is False, where
        assert not [a for a in chart["links"] if "plotly" in a], where


def client_paths(page: Page, app: LiveApp, listing: str, limit: int = 2) -> list[str]:
    page.goto(f"{app.url}{listing}")
    links = page.locator("main a[href^='/clients/']")
    paths: list[str] = []
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        match = re.fullmatch(r"/clients/[0-9a-f-]{36}", href)
        if match and href not in paths:
            paths.append(href)
    assert paths, f"no client links on {listing}"
    return paths[:limit]


def test_practitioner_pages_stay_on_the_app(live_app: LiveApp, page: Page) -> None:
    watch = OutsideRequests(page, live_app)
    visit(page, live_app, "/login", "login")
    log_in(page, live_app, THERAPIST)
    expect(page.locator("tr[data-client]").first).to_be_visible()
    visit(page, live_app, "/", "caseload")
    for n, client in enumerate(client_paths(page, live_app, "/")):
        visit(page, live_app, client, f"client-{n}")
        visit(page, live_app, f"{client}/summary", f"summary-{n}")
    client = client_paths(page, live_app, "/", limit=1)[0]
    for form in LOG_FORMS:
        visit(page, live_app, f"{client}/{form}", "form-" + re.sub(r"\W+", "-", form))
    for path in ("/import", "/audit", "/settings", "/docs"):
        visit(page, live_app, path, path.strip("/"))
    # Swagger UI draws the API from the app's own description: wait until it has.
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=15_000)
    # Off loopback, Swagger UI would ask validator.swagger.io about the API: switched off.
    assert page.evaluate("window.ui.getConfigs().validatorUrl") is None
    visit(page, live_app, "/clients/00000000-0000-4000-8000-000000000000", "error-404")
    assert any("/static/vendor/plotly/" in url for url in watch.seen)
    assert watch.outside == [], f"requests left the app: {watch.outside}"


def test_supervisor_pages_stay_on_the_app(live_app: LiveApp, page: Page) -> None:
    watch = OutsideRequests(page, live_app)
    log_in(page, live_app, SUPERVISOR)
    visit(page, live_app, "/supervision", "supervision")
    for n, client in enumerate(client_paths(page, live_app, "/supervision", limit=1)):
        visit(page, live_app, client, f"supervised-client-{n}")
        visit(page, live_app, f"{client}/summary", f"supervised-summary-{n}")
        # A supervisor may not log anything: the refusal is an error page, also checked.
        visit(page, live_app, f"{client}/observations/new", "supervisor-403")
    for path in ("/", "/audit", "/settings", "/import"):
        visit(page, live_app, path, "supervisor-" + (path.strip("/") or "caseload"))
    assert watch.outside == [], f"requests left the app: {watch.outside}"


def test_admin_pages_stay_on_the_app(live_app: LiveApp, page: Page) -> None:
    watch = OutsideRequests(page, live_app)
    log_in(page, live_app, ADMIN)
    visit(page, live_app, "/admin/users", "admin-users")
    edit = page.locator("main a[href^='/admin/users/']").first.get_attribute("href")
    assert edit
    visit(page, live_app, edit, "admin-user")
    for path in ("/audit", "/settings", "/docs"):
        visit(page, live_app, path, "admin-" + path.strip("/"))
    assert watch.outside == [], f"requests left the app: {watch.outside}"
