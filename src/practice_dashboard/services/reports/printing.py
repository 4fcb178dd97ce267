"""Printing a progress summary or a supervision packet: PDF, file names, the renderer.

The print view is presentation (Jinja2 templates, the client page's Plotly figures), so the
web layer draws it; the API and the CLI only need "this summary as a PDF". They get the web
layer's :class:`PrintRenderer` handed in (``create_app`` puts it on ``app.state``), so neither
imports a web module and every summary looks the same wherever it was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol

from practice_dashboard.config import Settings
from practice_dashboard.models import User
from practice_dashboard.services.reports import pdf
from practice_dashboard.services.reports.progress_summary import ProgressSummary
from practice_dashboard.services.reports.supervision_packet import SupervisionPacket


class PrintRenderer(Protocol):
    """Draws the print view as one HTML document (offline: linking `assets` by name)."""

    @property
    def assets(self) -> Mapping[str, Path]: ...

    def summary_document(
        self,
        summary: ProgressSummary,
        *,
        settings: Settings,
        vocabulary: str,
        now: datetime,
        offline: bool,
    ) -> str: ...

    def packet_document(
        self, packet: SupervisionPacket, *, settings: Settings, now: datetime, offline: bool
    ) -> str: ...


def summary_pdf(
    renderer: PrintRenderer,
    summary: ProgressSummary,
    *,
    settings: Settings,
    vocabulary: str,
    now: datetime,
) -> bytes:
    """The progress summary printed by Chromium."""
    html = renderer.summary_document(
        summary, settings=settings, vocabulary=vocabulary, now=now, offline=True
    )
    return pdf.html_to_pdf(html, assets=renderer.assets, settings=settings)


def packet_pdf(
    renderer: PrintRenderer, packet: SupervisionPacket, *, settings: Settings, now: datetime
) -> bytes:
    """The supervision packet printed by Chromium."""
    html = renderer.packet_document(packet, settings=settings, now=now, offline=True)
    return pdf.html_to_pdf(html, assets=renderer.assets, settings=settings)


def summary_filename(summary: ProgressSummary, ext: str) -> str:
    """A file name without the client's name."""
    # No client name in the file name: downloads folders and mail attachments outlive access.
    return f"progress-summary_{summary.period.slug}_{str(summary.client.id)[-12:]}.{ext}"


def packet_filename(packet: SupervisionPacket, ext: str) -> str:
    """A file name naming the period and the supervisee (by id), not the clients."""
    scope = str(packet.supervisee.id)[-12:] if packet.supervisee else "all"
    return f"supervision-packet_{packet.period.slug}_{scope}.{ext}"


def attachment(filename: str) -> dict[str, str]:
    """The header that makes a browser save the file."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def vocabulary_of(user: User, settings: Settings) -> str:
    """The zone words this user reads (theirs, or the practice's)."""
    return user.zone_vocabulary or settings.zone_vocabulary
