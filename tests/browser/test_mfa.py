"""Two-factor authentication in a real Chromium, at desktop and phone widths: set it up from
Settings, then log in with a code from the app, as a person would."""

from __future__ import annotations

import re
import time
from itertools import count

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.models.enums import Role
from tests.browser.accessibility import axe_context, blocking_violations
from tests.browser.conftest import LiveApp, shot
from tests.builders import PASSWORD, make_user

WIDTHS = {"desktop": 1366, "phone": 390}
_serial = count(1)


def _new_account(app: LiveApp) -> str:
    """A fresh account on the live app (the demo accounts stay without MFA for other tests)."""
    engine = create_db_engine(app.settings)
    email = f"mfa{next(_serial)}-{id(app)}@browser.test"
    with session_scope(create_session_factory(engine)) as db:
        make_user(db, app.settings, Role.THERAPIST, email=email)
    engine.dispose()
    return email


def _no_sideways_scroll(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page scrolls sideways ({scroll}px at {width}px)"


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_set_up_then_log_in_with_a_code(live_app: LiveApp, page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    email = _new_account(live_app)
    page.goto(f"{live_app.url}/settings")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/settings$"))

    page.click("#mfa-link")
    expect(page).to_have_url(re.compile(r"/account/mfa$"))
    qr = page.locator(".qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150, "the QR code is too small to scan"
    _no_sideways_scroll(page, width)
    shot(page, f"mfa-setup-{width}")

    secret = page.locator("#secret-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.fill("#confirm-code", "000000")
    page.click("text=Turn on two-factor authentication")
    expect(page.locator("#confirm-code-error")).to_be_visible()
    expect(page.locator("#confirm-code")).to_have_attribute("aria-invalid", "true")

    page.fill("#confirm-code", totp.now())
    page.click("text=Turn on two-factor authentication")
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    _no_sideways_scroll(page, width)
    shot(page, f"mfa-recovery-codes-{width}")

    # Log out and in again: after the password, the code form; then the page asked for.
    page.click("text=Log out")
    page.goto(f"{live_app.url}/settings")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login/mfa$"))
    expect(page.locator("#code")).to_be_focused()
    _no_sideways_scroll(page, width)
    shot(page, f"mfa-code-form-{width}")
    # The next step's code: the one that turned MFA on may still be the current one.
    page.fill("#code", totp.at(time.time(), counter_offset=1))
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/settings$"))


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_set_up_and_code_pages_pass_axe(
    live_app: LiveApp, browser: Browser, width: int
) -> None:
    context = axe_context(browser, {"width": width, "height": 900})
    try:
        _check_with_axe(live_app, context.new_page())
    finally:
        context.close()


def _check_with_axe(live_app: LiveApp, page: Page) -> None:
    email = _new_account(live_app)
    page.goto(f"{live_app.url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_app.url}/account/mfa")
    problems = blocking_violations(page, "/account/mfa")
    secret = page.locator("#secret-key").inner_text().replace(" ", "")
    page.fill("#confirm-code", pyotp.TOTP(secret).now())
    page.click("text=Turn on two-factor authentication")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    problems += blocking_violations(page, "/account/mfa (recovery codes)")
    page.click("text=Log out")
    page.goto(f"{live_app.url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login/mfa$"))
    problems += blocking_violations(page, "/login/mfa")
    assert problems == [], "\n".join(str(p) for p in problems)
