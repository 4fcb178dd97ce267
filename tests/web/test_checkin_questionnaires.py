"""The client's questionnaires and "Your progress" on the check-in pages: what is due, the
published wording, answers saved as self-report (missing items by the instrument's rule),
the crisis text at once for PHQ-9 item 9 above 0, and the safety flag on the caseload."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import DEFAULT_CRISIS_TEXT, Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.instruments import GAD7, PHQ9
from practice_dashboard.models import (
    Assignment,
    AuditEvent,
    CheckinLink,
    Client,
    Measure,
    Observation,
    User,
)
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Source, Zone
from practice_dashboard.services.analytics.summary import practice_today
from tests.builders import (
    CHECKIN_CODE,
    auth_headers,
    make_checkin_link,
    make_client,
    make_episode,
    make_user,
)
from tests.html import parse


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    return make_client(db, owner)


@pytest.fixture
def today(settings: Settings) -> date:
    return practice_today(settings, utcnow())


def _assign(db: DbSession, client: Client, code: str, starts_on: date, every: int = 14) -> None:
    db.add(
        Assignment(
            client_id=client.id,
            instrument=code,
            every_days=every,
            starts_on=starts_on,
            created_by_id=client.practitioner_id,
        )
    )
    db.flush()


@pytest.fixture
def link(db: DbSession, settings: Settings, client: Client, today: date) -> tuple[str, CheckinLink]:
    _assign(db, client, "phq9", today)
    token, row = make_checkin_link(db, settings, client)
    db.commit()
    return token, row


def _open(api: TestClient, token: str) -> str:
    """Enter the code; returns the check-in session's CSRF token."""
    page = api.get(f"/c/{token}")
    csrf = parse(page.text).one("input", name="csrf_token").attrs["value"]
    entered = api.post(
        f"/c/{token}/code",
        data={"code": CHECKIN_CODE, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert entered.status_code == 303
    home = api.get(f"/c/{token}")
    return parse(home.text).find("input", name="csrf_token").attrs["value"]


def _answers(csrf: str, items: list[int | None]) -> dict[str, str]:
    data = {"csrf_token": csrf}
    for number, value in enumerate(items, start=1):
        if value is not None:
            data[f"item_{number}"] = str(value)
    return data


def _measures(db: DbSession, client: Client) -> list[Measure]:
    return list(db.scalars(select(Measure).where(Measure.client_id == client.id)))


class TestDue:
    def test_home_lists_what_is_due_and_the_form_has_the_published_wording(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        home = parse(api.get(f"/c/{token}").text)
        assert home.find("a", href=f"/c/{token}/questionnaires") is not None
        assert "Questionnaires due (1)" in home.words()
        listed = parse(api.get(f"/c/{token}/questionnaires").text)
        assert listed.find("a", href=f"/c/{token}/questionnaires/phq9") is not None
        form = parse(api.get(f"/c/{token}/questionnaires/phq9").text)
        legends = [n.words() for n in form.find_all("legend")]
        # Kroenke, Spitzer & Williams 2001: nine items, item 9 in its published wording.
        assert len(legends) == PHQ9.item_count
        assert legends[8] == f"9. {PHQ9.item_text[8]}"
        assert PHQ9.stem in form.words()
        words = form.words()
        assert "Kroenke" in words
        assert "Pfizer" in words
        for label in ("Not at all", "Several days", "More than half the days", "Nearly every day"):
            assert label in words

    def test_not_assigned_or_ors_is_not_due(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        for code in ("gad7", "ors", "nonsense"):
            page = api.get(f"/c/{token}/questionnaires/{code}")
            assert page.status_code == 404
            assert "not due now" in parse(page.text).words()


class TestAnswering:
    def test_answers_are_saved_as_self_report_and_no_longer_due(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, row = link
        csrf = _open(api, token)
        response = api.post(
            f"/c/{token}/questionnaires/phq9",
            data=_answers(csrf, [1, 1, 1, 1, 1, 1, 1, 1, 0]),
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        (measure,) = _measures(db, client)
        # Sum of the items (Kroenke et al. 2001): 8, "mild" (5-9).
        assert (measure.source, measure.total, measure.severity) == (Source.CLIENT, 8.0, "mild")
        assert measure.recorded_by_id is None
        event = db.scalars(select(AuditEvent).where(AuditEvent.entity == "measure")).one()
        assert (event.actor_id, event.checkin_link_id) == (None, row.id)
        assert response.headers["location"] == f"/c/{token}?done=questionnaire"
        home = parse(api.get(response.headers["location"]).text)
        assert "Thank you, your answers are saved." in home.words()
        assert not home.find_all("a", href=f"/c/{token}/questionnaires")
        assert api.get(f"/c/{token}/questionnaires/phq9").status_code == 404

    def test_two_missing_items_are_prorated(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        answers = [2, 2, 1, 1, None, 1, None, 0, 0]
        response = api.post(
            f"/c/{token}/questionnaires/phq9", data=_answers(csrf, answers), follow_redirects=False
        )
        assert response.status_code == 303, response.text
        (measure,) = _measures(db, client)
        # PHQ-9 prorating (registry rule): 7 answered summing 7 -> 7 x 9 / 7 = 9.
        assert measure.total == 9.0
        assert measure.items == answers

    def test_three_missing_items_save_nothing_and_say_why(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        answers = [2, 2, 1, 1, None, 1, None, None, 0]
        response = api.post(f"/c/{token}/questionnaires/phq9", data=_answers(csrf, answers))
        assert response.status_code == 422
        page = parse(response.text)
        assert "3 of 9 questions are not answered yet" in page.words()
        assert "at most 2 may be left out" in page.words()
        # The answers given are kept on the page.
        assert page.one("input", id="f-item_1-2").attrs.get("checked") is not None
        assert not page.find_all(id="crisis")
        assert _measures(db, client) == []

    def test_an_answer_out_of_range_is_refused(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        response = api.post(
            f"/c/{token}/questionnaires/phq9", data=_answers(csrf, [1, 1, 1, 1, 1, 1, 1, 7, 0])
        )
        assert response.status_code == 422
        assert "item 8 must be between 0 and 3" in parse(response.text).words()
        assert _measures(db, client) == []

    def test_without_the_csrf_token_nothing_is_saved(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        response = api.post(f"/c/{token}/questionnaires/phq9", data=_answers("forged", [0] * 9))
        assert response.status_code == 403
        assert _measures(db, client) == []


class TestSafety:
    def test_item_9_above_0_shows_the_crisis_text_and_flags_the_caseload(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        link: tuple[str, CheckinLink],
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        response = api.post(
            f"/c/{token}/questionnaires/phq9", data=_answers(csrf, [1, 0, 0, 0, 0, 0, 0, 0, 1])
        )
        assert response.status_code == 200, response.text
        page = parse(response.text)
        crisis = page.one(id="crisis")
        assert crisis.attrs["role"] == "alert"
        assert "call your local emergency number" in crisis.words()
        assert "not monitored in real time" in page.words()
        assert len(_measures(db, client)) == 1
        caseload = api.get("/api/v1/caseload", headers=auth_headers(settings, owner)).json()
        (row,) = caseload["items"]
        assert "safety" in {flag["code"] for flag in row["flags"]}

    def test_crisis_text_is_shown_even_when_the_answers_cannot_be_saved(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        answers = [None, None, None, 1, 1, 1, 1, 1, 2]
        response = api.post(f"/c/{token}/questionnaires/phq9", data=_answers(csrf, answers))
        assert response.status_code == 422
        assert parse(response.text).find(id="crisis") is not None
        assert _measures(db, client) == []

    def test_the_practice_crisis_text_stays_text(
        self, app: FastAPI, api: TestClient, link: tuple[str, CheckinLink], settings: Settings
    ) -> None:
        app.state.settings = settings.model_copy(
            update={"crisis_text": "<script>alert(1)</script>Call 999\nOut of hours: 0800 123"}
        )
        token, _ = link
        csrf = _open(api, token)
        response = api.post(f"/c/{token}/questionnaires/phq9", data=_answers(csrf, [0] * 8 + [3]))
        assert response.status_code == 200
        assert "<script>alert(1)</script>" not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;Call 999" in response.text
        page = parse(response.text)
        assert not page.find_all("script", string="alert(1)")
        assert "Out of hours: 0800 123" in page.one(id="crisis").words()

    def test_the_default_crisis_text_points_to_emergency_services(self) -> None:
        assert "emergency" in DEFAULT_CRISIS_TEXT
        assert "not watched in real time" in DEFAULT_CRISIS_TEXT


class TestProgress:
    def test_off_unless_the_practitioner_switches_it_on(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        assert not parse(api.get(f"/c/{token}").text).find_all("a", href=f"/c/{token}/progress")
        assert api.get(f"/c/{token}/progress").status_code == 404

    def test_recovery_and_time_in_window_without_flags(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        link: tuple[str, CheckinLink],
    ) -> None:
        token, row = link
        row.show_progress = True
        now = datetime.now(UTC)
        # Last 28 days: recoveries of 30 and 50 minutes -> median 40 min; two check-ins, one
        # within the window -> 50 %.
        for days, minutes in ((3, 30), (10, 50)):
            start = now - timedelta(days=days)
            make_episode(
                db,
                client,
                started_at=start,
                recognized_at=None,
                baseline_at=start + timedelta(minutes=minutes),
            )
        for days, zone in ((2, Zone.WITHIN), (5, Zone.HYPER)):
            db.add(
                Observation(
                    client_id=client.id,
                    observed_at=now - timedelta(days=days),
                    zone=zone,
                    activation=4,
                    source=Source.CLIENT,
                )
            )
        # Safety answers exist, but this page shows no flags.
        db.add(
            Measure(
                client_id=client.id,
                instrument="phq9",
                administered_at=now - timedelta(days=1),
                items=[0] * 8 + [2],
                total=2,
                severity="minimal",
            )
        )
        db.commit()
        _open(api, token)
        assert parse(api.get(f"/c/{token}").text).find("a", href=f"/c/{token}/progress")
        response = api.get(f"/c/{token}/progress")
        assert response.status_code == 200
        page = parse(response.text)
        last = page.find_all("tr")[-1].words()
        assert "40 min" in last
        assert "50%" in last
        words = page.words().lower()
        for clinical in ("flag", "safety", "alert", "deteriorat", "severity"):
            assert clinical not in words
        event = db.scalars(select(AuditEvent).where(AuditEvent.entity == "progress")).one()
        assert event.checkin_link_id == row.id


def test_gad7_can_be_answered_when_due(
    api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink], today: date
) -> None:
    _assign(db, client, "gad7", today - timedelta(days=30), every=28)
    db.commit()
    token, _ = link
    csrf = _open(api, token)
    form = parse(api.get(f"/c/{token}/questionnaires/gad7").text)
    assert "Spitzer" in form.words()
    assert len(form.find_all("legend")) == GAD7.item_count
    # Every GAD-7 item is needed for a total (no prorating shipped).
    partial = api.post(f"/c/{token}/questionnaires/gad7", data=_answers(csrf, [1] * 6 + [None]))
    assert partial.status_code == 422
    assert "every question needs an answer" in parse(partial.text).words()
    saved = api.post(
        f"/c/{token}/questionnaires/gad7", data=_answers(csrf, [1] * 7), follow_redirects=False
    )
    assert saved.status_code == 303
    assert db.scalar(select(func.count()).select_from(Measure)) == 1
