"""Print view and PDF of the progress summary; the supervision packet as PDF and CSV.

The print view is checked by its DOM (sections, tables, charts as data); the PDFs by their
text per page (pypdf); the CSV by its rows and columns. Access and audit for each.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.periods import OUT_OF_RANGE
from practice_dashboard.models import AuditEvent
from practice_dashboard.models.enums import Role
from practice_dashboard.services import periods
from practice_dashboard.services.reports import supervision_packet as packets
from practice_dashboard.web.printing import PRINT_CHART_WIDTH, css_string
from tests.builders import make_client, make_measure, make_user, sign_in, supervise
from tests.html import Node, parse
from tests.services.reports.test_reports import (
    CHART_AXIS_TITLES,
    CLIENT_NAME,
    CLIENT_REF,
    assert_on_every_page,
    chromium,  # noqa: F401 (the fixture)
    make_practice,
    make_report_client,
    page_with,
    pdf_pages,
    summary_period,
)

SECTIONS = [
    "section-overview",
    "section-flags",
    "section-charts",
    "section-measures",
    "section-annotations",
]


def exports(db: DbSession) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "export")))


def cell(row: Node, name: str) -> str:
    """The words of a row's cell marked data-cell=name."""
    for node in row.iter():
        if node.attrs.get("data-cell") == name:
            return node.words()
    raise AssertionError(f"no cell {name!r}")


def chart_figures(page: Node) -> dict[str, dict[str, Any]]:
    return {
        s.attrs["data-chart"]: json.loads(s.text)
        for s in page.find_all("script", type="application/json")
    }


# --------------------------------------------------------------------------------------------
# Print view
# --------------------------------------------------------------------------------------------


