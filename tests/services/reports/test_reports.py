"""Progress summaries and supervision packets: figures, access, audit, API PDF and the CLI.

PDFs are read with pypdf (pure Python): page count, text per page (the client identifier
must be on every page) and the charts' axis titles, which exist only once Plotly has drawn
the charts. PDFs are printed by the process's persistent Chromium (tests/services/reports/
test_pdf.py tests that browser itself); each still takes a second or so, so only a few are made.
"""

from __future__ import annotations

import io
import os
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pypdf
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from practice_dashboard.cli.main import app as cli_app
from practice_dashboard.config import Settings, get_settings
from practice_dashboard.db import DbSession, create_db_engine, create_session_factory, session_scope
from practice_dashboard.domain.periods import OUT_OF_RANGE
from practice_dashboard.errors import Forbidden, Invalid, NotFound
from practice_dashboard.models import (
    Annotation,
    AuditEvent,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    User,
)
from practice_dashboard.models.annotation import AnnotationKind
from practice_dashboard.models.enums import (
    Attendance,
    ClientStatus,
    HomeworkCompletion,
    Role,
    Source,
    Zone,
)
from practice_dashboard.services import periods
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.reports import pdf
from practice_dashboard.services.reports import progress_summary as reports
from practice_dashboard.services.reports import supervision_packet as packets
from tests.builders import (
    auth_headers,
    cli_environment,
    make_client,
    make_episode,
    make_user,
    supervise,
)
from tests.databases import migrated_database

#: Axis titles drawn by Plotly inside the charts: in the PDF's text only if they were drawn.
CHART_AXIS_TITLES = {
    "Activation episodes": "Peak intensity (0–10)",
    "Recovery time after activation": "Minutes to return to baseline",
    "Capacity growth": "Rating / activation (0–10)",
    "States over time": "Activation (0–10)",
}
CLIENT_NAME = "Jo Tester"
CLIENT_REF = "REF-0042"


# --------------------------------------------------------------------------------------------
# Chromium and PDF reading
# --------------------------------------------------------------------------------------------


def chromium_available() -> bool:
    return shutil.which(pdf.chromium_path()) is not None


