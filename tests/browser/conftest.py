"""Browser tests: the real app served by uvicorn, driven by Debian's headless Chromium.

Chromium comes from the system (`/usr/bin/chromium`, Debian package `chromium`), never a
downloaded browser. Without it these tests are skipped (and say so), except under CI=true,
where .ci/run installs it and a missing browser is an error. Screenshots of every page a test
visits land in test-output/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import create_db_engine, create_session_factory, session_scope
from practice_dashboard.services import demo
from practice_dashboard.services.analytics import summary
from tests.conftest import make_settings
from tests.databases import migrated_database

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
SCREENSHOT_RETRY_SECONDS = 0.5
DEMO_PASSWORD = "browser-test-password"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists() and shutil.which(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true needs Chromium at {CHROMIUM} (apt-get install chromium)")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: apt-get install chromium")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LiveApp:
    url: str
    settings: Settings


@pytest.fixture(scope="session")
def live_app() -> Iterator[LiveApp]:
    """The demo practice on a fresh database, served on loopback for the whole session."""
    with migrated_database() as url:
        settings = make_settings(url)
        engine = create_db_engine(settings)
        factory = create_session_factory(engine)
        summary.install(factory, settings)
        with session_scope(factory) as db:
            demo.load_demo(db, settings, password=DEMO_PASSWORD)
        engine.dispose()
        app = create_app(settings)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        try:
            yield LiveApp(f"http://127.0.0.1:{port}", settings)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


# Module scope: Playwright's sync API runs an event loop in the main thread while it is open,
# which would get in the way of later tests that start their own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test; every page it shows is screenshotted at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Console errors other than HTTP statuses (a 422 form answer is expected and tested):
    # script errors and Content-Security-Policy violations fail the test.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    _screenshot(page, SCREENSHOTS / f"{name}-final.png")
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations in the browser: {errors}"


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of what the person sees now."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _screenshot(page, SCREENSHOTS / f"{name}.png")


def _screenshot(page: Page, path: Path) -> None:
    # Chromium now and then has no frame to give ("Unable to capture screenshot") while the
    # machine runs the three suites side by side (one CI run, 2026-12-06); the page itself is
    # fine, so ask once more after a moment. A screenshot is a record, never an assertion.
    try:
        page.screenshot(path=str(path), full_page=True)
    except PlaywrightError as error:
        if "Unable to capture screenshot" not in str(error):
            raise
        time.sleep(SCREENSHOT_RETRY_SECONDS)
        page.screenshot(path=str(path), full_page=True)