class TestPrintView:
    def test_structure(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        rc = make_report_client(db, settings)
        sign_in(api, db, settings, rc.owner)
        period = summary_period(rc)
        response = api.get(f"/clients/{rc.client.id}/summary", params=period)
        assert response.status_code == 200, response.text[:500]
        assert response.headers["content-type"].startswith("text/html")
        page = parse(response.text)

        # every page of print carries the identifier and the period (CSS page-margin boxes)
        (style,) = page.find_all("style")
        assert "@page" in style.text
        assert css_string(f"Progress summary · {CLIENT_NAME} (ref. {CLIENT_REF})") in style.text
        assert css_string(f"Client ID {rc.client.id}")[:-1] in style.text
        assert 'counter(page) " of " counter(pages)' in style.text

        main = page.one("main", id="report")
        sections = [
            s.attrs["id"]
            for s in main.find_all("section")
            if "report-section" in s.attrs.get("class", "")
        ]
        assert sections == SECTIONS
        assert page.one("h1").words() == CLIENT_NAME
        facts = {
            d.attrs["data-fact"]: d.words() for d in page.find_all("dd") if "data-fact" in d.attrs
        }
        assert facts["client-id"] == str(rc.client.id)
        assert facts["reference"] == CLIENT_REF
        expected = periods.parse_period(
            period["start"], period["end"], now=datetime.now(UTC), tz=settings.timezone
        )
        assert facts["period"] == expected.label

        # attendance and the change table
        attendance = {
            li.attrs["data-figure"]: li.words()
            for li in page.one("ul", id="attendance").find_all("li")
        }
        assert attendance["attendance"].startswith("Attendance in the period 93% attended 26 of 28")
        rows = {
            r.attrs["data-figure"]: r
            for r in page.one("table", id="change-table").find_all("tr")
            if "data-figure" in r.attrs
        }
        assert list(rows) == [
            "recovery",
            "unrecovered",
            "recognition",
            "activation",
            "capacity",
            "time_in_window",
            "tolerated_activation",
        ]
        assert cell(rows["recovery"], "comparison") == "↓ shorter than baseline"
        assert cell(rows["recovery"], "trend").startswith("↓ improving")
        assert "min/week" in cell(rows["recovery"], "trend")
        assert cell(rows["recognition"], "comparison") == "context only"
        assert cell(rows["recovery"], "baseline").startswith("1")  # 100-114 min

        # flags with reasons and a next step
        flags = page.one("section", id="section-flags").find_all("article")
        assert flags[0].attrs["data-flag"] == "safety"
        assert "Check-in suggested, because" in flags[0].words()
        assert "Suggested next step:" in flags[0].words()

        # charts: each drawn from its JSON, at the A4 width, statically, and captioned
        figures = chart_figures(page)
        charts = main.find_all("div", class_="chart")
        assert {c.attrs["id"] for c in charts} == set(figures)
        assert {"chart-episodes", "chart-recovery", "chart-capacity", "chart-states"} <= set(
            figures
        )
        for chart_id, figure in figures.items():
            assert figure["layout"]["width"] == PRINT_CHART_WIDTH
            assert figure["config"]["staticPlot"] is True
            assert figure["config"]["responsive"] is False
            caption = page.one("figcaption", id=f"{chart_id}-caption")
            assert caption.words(), chart_id
        titles = [
            h.words() for h in main.find_all("h3") if h.attrs.get("id", "").endswith("-title")
        ]
        assert titles[0] == "Figure 1. Activation episodes"

        # measures with change, RCI and clinical significance
        (phq9,) = page.one("table", id="measures-table").find_all("tr", data_measure="phq9")
        assert cell(phq9, "baseline").startswith("16 (moderately severe)")
        assert cell(phq9, "latest").startswith("5 (mild)")
        assert cell(phq9, "change") == "−11"
        assert cell(phq9, "rci").startswith("−")
        assert cell(phq9, "reliable").startswith("reliable improvement")
        assert cell(phq9, "significant") == "yes"
        assert "Started a new job" in page.one("table", id="annotations-table").words()

        # offline-ready: only this site's files, and a link to the PDF of the same period
        sources = [
            n.attrs.get("src") or n.attrs.get("href") or ""
            for n in page.iter()
            if n.tag in ("script", "link", "img")
        ]
        assert all(s.startswith("/") for s in sources if s), sources
        pdf_link = page.one("a", id="download-pdf").attrs["href"]
        assert (
            pdf_link
            == f"/clients/{rc.client.id}/summary.pdf?start={period['start']}&end={period['end']}"
        )

        (event,) = exports(db)
        assert (event.client_id, event.entity) == (rc.client.id, "client")
        assert (event.detail or "").startswith("progress summary html")

    def test_no_baseline_no_records(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = make_client(db, owner, display_name="New Client")
        sign_in(api, db, settings, owner)
        page = parse(api.get(f"/clients/{client.id}/summary").text)
        # an active client with no check-ins in 30 days: only the stale-data watch
        flags = page.one("section", id="section-flags").find_all("article")
        assert [(f.attrs["data-flag"], f.attrs["data-level"]) for f in flags] == [
            ("stale_data", "watch")
        ]
        assert page.one("p", id="no-measures").words().startswith("No standardized measures")
        assert page.one("p", id="no-annotations") is not None
        rows = page.one("table", id="change-table").find_all("tr", data_figure="recovery")
        assert cell(rows[0], "baseline").startswith("—")
        assert cell(rows[0], "comparison").startswith("no baseline yet")

    def test_measure_remarks_in_the_measures_table(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        # Issue 10: the latest administration's signals and an unverified threshold are said
        # in the table, in the words of domain/labels.py.
        owner = make_user(db, settings)
        client = make_client(db, owner, display_name="Remarks Client")
        now = datetime.now(UTC)
        for days, items in ((30, [0] * 9), (2, [1] * 8 + [None])):
            make_measure(
                db, client, administered_at=now - timedelta(days=days), items=items, total=None
            )
        sign_in(api, db, settings, owner)
        page = parse(api.get(f"/clients/{client.id}/summary").text)
        (phq9,) = page.one("table", id="measures-table").find_all("tr", data_measure="phq9")
        # 8 x 1 = 8, prorated to 9 (8 x 9 / 8): not a positive screen (< 10)
        assert cell(phq9, "latest").startswith("9 (mild)")
        assert "prorated total (items missing)" in cell(phq9, "latest")
        assert "item 9 left unanswered: ask directly" in cell(phq9, "latest")
        assert "positive screen" not in cell(phq9, "latest")
        reliable = cell(phq9, "reliable")
        assert reliable.startswith("reliable deterioration")
        assert "Jacobson–Truax: reliable from ±6.1 points" in reliable
        assert "reliable change threshold not yet verified against its source" in reliable
        assert "deterioration not yet confirmed" in reliable

    def test_a_name_cannot_break_out_of_the_page_style(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        name = 'Zoë "</style><script>alert(1)</script>'
        client = make_client(db, owner, display_name=name)
        sign_in(api, db, settings, owner)
        page = parse(api.get(f"/clients/{client.id}/summary").text)
        (style,) = page.find_all("style")
        assert "<" not in style.text
        assert css_string(f"Progress summary · {name}") in style.text
        assert all(
            s.attrs.get("src") or s.attrs.get("type") == "application/json"
            for s in page.find_all("script")
        )
        assert page.one("h1").words() == " ".join(name.split())

    def test_access(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        rc = make_report_client(db, settings)
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, rc.owner)
        db.commit()
        path = f"/clients/{rc.client.id}/summary"
        response = api.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        for outsider in (make_user(db, settings), make_user(db, settings, Role.ADMIN)):
            sign_in(api, db, settings, outsider)
            for target in (
                path,
                f"{path}.pdf",
                f"/clients/{uuid.uuid4()}/summary",
                "/clients/x/summary",
            ):
                response = api.get(target)
                assert response.status_code == 404, target
                assert CLIENT_NAME not in response.text
        sign_in(api, db, settings, supervisor)
        assert api.get(path).status_code == 200  # supervision gives read access
        response = api.get(path, params={"start": "2026-13-01"})
        assert response.status_code == 422
        assert "text/html" in response.headers["content-type"]
        assert len(exports(db)) == 1  # only the supervisor's successful view

    @pytest.mark.parametrize("bad", ["0001-01-02", "9999-12-31", "1899-12-31"])
    def test_a_far_date_is_a_422_page_naming_the_field(
        self, api: TestClient, db: DbSession, settings: Settings, bad: str
    ) -> None:
        rc = make_report_client(db, settings)
        sign_in(api, db, settings, rc.owner)
        # "0001-01-02" was a 500 (OverflowError going back six months from it).
        response = api.get(f"/clients/{rc.client.id}/summary", params={"end": bad})
        assert response.status_code == 422
        assert "text/html" in response.headers["content-type"]
        assert f"end: {OUT_OF_RANGE}" in parse(response.text).one("main").words()
        assert exports(db) == []


# --------------------------------------------------------------------------------------------
# Summary PDF (web route)
# --------------------------------------------------------------------------------------------


class TestSummaryPdf:
    @pytest.mark.usefixtures("chromium")
    def test_pages_identifier_figures_and_whole_charts(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rc = make_report_client(db, settings)
        supervisor = make_user(db, settings, Role.SUPERVISOR, full_name="Supervising Sue")
        supervise(db, supervisor, rc.owner)
        sign_in(api, db, settings, supervisor)
        response = api.get(f"/clients/{rc.client.id}/summary.pdf", params=summary_period(rc))
        assert response.status_code == 200, response.text[:500]
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["cache-control"] == "no-store"
        pages = pdf_pages(response.content)
        # a section per page at least: overview, flags, 3+ of charts, measures, annotations
        assert len(pages) >= 7
        assert_on_every_page(pages, f"Progress summary · {CLIENT_NAME} (ref. {CLIENT_REF})")
        assert_on_every_page(pages, f"Client ID {rc.client.id}")

        overview = pages[0]
        for text in (
            "Attendance in the period",
            "attended 26 of 28 due sessions",
            "Recovery after activation (median)",
            "shorter than baseline",
            "improving",
            "Prepared",
            "Supervising Sue",
        ):
            assert text in overview, text
        flags = page_with(pages, "Flags as of")
        assert "Safety" in flags
        assert "Check-in suggested, because" in flags
        # each chart whole: its title and the axis Plotly drew on the same page
        for title, axis in CHART_AXIS_TITLES.items():
            assert axis in page_with(pages, f". {title}"), f"{title}: not drawn, or split"
        measures = page_with(pages, "Measures: first and latest")
        assert "PHQ-9" in measures
        assert "reliable improvement" in measures
        assert "Started a new job" in page_with(pages, "Annotations in the period")

        (event,) = exports(db)
        assert (event.actor_id, event.client_id) == (supervisor.id, rc.client.id)
        assert (event.detail or "").startswith("progress summary pdf")


# --------------------------------------------------------------------------------------------
# Supervision packet
# --------------------------------------------------------------------------------------------


class TestPacket:
    def test_csv(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        p = make_practice(db, settings)
        sign_in(api, db, settings, p.supervisor)
        response = api.get("/supervision/packet.csv", params={"supervisee": str(p.therapist.id)})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].endswith('.csv"')
        assert response.content.startswith("\ufeff".encode())
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert tuple(rows[0]) == packets.PACKET_CSV_COLUMNS
        assert [(r["record"], r["client_display_name"]) for r in rows] == [
            ("practitioner", ""),
            ("client", CLIENT_NAME),
        ]
        assert rows[0]["load_active_caseload"] == "1"
        assert rows[1]["recovery_trend"] == "improving"
        events = exports(db)
        assert sorted(e.entity for e in events) == ["client", "supervision_packet"]
        packet_event = next(e for e in events if e.entity == "supervision_packet")
        assert packet_event.entity_id == str(p.therapist.id)

    @pytest.mark.usefixtures("chromium")
    def test_pdf(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        p = make_practice(db, settings)
        sign_in(api, db, settings, p.supervisor)
        response = api.get("/supervision/packet.pdf")
        assert response.status_code == 200, response.text[:500]
        assert response.headers["content-type"] == "application/pdf"
        pages = pdf_pages(response.content)
        assert len(pages) >= 3  # load, then one practitioner per page
        assert_on_every_page(pages, "Supervision packet · all supervisees", "Sam Supervisor")
        assert "Practitioner load" in pages[0]
        assert "Cody Coach" in pages[0]
        assert "Tess Therapist" in pages[0]
        therapist_page = page_with(pages, "Tess Therapist: 1 client")
        assert CLIENT_NAME in therapist_page
        assert "shorter than baseline" in therapist_page
        assert "Check-in suggested, because" in therapist_page
        assert "PHQ-9 16 → 5" in therapist_page
        assert "=HYPERLINK(1)" in page_with(pages, "Cody Coach: 1 client")
        for hidden in ("Archived A.", "Long Gone", "Other Practice"):
            assert all(hidden not in page for page in pages)
        assert sorted(e.entity for e in exports(db)) == ["client", "client", "supervision_packet"]

    def test_access(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        p = make_practice(db, settings)
        other_supervisor = make_user(db, settings, Role.SUPERVISOR)
        db.commit()
        response = api.get("/supervision/packet.csv", follow_redirects=False)
        assert response.status_code == 303
        sign_in(api, db, settings, p.therapist)
        assert api.get("/supervision/packet.csv").status_code == 403
        assert api.get("/supervision/packet.pdf").status_code == 403
        sign_in(api, db, settings, other_supervisor)
        response = api.get("/supervision/packet.csv", params={"supervisee": str(p.therapist.id)})
        assert response.status_code == 404
        # a supervisor with no supervisees gets an empty packet, not an error
        response = api.get("/supervision/packet.csv")
        assert response.status_code == 200
        assert len(response.content.decode("utf-8-sig").splitlines()) == 1
        sign_in(api, db, settings, p.supervisor)
        assert api.get("/supervision/packet.csv", params={"start": "nope"}).status_code == 422
        assert [e.entity for e in exports(db)] == ["supervision_packet"]