@pytest.fixture
def chromium() -> str:
    """The browser, or a skip (an error under CI=true, where it must be installed)."""
    if not chromium_available():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI=true needs Chromium at {pdf.chromium_path()} (apt-get install chromium)"
            )
        pytest.skip(f"no Chromium at {pdf.chromium_path()}: apt-get install chromium")
    return pdf.chromium_path()


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, whitespace collapsed (so wrapped lines still match)."""
    assert data.startswith(b"%PDF-"), data[:40]
    reader = pypdf.PdfReader(io.BytesIO(data))
    # NFKC undoes the typesetter's ligatures ("ﬁ" -> "fi").
    return [
        " ".join(unicodedata.normalize("NFKC", page.extract_text() or "").split())
        for page in reader.pages
    ]


def assert_on_every_page(pages: list[str], *texts: str) -> None:
    for number, text in enumerate(pages, start=1):
        for expected in texts:
            assert expected in text, f"{expected!r} missing on page {number}: {text[:300]!r}"
        assert f"Page {number} of {len(pages)}" in text, f"no page number on page {number}"


def page_with(pages: list[str], text: str) -> str:
    found = [p for p in pages if text in p]
    assert found, f"{text!r} on no page"
    return found[0]


# --------------------------------------------------------------------------------------------
# Data: a client whose recovery shortens and whose PHQ-9 improves reliably (with item 9 > 0)
# --------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class ReportClient:
    owner: User
    client: Client
    intake: date


def make_report_client(
    db: DbSession, settings: Settings, owner: User | None = None, **fields: object
) -> ReportClient:
    """200 days of care: slow recovery early on, faster and still improving lately."""
    now = _now()
    owner = owner or make_user(db, settings, full_name="Dr Report Writer")
    values: dict[str, object] = {
        "display_name": CLIENT_NAME,
        "external_ref": CLIENT_REF,
        "intake_date": (now - timedelta(days=200)).date(),
        "goals": "Notice activation sooner; recover faster.",
    }
    values.update(fields)
    client = make_client(db, owner, **values)
    start = datetime.combine(client.intake_date, datetime.min.time(), tzinfo=UTC)
    rows: list[object] = []
    # Baseline: the first 28 days, long recoveries (100-114 min), late recognition.
    for i in range(8):
        t = start + timedelta(days=1 + 3 * i, hours=10)
        rows.append(
            Episode(
                client_id=client.id,
                started_at=t,
                recognized_at=t + timedelta(minutes=20 + i),
                baseline_at=t + timedelta(minutes=100 + 2 * i),
                peak_intensity=8,
                strategies=["paced breathing"],
            )
        )
    # The last 12 weeks: recovery falling from ~90 to ~35 minutes (a clear Theil-Sen trend).
    for i in range(24):
        t = now - timedelta(days=84 - 3.5 * i, hours=3)
        rows.append(
            Episode(
                client_id=client.id,
                started_at=t,
                recognized_at=t + timedelta(minutes=5 + i % 3),
                baseline_at=None if i == 5 else t + timedelta(minutes=90 - 2.4 * i + (i % 3)),
                peak_intensity=5 + i % 4,
                trigger="a loud argument next door",
                strategies=["orienting to the room"],
            )
        )
    for d in range(0, 200, 2):
        later = d > 28
        rows.append(
            Observation(
                client_id=client.id,
                observed_at=start + timedelta(days=d, hours=9),
                zone=Zone.WITHIN if (later and d % 6) else (Zone.HYPER if d % 4 else Zone.HYPO),
                activation=3 + d % 3 if later else 7 + d % 2,
                capacity=min(10, 3 + d // 30),
            )
        )
    for week in range(28):
        rows.append(
            Session(
                client_id=client.id,
                practitioner_id=owner.id,
                starts_at=start + timedelta(days=7 * week + 1, hours=14),
                duration_minutes=50,
                attendance=Attendance.NO_SHOW if week in (6, 19) else Attendance.ATTENDED,
                engagement=None if week in (6, 19) else 6 + week % 3,
                homework_assigned=True,
                homework_completed=HomeworkCompletion.YES
                if week % 4
                else HomeworkCompletion.PARTIAL,
            )
        )
    rows += [
        Measure(
            client_id=client.id,
            instrument="phq9",
            administered_at=start + timedelta(days=2),
            items=[2, 2, 2, 2, 2, 2, 2, 1, 1],
            total=16.0,
            severity="moderately_severe",
        ),
        Measure(
            client_id=client.id,
            instrument="phq9",
            administered_at=now - timedelta(days=6),
            items=[1, 1, 0, 1, 0, 1, 0, 0, 1],
            total=5.0,
            severity="mild",
        ),
        Annotation(
            client_id=client.id,
            created_by_id=owner.id,
            at=now - timedelta(days=40),
            kind=AnnotationKind.LIFE_EVENT,
            label="Started a new job",
        ),
    ]
    db.add_all(rows)
    db.flush()
    return ReportClient(owner, client, client.intake_date)


def whole_course_summary(
    db: DbSession, settings: Settings, rc: ReportClient
) -> reports.ProgressSummary:
    """The owner's summary of the report client from intake to now."""
    now = _now()
    return reports.progress_summary(
        db,
        client_id=rc.client.id,
        actor=Actor(rc.owner),
        settings=settings,
        period=periods.parse_period(rc.intake.isoformat(), None, now=now, tz=settings.timezone),
        now=now,
    )


def summary_period(rc: ReportClient) -> dict[str, str]:
    return {"start": rc.intake.isoformat(), "end": _now().date().isoformat()}


def exports(db: DbSession, **where: object) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == "export")
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, name) == value)
    return list(db.scalars(stmt))


# --------------------------------------------------------------------------------------------
# Period
# --------------------------------------------------------------------------------------------


