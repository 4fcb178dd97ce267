"""axe-core in the browser tests: loaded from node_modules into the page, never from a CDN.

`npm ci` (scripts/test.sh) installs the version pinned in package-lock.json. Without it the
accessibility tests are skipped and say so, except under CI=true, where that is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# The impacts that fail a page (issue 9, item 9); minor and moderate findings are reported by
# axe but do not block.
BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class Violation:
    """One axe rule broken on one page, with a few of the elements that break it."""

    where: str
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        at = ", ".join(self.targets)
        return f"{self.where}: [{self.impact}] {self.rule}: {self.help} at {at} ({self.detail})"


def require_axe() -> Path:
    """The installed axe-core script, or a skip (an error under CI=true) when it is missing."""
    if AXE_JS.exists():
        return AXE_JS
    message = f"no axe-core at {AXE_JS}: run `npm ci` (scripts/test.sh does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def axe_context(browser: Browser, viewport: ViewportSize) -> BrowserContext:
    """A browser context whose every page carries axe-core from its start.

    axe is a script the page did not ask for, which the app's CSP forbids, so this context
    bypasses the CSP. Given as an init script, Chromium compiles it once for the context's
    pages: added to each page after it loaded, axe took 0.10-0.19 s a page, half of each
    page's check, and the six crawls of test_accessibility.py took 89 s then, 61 s now (2026-12-08).
    """
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    context.add_init_script(path=str(require_axe()))
    return context


def blocking_violations(page: Page, where: str) -> list[Violation]:
    """Run axe-core over the whole page (opened in an `axe_context`); every serious or
    critical violation it finds."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        raise AssertionError(f"{where}: no axe-core in the page; open it in axe_context()")
    result: list[dict[str, Any]] = page.evaluate(
        r"""async () => {
               const r = await window.axe.run(document, {resultTypes: ["violations"]});
               return r.violations.map(v => ({
                   id: v.id, impact: v.impact, help: v.help,
                   targets: v.nodes.slice(0, 4).map(n => n.target.join(" ")),
                   detail: (v.nodes[0].failureSummary || "").replace(/\s+/g, " ").slice(0, 300)}));
           }"""
    )
    return [
        Violation(where, v["id"], v["impact"] or "", v["help"], tuple(v["targets"]), v["detail"])
        for v in result
        if v["impact"] in BLOCKING
    ]
