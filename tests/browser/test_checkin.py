"""Issue 11 in a real Chromium at 390 px: the client opens their check-in link, enters the
code, notes an activation, is back to baseline 40 minutes after it started, and checks in;
with JavaScript and without it. axe-core finds nothing serious on any check-in page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from practice_dashboard.web.charts.common import SELF_REPORT_NOTE
from tests.browser.accessibility import Violation, axe_context, blocking_violations
from tests.browser.conftest import LiveApp, shot
from tests.browser.test_dashboard import THERAPIST, log_in
from tests.browser.test_pages import therapist_api  # noqa: F401 - a fixture

PHONE = {"width": 390, "height": 844}
CODE = "2468"


def _link(http: httpx.Client, name: str) -> tuple[dict[str, Any], str]:
    # In care for a week: a check-in from before today's midnight is within the course.
    intake = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    client = http.post("/api/v1/clients", json={"display_name": name, "intake_date": intake}).json()
    created = http.post(f"/api/v1/clients/{client['id']}/checkin-link", json={"code": CODE})
    assert created.status_code == 201, created.text
    return client, created.json()["url"]


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], errors


def _enter_code(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("h1")).to_have_text("Enter your code")
    page.fill("#code", CODE)
    page.click("button[type=submit]")
    expect(page.locator("h1").first).to_have_text("Something activated me")


def _type_time(page: Page, name: str, at: datetime, app: LiveApp) -> None:
    local = at.astimezone(app.settings.timezone)
    page.fill(f"#f-{name}", local.strftime("%Y-%m-%d"))
    page.fill(f"#f-{name}-time", local.strftime("%H:%M"))


def _no_page_wider_than_the_phone(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_a_client_checks_in_from_their_phone(
    live_app: LiveApp,
    phone: Page,
    browser: Browser,
    therapist_api: httpx.Client,  # noqa: F811 - the fixture imported above
) -> None:
    client, url = _link(therapist_api, "Phone client")
    page = phone
    _enter_code(page, url)
    _no_page_wider_than_the_phone(page)
    assert "not monitored in real time" in page.inner_text("footer")
    shot(page, "checkin-home-390")

    # "Something activated me", with when it started: 50 minutes ago.
    started = (datetime.now(UTC) - timedelta(minutes=50)).replace(second=0, microsecond=0)
    page.click("text=Add when it started")
    expect(page.locator("h1")).to_have_text("Something activated me")
    page.check("#f-peak_intensity-6")
    _type_time(page, "started_at", started, live_app)
    page.click("button:has-text('Save')")
    expect(page.locator("h1").first).to_have_text("Did you get back to baseline? When?")
    shot(page, "checkin-open-episode-390")

    # "I'm back to baseline", 40 minutes after the start.
    page.click("text=I'm back to baseline")
    _type_time(page, "baseline_at", started + timedelta(minutes=40), live_app)
    page.fill("#f-strategies", "breathing, a walk")
    page.click("button:has-text('Save')")
    expect(page.locator("[role=status]")).to_contain_text("Well noticed")

    # The daily check-in.
    page.click("text=Daily check-in")
    page.check("#f-zone-0")
    page.check("#f-activation-3")
    page.fill("#f-capacity", "6")
    _no_page_wider_than_the_phone(page)
    page.click("button:has-text('Save my check-in')")
    expect(page.locator("[role=status]")).to_contain_text("your check-in is saved")

    episodes = therapist_api.get(f"/api/v1/clients/{client['id']}/episodes").json()["items"]
    assert [(e["source"], e["recovery_minutes"]) for e in episodes] == [("client", 40)]
    observations = therapist_api.get(f"/api/v1/clients/{client['id']}/observations").json()
    assert [(o["source"], o["activation"]) for o in observations["items"]] == [("client", 3)]

    # The practitioner then sees the new points on the client page, marked as self-report:
    # open markers on the episode and state charts, and each chart's summary says so.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    practitioner = context.new_page()
    try:
        log_in(practitioner, live_app, THERAPIST)
        practitioner.goto(f"{live_app.url}/clients/{client['id']}")
        for chart_id in ("chart-episodes", "chart-states"):
            # The charts are drawn after the page's load event (app.js, after its first frame).
            drawn = practitioner.locator(f"#{chart_id}[data-rendered='1']")
            expect(drawn).to_have_count(1, timeout=15_000)
            symbols = practitioner.evaluate(
                """id => document.getElementById(id).data
                    .filter(t => t.mode === "markers")
                    .flatMap(t => [].concat(t.marker.symbol))""",
                chart_id,
            )
            assert symbols, chart_id
            assert all(str(s).endswith("-open") for s in symbols), (chart_id, symbols)
        expect(practitioner.locator("main")).to_contain_text(SELF_REPORT_NOTE)
        shot(practitioner, "checkin-self-report-on-client-page")
    finally:
        context.close()


def test_the_pages_work_without_javascript(
    live_app: LiveApp,
    browser: Browser,
    therapist_api: httpx.Client,  # noqa: F811 - the fixture imported above
) -> None:
    client, url = _link(therapist_api, "No-script client")
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        _enter_code(page, url)
        page.click("button[aria-label='Something activated me, strength 5']")
        expect(page.locator("h1").first).to_have_text("Did you get back to baseline? When?")
        page.click("text=I'm back to baseline")
        page.click("button:has-text('Save')")
        expect(page.locator("[role=status]")).to_contain_text("Well noticed")
    finally:
        context.close()
    episodes = therapist_api.get(f"/api/v1/clients/{client['id']}/episodes").json()["items"]
    assert [(e["source"], e["peak_intensity"]) for e in episodes] == [("client", 5)]
    assert episodes[0]["baseline_at"] is not None


def test_check_in_pages_pass_axe_at_390(
    live_app: LiveApp,
    browser: Browser,
    therapist_api: httpx.Client,  # noqa: F811 - the fixture imported above
) -> None:
    _, url = _link(therapist_api, "Axe client")
    context = axe_context(browser, PHONE)
    page = context.new_page()
    problems: list[Violation] = []
    try:
        page.goto(url)
        problems += blocking_violations(page, "code")
        page.fill("#code", "0000")
        page.click("button[type=submit]")
        problems += blocking_violations(page, "code, wrong")
        page.fill("#code", CODE)
        page.click("button[type=submit]")
        problems += blocking_violations(page, "home")
        for path in ("/activated", "/back", "/daily"):
            page.goto(url + path)
            problems += blocking_violations(page, path)
        page.goto(url + "/daily")
        page.click("button:has-text('Save my check-in')")  # nothing chosen: the messages
        problems += blocking_violations(page, "daily, with messages")
        page.click("button:has-text('Close on this phone')")
        page.goto(url[:-3] + "xyz")
        expect(page.locator("h1")).to_have_text("This link no longer works")
        problems += blocking_violations(page, "gone")
    finally:
        context.close()
    assert problems == [], "\n".join(map(str, problems))
