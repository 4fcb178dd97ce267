"""HTML → PDF with the system's headless Chromium, offline.

The page is written to a private temporary folder together with the files it links to
(plotly.min.js, app.js, print.css), and Chromium prints ``file://…/report.html``. Nothing
reaches the network: the page links only files beside it, Chromium's background services are
off, and every host name resolves to nothing.

Charts are drawn by the page's own script (static/js/app.js) when it loads; Chromium prints
after a *virtual* time budget, which fast-forwards while the page is idle, so every chart is
on paper without a real wait.

The browser is the ``chromium`` setting (``PRACTICE_DASHBOARD_CHROMIUM``)
default ``/usr/bin/chromium`` (Debian package ``chromium``). Without it: a 503.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from practice_dashboard.config import Settings
from practice_dashboard.errors import AppError

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ENV: Final = "PRACTICE_DASHBOARD_CHROMIUM"
#: Seconds Chromium may take before it is stopped (a normal summary needs 1-3 s).
DEFAULT_TIMEOUT: Final = 60.0
#: Virtual milliseconds the page may run scripts before printing (fast-forwarded when idle).
VIRTUAL_TIME_BUDGET_MS: Final = 10_000
#: Chromium processes one app process runs at once; each needs ~150-250 MB of memory.
MAX_CONCURRENT: Final = 2
#: How long a request waits for a free slot before it is told to try again.
QUEUE_SECONDS: Final = 30.0

_slots = threading.BoundedSemaphore(MAX_CONCURRENT)

_FLAGS: Final = (
    "--headless",
    "--no-sandbox",  # the container's user namespace rules out Chromium's own sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",  # Docker's /dev/shm is 64 MB
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    # Offline by construction: no host name resolves, so a stray URL fails instead of leaking.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # The page prints its own running header and footer (CSS @page margin boxes).
    "--no-pdf-header-footer",
)


class PdfUnavailable(AppError):
    """Chromium is not installed (or not where the settings say)."""

    status_code = 503
    default_detail = "PDF export is not available: Chromium is not installed on the server"


class PdfBusy(AppError):
    status_code = 503
    default_detail = "The server is busy making other PDFs; try again in a minute"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "30"})


class PdfFailed(AppError):
    status_code = 500
    default_detail = "The PDF could not be made; the error was logged"


def chromium_path(settings: Settings | None = None) -> str:
    """The browser: the `chromium` setting (PRACTICE_DASHBOARD_CHROMIUM), else Debian's."""
    return settings.chromium if settings is not None else DEFAULT_CHROMIUM


def ensure_chromium(settings: Settings | None = None) -> str:
    """The browser's path, or PdfUnavailable (checked before any work is done)."""
    path = chromium_path(settings)
    resolved = shutil.which(path)
    if resolved is None:
        log.warning("PDF export needs Chromium at %s (setting %s)", path, CHROMIUM_ENV)
        raise PdfUnavailable(
            "PDF export is not available: Chromium is not installed on the server "
            f"(expected at {path}; set {CHROMIUM_ENV})"
        )
    return resolved


def _place(source: Path, target: Path) -> None:
    """A symlink where possible (plotly.min.js is 4-5 MB), else a copy."""
    try:
        target.symlink_to(source)
    except OSError:
        shutil.copyfile(source, target)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop Chromium and its helper processes (they share its new process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def html_to_pdf(
    html: str,
    *,
    assets: Mapping[str, Path],
    settings: Settings | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """Print `html` to PDF. `assets` maps file names the page links to their source files."""
    chromium = ensure_chromium(settings)
    if not _slots.acquire(timeout=QUEUE_SECONDS):
        raise PdfBusy()
    try:
        with tempfile.TemporaryDirectory(prefix="pd-pdf-") as folder:
            root = Path(folder)
            page = root / "report.html"
            page.write_text(html, encoding="utf-8")
            for name, source in assets.items():
                _place(Path(source), root / name)
            out = root / "report.pdf"
            args = [
                chromium,
                *_FLAGS,
                f"--user-data-dir={root / 'profile'}",
                f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ]
            # Chromium starts helper processes: a new session puts them all in one group
            # that can be stopped together on a timeout.
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=root,
                env={**os.environ, "HOME": str(root)},
                start_new_session=True,
            )
            try:
                _, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop(process)
                log.error("Chromium did not finish a PDF within %.0f s", timeout)
                raise PdfFailed("The PDF took too long to make; please try again") from None
            data = out.read_bytes() if out.is_file() else b""
            if process.returncode != 0 or not data.startswith(b"%PDF-"):
                log.error(
                    "Chromium exited with %s and no PDF: %s",
                    process.returncode,
                    stderr.decode("utf-8", "replace")[-2000:],
                )
                raise PdfFailed()
            return data
    finally:
        _slots.release()