class TestPeriod:
    def test_dates_are_local_whole_days_with_the_end_included(self) -> None:
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        period = periods.parse_period("2026-01-01", "2026-01-31", now=now, tz=UTC)
        assert period.start == datetime(2026, 1, 1, tzinfo=UTC)
        assert period.end == datetime(2026, 2, 1, tzinfo=UTC)
        assert (period.start_date, period.end_date) == (date(2026, 1, 1), date(2026, 1, 31))
        assert period.label == "1 Jan 2026 to 31 Jan 2026"

    def test_defaults_and_an_end_in_the_future_stops_at_now(self) -> None:
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        period = periods.parse_period(None, "2027-01-01", now=now, tz=UTC)
        assert period.end == now
        assert period.end - period.start == timedelta(days=183)

    @pytest.mark.parametrize(
        ("start", "end", "field"),
        [
            ("yesterday", None, "start"),
            ("2026-05-01", "31/05/2026", "end"),
            ("2026-05-01", "9999-12-31", "end"),
            ("2026-05-02", "2026-05-01", "start"),
            ("2026-07-01", None, "start"),  # the future
            ("2010-01-01", None, "start"),  # over ten years
        ],
    )
    def test_a_bad_period_is_refused_not_replaced(
        self, start: str | None, end: str | None, field: str
    ) -> None:
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        with pytest.raises(Invalid) as caught:
            periods.parse_period(start, end, now=now, tz=UTC)
        assert caught.value.problems[0]["loc"] == ["query", field]


# --------------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------------


class TestSummaryFigures:
    def test_figures_against_the_baseline_measures_flags_and_annotations(
        self, db: DbSession, settings: Settings
    ) -> None:
        rc = make_report_client(db, settings)
        summary = whole_course_summary(db, settings, rc)
        f = summary.figures
        assert f.baseline_period is not None
        recovery = f.row("recovery")
        assert recovery.baseline is not None
        assert 100 <= recovery.baseline <= 114
        assert recovery.recent is not None
        assert recovery.recent < 60
        assert recovery.comparison == "better"
        assert recovery.trend is not None
        assert recovery.trend.direction == "improving"
        # figures without a baseline rule are shown beside the baseline, without a verdict
        assert f.row("recognition").comparison is None
        assert f.row("recognition").baseline is not None
        assert f.row("capacity").trend is not None
        assert f.attendance.no_show == 2
        assert f.attendance.attended == 26
        assert f.attendance.rate == pytest.approx(26 / 28)
        assert f.episodes_in_period == 32

        (phq9,) = f.measures
        assert (phq9.baseline.total, phq9.latest.total) == (16, 5)
        assert phq9.reliable_change == "improved"
        assert phq9.rci is not None
        assert phq9.rci < -1.96
        assert phq9.clinically_significant is True
        assert phq9.administrations_in_period == 2
        # item 9 answered 1: the safety flag, first, whatever the improvement
        assert (f.flags[0].code, f.flags[0].level) == ("safety", "alert")
        assert f.flags[0].reasons
        assert [a.label for a in summary.annotations] == ["Started a new job"]
        # reading is not an export: nothing audited until one is delivered
        assert exports(db) == []

    def test_the_charts_episodes_are_the_client_page_s_self_reports_included(
        self, db: DbSession, settings: Settings
    ) -> None:
        # The print view draws the client page's charts: an episode the client reported
        # through their check-in link is drawn open there too (charts/episodes.py).
        rc = make_report_client(db, settings)
        reported = make_episode(
            db, rc.client, started_at=_now() - timedelta(days=2), source=Source.CLIENT
        )
        summary = whole_course_summary(db, settings, rc)
        episodes = summary.view.episodes
        assert episodes is not None
        assert len(episodes) == 33
        assert [e.started_at for e in episodes if e.self_reported] == [reported.started_at]

    def test_without_early_records_there_is_no_baseline_and_it_says_so(
        self, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = make_client(db, owner, intake_date=(_now() - timedelta(days=10)).date())
        now = _now()
        summary = reports.progress_summary(
            db,
            client_id=client.id,
            actor=Actor(owner),
            settings=settings,
            period=periods.parse_period(None, None, now=now, tz=settings.timezone),
            now=now,
        )
        recovery = summary.figures.row("recovery")
        assert (recovery.baseline, recovery.period) == (None, None)
        assert recovery.comparison == "insufficient_data"
        assert summary.figures.measures == ()
        assert summary.figures.attendance.rate is None

    def test_scope(self, db: DbSession, settings: Settings) -> None:
        rc = make_report_client(db, settings)
        now = _now()
        period = periods.parse_period(None, None, now=now, tz=settings.timezone)
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, rc.owner)
        found = reports.progress_summary(
            db,
            client_id=rc.client.id,
            actor=Actor(supervisor),
            settings=settings,
            period=period,
            now=now,
        )
        assert found.client.id == rc.client.id
        for outsider in (make_user(db, settings), make_user(db, settings, Role.ADMIN)):
            with pytest.raises(NotFound):
                reports.progress_summary(
                    db,
                    client_id=rc.client.id,
                    actor=Actor(outsider),
                    settings=settings,
                    period=period,
                    now=now,
                )


