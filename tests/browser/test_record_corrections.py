"""Corrections in a real Chromium, as a practitioner makes them, at desktop and phone widths."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveApp, shot
from tests.browser.test_dashboard import THERAPIST, log_in

WIDTHS = {"desktop": 1366, "phone": 390}


def open_client(page: Page, app: LiveApp, index: int) -> str:
    """Log in as the demo therapist and open their `index`-th client; returns its page URL."""
    log_in(page, app, THERAPIST)
    link = page.locator("tr[data-client] a.client-name").nth(index)
    href = link.get_attribute("href") or ""
    page.goto(f"{app.url}{href}")
    return f"{app.url}{href}"


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_correcting_a_wrong_phq9_item_9_takes_the_safety_alert_away(
    live_app: LiveApp, page: Page, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    client_url = open_client(page, live_app, 0 if width > 600 else 1)

    # A PHQ-9 typed in with item 9 answered 2 by mistake (it should have been 0).
    page.goto(f"{client_url}/measures/new?instrument=phq9")
    for n in range(1, 9):
        page.check(f"input[name=item_{n}][value='1']")
    page.check("input[name=item_9][value='2']")
    page.click("#log-form button[type=submit]")
    expect(page.locator("#saved-entry")).to_contain_text("PHQ-9 total 10")
    expect(page.locator("#flag-safety")).to_be_visible()
    shot(page, f"corrections-phq9-saved-{width}")

    # Correct it from the confirmation's link: item 9 was 0.
    page.click("#saved-correct")
    expect(page.locator("#form-heading")).to_contain_text("Correct this measure")
    expect(page.locator("input[name=item_9][value='2']")).to_be_checked()
    page.check("input[name=item_9][value='0']")
    page.click("#log-form button[type=submit]")
    expect(page.locator("#saved-notice")).to_contain_text("Correction saved")
    answers = page.locator("#history tr[data-field=Answers]")
    expect(answers.locator("td.old")).to_have_text("1, 1, 1, 1, 1, 1, 1, 1, 2")
    expect(answers.locator("td.new")).to_have_text("1, 1, 1, 1, 1, 1, 1, 1, 0")
    expect(page.locator("#entry-summary")).to_contain_text("PHQ-9 total 8 (mild)")
    shot(page, f"corrections-phq9-history-{width}")

    # The safety alert has gone from the client page (the latest PHQ-9's item 9 is now 0).
    page.goto(client_url)
    expect(page.locator("#flags")).to_be_visible()
    expect(page.locator("#flag-safety")).to_have_count(0)


def _figure(page: Page, key: str) -> str:
    return page.locator(f"[data-figure={key}] .value").inner_text().strip()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_an_observation_marked_entered_in_error_leaves_the_chart_and_summary(
    live_app: LiveApp, page: Page, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    client_url = open_client(page, live_app, 2 if width > 600 else 3)
    states = page.locator("#chart-states-summary")
    expect(page.locator("#chart-states[data-rendered='1']")).to_have_count(1, timeout=15_000)
    before = (states.inner_text(), _figure(page, "time_in_window"))

    # An observation logged for this client by mistake.
    page.goto(f"{client_url}/observations/new")
    zone = "hypo" if before[1] == "100%" else "within"
    page.check(f"input[name=zone][value={zone}]")
    page.fill("#f-activation", "9" if zone == "hypo" else "2")
    page.click("#log-form button[type=submit]")
    expect(page.locator("#saved-entry")).to_be_visible()
    logged = (states.inner_text(), _figure(page, "time_in_window"))
    assert logged[0] != before[0]  # one more check-in in the chart's summary
    assert logged[1] != before[1]

    # Mark it entered in error from its detail page.
    page.locator("#saved-entry a", has_text="See it").click()
    page.fill("#f-status_reason", "logged for the wrong client")
    page.click("#error-form button[type=submit]")
    expect(page.locator("#saved-notice")).to_contain_text("Marked entered in error")
    expect(page.locator("#entry-reason")).to_contain_text("logged for the wrong client")
    shot(page, f"corrections-entered-in-error-{width}")

    # The chart and the figures are as before it was logged; the record keeps it, struck out.
    page.goto(client_url)
    expect(page.locator("#chart-states[data-rendered='1']")).to_have_count(1, timeout=15_000)
    assert (states.inner_text(), _figure(page, "time_in_window")) == before
    page.click("#record-link")
    struck = page.locator("li.record-entry[data-status=entered_in_error]").first
    expect(struck.locator("s")).to_be_visible()
    expect(struck).to_contain_text("Reason: logged for the wrong client")
