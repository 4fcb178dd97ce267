"""Benchmark: progress summary PDF of a 5-year client, and supervision packets.

    .venv/bin/python -m bench.pdf_bench                   # SQLite
    .venv/bin/python -m bench.pdf_bench --db postgresql --clients 150 --repeat 5

Generates the benchmark practice (bench.generate: one long-term client with 5 years of daily
data, plus `--clients` two-year clients under one supervisor), then times each export through
the real app (cookie login, routing, database, template, Chromium) and, for the summary, each
stage on its own. Every figure is the median of `--repeat` runs after one warm-up (the
warm-up also starts the app's persistent Chromium, as a server's first PDF would).

The summary PDF is set beside its ceiling, a blank page printed through the same persistent
browser (the cost of a fresh browser context, a page and a print, with nothing to draw), and
beside the old way, one `chromium --print-to-pdf` start per PDF. The target for the 5-year
summary PDF (whole course, over HTTP) is 1.0 s; the exit status is 1 over it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.generate import BenchPractice, generate, migrated_database
from practice_dashboard.app import create_app
from practice_dashboard.db import create_session_factory, session_scope
from practice_dashboard.models import Client, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.accounts import login_session
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.periods import parse_period
from practice_dashboard.services.reports import chromium, pdf
from practice_dashboard.services.reports import progress_summary as reports
from practice_dashboard.services.reports.printing import summary_pdf
from practice_dashboard.warmup import settle
from practice_dashboard.web.printing import print_renderer, summary_document

TARGET_SECONDS = 1.0
BLANK_PAGE = "<!doctype html><html><head><title>blank</title></head><body></body></html>"


def timed(name: str, call: Callable[[], Any], repeat: int, gap: float = 0.0) -> float:
    """Median seconds of `repeat` runs after one warm-up, `gap` idle seconds before each;
    prints the line."""
    result = call()
    timings = []
    for _ in range(repeat):
        time.sleep(gap)
        started = time.perf_counter()
        result = call()
        timings.append(time.perf_counter() - started)
    status = getattr(result, "status_code", 200)
    assert status == 200, getattr(result, "text", "")[:500]
    size = len(
        getattr(result, "content", b"") or (result if isinstance(result, bytes | str) else "")
    )
    median = statistics.median(timings)
    print(
        f"  {name:<62} median {median:6.3f} s   min {min(timings):6.3f} s   "
        f"max {max(timings):6.3f} s   {size / 1024:8.1f} KiB",
        flush=True,
    )
    return median


def assets_only_page(assets: Mapping[str, Path]) -> str:
    """A page that loads the print view's files (styles, app.js, plotly.js) and draws nothing:
    what loading them costs in each PDF, charts aside."""
    links = "".join(
        f'<link rel="stylesheet" href="{name}">' for name in assets if name.endswith(".css")
    )
    scripts = "".join(f'<script src="{name}"></script>' for name in assets if name.endswith(".js"))
    head = f"<!doctype html><html><head><title>assets</title>{links}</head>"
    return f"{head}<body>{scripts}</body></html>"


def launch_per_pdf(html: str, assets: Mapping[str, Path], executable: str) -> bytes:
    """The old way, for comparison: one `chromium --print-to-pdf` start per PDF, printing
    after a virtual time budget, with the same offline flags."""
    with tempfile.TemporaryDirectory(prefix="pd-bench-") as folder:
        root = Path(folder)
        page = root / "report.html"
        page.write_text(html, encoding="utf-8")
        for name, source in assets.items():
            (root / name).symlink_to(source)
        out = root / "report.pdf"
        subprocess.run(
            [
                executable,
                *chromium.FLAGS,
                "--no-pdf-header-footer",
                f"--user-data-dir={root / 'profile'}",
                "--virtual-time-budget=10000",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": folder},
            check=True,
            timeout=120,
        )
        return out.read_bytes()


def ratio_line(name: str, product: float, ceiling: float) -> None:
    """Product, ceiling and their ratio on one line."""
    print(
        f"  {name:<40} product {product:6.3f} s   ceiling {ceiling:6.3f} s   "
        f"ratio {product / ceiling:5.2f}×",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=35, help="two-year clients (default 35)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--gap",
        type=float,
        default=0.5,
        help="idle seconds before each timed run (default 0.5: a practice's PDFs are seconds "
        "apart, and the app opens the next PDF's tab in between; 0 = back to back)",
    )
    parser.add_argument(
        "--no-launch-per-pdf",
        action="store_true",
        help="skip the old one-browser-start-per-PDF comparison",
    )
    args = parser.parse_args()
    browser = pdf.chromium_path()
    try:
        executable = pdf.ensure_chromium()
    except pdf.PdfUnavailable:
        print(f"no Chromium at {browser} (set {pdf.CHROMIUM_ENV})", file=sys.stderr)
        return 2

    with ExitStack() as stack:
        settings, engine = stack.enter_context(migrated_database(args.db))
        print(f"\n== {args.db}: 1 five-year client + {args.clients} two-year clients", flush=True)
        started = time.perf_counter()
        practice: BenchPractice = generate(engine, settings, clients=args.clients)
        print(f"   {practice.rows:,} records in {time.perf_counter() - started:.1f} s")
        engine.dispose()

        app = create_app(settings)
        api = stack.enter_context(TestClient(app))
        # As a served worker is once it has answered (warmup.py).
        settle(app)
        factory = create_session_factory(app.state.engine)
        now = utcnow()
        with session_scope(factory) as db:
            cookies = {}
            for key, user_id in (
                ("owner", practice.long_owner_id),
                ("supervisor", practice.supervisor_id),
            ):
                user = db.get(User, user_id)
                assert user is not None
                token, _ = login_session.start(db, settings, user=user, now=now, ip=None)
                cookies[key] = {login_session.COOKIE_NAME: token}
            long_client = db.get(Client, practice.long_client_id)
            assert long_client is not None
            whole_course = {"start": long_client.intake_date.isoformat()}

        print(f"   Chromium: {browser}\n")
        path = f"/clients/{practice.long_client_id}"
        whole_course_pdf = timed(
            "summary PDF, 5-year client, whole course (HTTP, end to end)",
            lambda: api.get(f"{path}/summary.pdf", params=whole_course, cookies=cookies["owner"]),
            args.repeat,
            args.gap,
        )
        six_months_pdf = timed(
            "summary PDF, 5-year client, last 6 months",
            lambda: api.get(f"{path}/summary.pdf", cookies=cookies["owner"]),
            args.repeat,
            args.gap,
        )
        timed(
            "summary print view (HTML), 5-year client, whole course",
            lambda: api.get(f"{path}/summary", params=whole_course, cookies=cookies["owner"]),
            args.repeat,
            args.gap,
        )

        # The same summary, stage by stage.
        with session_scope(factory) as db:
            owner = db.get(User, practice.long_owner_id)
            assert owner is not None
            period = parse_period(whole_course["start"], None, now=now, tz=settings.timezone)

            def gather() -> reports.ProgressSummary:
                return reports.progress_summary(
                    db,
                    client_id=practice.long_client_id,
                    actor=Actor(owner),
                    settings=settings,
                    period=period,
                    now=now,
                )

            timed("  stage: gather the figures (database + metrics)", gather, args.repeat)
            summary = gather()
            timed(
                "  stage: charts + template (HTML)",
                lambda: summary_document(
                    summary, settings=settings, vocabulary="window", now=now, offline=True
                ),
                args.repeat,
                args.gap,
            )
            print_seconds = timed(
                "  stage: HTML + Chromium (PDF)",
                lambda: summary_pdf(
                    print_renderer, summary, settings=settings, vocabulary="window", now=now
                ),
                args.repeat,
                args.gap,
            )
            html = summary_document(
                summary, settings=settings, vocabulary="window", now=now, offline=True
            )
        blank_seconds = timed(
            "ceiling: a blank page through the same persistent Chromium",
            lambda: pdf.html_to_pdf(BLANK_PAGE, assets={}, settings=settings),
            args.repeat,
            args.gap,
        )
        assets_seconds = timed(
            "  reference: the print view's files loaded, nothing drawn",
            lambda: pdf.html_to_pdf(
                assets_only_page(print_renderer.assets),
                assets=print_renderer.assets,
                settings=settings,
            ),
            args.repeat,
            args.gap,
        )
        launch_seconds = None
        if not args.no_launch_per_pdf:
            launch_seconds = timed(
                "  old way: the same HTML, one Chromium start per PDF",
                lambda: launch_per_pdf(html, print_renderer.assets, executable),
                args.repeat,
                args.gap,
            )

        timed(
            f"packet PDF, all supervisees ({practice.clients} clients)",
            lambda: api.get("/supervision/packet.pdf", cookies=cookies["supervisor"]),
            args.repeat,
            args.gap,
        )
        timed(
            f"packet CSV, all supervisees ({practice.clients} clients)",
            lambda: api.get("/supervision/packet.csv", cookies=cookies["supervisor"]),
            args.repeat,
            args.gap,
        )
        print(
            f"\n   product ÷ ceiling ({args.db}, medians of {args.repeat} after a warm-up, "
            f"{args.gap:g} s idle before each)"
        )
        ratio_line("summary PDF, whole course (HTTP)", whole_course_pdf, blank_seconds)
        ratio_line("summary PDF, last 6 months (HTTP)", six_months_pdf, blank_seconds)
        ratio_line("HTML → PDF stage, whole course", print_seconds, blank_seconds)
        print(
            f"  of the HTML → PDF stage: {blank_seconds:.3f} s a blank page's print, "
            f"{assets_seconds - blank_seconds:.3f} s loading the page's files (plotly.js), "
            f"{print_seconds - assets_seconds:.3f} s the summary's own layout, charts and pages"
        )
        if launch_seconds is not None:
            print(
                f"  old way (a Chromium start per PDF) {launch_seconds:.3f} s for the same "
                f"HTML: {launch_seconds / print_seconds:.1f}× the persistent browser"
            )
        verdict = "within" if whole_course_pdf <= TARGET_SECONDS else "OVER"
        print(
            f"\n   5-year summary PDF: {whole_course_pdf:.3f} s median, {verdict} the "
            f"{TARGET_SECONDS:.1f} s target"
        )
        return 0 if whole_course_pdf <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
