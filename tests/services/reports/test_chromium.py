"""The DevTools pipe's reader: a page's session that ends fails the calls still waiting on it.

Chromium drops a command that reaches a page's session as the page closes (seen with Chromium
156: ``Runtime.evaluate`` sent just after ``Target.closeTarget`` answered was never answered),
so a caller would wait out its whole deadline; a PDF took a spare tab that way and waited 5 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_dashboard.services.reports import chromium
from tests.services.reports.test_reports import chromium as chromium_path  # noqa: F401 (fixture)


def reader() -> chromium.Browser:
    """A Browser's reader state alone, with no process: `_dispatch` fed by hand."""
    browser = chromium.Browser.__new__(chromium.Browser)
    browser._state_lock = threading.Lock()
    browser._replies = {}
    browser._handlers = {}
    return browser


def detached(session: str) -> dict[str, object]:
    """The event Chromium sends the browser's own session when a page's session ends."""
    return {
        "method": "Target.detachedFromTarget",
        "params": {"sessionId": session, "targetId": "T"},
    }


class TestSessionEnded:
    def test_the_calls_waiting_on_it_fail_with_session_gone(self) -> None:
        browser = reader()
        answered, waiting, elsewhere, browser_wide = (
            chromium._Reply("S"),
            chromium._Reply("S"),
            chromium._Reply("OTHER"),
            chromium._Reply(None),
        )
        browser._replies = {1: answered, 2: waiting, 3: elsewhere, 4: browser_wide}
        events: list[tuple[str, object]] = []
        browser._handlers["S"] = lambda method, params: events.append((method, params))

        browser._dispatch({"id": 1, "result": {"value": 1}})  # answered before the end
        browser._dispatch(detached("S"))

        assert answered.message == {"id": 1, "result": {"value": 1}}
        assert waiting.done.is_set()
        assert waiting.message == {
            "error": {"code": chromium._SESSION_NOT_FOUND, "message": "the page's session ended"}
        }
        assert not elsewhere.done.is_set()
        assert not browser_wide.done.is_set()
        # The page's handler hears of it too (the Tab marks itself gone).
        assert events == [("Target.detachedFromTarget", {"sessionId": "S", "targetId": "T"})]

    def test_an_unknown_session_changes_nothing(self) -> None:
        browser = reader()
        pending = chromium._Reply("S")
        browser._replies = {1: pending}
        browser._dispatch(detached("NOT-OURS"))
        browser._dispatch({"method": "Target.detachedFromTarget", "params": {}})
        assert not pending.done.is_set()


@pytest.fixture
def browser(chromium_path: str) -> Iterator[chromium.Browser]:  # noqa: F811 (the fixture)
    started = chromium.Browser(chromium_path)
    yield started
    started.close()


class TestClosedPage:
    def test_a_command_sent_as_the_page_closes_fails_at_once(
        self, browser: chromium.Browser, tmp_path: Path
    ) -> None:
        blank = tmp_path / "blank.html"
        blank.write_text("<!doctype html><title>blank</title>", encoding="utf-8")
        deadline = time.monotonic() + 30
        tab = chromium.Tab(browser, start=blank, deadline=deadline)
        browser.call("Target.closeTarget", {"targetId": tab.target}, deadline=deadline)
        started = time.monotonic()
        with pytest.raises(chromium.SessionGone):
            tab.call("Runtime.evaluate", {"expression": "1"}, deadline=started + 20)
        # Not the deadline: before the reader ended the session's calls, this waited all 20 s.
        assert time.monotonic() - started < 10
        assert tab.gone
        assert browser.alive
