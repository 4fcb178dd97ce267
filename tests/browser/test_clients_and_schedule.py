"""Clients and the schedule in a real Chromium, at desktop (1366 px) and phone (390 px) widths:
add a client, book a series, mark one attended and add notes; and a concurrent edit of a client
in two browsers, where the second sees both values and nothing is lost.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveApp, shot
from tests.browser.test_dashboard import THERAPIST, log_in

WIDTHS = {"desktop": 1366, "phone": 390}


def _local_now(app: LiveApp) -> datetime:
    return datetime.now(ZoneInfo(str(app.settings.timezone)))


def _archive(page: Page, client_url: str) -> None:
    """Archive the client again (through its page), so the shared demo caseload is unchanged."""
    page.goto(client_url)
    page.click("button:has-text('Archive client')")
    expect(page.locator(".status-archived")).to_be_visible()
    expect(page.locator("button:has-text('Restore client')")).to_be_visible()


def _add_client(page: Page, app: LiveApp, name: str) -> str:
    page.goto(f"{app.url}/")
    page.click("a:has-text('Add a client')")
    expect(page.locator("h1")).to_contain_text("Add a client")
    page.fill("#f-display_name", name)
    page.fill("#f-external_ref", "F-77")
    page.fill("#f-date_of_birth", "1988-02-03")
    page.fill("#f-goals", "Notice activation sooner")
    page.fill("#f-session_cadence_days", "7")
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text(name)
    return page.url


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_add_a_client_book_a_series_mark_one_attended_and_add_notes(
    live_app: LiveApp, page: Page, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, THERAPIST)
    expect(page.locator("h1")).to_have_text("Caseload")
    name = f"Juniper {width}"
    client_url = _add_client(page, live_app, name)
    shot(page, f"schedule-{width}-01-client-added")

    # Book a weekly series of three, the first an hour ago (so it can be marked attended).
    page.click("a:has-text('Book sessions')")
    first = _local_now(live_app) - timedelta(hours=1)
    page.fill("#f-starts_at", first.strftime("%Y-%m-%d"))
    page.fill("#f-starts_at-time", first.strftime("%H:%M"))
    page.fill("#f-weeks", "3")
    shot(page, f"schedule-{width}-02-book")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/schedule\?week="))
    row = page.locator("li.booking", has=page.locator(f"a:has-text('{name}')"))
    expect(row).to_have_count(1)  # the other two are in the next weeks
    expect(row.locator(".status-attendance")).to_have_text("scheduled")
    shot(page, f"schedule-{width}-03-week")
    page.click("a[rel=next]")
    expect(page.locator("li.booking", has=page.locator(f"a:has-text('{name}')"))).to_have_count(1)
    page.click("a[rel=prev]")

    # One action: attended; then the same record's form for engagement, homework and notes.
    row = page.locator("li.booking", has=page.locator(f"a:has-text('{name}')"))
    row.locator("button:has-text('Attended')").click()
    expect(page.locator("h1")).to_contain_text("Session details")
    expect(page.locator("#f-attendance")).to_have_value("attended")
    page.fill("#f-engagement", "8")
    page.check("#f-homework_assigned")
    page.fill("#f-notes", "Practised orienting; breath slowed")
    shot(page, f"schedule-{width}-04-notes")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(client_url)

    # The first booking's week (just after Monday's midnight, an hour ago is last week).
    monday = first.date() - timedelta(days=first.weekday())
    page.goto(f"{live_app.url}/schedule?week={monday.isoformat()}")
    row = page.locator("li.booking", has=page.locator(f"a:has-text('{name}')"))
    expect(row.locator(".status-attendance")).to_have_text("attended")
    expect(row.locator("button")).to_have_count(0)
    expect(row.locator("a:has-text('Details and notes')")).to_be_visible()
    # Nothing on the page is wider than the screen.
    page.wait_for_load_state("load")  # stylesheets applied before measuring
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"schedule-{width}-05-week-after")
    _archive(page, client_url)
    page.goto(f"{live_app.url}/schedule")
    expect(page.locator(f"a:has-text('{name}')")).to_have_count(0)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_concurrent_edit_of_a_client_shows_both_values_and_loses_nothing(
    live_app: LiveApp, browser: Browser, page: Page, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, THERAPIST)
    expect(page.locator("h1")).to_have_text("Caseload")
    name = f"Rowan {width}"
    client_url = _add_client(page, live_app, name)
    edit_url = client_url + "/edit"

    other_context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        other = other_context.new_page()
        log_in(other, live_app, THERAPIST)
        expect(other.locator("h1")).to_have_text("Caseload")
        # Both open the form; the other browser saves first.
        page.goto(edit_url)
        other.goto(edit_url)
        other.fill("#f-goals", "Sleep through the night")
        other.click("main form button[type=submit]")
        expect(other).to_have_url(client_url)
    finally:
        other_context.close()

    page.fill("#f-goals", "Fewer panic attacks")
    page.fill("#f-session_cadence_days", "14")
    page.click("main form button[type=submit]")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    goals = conflict.locator("fieldset[data-field=goals]")
    expect(goals.locator("[data-side=mine]")).to_have_text("Fewer panic attacks")
    expect(goals.locator("[data-side=theirs]")).to_have_text("Sleep through the night")
    shot(page, f"concurrent-{width}-conflict")
    # Keep theirs for the goals; the rhythm (changed only here) stays mine.
    goals.locator("input[value=theirs]").check()
    expect(
        conflict.locator("fieldset[data-field=session_cadence_days] input[value=mine]")
    ).to_be_checked()
    page.click("main form button[type=submit]")
    expect(page).to_have_url(client_url)
    expect(page.locator(".goals-text")).to_have_text("Sleep through the night")
    expect(page.locator(".client-facts")).to_contain_text("every 14 days")
    _archive(page, client_url)
