"""Clicks while the client page draws its charts: how long each waits to be answered.

    .venv/bin/python -m bench.chart_input                  # 8 rounds
    .venv/bin/python -m bench.chart_input --rounds 3 --clients 5

The page of row 8 of `bench.ceilings` (its practice on SQLite: the 5-year client's 6-month
page, served by `practice-dashboard serve` with 1 worker) in Debian Chromium, opened once and
then reloaded warm, twice a round:

- untouched: the moment every chart is drawn;
- clicked: a click on the page's heading (nothing happens) every 10 ms from DOMContentLoaded
  until every chart is drawn, as a person would click a tab or a link while the page settles.
  Each click waits for its answer before the next, as a hand does.

It prints, over the rounds (min / median / max), when the charts were drawn on each kind of
visit and the longest input delay of a click made while they were drawn (Event Timing: a
`pointerdown`'s processingStart − startTime; the browser reports events of 16 ms or more, so
a visit whose clicks were all quicker reads 0).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.async_api import Browser, Page, async_playwright

from bench.ceiling_probes import CHARTS_DRAWN, CHARTS_DRAWN_WATCH
from bench.ceilings import build, product_server
from bench.checkin_load import measured_server_env
from bench.startup import installed_cli
from practice_dashboard.services.accounts import login_session
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

CLICK_EVERY_S = 0.01
# Each pointerdown the browser reports (duration ≥ 16 ms): when it happened and how long it
# waited for the main thread.
DELAY_WATCH = """
window.__inputDelays = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.name !== "pointerdown") continue;
    window.__inputDelays.push([e.startTime, e.processingStart - e.startTime]);
  }
}).observe({ type: "event", durationThreshold: 16, buffered: true });
"""


@dataclass(frozen=True, slots=True)
class Visit:
    drawn_ms: float
    longest_delay_ms: float
    clicks: int


async def _drawn(page: Page) -> float:
    await page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
    return float(await page.evaluate("window.__chartsDrawnAt"))


async def _visit(browser: Browser, url: str, cookie: str, click: bool) -> Visit:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        await context.add_cookies(
            [{"name": login_session.COOKIE_NAME, "value": cookie, "url": url}]
        )
        await context.add_init_script(CHARTS_DRAWN_WATCH)
        await context.add_init_script(DELAY_WATCH)
        page = await context.new_page()
        await page.goto(url, wait_until="load")
        await _drawn(page)
        box = await page.locator("h1").bounding_box()
        if box is None:
            raise RuntimeError("the client page has no heading to click")
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.reload(wait_until="domcontentloaded")  # warm: code and files cached
        clicks = 0
        if click:
            drawing = asyncio.ensure_future(_drawn(page))
            while not drawing.done():
                await page.mouse.click(x, y)
                clicks += 1
                await asyncio.sleep(CLICK_EVERY_S)
            drawn = await drawing
        else:
            drawn = await _drawn(page)
        delays: list[list[float]] = await page.evaluate("window.__inputDelays")
        during = [delay for at, delay in delays if at <= drawn]
        return Visit(drawn, max(during, default=0.0), clicks)
    finally:
        await context.close()


async def _rounds(url: str, cookie: str, rounds: int) -> dict[bool, list[Visit]]:
    visits: dict[bool, list[Visit]] = {False: [], True: []}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for number in range(1, rounds + 1):
                for click in (False, True):
                    visits[click].append(await _visit(browser, url, cookie, click))
                print(
                    f"   round {number}/{rounds}: drawn {visits[False][-1].drawn_ms:.0f} ms "
                    f"untouched, {visits[True][-1].drawn_ms:.0f} ms clicked; longest click "
                    f"delay {visits[True][-1].longest_delay_ms:.0f} ms",
                    flush=True,
                )
        finally:
            await browser.close()
    return visits


def _spread(values: list[float]) -> str:
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--clients", type=int, default=20, help="two-year clients (20)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        setup = build(stack, "sqlite", args.clients)
        logs = Path(stack.enter_context(TemporaryDirectory(prefix="chart-input-")))
        env = measured_server_env(setup.url)
        cli = installed_cli()
        port = stack.enter_context(product_server(cli, env, logs / "product.log", 1))
        url = f"http://127.0.0.1:{port}{setup.client_page}"
        visits = asyncio.run(_rounds(url, setup.cookie, args.rounds))
    clicked = visits[True]
    print(
        "\n".join(
            [
                f"\n### charts drawn with clicks meanwhile: {args.rounds} round(s), warm "
                "(min / median / max)",
                "",
                "| figure | untouched | clicked every 10 ms |",
                "|---|---|---|",
                f"| every chart drawn | {_spread([v.drawn_ms for v in visits[False]])} "
                f"| {_spread([v.drawn_ms for v in clicked])} |",
                f"| longest wait of a click while they were drawn | — "
                f"| {_spread([v.longest_delay_ms for v in clicked])} |",
                f"| clicks while they were drawn | — "
                f"| {statistics.median(v.clicks for v in clicked):.0f} (median) |",
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
