"""Issue 9, items 7 and 8 in a real Chromium, at a desktop (1366 px) and a phone (390 px) width.

Every test makes its own clients through the API, so the shared demo practice stays as the
other browser tests expect it.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DEMO_PASSWORD, LiveApp, shot
from tests.browser.test_dashboard import ADMIN, SUPERVISOR, THERAPIST, log_in

WIDTHS = [pytest.param(1366, id="desktop-1366"), pytest.param(390, id="phone-390")]
LONG_WORD = "Wolfeschlegelsteinhausenbergerdorff"


@contextmanager
def _api(app: LiveApp, email: str, password: str = DEMO_PASSWORD) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url) as http:
        token = http.post("/api/v1/auth/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


@pytest.fixture
def therapist_api(live_app: LiveApp) -> Iterator[httpx.Client]:
    """therapist1's API; the clients a test adds are archived afterwards (they leave the
    caseload, so later browser tests meet the demo practice as it was)."""
    with _api(live_app, THERAPIST) as http:
        before = {
            c["id"] for c in http.get("/api/v1/clients", params={"limit": 200}).json()["items"]
        }
        yield http
        after = http.get("/api/v1/clients", params={"limit": 200}).json()["items"]
        for client in after:
            if client["id"] not in before:
                assert http.delete(f"/api/v1/clients/{client['id']}").status_code in (200, 204)


def _client_with_safety_alert(http: httpx.Client, name: str) -> dict[str, Any]:
    """A new client of therapist1 whose PHQ-9 answers item 9 with 1: a safety alert."""
    now = datetime.now(UTC)
    client = http.post("/api/v1/clients", json={"display_name": name}).json()
    for path, body in (
        (
            "observations",
            {
                "observed_at": (now - timedelta(hours=2)).isoformat(),
                "zone": "within",
                "activation": 3,
            },
        ),
        (
            "measures",
            {
                "instrument": "phq9",
                "administered_at": (now - timedelta(hours=1)).isoformat(),
                "items": [1, 1, 1, 1, 0, 0, 0, 0, 1],
            },
        ),
    ):
        response = http.post(f"/api/v1/clients/{client['id']}/{path}", json=body)
        assert response.status_code == 201, response.text
    return client


def _no_sideways_scroll(page: Page, width: int) -> None:
    page.wait_for_load_state("load")  # stylesheets applied before measuring
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} scrolls sideways at {width}px ({scroll}px wide)"


def _supervisor_sees(page: Page, app: LiveApp, client_id: str, *, acknowledged: bool) -> None:
    page.goto(f"{app.url}/supervision")
    row = page.locator(f"#flagged-table tr[data-client='{client_id}']")
    expect(row).to_be_visible()
    chip = row.locator(".chip[data-flag='safety']")
    expect(chip).to_be_visible()
    if acknowledged:
        expect(chip).to_have_class("chip acknowledged")
        expect(row.locator("[data-ack-note='safety']")).to_contain_text("Safety plan reviewed")
    else:
        expect(chip).to_have_class("chip alert-level")
    page.goto(f"{app.url}/clients/{client_id}")
    if acknowledged:
        quiet = page.locator("details.quiet-flags")
        expect(quiet).to_have_attribute("open", "")
        expect(quiet).to_contain_text("Safety plan reviewed")
    else:
        expect(page.locator("#flag-safety")).to_be_visible()
    assert page.locator("form[action*='acknowledge']").count() == 0  # read-only


@pytest.mark.parametrize("width", WIDTHS)
def test_acknowledge_then_unacknowledge_a_flag_with_the_supervisor_watching(
    live_app: LiveApp, page: Page, browser: Browser, therapist_api: httpx.Client, width: int
) -> None:
    client = _client_with_safety_alert(therapist_api, f"Flag Walkthrough {width}")
    cid = client["id"]
    supervisor = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    log_in(supervisor, live_app, SUPERVISOR)
    _supervisor_sees(supervisor, live_app, cid, acknowledged=False)

    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, THERAPIST)
    page.goto(f"{live_app.url}/clients/{cid}")
    form = page.locator("form[data-ack='safety']")
    form.locator("textarea").fill("Safety plan reviewed with the client")
    form.locator("button[type=submit]").click()
    expect(page.locator("p[role=status]").first).to_contain_text("Acknowledged: Safety")
    _no_sideways_scroll(page, width)
    shot(page, f"pages-acknowledged-{width}")

    _supervisor_sees(supervisor, live_app, cid, acknowledged=True)
    shot(supervisor, f"pages-supervisor-acknowledged-{width}")

    page.locator("details.quiet-flags summary").click()
    page.locator("form[data-unack='safety'] button[type=submit]").click()
    expect(page.locator("#unacknowledged-notice")).to_contain_text("Un-acknowledged: Safety")
    expect(page.locator("#flag-safety")).to_be_visible()

    _supervisor_sees(supervisor, live_app, cid, acknowledged=False)
    supervisor.context.close()


def test_the_caseload_on_a_phone_shows_the_flags_without_sideways_scrolling(
    live_app: LiveApp, page: Page, therapist_api: httpx.Client
) -> None:
    _client_with_safety_alert(therapist_api, "Phone Caseload Check")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_app, THERAPIST)
    rows = page.locator("tr[data-client]")
    expect(rows.first).to_be_visible()
    _no_sideways_scroll(page, 390)
    wrap = page.locator(".caseload-table-wrap").first
    # (One pixel of rounding from the collapsed borders is not a scroll.)
    overflow = wrap.evaluate("e => e.scrollWidth - e.clientWidth")
    assert overflow <= 1, f"the table scrolls inside its card ({overflow}px)"
    chips = page.locator("#caseload-table .chip")
    assert chips.count() > 0
    for i in range(min(chips.count(), 12)):
        box = chips.nth(i).bounding_box()
        assert box is not None
        assert box["x"] >= 0, f"chip {i} is off the screen"
        assert box["x"] + box["width"] <= 390, f"chip {i} is off the screen"
    # Safety comes first in the worst-first order; scrolled to, its chip is wholly on screen.
    first_chip = rows.first.locator(".chip").first
    expect(first_chip).to_have_attribute("data-flag", "safety")
    first_chip.scroll_into_view_if_needed()
    expect(first_chip).to_be_in_viewport(ratio=1)
    shot(page, "pages-caseload-phone-390")


# The lines a word's text covers: a word split over two lines has boxes on two lines (an
# ellipsis may add a box, on the same line).
_WORD_BOXES = """nodes => nodes.map(n => {
    const range = document.createRange();
    range.selectNodeContents(n);
    const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
    return [n.textContent, tops.size];
})"""


@pytest.mark.parametrize("width", WIDTHS)
def test_a_long_unbroken_name_does_not_break_mid_word(
    live_app: LiveApp, page: Page, therapist_api: httpx.Client, width: int
) -> None:
    name = f"Ana {LONG_WORD} Ruiz"
    client = therapist_api.post("/api/v1/clients", json={"display_name": name}).json()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, THERAPIST)
    page.fill("#f-search", LONG_WORD)
    page.locator(".caseload-filters button[type=submit]").click()
    for where in ("caseload", "client page"):
        if where == "client page":
            page.goto(f"{live_app.url}/clients/{client['id']}")
            holder = page.locator("h1")
        else:
            holder = page.locator(f"tr[data-client='{client['id']}'] a.client-name")
        expect(holder).to_have_attribute("title", name)
        boxes = holder.locator(".name-word").evaluate_all(_WORD_BOXES)
        assert [w for w, _ in boxes] == ["Ana", LONG_WORD, "Ruiz"]
        assert all(n == 1 for _, n in boxes), f"a word is split over lines on the {where}: {boxes}"
        _no_sideways_scroll(page, width)
    shot(page, f"pages-long-name-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_packet_button_works_again_after_a_download(
    live_app: LiveApp, page: Page, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, SUPERVISOR)
    page.goto(f"{live_app.url}/supervision")
    button = page.locator("form[aria-label='Supervision packet'] button[formaction$='packet.csv']")
    for attempt in (1, 2):
        with page.expect_download() as info:
            # Playwright waits until the button is no longer aria-disabled.
            button.click(timeout=10_000)
        download = info.value
        assert download.suggested_filename.endswith(".csv"), attempt
        assert download.failure() is None
    expect(button).not_to_have_attribute("aria-disabled", "true")
    _no_sideways_scroll(page, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_downloads_of_a_client_and_the_caseload(
    live_app: LiveApp, page: Page, therapist_api: httpx.Client, width: int
) -> None:
    client = _client_with_safety_alert(therapist_api, f"Download Check {width}")
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, THERAPIST)
    page.goto(f"{live_app.url}/clients/{client['id']}")
    links = page.locator("#export-links")
    links.scroll_into_view_if_needed()
    _no_sideways_scroll(page, width)
    with page.expect_download() as info:
        links.locator("a[data-export='csv-measures']").click()
    csv_file = info.value
    assert csv_file.suggested_filename == f"client-{client['id']}-measures.csv"
    rows = list(csv.reader(io.StringIO(open(csv_file.path(), encoding="utf-8").read())))
    assert rows[0][:2] == ["id", "client_id"]
    assert len(rows) == 2
    with page.expect_download() as info:
        links.locator("a[data-export='fhir']").click()
    bundle = json.loads(open(info.value.path(), encoding="utf-8").read())
    assert bundle["resourceType"] == "Bundle"
    # The same links with the browser's login: the content types a program would check.
    for path, kind in (
        (f"/clients/{client['id']}/export.csv?kind=observations", "text/csv; charset=utf-8"),
        (f"/clients/{client['id']}/export.fhir.json", "application/fhir+json"),
        ("/export.csv?kind=clients", "text/csv; charset=utf-8"),
    ):
        response = page.request.get(f"{live_app.url}{path}")
        assert response.status == 200, path
        assert response.headers["content-type"] == kind, path
    page.goto(f"{live_app.url}/")
    with page.expect_download() as info:
        page.locator("#caseload-export button[type=submit]").click()
    assert info.value.suggested_filename.startswith("caseload-observations-")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_self_check_by_a_practitioner(live_app: LiveApp, page: Page, width: int) -> None:
    # A new account of its own: a self-check is never deleted, and the demo therapists' load
    # (which their latest self-check is part of) stays as other tests expect it.
    email = f"self-check-{width}-{uuid.uuid4().hex[:8]}@example.org"
    password = "a-long-enough-password-for-tests"
    with _api(live_app, ADMIN) as admin:
        created = admin.post(
            "/api/v1/users",
            json={"email": email, "full_name": "Sam Self", "role": "coach", "password": password},
        )
        assert created.status_code == 201, created.text
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_app.url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.click("nav a:has-text('Self-check')")
    expect(page.locator("h1")).to_have_text("Your self-check")
    expect(page.locator("#source-note")).to_contain_text("Kristensen")
    # "Sometimes" (code 2) to every personal and work-related item: 50 on both scales.
    for n in range(1, 14):
        page.locator(f"label[for='f-item_{n}-2']").click()
    _no_sideways_scroll(page, width)
    page.locator("#log-form button[type=submit]").click()
    saved = page.locator("#saved-note")
    expect(saved).to_contain_text("personal burnout 50 (high)")
    expect(saved).to_contain_text("work-related burnout 50 (high)")
    expect(saved).to_contain_text("client-related burnout not scored")
    expect(page.locator("#self-check-table tr.just-saved")).to_be_visible()
    shot(page, f"pages-self-check-{width}")


# Every annotation and axis label of a drawn chart inside the chart's own box.
_CLIPPED = """charts => charts.flatMap(chart => {
    const box = chart.querySelector('.main-svg').getBoundingClientRect();
    const labels = chart.querySelectorAll(
        'g.annotation, g.xtick text, g.ytick text, g.y2tick text, .g-ytitle, .g-y2title');
    return Array.from(labels).filter(el => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) return false;
        return r.left < box.left - 0.5 || r.right > box.right + 0.5
            || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
    }).map(el => chart.id + ': ' + (el.textContent || el.getAttribute('class')));
})"""


@pytest.mark.parametrize("width", WIDTHS)
def test_no_chart_label_or_note_is_clipped(
    live_app: LiveApp, page: Page, therapist_api: httpx.Client, width: int
) -> None:
    client = _client_with_safety_alert(therapist_api, f"Chart Edges {width}")
    now = datetime.now(UTC)
    for label, at in (
        ("Started a new job in the city", now - timedelta(days=180)),
        ("Moved house with the whole family", now - timedelta(hours=3)),
    ):
        response = therapist_api.post(
            f"/api/v1/clients/{client['id']}/annotations",
            json={"at": at.isoformat(), "kind": "life_event", "label": label},
        )
        assert response.status_code == 201, response.text
    # A check-in with a capacity rating of 0: the capacity chart's bottom edge.
    response = therapist_api.post(
        f"/api/v1/clients/{client['id']}/observations",
        json={
            "observed_at": (now - timedelta(days=3)).isoformat(),
            "zone": "within",
            "activation": 0,
            "capacity": 0,
        },
    )
    assert response.status_code == 201, response.text
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_app, THERAPIST)
    start = (now - timedelta(days=183)).date().isoformat()
    page.goto(f"{live_app.url}/clients/{client['id']}?start={start}")
    charts = page.locator("div.chart")
    expect(page.locator("div.chart[data-rendered='1']")).to_have_count(
        charts.count(), timeout=15_000
    )
    clipped = charts.evaluate_all(_CLIPPED)
    assert clipped == [], f"clipped at {width}px: {clipped}"
    _no_sideways_scroll(page, width)
    shot(page, f"pages-chart-edges-{width}")


def test_a_new_client_s_charts_start_at_intake(
    live_app: LiveApp, page: Page, therapist_api: httpx.Client
) -> None:
    intake = (datetime.now(UTC) - timedelta(days=21)).date()
    client = therapist_api.post(
        "/api/v1/clients",
        json={
            "display_name": f"New In Care {uuid.uuid4().hex[:6]}",
            "intake_date": intake.isoformat(),
        },
    ).json()
    log_in(page, live_app, THERAPIST)
    page.goto(f"{live_app.url}/clients/{client['id']}")
    expect(page.locator("#period-start")).to_have_value(intake.isoformat())