# --------------------------------------------------------------------------------------------
# Supervision packet (service and CSV)
# --------------------------------------------------------------------------------------------


@dataclass
class Practice:
    supervisor: User
    therapist: User
    coach: User
    clients: dict[str, Client]


def make_practice(db: DbSession, settings: Settings) -> Practice:
    supervisor = make_user(db, settings, Role.SUPERVISOR, full_name="Sam Supervisor")
    therapist = make_user(db, settings, full_name="Tess Therapist")
    coach = make_user(db, settings, Role.COACH, full_name="Cody Coach")
    supervise(db, supervisor, therapist)
    supervise(db, supervisor, coach)
    other = make_user(db, settings, full_name="Not Supervised")
    today = _now().date()
    rc = make_report_client(db, settings, therapist)
    clients = {
        "report": rc.client,
        "coach": make_client(db, coach, display_name="=HYPERLINK(1)"),
        "archived": make_client(db, therapist, display_name="Archived A.", archived_at=_now()),
        "gone": make_client(
            db,
            therapist,
            display_name="Long Gone",
            status=ClientStatus.DISCHARGED,
            discharged_on=today - timedelta(days=400),
            intake_date=today - timedelta(days=800),
        ),
        "other": make_client(db, other, display_name="Other Practice"),
    }
    return Practice(supervisor, therapist, coach, clients)


class TestPacket:
    def test_all_supervisees_clients_in_care_during_the_period(
        self, db: DbSession, settings: Settings
    ) -> None:
        p = make_practice(db, settings)
        now = _now()
        period = periods.parse_period(None, None, now=now, tz=settings.timezone)
        packet = packets.supervision_packet(
            db, actor=Actor(p.supervisor), settings=settings, period=period, now=now
        )
        names = {
            s.full_name: [c.client.display_name for c in s.clients] for s in packet.practitioners
        }
        assert names == {"Cody Coach": ["=HYPERLINK(1)"], "Tess Therapist": [CLIENT_NAME]}
        loads = {s.full_name: s.load for s in packet.practitioners}
        assert loads["Tess Therapist"]["active_caseload"] == 1  # the archived one is not active
        assert packet.supervisee is None

    def test_one_supervisee_by_email_or_id(self, db: DbSession, settings: Settings) -> None:
        p = make_practice(db, settings)
        now = _now()
        period = periods.parse_period(None, None, now=now, tz=settings.timezone)
        for ref in (p.coach.email.upper(), str(p.coach.id)):
            packet = packets.supervision_packet(
                db,
                actor=Actor(p.supervisor),
                settings=settings,
                period=period,
                now=now,
                supervisee=ref,
            )
            assert [s.full_name for s in packet.practitioners] == ["Cody Coach"]

    def test_only_supervisors_and_only_their_supervisees(
        self, db: DbSession, settings: Settings
    ) -> None:
        p = make_practice(db, settings)
        now = _now()
        period = periods.parse_period(None, None, now=now, tz=settings.timezone)
        with pytest.raises(Forbidden):
            packets.supervision_packet(
                db, actor=Actor(p.therapist), settings=settings, period=period, now=now
            )
        stranger = p.clients["other"].practitioner_id
        for ref in (str(stranger), "nobody@example.org", str(p.supervisor.id)):
            with pytest.raises(NotFound):
                packets.supervision_packet(
                    db,
                    actor=Actor(p.supervisor),
                    settings=settings,
                    period=period,
                    now=now,
                    supervisee=ref,
                )

    def test_csv_rows_columns_and_formula_safety(self, db: DbSession, settings: Settings) -> None:
        import csv

        p = make_practice(db, settings)
        now = _now()
        period = periods.parse_period(None, None, now=now, tz=settings.timezone)
        packet = packets.supervision_packet(
            db, actor=Actor(p.supervisor), settings=settings, period=period, now=now
        )
        rows = list(csv.DictReader(io.StringIO(packets.packet_csv(packet))))
        assert tuple(rows[0].keys()) == packets.PACKET_CSV_COLUMNS
        assert [(r["record"], r["practitioner_name"]) for r in rows] == [
            ("practitioner", "Cody Coach"),
            ("practitioner", "Tess Therapist"),
            ("client", "Cody Coach"),
            ("client", "Tess Therapist"),
        ]
        coach_client, report = rows[2], rows[3]
        # a name that looks like a formula is written as text
        assert coach_client["client_display_name"] == "'=HYPERLINK(1)"
        assert report["client_id"] == str(p.clients["report"].id)
        assert report["client_external_ref"] == CLIENT_REF
        assert report["recovery_last_28_days_vs_baseline"] == "better"
        assert report["recovery_trend"] == "improving"
        assert float(report["recovery_trend_slope_minutes_per_week"]) < 0
        assert report["flags"].startswith("safety:alert")
        assert "PHQ-9 16 → 5: reliable improvement" in report["measures"]
        assert report["sessions_no_show"] == "2"
        # missing figures are empty, never 0
        assert coach_client["recovery_median_minutes"] == ""
        assert rows[1]["load_active_caseload"] == "1"
        assert {r["period_start"] for r in rows} == {period.start_date.isoformat()}

    def test_csv_guards_what_the_audit_csv_guards(self, db: DbSession, settings: Settings) -> None:
        """Defect 4: the packet CSV used the weaker guard (no full-width or indented starts)."""
        import csv

        p = make_practice(db, settings)
        p.clients["coach"].display_name = "＝HYPERLINK(1)"
        p.clients["coach"].external_ref = " =1+1"
        db.flush()
        now = _now()
        period = periods.parse_period(None, None, now=now, tz=settings.timezone)
        packet = packets.supervision_packet(
            db, actor=Actor(p.supervisor), settings=settings, period=period, now=now
        )
        rows = list(csv.DictReader(io.StringIO(packets.packet_csv(packet))))
        (coach_client,) = [r for r in rows if r["client_id"] == str(p.clients["coach"].id)]
        assert coach_client["client_display_name"] == "'＝HYPERLINK(1)"
        assert coach_client["client_external_ref"] == "' =1+1"


