"""The client page: access, figures, flags and their acknowledgement, charts, escaping, cost."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.periods import OUT_OF_RANGE, UNREADABLE
from practice_dashboard.models import (
    Annotation,
    AuditEvent,
    Client,
    Episode,
    FlagAcknowledgement,
    Measure,
    Observation,
    Session,
    User,
)
from practice_dashboard.models.annotation import AnnotationKind
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import Attendance, HomeworkCompletion, Role, Source, Zone
from practice_dashboard.web.charts import LocalClock, escape, script_json
from tests.builders import (
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    sign_in,
    supervise,
)
from tests.conftest import QueryCounter
from tests.html import Node, parse

SCRIPT = "<script>alert(1)</script>"
CHART_BUDGET_BYTES = 400 * 1024

# --------------------------------------------------------------------------------------------
# Pages, read as a DOM (tests/html.py)
# --------------------------------------------------------------------------------------------


def charts_of(page: Node) -> dict[str, dict[str, Any]]:
    """Every embedded chart, by the id of the element it is drawn into."""
    out = {}
    for script in page.find_all("script", type="application/json"):
        figure = json.loads(script.text)  # a broken-out </script> would fail to parse here
        out[script.attrs["data-chart"]] = figure
    return out


def rich_client_page(
    api: TestClient, db: DbSession, settings: Settings, view: str = ""
) -> tuple[Node, dict[str, dict[str, Any]]]:
    """A rich client's page (or ``view``: "/summary", the print view) as their practitioner
    sees it, and its charts."""
    rich = make_rich_client(db, settings)
    sign_in(api, db, settings, rich.owner)
    page = parse(api.get(f"/clients/{rich.client.id}{view}").text)
    return page, charts_of(page)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Rich:
    owner: User
    client: Client
    annotation_at: datetime


def make_rich_client(db: DbSession, settings: Settings, **client_fields: Any) -> Rich:
    """A client with a bit of everything in the last 4 months, a safety flag included."""
    now = _now()
    owner = make_user(db, settings)
    client = make_client(db, owner, intake_date=(now - timedelta(days=120)).date(), **client_fields)
    attendances = [Attendance.ATTENDED] * 10 + [Attendance.NO_SHOW, Attendance.CANCELLED]
    for i, attendance in enumerate(attendances):
        make_session(
            db,
            client,
            starts_at=now - timedelta(days=7 * (len(attendances) - i)),
            attendance=attendance,
            engagement=6 + i % 3 if attendance == Attendance.ATTENDED else None,
            homework_assigned=True,
            homework_completed=HomeworkCompletion.PARTIAL if i % 2 else HomeworkCompletion.YES,
        )
    zones = [Zone.WITHIN, Zone.WITHIN, Zone.HYPER, Zone.WITHIN, Zone.HYPO]
    for i in range(60):
        make_observation(
            db,
            client,
            observed_at=now - timedelta(days=100 - i, hours=i % 5),
            zone=zones[i % 5],
            activation=3 + i % 6,
            capacity=4 + i % 4,
            source=Source.CLIENT if i % 3 else Source.PRACTITIONER,
        )
    for i in range(20):
        started = now - timedelta(days=95 - 4 * i, hours=3)
        make_episode(
            db,
            client,
            started_at=started,
            recognized_at=started + timedelta(minutes=10),
            baseline_at=None if i % 7 == 3 else started + timedelta(minutes=90 - 3 * i),
            peak_intensity=5 + i % 5,
            trigger=f"{SCRIPT} argument #{i}" if i == 5 else "loud noise",
            strategies=["breathing", "</script><b>x</b>"] if i == 5 else ["walk"],
        )
    make_measure(
        db,
        client,
        administered_at=now - timedelta(days=90),
        items=[2, 2, 2, 2, 2, 2, 1, 1, 0],
        total=14.0,
        severity="moderate",
    )
    make_measure(
        db,
        client,
        administered_at=now - timedelta(days=5),
        items=[1, 1, 0, 1, 0, 0, 0, 0, 1],
        total=4.0,
        severity="minimal",
    )
    make_measure(
        db,
        client,
        instrument="gad7",
        administered_at=now - timedelta(days=60),
        items=[2, 2, 2, 2, 1, 1, 1],
        total=11.0,
        severity="moderate",
    )
    annotation_at = now - timedelta(days=30)
    db.add(
        Annotation(
            client_id=client.id,
            created_by_id=owner.id,
            at=annotation_at,
            kind=AnnotationKind.LIFE_EVENT,
            label=f"{SCRIPT} moved house",
            notes="</script><img src=x onerror=alert(2)>",
        )
    )
    db.flush()
    return Rich(owner, client, annotation_at)


def bulk_history(db: DbSession, client: Client, *, days: int, episodes: int, sessions: int) -> None:
    """Years of daily data in a handful of multi-row INSERTs (fast, and no ORM objects)."""
    now = _now()
    start = now - timedelta(days=days)
    zones = [Zone.WITHIN, Zone.WITHIN, Zone.WITHIN, Zone.HYPER, Zone.HYPO]
    db.execute(
        insert(Observation),
        [
            {
                "id": uuid7(),
                "client_id": client.id,
                "observed_at": start + timedelta(days=d, hours=9 + d % 9),
                "source": Source.CLIENT,
                "zone": zones[d % 5],
                "activation": (d * 7) % 11,
                "capacity": (d * 3) % 11,
            }
            for d in range(days)
        ],
    )
    step = days / episodes
    db.execute(
        insert(Episode),
        [
            {
                "id": uuid7(),
                "client_id": client.id,
                "started_at": (t := start + timedelta(days=i * step, hours=2)),
                "recognized_at": t + timedelta(minutes=5 + i % 20),
                "baseline_at": None if i % 9 == 0 else t + timedelta(minutes=20 + (i * 37) % 150),
                "peak_intensity": 3 + i % 8,
                "trigger": f"a trigger described at some length, number {i}",
                "strategies": ["paced breathing", "orienting to the room"],
                "version": 1,
            }
            for i in range(episodes)
        ],
    )
    cadence = days / sessions
    db.execute(
        insert(Session),
        [
            {
                "id": uuid7(),
                "client_id": client.id,
                "practitioner_id": client.practitioner_id,
                "starts_at": start + timedelta(days=i * cadence, hours=10),
                "duration_minutes": 50,
                "attendance": Attendance.NO_SHOW if i % 11 == 0 else Attendance.ATTENDED,
                "engagement": 5 + i % 5,
                "homework_assigned": True,
                "homework_completed": HomeworkCompletion.YES if i % 3 else None,
                "version": 1,
            }
            for i in range(sessions)
        ],
    )
    measures = [
        {
            "id": uuid7(),
            "client_id": client.id,
            "instrument": "phq9",
            "administered_at": start + timedelta(days=30 * i + 1),
            "items": [i % 3, 1, 1, 1, 1, 1, 1, 0, 0],
            "source": Source.CLIENT,
        }
        for i in range(days // 30)
    ]
    if measures:  # an empty list would insert one row of defaults
        db.execute(insert(Measure), measures)
    db.flush()


def local_x(settings: Settings, at: datetime) -> str:
    return at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


class TestAccess:
    def test_owner_sees_the_page_with_write_forms(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        response = api.get(f"/clients/{rich.client.id}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = parse(response.text)
        assert page.one("h1").words() == rich.client.display_name
        forms = [f for f in page.find_all("form") if "/acknowledge" in f.attrs.get("action", "")]
        assert forms, "the owner can acknowledge flags"
        assert all(f.find_all("input", name="csrf_token") for f in forms)
        # the read is audited
        events = db.scalars(select(AuditEvent).where(AuditEvent.client_id == rich.client.id)).all()
        assert any(e.action == "read" and e.entity == "client" for e in events)

    def test_supervisor_reads_without_write_forms(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, rich.owner)
        csrf = sign_in(api, db, settings, supervisor)
        response = api.get(f"/clients/{rich.client.id}")
        assert response.status_code == 200
        page = parse(response.text)
        flags = page.one("section", id="flags")
        assert flags.find_all("article"), "the supervisor still sees the flags"
        main = page.one("main")
        assert main.find_all("form", method="post") == []
        assert main.find_all("textarea") == []
        # and the POST itself is refused
        response = api.post(
            f"/clients/{rich.client.id}/flags/safety/acknowledge",
            data={"csrf_token": csrf, "note": "called the client"},
        )
        assert response.status_code == 403
        assert db.scalars(select(FlagAcknowledgement)).all() == []

    def test_others_get_404(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        rich = make_rich_client(db, settings)
        stranger = make_user(db, settings)
        sign_in(api, db, settings, stranger)
        for path in (f"/clients/{rich.client.id}", f"/clients/{uuid.uuid4()}", "/clients/nope"):
            response = api.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("text/html")
            assert rich.client.display_name not in response.text

    def test_admin_gets_404(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        rich = make_rich_client(db, settings)
        admin = make_user(db, settings, Role.ADMIN)
        sign_in(api, db, settings, admin)
        assert api.get(f"/clients/{rich.client.id}").status_code == 404

    def test_anonymous_is_sent_to_login(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        db.commit()
        response = api.get(f"/clients/{rich.client.id}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


class TestContent:
    def test_every_chart_parses_and_has_data(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        page = parse(api.get(f"/clients/{rich.client.id}").text)
        charts = charts_of(page)
        expected = {
            "chart-episodes",
            "chart-recovery",
            "chart-monitoring",
            "chart-capacity",
            "chart-states",
            "chart-engagement",
            "chart-measure-phq9",
            "chart-measure-gad7",
        }
        assert set(charts) == expected
        for chart_id, figure in charts.items():
            target = page.one(id=chart_id)
            summary = page.one("p", id=f"{chart_id}-summary").words()
            assert summary.endswith("."), chart_id
            # The summary is the chart's text alternative: the chart names it.
            assert target.attrs["role"] == "group"
            assert target.attrs["aria-describedby"] == f"{chart_id}-summary"
            assert target.attrs["aria-label"].startswith("Chart: ")
            traces = [t for t in figure["data"] if any(v is not None for v in t.get("y", []))]
            assert traces, f"{chart_id} has no trace with data"

    def test_recovery_chart_has_rolling_median_trend_and_baseline(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        figure = charts_of(parse(api.get(f"/clients/{rich.client.id}").text))["chart-recovery"]
        names = [t["name"] for t in figure["data"]]
        assert any(n.startswith("Rolling median of 5") for n in names)
        rolling = next(t for t in figure["data"] if t["name"].startswith("Rolling median"))
        points = next(t for t in figure["data"] if t["name"] == "Recovery time per episode")
        # trailing window, edges empty: the first 4 recovered episodes of care have no median
        assert len(rolling["y"]) == len(points["y"]) - 4
        assert any(n.startswith("Trend, last 12 weeks") for n in names)
        shapes = [s for s in figure["layout"]["shapes"] if s.get("name")]
        assert any(s["type"] == "rect" and "usual range" in s["name"] for s in shapes)

    def test_annotations_are_drawn_on_every_time_chart(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        charts = charts_of(parse(api.get(f"/clients/{rich.client.id}").text))
        x = local_x(settings, rich.annotation_at)
        for chart_id, figure in charts.items():
            layout = figure["layout"]
            assert layout["xaxis"]["type"] == "date", chart_id
            lines = [s for s in layout["shapes"] if s["type"] == "line" and s.get("x0") == x]
            assert [line["yref"] for line in lines] == ["paper"], chart_id
            labels = [a for a in layout["annotations"] if a.get("x") == x]
            assert len(labels) == 1, chart_id
            assert labels[0]["text"].startswith("&lt;script&gt;"), chart_id
            assert "moved house" in labels[0]["hovertext"], chart_id

    def test_headline_figures_show_a_reason_not_zero(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = make_client(db, owner, intake_date=_now().date() - timedelta(days=3))
        sign_in(api, db, settings, owner)
        response = api.get(f"/clients/{client.id}")
        assert response.status_code == 200
        page = parse(response.text)
        figures = {li.attrs["data-figure"]: li for li in page.find_all("li", class_="figure")}
        assert set(figures) >= {
            "recovery",
            "recognition",
            "time_in_window",
            "tolerated_activation",
            "attendance_rate",
            "days_since_last_attended",
        }
        for key, li in figures.items():
            value = li.one("div", class_="value").words()
            assert value == "—", key
            assert li.one("div", class_="reason").words(), key
        # empty charts say why instead of drawing nothing silently
        episodes = charts_of(page)["chart-episodes"]
        assert episodes["data"] == []
        assert any("No activation episodes" in a["text"] for a in episodes["layout"]["annotations"])

    def test_zone_words_follow_the_users_vocabulary(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        rich.owner.zone_vocabulary = "polyvagal"
        sign_in(api, db, settings, rich.owner)
        figure = charts_of(parse(api.get(f"/clients/{rich.client.id}").text))["chart-states"]
        names = {t["name"] for t in figure["data"]}
        assert {"ventral (observed)", "sympathetic (observed)", "dorsal (observed)"} <= names

    def test_a_period_can_be_chosen_and_a_bad_one_is_explained(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        start = (_now() - timedelta(days=20)).date().isoformat()
        page = parse(api.get(f"/clients/{rich.client.id}?start={start}").text)
        assert page.one("input", id="period-start").attrs["value"] == start
        figure = charts_of(page)["chart-episodes"]
        assert figure["layout"]["xaxis"]["range"][0].startswith(start)
        response = api.get(f"/clients/{rich.client.id}?start=yesterday")
        assert response.status_code == 200
        alert = parse(response.text).one("p", role="alert").words()
        assert "could not be read" in alert

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("end=9999-12-31", "end: " + OUT_OF_RANGE),  # was a 500 (OverflowError)
            ("end=0001-01-01", "end: " + OUT_OF_RANGE),  # was a 500 (OverflowError)
            ("start=1000-01-01&end=1001-01-01", "start: " + OUT_OF_RANGE),
            ("start=2026-02-30", "start: " + UNREADABLE),
        ],
    )
    def test_a_far_or_impossible_date_is_a_form_error_with_the_parsers_words(
        self, api: TestClient, db: DbSession, settings: Settings, query: str, message: str
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        response = api.get(f"/clients/{rich.client.id}?{query}")
        assert response.status_code == 200
        alert = parse(response.text).one("p", role="alert").words()
        assert message in alert
        assert "Showing the last 6 months" in alert


class TestMeasureRemarks:
    """Issue 10 part 3: the latest administration's signals and an unverified threshold are
    said beside the measure's chart, in the words of domain/labels.py."""

    def test_positive_screen_prorated_item9_and_unverified(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = make_client(db, owner)
        now = _now()
        make_measure(
            db, client, administered_at=now - timedelta(days=30), items=[0] * 9, total=None
        )
        # 8 items answered 2, item 9 empty: 16 x 9 / 8 = 18, prorated; 18 >= 10.
        make_measure(
            db,
            client,
            administered_at=now - timedelta(days=2),
            items=[2] * 8 + [None],
            total=None,
            severity=None,
        )
        sign_in(api, db, settings, owner)
        page = parse(api.get(f"/clients/{client.id}").text)
        figure = page.by_id("chart-measure-phq9").parent
        assert figure is not None
        notes = [n.words() for n in figure.find_all("p", cls="chart-note")]
        assert notes == [
            "PHQ-9: positive screen (>= 10); prorated total (items missing); item 9 left "
            "unanswered: ask directly; Jacobson–Truax: reliable from ±6.1 points; reliable "
            "change threshold not yet verified against its source; deterioration confirmed."
        ]
        # 0 -> 18 is at least twice the 6.1-point reliable change: confirmed at once, an alert
        assert "flag-alert" in page.find("article", data_flag="deterioration").classes
        # ...and the safety watch asks the same question
        safety = page.find("article", data_flag="safety")
        assert "flag-watch" in safety.classes
        assert "left unanswered" in safety.words()


class TestEscaping:
    def test_names_triggers_and_annotations_stay_text(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings, display_name=SCRIPT, goals=SCRIPT)
        sign_in(api, db, settings, rich.owner)
        response = api.get(f"/clients/{rich.client.id}")
        assert response.status_code == 200
        page = parse(response.text)
        assert page.one("h1").words() == SCRIPT
        assert SCRIPT in page.one("title").text
        # Every executable script is an empty <script src>: the name ran nowhere.
        for script in page.find_all("script"):
            if script.attrs.get("type") != "application/json":
                assert script.attrs["src"].startswith(("/static/", "/vendor/"))
                assert script.text.strip() == ""
        # Inside the JSON, nothing can close the element, and hover labels are HTML-escaped.
        for script in page.find_all("script", type="application/json"):
            assert "<" not in script.text
            assert ">" not in script.text
        charts = charts_of(page)
        hovers = [
            point
            for trace in charts["chart-episodes"]["data"]
            for point in trace.get("customdata", [])
            if "argument #5" in point[1]
        ]
        assert len(hovers) == 1
        _, trigger, strategies, self_report = hovers[0]
        assert trigger == "&lt;script&gt;alert(1)&lt;/script&gt; argument #5"
        assert strategies == "breathing, &lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"
        assert self_report == ""  # entered by the practitioner
        label = next(
            a
            for a in charts["chart-states"]["layout"]["annotations"]
            if "moved house" in a.get("hovertext", "")
        )
        assert "<" not in label["text"]
        assert "&lt;script&gt;" in label["text"]
        assert "&lt;img src=x onerror=alert(2)&gt;" in label["hovertext"]


def _flag_article(page: Node, code: str) -> Node:
    return page.one("article", id=f"flag-{code}")


class TestAcknowledge:
    def test_flag_reads_as_a_suggested_check_in(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        page = parse(api.get(f"/clients/{rich.client.id}").text)
        safety = _flag_article(page, "safety")
        chip = safety.one("span", class_="chip alert-level")
        assert chip.words() == "alert"
        assert (
            safety.one("p", class_="flag-because").words().startswith("Check-in suggested, because")
        )
        evidence = {
            div.one("dt").words(): div.one("dd").words()
            for div in safety.one("dl", class_="evidence").find_all("div")
        }
        assert evidence["PHQ-9 item9"] == "1"
        assert "risk-assessment" in safety.one("p", class_="flag-suggestion").words()

    def test_success_redirects_back_and_quietens_the_flag(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        csrf = sign_in(api, db, settings, rich.owner)
        page = parse(api.get(f"/clients/{rich.client.id}").text)
        form = _flag_article(page, "safety").one("form")
        fingerprint = form.one("input", name="fingerprint").attrs["value"]
        response = api.post(
            form.attrs["action"],
            data={"csrf_token": csrf, "fingerprint": fingerprint, "note": "Called; safe plan."},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/clients/{rich.client.id}?")
        ack = db.scalars(select(FlagAcknowledgement)).one()
        assert (ack.code, ack.note) == ("safety", "Called; safe plan.")
        page = parse(api.get(response.headers["location"]).text)
        assert not page.find_all("article", id="flag-safety")
        quiet = page.one("details", class_="quiet-flags")
        assert "Called; safe plan." in quiet.words()
        assert rich.owner.full_name in quiet.words()
        assert "Acknowledged" in page.one("p", role="status").words()

    def test_safety_without_a_note_shows_the_error_by_the_field(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        csrf = sign_in(api, db, settings, rich.owner)
        response = api.post(
            f"/clients/{rich.client.id}/flags/safety/acknowledge",
            data={"csrf_token": csrf, "note": "   "},
        )
        assert response.status_code == 422
        article = _flag_article(parse(response.text), "safety")
        textarea = article.one("textarea", name="note")
        assert textarea.attrs["aria-invalid"] == "true"
        error = article.one("p", class_="field-error")
        assert textarea.attrs["aria-describedby"] == error.attrs["id"]
        assert "note" in error.words()
        assert textarea.text == "   "  # what was typed is kept
        assert db.scalars(select(FlagAcknowledgement)).all() == []

    def test_a_stale_fingerprint_asks_for_a_second_look(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        csrf = sign_in(api, db, settings, rich.owner)
        response = api.post(
            f"/clients/{rich.client.id}/flags/safety/acknowledge",
            data={
                "csrf_token": csrf,
                "fingerprint": "safety|alert|phq9_item9@2000-01-01",
                "note": "my note",
            },
        )
        assert response.status_code == 409
        page = parse(response.text)
        assert "changed since" in page.one("section", id="flags").one("p", role="alert").words()
        assert _flag_article(page, "safety").one("textarea").text == "my note"
        assert db.scalars(select(FlagAcknowledgement)).all() == []

    def test_missing_csrf_token_is_refused(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        rich = make_rich_client(db, settings)
        sign_in(api, db, settings, rich.owner)
        response = api.post(
            f"/clients/{rich.client.id}/flags/safety/acknowledge", data={"note": "called"}
        )
        assert response.status_code == 403
        assert db.scalars(select(FlagAcknowledgement)).all() == []


class TestCost:
    def test_query_count_does_not_grow_with_the_data(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        owner = make_user(db, settings)
        small = make_client(db, owner, intake_date=date(2024, 1, 1))
        large = make_client(db, owner, intake_date=date(2024, 1, 1))
        bulk_history(db, small, days=5, episodes=2, sessions=2)
        bulk_history(db, large, days=200, episodes=60, sessions=25)
        for client in (small, large):
            db.add(
                Annotation(
                    client_id=client.id, at=_now() - timedelta(days=1), kind="other", label="x"
                )
            )
        sign_in(api, db, settings, owner)
        assert api.get(f"/clients/{small.id}").status_code == 200  # warm-up (login touch)
        counts = []
        for client in (small, large):
            queries.reset()
            assert api.get(f"/clients/{client.id}").status_code == 200
            counts.append(queries.count)
        assert counts[0] == counts[1], queries.statements

    @pytest.mark.parametrize("whole_course", [False, True])
    def test_five_years_of_daily_data_fit_the_page_budget(
        self, api: TestClient, db: DbSession, settings: Settings, whole_course: bool
    ) -> None:
        owner = make_user(db, settings)
        days = 5 * 365
        client = make_client(db, owner, intake_date=(_now() - timedelta(days=days)).date())
        bulk_history(db, client, days=days, episodes=600, sessions=260)
        sign_in(api, db, settings, owner)
        path = f"/clients/{client.id}"
        if whole_course:
            path += f"?start={client.intake_date.isoformat()}"
        response = api.get(path)
        assert response.status_code == 200
        # The size budget holds whatever the history; speed is measured by bench/, not here.
        assert len(response.content) <= CHART_BUDGET_BYTES, len(response.content)
        page = parse(response.text)
        charts = charts_of(page)
        if whole_course:
            states = charts["chart-states"]
            points = sum(len(t["x"]) for t in states["data"] if t.get("mode") == "markers")
            assert points == 500
            note = page.one("section", **{"aria-labelledby": "chart-states-title"})
            assert "showing 500 of 1,825 check-ins (LTTB downsampling)" in note.words()


class TestChartHelpers:
    def test_script_json_cannot_end_its_element_and_parses_back(self) -> None:
        value = {"text": "</script><!-- & \u2028 >"}
        text = script_json(value)
        assert "<" not in text
        assert ">" not in text
        assert "&" not in text
        assert json.loads(text) == value

    @pytest.mark.parametrize("zone", ["Europe/London", "Australia/Adelaide", "America/St_Johns"])
    def test_local_times_match_the_standard_library_across_daylight_saving(self, zone: str) -> None:
        tz = ZoneInfo(zone)
        start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
        # every 7 minutes for a year: crosses both transitions in each zone
        stamps = [start + 420 * i for i in range(0, 75_000)]
        expected = [datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M") for t in stamps]
        assert LocalClock(tz).xs(stamps) == expected

    @pytest.mark.parametrize(
        "zone", ["Europe/London", "Australia/Adelaide", "America/St_Johns", "Pacific/Kiritimati"]
    )
    def test_one_time_is_written_as_many_are(self, zone: str) -> None:
        """web/charts/common.py `LocalClock.x` (no numpy) against `xs` (numpy): the same text
        for every time, across daylight saving, minute edges, before 1970 and the ends of the
        calendar."""
        clock = LocalClock(ZoneInfo(zone))
        start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
        stamps = [start + 997.3 * i for i in range(0, 40_000)]  # a year, odd steps
        stamps += [start + 60 * k + d for k in range(500) for d in (-1e-6, 0.0, 1e-6, 59.999999)]
        stamps += [-1.5, -86_400.25, -2_000_000_000.0, 0.0]
        stamps += [datetime(1, 1, 1, 0, 30, tzinfo=UTC).timestamp()]  # year 1: numpy's way
        stamps += [datetime(2, 1, 1, 0, 1, tzinfo=UTC).timestamp()]
        stamps += [datetime(9999, 12, 29, 23, 59, tzinfo=UTC).timestamp()]
        stamps += [datetime(9999, 12, 31, 23, 0, tzinfo=UTC).timestamp()]
        # All at once, as a chart's points are written (each value's text depends on it
        # alone; 42,000 one-element calls took 4-5 s a zone on a slow host).
        assert [clock.x(t) for t in stamps] == LocalClock(ZoneInfo(zone)).xs(stamps)

    def test_free_text_is_shortened_then_escaped(self) -> None:
        assert escape("<b>hi</b>") == "&lt;b&gt;hi&lt;/b&gt;"
        assert escape("x" * 300, 10) == "x" * 9 + "…"
        assert escape(None) == ""
