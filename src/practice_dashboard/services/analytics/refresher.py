"""A background thread that brings caseload summaries up to the current practice day.

Summaries move with the calendar ("days since last session", 14- and 28-day windows), so after
midnight every summary is a day old. Requests recompute a bounded number themselves; this
thread works through the rest in small transactions. Running one per worker is harmless
(refreshing is idempotent and serialised per client), merely a little redundant.
"""

from __future__ import annotations

import logging
import threading

from practice_dashboard.config import Settings
from practice_dashboard.db import SessionFactory, session_scope
from practice_dashboard.services.analytics import summary

log = logging.getLogger(__name__)


class SummaryRefresher:
    def __init__(self, factory: SessionFactory, settings: Settings, *, batch: int = 100) -> None:
        self._factory = factory
        self._settings = settings
        self._batch = batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="summary-refresher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def refresh_until_current(self) -> int:
        """Refresh stale summaries batch by batch until none is left (or we are stopping)."""
        total = 0
        while not self._stop.is_set():
            with session_scope(self._factory) as db:
                done = summary.refresh_stale(db, settings=self._settings, batch=self._batch)
            total += done
            if done < self._batch:
                break
        return total

    def _run(self) -> None:
        interval = self._settings.summary_refresh_interval_seconds
        wait = 0.0  # catch up at start, then every interval
        while not self._stop.wait(wait):
            wait = float(interval)
            try:
                refreshed = self.refresh_until_current()
                if refreshed:
                    log.info("refreshed %d client summaries", refreshed)
            except Exception:  # keep the thread alive: the next round retries
                log.exception("refreshing client summaries failed")