# --------------------------------------------------------------------------------------------
# API: GET /api/v1/clients/{id}/summary.pdf
# --------------------------------------------------------------------------------------------


class TestApiSummaryPdf:
    def test_the_pdf_with_the_identifier_on_every_page(
        self, api: TestClient, db: DbSession, settings: Settings, chromium: str
    ) -> None:
        rc = make_report_client(db, settings)
        db.commit()
        response = api.get(
            f"/api/v1/clients/{rc.client.id}/summary.pdf",
            params=summary_period(rc),
            headers=auth_headers(settings, rc.owner),
        )
        assert response.status_code == 200, response.text[:500]
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert CLIENT_NAME not in response.headers["content-disposition"]
        pages = pdf_pages(response.content)
        assert len(pages) >= 5  # overview, flags, charts…, measures, annotations
        assert_on_every_page(pages, CLIENT_NAME, CLIENT_REF, str(rc.client.id))
        assert "Check-in suggested, because" in page_with(pages, "Flags as of")
        assert "reliable improvement" in page_with(pages, "Measures: first and latest")
        for title, axis in CHART_AXIS_TITLES.items():
            assert axis in page_with(pages, title), f"{title}: chart not drawn"
        (event,) = exports(db, client_id=rc.client.id)
        assert (event.actor_id, event.entity) == (rc.owner.id, "client")
        assert (event.detail or "").startswith("progress summary pdf")

    def test_scope_and_credentials(
        self, api: TestClient, db: DbSession, settings: Settings, chromium: str
    ) -> None:
        rc = make_report_client(db, settings)
        stranger = make_user(db, settings)
        db.commit()
        path = f"/api/v1/clients/{rc.client.id}/summary.pdf"
        assert api.get(path).status_code == 401
        assert api.get(path, headers=auth_headers(settings, stranger)).status_code == 404
        bad = api.get(path, params={"start": "soon"}, headers=auth_headers(settings, rc.owner))
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["query", "start"]
        assert exports(db) == []

    def test_a_far_date_is_422_naming_the_field(
        self, api: TestClient, db: DbSession, settings: Settings, chromium: str
    ) -> None:
        rc = make_report_client(db, settings)
        db.commit()
        response = api.get(
            f"/api/v1/clients/{rc.client.id}/summary.pdf",
            params={"end": "0001-01-02"},  # was a 500 (OverflowError)
            headers=auth_headers(settings, rc.owner),
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["query", "end"], "msg": OUT_OF_RANGE, "type": "value_error"}
        ]
        assert exports(db) == []

    def test_a_clear_503_without_chromium(
        self,
        api: TestClient,
        app: FastAPI,
        db: DbSession,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        rc = make_report_client(db, settings)
        db.commit()
        monkeypatch.setattr(
            app.state, "settings", settings.model_copy(update={"chromium": "/nonexistent/chromium"})
        )
        response = api.get(
            f"/api/v1/clients/{rc.client.id}/summary.pdf", headers=auth_headers(settings, rc.owner)
        )
        assert response.status_code == 503
        assert "Chromium is not installed" in response.json()["detail"]
        assert exports(db) == []


# --------------------------------------------------------------------------------------------
# CLI: export summary / export packet
# --------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh, migrated database the CLI reaches through its environment."""
    with migrated_database() as url, cli_environment(monkeypatch, url):
        yield get_settings()


def _seed(settings: Settings) -> tuple[str, str, str]:
    engine = create_db_engine(settings)
    with session_scope(create_session_factory(engine)) as db:
        p = make_practice(db, settings)
        ids = (str(p.clients["report"].id), p.therapist.email, p.supervisor.email)
    engine.dispose()
    return ids


def _exports(settings: Settings) -> list[tuple[str, str | None]]:
    engine = create_db_engine(settings)
    with session_scope(create_session_factory(engine)) as db:
        events = [(e.entity, e.detail) for e in exports(db)]
    engine.dispose()
    return events


class TestCli:
    def test_export_summary_pdf(self, cli_db: Settings, tmp_path: Path, chromium: str) -> None:
        client_id, therapist, _ = _seed(cli_db)
        out = tmp_path / "summary.pdf"
        result = runner.invoke(
            cli_app,
            [
                "export",
                "summary",
                "--client",
                client_id,
                "--as",
                therapist,
                "--start",
                (_now() - timedelta(days=90)).date().isoformat(),
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_mode & 0o077 == 0  # clinical data: owner only
        pages = pdf_pages(out.read_bytes())
        assert_on_every_page(pages, CLIENT_NAME)
        assert "Recovery after activation (median)" in pages[0]
        assert [e[0] for e in _exports(cli_db)] == ["client"]

    def test_export_packet_csv_and_refusals(self, cli_db: Settings, tmp_path: Path) -> None:
        _, therapist, supervisor = _seed(cli_db)
        out = tmp_path / "packet.csv"
        result = runner.invoke(cli_app, ["export", "packet", "--as", supervisor, "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text(encoding="utf-8-sig")
        assert text.splitlines()[0] == ",".join(packets.PACKET_CSV_COLUMNS)
        assert len(text.splitlines()) == 5  # header, two practitioners, two clients
        events = _exports(cli_db)
        assert sorted(e[0] for e in events) == ["client", "client", "supervision_packet"]

        for args, message in (
            (["--as", therapist, "--out", str(out)], "for supervisor accounts"),
            (
                ["--as", supervisor, "--supervisee", therapist.upper() + "x", "--out", str(out)],
                "Supervisee not found",
            ),
            (["--as", supervisor, "--out", str(tmp_path / "packet.xlsx")], ".pdf or .csv"),
            (["--as", supervisor, "--start", "tomorrowish", "--out", str(out)], "--start"),
            (["--as", "nobody@example.org", "--out", str(out)], "no active account"),
        ):
            result = runner.invoke(cli_app, ["export", "packet", *args])
            assert result.exit_code == 1, args
            assert message in result.output, (args, result.output)
        assert len(_exports(cli_db)) == 3  # refusals export nothing

    def test_a_far_date_is_a_clean_error_exit(self, cli_db: Settings, tmp_path: Path) -> None:
        _, _, supervisor = _seed(cli_db)
        out = tmp_path / "packet.csv"
        for bound, value in (("--end", "0001-01-02"), ("--start", "9999-12-31")):
            # "--end 0001-01-02" was an OverflowError traceback.
            result = runner.invoke(
                cli_app, ["export", "packet", "--as", supervisor, bound, value, "--out", str(out)]
            )
            assert result.exit_code == 1, result.output
            assert f"error: {bound}: {OUT_OF_RANGE}" in result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
        assert not out.exists()
        assert _exports(cli_db) == []
