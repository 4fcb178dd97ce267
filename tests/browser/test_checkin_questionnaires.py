"""Issue 11 in a real Chromium at 390 px, the questionnaire part: the client answers a due
PHQ-9 with item 9 = 1 and sees the crisis text at once; the practitioner then sees the safety
alert on the caseload and the overdue GAD-7 as an engagement signal. axe-core finds nothing
serious or critical on the questionnaire pages, the crisis text, or "Your progress"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from practice_dashboard.models.base import utcnow
from practice_dashboard.services.analytics.summary import practice_today
from tests.browser.accessibility import Violation, axe_context, blocking_violations
from tests.browser.conftest import LiveApp, shot
from tests.browser.test_checkin import (
    CODE,
    PHONE,
    _enter_code,
    _no_page_wider_than_the_phone,
    phone,  # noqa: F401 - a fixture
)
from tests.browser.test_dashboard import THERAPIST, log_in
from tests.browser.test_pages import therapist_api  # noqa: F401 - a fixture


def _client_with_questionnaires(
    http: httpx.Client, app: LiveApp, name: str
) -> tuple[dict[str, Any], str]:
    """A new client with a link ("Your progress" on), PHQ-9 due today and GAD-7 first due 10
    days ago (never answered: 10 days overdue, past the 3-day grace period)."""
    today = practice_today(app.settings, utcnow())
    client = http.post("/api/v1/clients", json={"display_name": name}).json()
    created = http.post(
        f"/api/v1/clients/{client['id']}/checkin-link", json={"code": CODE, "show_progress": True}
    )
    assert created.status_code == 201, created.text
    for code, every, starts_on in (
        ("phq9", 14, today),
        ("gad7", 28, today - timedelta(days=10)),
    ):
        response = http.post(
            f"/api/v1/clients/{client['id']}/assignments",
            json={"instrument": code, "every_days": every, "starts_on": starts_on.isoformat()},
        )
        assert response.status_code == 201, response.text
    return client, created.json()["url"]


def test_phq9_item_9_shows_the_crisis_text_then_the_caseload_flags(
    live_app: LiveApp,
    phone: Page,  # noqa: F811 - the fixture imported above
    browser: Browser,
    therapist_api: httpx.Client,  # noqa: F811 - the fixture imported above
) -> None:
    client, url = _client_with_questionnaires(therapist_api, live_app, "Questionnaire client")
    page = phone
    _enter_code(page, url)
    page.click("text=Questionnaires due (2)")
    expect(page.locator("h1")).to_have_text("Questionnaires due")
    page.click("a:has-text('PHQ-9')")
    expect(page.locator("h1")).to_have_text("PHQ-9")
    expect(page.locator("legend").nth(8)).to_contain_text(
        "Thoughts that you would be better off dead"
    )
    expect(page.locator(".source-note")).to_contain_text("Kroenke")
    _no_page_wider_than_the_phone(page)
    shot(page, "checkin-phq9-390")
    for item in range(1, 9):
        page.check(f"#f-item_{item}-0")
    page.check("#f-item_9-1")  # "Several days"
    page.click("button:has-text('Save my answers')")
    crisis = page.locator("#crisis")
    expect(crisis).to_be_visible()
    expect(crisis).to_contain_text("call your local emergency number")
    expect(page.locator("h1")).to_have_text("Thank you, your answers are saved")
    _no_page_wider_than_the_phone(page)
    shot(page, "checkin-crisis-text-390")

    measures = therapist_api.get(f"/api/v1/clients/{client['id']}/measures").json()["items"]
    assert [(m["instrument"], m["source"], m["items"][8]) for m in measures] == [
        ("phq9", "client", 1)
    ]

    # The practitioner, on their phone too: the caseload shows the safety alert first, and
    # the engagement signal for the overdue GAD-7; the client page gives the reason.
    context = browser.new_context(viewport=PHONE)
    practitioner = context.new_page()
    try:
        log_in(practitioner, live_app, THERAPIST)
        row = practitioner.locator(f"tr[data-client='{client['id']}']")
        expect(row).to_be_visible()
        expect(row.locator(".chip").first).to_have_attribute("data-flag", "safety")
        expect(row.locator(".chip[data-flag='engagement_risk']")).to_be_visible()
        shot(practitioner, "checkin-caseload-after-phq9-390")
        practitioner.goto(f"{live_app.url}/clients/{client['id']}")
        engagement = practitioner.locator("#flag-engagement_risk")
        expect(engagement).to_contain_text("the assigned GAD-7 was due on")
        expect(engagement).to_contain_text("10 days overdue")
        expect(practitioner.locator("#flag-safety")).to_be_visible()
    finally:
        context.close()


def test_questionnaire_pages_pass_axe_at_390(
    live_app: LiveApp,
    browser: Browser,
    therapist_api: httpx.Client,  # noqa: F811 - the fixture imported above
) -> None:
    client, url = _client_with_questionnaires(therapist_api, live_app, "Axe questionnaires")
    context = axe_context(browser, PHONE)
    page = context.new_page()
    problems: list[Violation] = []
    try:
        _enter_code(page, url)
        problems += blocking_violations(page, "home with questionnaires due")
        for path in ("/questionnaires", "/questionnaires/gad7", "/progress"):
            page.goto(url + path)
            problems += blocking_violations(page, path)
        page.goto(url + "/questionnaires/phq9")
        page.check("#f-item_9-2")
        page.click("button:has-text('Save my answers')")  # 8 unanswered: messages + crisis
        expect(page.locator("#crisis")).to_be_visible()
        problems += blocking_violations(page, "phq9, with messages and the crisis text")
        for item in range(1, 9):
            page.check(f"#f-item_{item}-1")
        page.click("button:has-text('Save my answers')")
        expect(page.locator("h1")).to_have_text("Thank you, your answers are saved")
        problems += blocking_violations(page, "answered, with the crisis text")
    finally:
        context.close()
    practitioner = axe_context(browser, PHONE)
    page = practitioner.new_page()
    try:
        log_in(page, live_app, THERAPIST)
        expect(page.locator("tr[data-client]").first).to_be_visible()
        page.goto(f"{live_app.url}/clients/{client['id']}/checkin-link")
        expect(page.locator("#questionnaires")).to_contain_text("overdue by 10 days")
        problems += blocking_violations(page, "check-in link page with questionnaires")
        shot(page, "checkin-link-questionnaires-390")
    finally:
        practitioner.close()
    assert problems == [], "\n".join(map(str, problems))


def test_a_questionnaire_without_javascript(
    live_app: LiveApp,
    browser: Browser,
    therapist_api: httpx.Client,  # noqa: F811 - the fixture imported above
) -> None:
    client, url = _client_with_questionnaires(therapist_api, live_app, "No-script questionnaire")
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        _enter_code(page, url)
        page.click("text=Questionnaires due (2)")
        page.click("a:has-text('GAD-7')")
        for item in range(1, 8):
            page.check(f"#f-item_{item}-1")
        page.click("button:has-text('Save my answers')")
        expect(page.locator("[role=status]")).to_contain_text("your answers are saved")
        expect(page.locator("a:has-text('Questionnaires due (1)')")).to_be_visible()
    finally:
        context.close()
    measures = therapist_api.get(f"/api/v1/clients/{client['id']}/measures").json()["items"]
    # GAD-7: seven answers of 1 sum to 7 (Spitzer et al. 2006), "mild" (5-9).
    assert [(m["instrument"], m["source"], m["total"], m["severity"]) for m in measures] == [
        ("gad7", "client", 7.0, "mild")
    ]
