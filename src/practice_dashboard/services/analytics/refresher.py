"""A background thread that keeps caseload summaries current across midnight.

Summaries move with the calendar ("days since last session", 14- and 28-day windows), so each
holds for one practice day. In the last `summary_rollover_minutes` of the day this thread
computes every client's summary for the next day ahead of need; at midnight the caseload reads
those, and the thread drops the rows they replaced. It also catches up whatever is stale (a
server that was off at midnight). All of it in batches that hold the write lock briefly
(`summary_batches`). Running one per worker is harmless (a batch never overwrites a client
changed meanwhile), merely a little redundant.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from practice_dashboard.config import Settings
from practice_dashboard.db import SessionFactory
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.analytics import summary_batches
from practice_dashboard.services.analytics.summary import day_start, practice_today

log = logging.getLogger(__name__)

# Wake a little after the day turns, so the practice's "today" is the new day for certain.
_AFTER_MIDNIGHT = timedelta(seconds=1)


class SummaryRefresher:
    def __init__(
        self,
        factory: SessionFactory,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._clock = clock
        self._sizer = summary_batches.BatchSizer(settings.summary_write_hold_ms / 1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="summary-refresher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def refresh_until_current(self) -> summary_batches.BatchReport:
        """One round: today's summaries current, old rows dropped, tomorrow's rolled over in
        the roll-over window; batch by batch until done (or we are stopping)."""
        return summary_batches.bring_current(
            self._factory,
            settings=self._settings,
            clock=self._clock,
            sizer=self._sizer,
            stopping=self._stop.is_set,
            pause=self._stop.wait,
        )

    def seconds_to_next_round(self) -> float:
        """The interval, or less when the roll-over window opens or the day turns sooner."""
        now = self._clock()
        settings = self._settings
        midnight = day_start(practice_today(settings, now) + timedelta(days=1), settings.timezone)
        moments = [
            now + timedelta(seconds=settings.summary_refresh_interval_seconds),
            midnight - timedelta(minutes=settings.summary_rollover_minutes),
            midnight + _AFTER_MIDNIGHT,
        ]
        return max(0.0, min(m for m in moments if m > now).timestamp() - now.timestamp())

    def _run(self) -> None:
        wait = 0.0  # catch up at start, then every interval (and at the day's turning points)
        while not self._stop.wait(wait):
            try:
                report = self.refresh_until_current()
                if report.written or report.pruned:
                    log.info(
                        "client summaries: %d refreshed, %d old rows dropped, %d skipped "
                        "(changed meanwhile); longest write lock %.0f ms",
                        report.written,
                        report.pruned,
                        report.skipped,
                        report.longest_hold * 1000,
                    )
            except Exception:  # keep the thread alive: the next round retries
                log.exception("refreshing client summaries failed")
            wait = self.seconds_to_next_round()
