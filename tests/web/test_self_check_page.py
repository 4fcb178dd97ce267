"""The practitioner's self-check page (issue 9, item 7): the CBI as a form, with its history.

Expected scores follow the registry's CBI scoring (domain/instruments.py, after Kristensen,
Borritz, Villadsen & Christensen 2005): an answer code c counts 25 x c points, item 13 counts
100 - 25 x c, a scale's score is the mean of its answered items, 50 or more is "high".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, SelfCheck, User
from practice_dashboard.models.enums import Role
from tests.builders import make_user, sign_in
from tests.conftest import QueryCounter
from tests.html import Node, parse

# Personal: all "Often" (3) -> 75. Work-related: items 7-12 "Seldom" (1) -> 25 each, item 13
# "Always" has enough energy (4) -> 100 - 100 = 0; mean (6 x 25 + 0) / 7 = 21.43. Client-related
# left empty: not scored.
ANSWERS = {**{f"item_{n}": "3" for n in range(1, 7)}, **{f"item_{n}": "1" for n in range(7, 13)}}
ANSWERS["item_13"] = "4"


def _form(api: TestClient) -> tuple[Node, dict[str, str]]:
    response = api.get("/self-check")
    assert response.status_code == 200, response.text[:2000]
    page = parse(response.text)
    form = page.by_id("log-form")
    hidden = {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input", type="hidden")}
    return page, hidden


def _checks(db: DbSession, user: User) -> list[SelfCheck]:
    db.expire_all()
    return list(db.scalars(select(SelfCheck).where(SelfCheck.practitioner_id == user.id)))


class TestTheForm:
    def test_every_item_with_its_published_wording_by_scale_and_the_source(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        sign_in(api, db, settings, make_user(db, settings))
        page, hidden = _form(api)
        assert page.one("a", aria_current="page").words() == "Self-check"
        titles = [h.words() for h in page.find_all("h3", cls="scale-title")]
        assert titles == ["Personal burnout", "Work-related burnout", "Client-related burnout"]
        legends = [fs.one("legend").words() for fs in page.find_all("fieldset")]
        assert len(legends) == 19
        assert legends[0] == "1. How often do you feel tired?"
        assert legends[12] == (
            "13. Do you have enough energy for family and friends during leisure time?"
        )
        group = page.by_id("group-item_7")
        labels = [label.words() for label in group.find_all("label")]
        assert labels[0] == "0 Never, almost never / To a very low degree"
        assert labels[4] == "4 Always / To a very high degree"
        source = page.by_id("source-note").words()
        assert "Kristensen, Borritz, Villadsen & Christensen 2005" in source
        assert "Work & Stress 19:192-207" in source
        assert set(hidden) == {"csrf_token", "form_id"}

    def test_an_admin_has_no_self_check(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        sign_in(api, db, settings, make_user(db, settings, Role.ADMIN))
        assert api.get("/self-check").status_code == 403


class TestSaving:
    def test_saved_scored_confirmed_listed_and_on_the_caseload(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        sign_in(api, db, settings, user)
        _page, hidden = _form(api)
        response = api.post("/self-check", data={**hidden, **ANSWERS}, follow_redirects=False)
        assert response.status_code == 303, response.text[:2000]
        [check] = _checks(db, user)
        assert response.headers["location"] == f"/self-check?saved={check.id}"
        assert check.instrument == "cbi"
        assert check.subscales is not None
        assert check.subscales["personal"] == 75
        assert round(check.subscales["work_related"], 2) == 21.43
        assert check.subscales.get("client_related") is None

        page = parse(api.get(response.headers["location"]).text)
        saved = page.by_id("saved-note").words()
        assert "personal burnout 75 (high)" in saved
        assert "work-related burnout 21;" in saved
        assert "client-related burnout not scored" in saved
        [row] = page.by_id("self-check-table").find("tbody").find_all("tr")
        assert row.attrs["data-self-check"] == str(check.id)
        assert [td.words() for td in row.find_all("td")][1:] == ["75 high", "21", "—"]
        # The latest work-related score is the caseload's "latest self-check".
        caseload = parse(api.get("/").text)
        assert caseload.one("dd", data_figure="self_check").words() == "21"
        events = db.scalars(select(AuditEvent).where(AuditEvent.entity == "self_check")).all()
        assert [(e.action, e.entity_id) for e in events] == [("create", str(check.id))]

    def test_a_double_submit_saves_once(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        sign_in(api, db, settings, user)
        _page, hidden = _form(api)
        for _ in range(2):
            response = api.post("/self-check", data={**hidden, **ANSWERS}, follow_redirects=False)
            assert response.status_code == 303
        assert len(_checks(db, user)) == 1

    def test_a_half_answered_scale_names_each_missing_item_and_saves_nothing(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        sign_in(api, db, settings, user)
        _page, hidden = _form(api)
        # Client-related: 2 of 6 answered, fewer than the 3 a score needs.
        data = {**hidden, **ANSWERS, "item_14": "2", "item_15": "2"}
        response = api.post("/self-check", data=data)
        assert response.status_code == 422
        page = parse(response.text)
        summary = page.by_id("error-summary").words()
        assert "Client-related burnout needs at least 3 of its 6" in summary
        for n in (16, 17, 18, 19):
            assert (
                page.by_id(f"group-item_{n}")
                .one("p", cls="field-error")
                .words()
                .endswith("Not answered.")
            )
        # What was typed is kept.
        assert page.by_id("f-item_14-2").attrs.get("checked") == ""
        assert _checks(db, user) == []

    def test_an_answer_outside_the_scale_is_named(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        sign_in(api, db, settings, user)
        _page, hidden = _form(api)
        response = api.post("/self-check", data={**hidden, **ANSWERS, "item_3": "x"})
        assert response.status_code == 422
        assert "choose one of the options" in parse(response.text).by_id("group-item_3").words()
        response = api.post("/self-check", data={**hidden, **ANSWERS, "item_3": "7"})
        assert response.status_code == 422
        summary = parse(response.text).by_id("error-summary")
        assert summary.words().endswith("Item 3: Item 3 must be between 0 and 4.")
        assert [a.attrs["href"] for a in summary.find_all("a")] == ["#f-item_3-0"]
        assert _checks(db, user) == []

    def test_without_the_csrf_token_nothing_is_saved(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        sign_in(api, db, settings, user)
        _page, hidden = _form(api)
        response = api.post("/self-check", data={"form_id": hidden["form_id"], **ANSWERS})
        assert response.status_code == 403
        assert _checks(db, user) == []


class TestHistory:
    def test_only_ones_own_newest_first_in_a_fixed_number_of_queries(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        user = make_user(db, settings)
        other = make_user(db, settings)
        now = datetime.now(UTC)

        def add(owner: User, days: int) -> None:
            db.add(
                SelfCheck(
                    practitioner_id=owner.id,
                    instrument="cbi",
                    administered_at=now - timedelta(days=days),
                    items=[2] * 19,
                    subscales={"personal": 50.0, "work_related": 50.0, "client_related": 50.0},
                )
            )

        add(user, 30)
        add(other, 1)
        sign_in(api, db, settings, user)
        queries.reset()
        assert api.get("/self-check").status_code == 200
        few = queries.count
        for days in range(1, 25):
            add(user, days)
        db.commit()
        queries.reset()
        response = api.get("/self-check")
        assert queries.count == few
        rows = parse(response.text).by_id("self-check-table").find("tbody").find_all("tr")
        assert len(rows) == 20  # one page
        assert (
            "Page 1 of 2 (25 self-checks)"
            in parse(response.text).one("nav", aria_label="Pages of self-checks").words()
        )
        older = parse(api.get("/self-check?page=2").text)
        assert len(older.by_id("self-check-table").find("tbody").find_all("tr")) == 5
        total = db.scalar(select(func.count()).select_from(SelfCheck)) or 0
        assert total == 26  # the other practitioner's is stored, never shown
