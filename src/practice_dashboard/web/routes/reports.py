"""Progress summaries (print view and PDF) and supervision packets (PDF and CSV).

Thin routes: parse the period, call ``services.reports``, draw with ``web.printing``. Every
export is audited once it was made (see ``services.reports``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import HTMLResponse, Response

from practice_dashboard.config import Settings
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.periods import ReportPeriod
from practice_dashboard.errors import NotFound
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services.periods import parse_period
from practice_dashboard.services.reports import pdf
from practice_dashboard.services.reports import progress_summary as reports
from practice_dashboard.services.reports import supervision_packet as packets
from practice_dashboard.services.reports.printing import (
    attachment,
    packet_filename,
    packet_pdf,
    summary_filename,
    summary_pdf,
)
from practice_dashboard.services.reports.supervision_packet import SupervisionPacket
from practice_dashboard.web.deps import PageContext, WebActor, WebLogin
from practice_dashboard.web.printing import print_renderer, summary_document

router = Router()

DateParam = Annotated[
    str | None, Query(max_length=40, description="A date (2026-01-31) or ISO time")
]


def _client_uuid(client_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc


def _period(settings: Settings, start: str | None, end: str | None, now: datetime) -> ReportPeriod:
    return parse_period(start, end, now=now, tz=settings.timezone)


@router.get("/clients/{client_id}/summary", name="client_summary_page")
def client_summary_page(
    client_id: str,
    context: PageContext,
    _login: WebLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    start: DateParam = None,
    end: DateParam = None,
) -> Response:
    """The progress summary as a print-ready page (A4; print it, or download the PDF)."""
    now = utcnow()
    summary = reports.progress_summary(
        db,
        client_id=_client_uuid(client_id),
        actor=actor,
        settings=settings,
        period=_period(settings, start, end, now),
        now=now,
    )
    html = summary_document(
        summary, settings=settings, vocabulary=context["vocabulary"], now=now, offline=False
    )
    reports.audit_summary_export(db, actor, summary, fmt="html")
    return HTMLResponse(html)


@router.get("/clients/{client_id}/summary.pdf", name="client_summary_pdf")
def client_summary_pdf(
    client_id: str,
    context: PageContext,
    _login: WebLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    start: DateParam = None,
    end: DateParam = None,
) -> Response:
    """The progress summary as a PDF (503 when the server has no Chromium)."""
    pdf.ensure_chromium(settings)
    now = utcnow()
    summary = reports.progress_summary(
        db,
        client_id=_client_uuid(client_id),
        actor=actor,
        settings=settings,
        period=_period(settings, start, end, now),
        now=now,
    )
    # End the read transaction before Chromium's 1-3 s: on SQLite every transaction holds
    # the write lock. Nothing is written yet; the audit event below gets its own.
    db.commit()
    data = summary_pdf(
        print_renderer, summary, settings=settings, vocabulary=context["vocabulary"], now=now
    )
    reports.audit_summary_export(db, actor, summary, fmt="pdf")
    return Response(
        data, media_type="application/pdf", headers=attachment(summary_filename(summary, "pdf"))
    )


def _packet(
    db: DbDep,
    actor: Any,
    settings: Settings,
    supervisee: str | None,
    start: str | None,
    end: str | None,
    now: datetime,
) -> SupervisionPacket:
    return packets.supervision_packet(
        db,
        actor=actor,
        settings=settings,
        period=_period(settings, start, end, now),
        now=now,
        supervisee=supervisee or None,
    )


SuperviseeParam = Annotated[
    str | None, Query(max_length=320, description="A supervisee's id or e-mail; empty = all")
]


@router.get("/supervision/packet.pdf", name="supervision_packet_pdf")
def supervision_packet_pdf(
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    supervisee: SuperviseeParam = None,
    start: DateParam = None,
    end: DateParam = None,
) -> Response:
    """Supervision packet (PDF): each client's headline figures and flags, and each load."""
    pdf.ensure_chromium(settings)
    now = utcnow()
    packet = _packet(db, actor, settings, supervisee, start, end, now)
    db.commit()  # as for the summary PDF: no lock held while Chromium prints
    data = packet_pdf(print_renderer, packet, settings=settings, now=now)
    packets.audit_packet_export(db, actor, packet, fmt="pdf")
    return Response(
        data, media_type="application/pdf", headers=attachment(packet_filename(packet, "pdf"))
    )


@router.get("/supervision/packet.csv", name="supervision_packet_csv")
def supervision_packet_csv(
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    supervisee: SuperviseeParam = None,
    start: DateParam = None,
    end: DateParam = None,
) -> Response:
    """Supervision packet (CSV): one row per practitioner (load), then one per client."""
    now = utcnow()
    packet = _packet(db, actor, settings, supervisee, start, end, now)
    text = packets.packet_csv(packet)
    packets.audit_packet_export(db, actor, packet, fmt="csv")
    # A byte-order mark so spreadsheet programs read the names as UTF-8.
    return Response(
        ("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=attachment(packet_filename(packet, "csv")),
    )
