"""What a person does in the dashboard, in a real headless Chromium."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import DEMO_PASSWORD, LiveApp, shot

THERAPIST = "therapist1@demo.practice"
SUPERVISOR = "supervisor@demo.practice"
ADMIN = "admin@demo.practice"
HOSTILE = "<script>alert(1)</script>"


def log_in(page: Page, app: LiveApp, email: str) -> None:
    page.goto(f"{app.url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")


def chart_traces(page: Page, chart_id: str) -> list[int]:
    """Points per trace of a drawn Plotly chart (Plotly keeps the figure on the element)."""
    return page.evaluate(
        """id => document.getElementById(id).data.map(t =>
               (t.x || t.y || t.values || []).length)""",
        chart_id,
    )


def trace_sizes(page: Page, chart_id: str) -> dict[str, int]:
    return page.evaluate(
        """id => Object.fromEntries(document.getElementById(id).data.map(t =>
               [t.name, (t.x || t.y || []).length]))""",
        chart_id,
    )


def expect_all_charts_drawn(page: Page) -> list[str]:
    charts = page.locator("div.chart")
    count = charts.count()
    assert count >= 6, f"expected the client page's charts, found {count}"
    expect(page.locator("div.chart[data-rendered='1']")).to_have_count(count, timeout=15_000)
    ids = [charts.nth(i).get_attribute("id") or "" for i in range(count)]
    for chart_id in ids:
        # Plotly draws an SVG with one group per trace; the figure has data behind it.
        assert page.locator(f"#{chart_id} .main-svg").count() >= 1, chart_id
        assert sum(chart_traces(page, chart_id)) > 0, f"{chart_id} has no data"
    return ids


def test_therapist_reviews_caseload_logs_an_observation_and_logs_out(
    live_app: LiveApp, page: Page
) -> None:
    log_in(page, live_app, THERAPIST)
    rows = page.locator("tr[data-client]")
    expect(rows.first).to_be_visible()
    assert rows.count() == 14
    shot(page, "01-caseload")

    # Filter to clients with an alert: every remaining row carries an alert chip.
    page.select_option("#f-level", "alert")
    page.click(".caseload-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"level=alert"))
    flagged = page.locator("tr[data-client]")
    assert 0 < flagged.count() < 14
    for i in range(flagged.count()):
        assert flagged.nth(i).locator(".chip.alert-level").count() >= 1
    # A chip's reasons show when it gets keyboard focus.
    chip = flagged.first.locator(".chip.alert-level").first
    chip.focus()
    expect(chip.locator(".tip")).to_be_visible()
    shot(page, "02-caseload-alerts")

    # Open a client: every chart draws, with data.
    flagged.first.locator("a.client-name").click()
    expect(page.locator("h1")).to_be_visible()
    chart_ids = expect_all_charts_drawn(page)
    timeline = next(c for c in chart_ids if "state" in c or "zone" in c)
    before = trace_sizes(page, timeline)
    summary_before = page.locator(f"#{timeline}-summary").inner_text()
    client_url = page.url
    shot(page, "03-client")

    # Log an observation with a bad value: the error sits next to the field, values are kept.
    page.click("a:has-text('Observation')")
    page.check("input[name=zone][value=hyper]")
    page.fill("#f-activation", "11")
    page.fill("#f-notes", "shaky after the phone call")
    page.click("main form button[type=submit]")
    error = page.locator("#activation-error")
    expect(error).to_be_visible()
    expect(page.locator("#f-activation")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-notes")).to_have_value("shaky after the phone call")
    expect(page.locator("input[name=zone][value=hyper]")).to_be_checked()
    shot(page, "04-observation-error")

    page.fill("#f-activation", "8")
    page.click("main form button[type=submit]")
    # Back on the client page, which says what was saved.
    expect(page).to_have_url(re.compile(re.escape(client_url) + r"\?saved=observations/"))
    expect(page.locator("#saved-entry")).to_contain_text("activation 8")
    expect_all_charts_drawn(page)
    after = trace_sizes(page, timeline)
    # One more point on the hyperarousal trace (and on the thin line joining all check-ins).
    assert after.get("hyperarousal", 0) == before.get("hyperarousal", 0) + 1
    assert page.locator(f"#{timeline}-summary").inner_text() != summary_before
    shot(page, "05-client-after-observation")

    page.click("button:has-text('Log out')")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{live_app.url}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_supervisor_sees_supervisees_read_only(live_app: LiveApp, page: Page) -> None:
    log_in(page, live_app, SUPERVISOR)
    page.click("nav a:has-text('Supervision')")
    expect(page.locator("h1")).to_contain_text("Supervision")
    shot(page, "06-supervision")
    page.locator("a[href^='/clients/']").first.click()
    expect_all_charts_drawn(page)
    # Read-only: no logging links and no acknowledge forms.
    assert page.locator("a[href$='/observations/new']").count() == 0
    assert page.locator("form[action*='/acknowledge']").count() == 0
    shot(page, "07-client-read-only")


def test_admin_manages_accounts_and_sees_no_clients(live_app: LiveApp, page: Page) -> None:
    log_in(page, live_app, ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(page.locator("table")).to_contain_text(THERAPIST)
    shot(page, "08-admin-users")


def test_hostile_names_render_as_text_everywhere(live_app: LiveApp, page: Page) -> None:
    """A client named like a script, with such a trigger: shown as text, never executed."""
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    with httpx.Client(base_url=live_app.url) as http:
        token = http.post(
            "/api/v1/auth/token", data={"username": THERAPIST, "password": DEMO_PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        client = http.post(
            "/api/v1/clients", json={"display_name": HOSTILE}, headers=headers
        ).json()
        response = http.post(
            f"/api/v1/clients/{client['id']}/episodes",
            json={
                "started_at": "2026-01-05T10:00:00Z",
                "baseline_at": "2026-01-05T10:40:00Z",
                "peak_intensity": 7,
                "trigger": '<img src=x onerror="alert(2)">',
                "strategies": ["<b>bold</b>"],
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text

    log_in(page, live_app, THERAPIST)
    page.fill("#f-search", "script")
    page.click(".caseload-filters button[type=submit]")
    link = page.locator("a.client-name", has_text=HOSTILE)
    expect(link).to_have_text(HOSTILE)
    link.click()
    expect(page.locator("h1")).to_contain_text(HOSTILE)
    page.goto(page.url + "?start=2025-12-01T00:00:00Z")
    expect(page.locator("h1")).to_contain_text(HOSTILE)
    expect(page.locator("div.chart[data-rendered='1']").first).to_be_visible(timeout=15_000)
    # Hover the episode: the trigger shows as text in the hover label.
    page.locator("div.chart").first.locator(".point").first.hover(force=True)
    label = page.locator("div.chart").first.locator(".hoverlayer")
    expect(label).to_contain_text('<img src=x onerror="alert(2)">')
    shot(page, "09-hostile-names")
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0


def test_tablet_width(live_app: LiveApp, page: Page) -> None:
    page.set_viewport_size({"width": 820, "height": 1180})
    log_in(page, live_app, THERAPIST)
    expect(page.locator("tr[data-client]").first).to_be_visible()
    page.wait_for_load_state("load")  # stylesheets applied before measuring
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820, f"the caseload scrolls sideways at tablet width ({width}px)"
    shot(page, "10-caseload-tablet")


def test_half_a_date_time_is_refused_at_phone_width(live_app: LiveApp, page: Page) -> None:
    """Only the time of "Back to baseline at": a message at the field, nothing saved."""
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_app, THERAPIST)
    page.locator("a.client-name").first.click()
    client_url = page.url
    page.goto(f"{client_url}/episodes/new")
    form_url = page.url
    page.fill("#f-peak_intensity", "6")
    page.fill("#f-baseline_at-time", "09:40")
    page.click("main form button[type=submit]")
    error = page.locator("#baseline_at-error")
    expect(error).to_contain_text("Enter both the date and the time, or neither")
    expect(page.locator("#f-baseline_at")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-baseline_at-time")).to_have_value("09:40")
    expect(page.locator("#error-summary a[href='#f-baseline_at']")).to_be_visible()
    assert page.url == form_url, "the episode was saved"
    page.wait_for_load_state("load")  # stylesheets applied before measuring
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the episode form scrolls sideways on a phone ({width}px)"
    shot(page, "11-episode-half-date-time-phone")
