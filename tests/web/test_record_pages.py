"""The client's record page, an entry's detail, corrections in edit mode and entered in error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, Episode, Measure, Observation, Revision, User
from practice_dashboard.models.enums import RecordStatus, Role, Zone
from practice_dashboard.web.forms.registry import BASELINE_AFTER
from tests.builders import (
    login_cookies,
    make_annotation,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.conftest import QueryCounter
from tests.html import Node, parse
from tests.web.test_log_forms import submitted_values

RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def log_in(api: TestClient, db: DbSession, settings: Settings, user: User) -> str:
    cookies, csrf = login_cookies(db, settings, user)
    db.commit()
    api.cookies.clear()
    api.cookies.update(cookies)
    return csrf


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, Role.THERAPIST, full_name="Dana Okafor")


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    return make_client(db, owner, display_name="Robin")


def _page(api: TestClient, url: str, status: int = 200) -> Node:
    response = api.get(url)
    assert response.status_code == status, response.text
    return parse(response.text)


def _entries(page: Node) -> list[tuple[str, str]]:
    return [
        (li.attrs["data-kind"], li.attrs["data-status"])
        for li in page.by_id("record-entries").find_all("li")
    ]


class TestRecordPage:
    def test_lists_every_kind_newest_first_with_notes_and_who(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        make_session(db, client, starts_at=RECENT - timedelta(days=5), notes="talked about work")
        make_observation(
            db, client, observed_at=RECENT - timedelta(days=1), recorded_by_id=owner.id
        )
        make_episode(db, client, started_at=RECENT - timedelta(days=2))
        make_measure(db, client, administered_at=RECENT - timedelta(days=3))
        make_annotation(db, client, at=RECENT, notes="new flat")
        log_in(api, db, settings, owner)
        page = _page(api, f"/clients/{client.id}/record")
        assert [k for k, _ in _entries(page)] == [
            "annotation",
            "observation",
            "episode",
            "measure",
            "session",
        ]
        text = page.by_id("record-entries").words()
        assert "talked about work" in text
        assert "new flat" in text
        assert "Recorded by Dana Okafor" in text
        assert "PHQ-9 total 8 (mild)" in text
        # The client page links here.
        client_page = _page(api, f"/clients/{client.id}")
        assert client_page.by_id("record-link").attrs["href"] == f"/clients/{client.id}/record"

    def test_filters_by_kind_and_period(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        for days in (1, 10, 40):
            make_observation(db, client, observed_at=RECENT - timedelta(days=days))
        make_measure(db, client, administered_at=RECENT - timedelta(days=10))
        log_in(api, db, settings, owner)
        start = (RECENT - timedelta(days=20)).date().isoformat()
        page = _page(api, f"/clients/{client.id}/record?kind=observations&start={start}")
        assert _entries(page) == [("observation", "recorded")] * 2
        assert "2 entries match" in page.by_id("result-line").words()

    def test_a_bad_filter_is_named(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        log_in(api, db, settings, owner)
        page = _page(api, f"/clients/{client.id}/record?start=2026-02-30&kind=notes", 422)
        words = page.by_id("filter-errors").words()
        assert "Enter a date like 2026-05-31." in words
        assert "Choose one of the kinds listed." in words

    @pytest.mark.parametrize(("start", "end"), [("0001-01-01", ""), ("", "9999-12-31")])
    def test_a_period_outside_the_plausible_range_is_named(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        start: str,
        end: str,
    ) -> None:
        """Issue 12: year 1 east of UTC, or the day after 9999-12-31, was a 500."""
        log_in(api, db, settings, owner)
        page = _page(api, f"/clients/{client.id}/record?start={start}&end={end}", 422)
        assert "between 1900-01-01 and 2100-12-31" in page.by_id("filter-errors").words()

    def test_entered_in_error_is_struck_through_with_its_reason(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        make_observation(
            db,
            client,
            observed_at=RECENT,
            status=RecordStatus.ENTERED_IN_ERROR,
            status_reason="logged for the wrong client",
        )
        log_in(api, db, settings, owner)
        page = _page(api, f"/clients/{client.id}/record")
        [entry] = page.by_id("record-entries").find_all("li")
        assert entry.attrs["data-status"] == "entered_in_error"
        assert entry.find("s").words().startswith("within window")
        assert "Reason: logged for the wrong client" in entry.words()

    def test_pages_of_fifty_and_a_fixed_number_of_queries(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        queries: QueryCounter,
    ) -> None:
        log_in(api, db, settings, owner)

        def count(n: int) -> int:
            for i in range(n):
                make_observation(db, client, observed_at=RECENT - timedelta(hours=i))
                make_episode(db, client, started_at=RECENT - timedelta(hours=i, minutes=30))
            db.commit()
            queries.reset()
            assert api.get(f"/clients/{client.id}/record").status_code == 200
            return queries.count

        small = count(2)
        large = count(60)  # 124 entries: three pages
        assert small == large
        page = _page(api, f"/clients/{client.id}/record?page=3")
        assert len(page.by_id("record-entries").find_all("li")) == 24
        assert "Page 3 of 3" in page.one("nav", cls="pager").words()
        # Past the end (an old link, or a deleted filter's page): the last page.
        past = _page(api, f"/clients/{client.id}/record?page=99")
        assert "Page 3 of 3" in past.one("nav", cls="pager").words()

    def test_an_entrys_page_sends_as_many_queries_whatever_its_history(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        queries: QueryCounter,
    ) -> None:
        observation = make_observation(db, client, observed_at=RECENT, activation=0)
        entry = f"/clients/{client.id}/record/observations/{observation.id}"
        csrf = log_in(api, db, settings, owner)

        def count(edits: int) -> int:
            for _ in range(edits):
                values = submitted_values(_page(api, f"{entry}/edit").by_id("log-form"))
                values["activation"] = str((int(values["activation"]) + 1) % 11)
                values["csrf_token"] = csrf
                assert api.post(f"{entry}/edit", data=values).status_code == 200
            queries.reset()
            page = _page(api, entry)
            assert len(page.by_id("history").find_all("li")) == observation_versions() - 1
            return queries.count

        def observation_versions() -> int:
            db.expire_all()
            stored = db.get(Observation, observation.id)
            assert stored is not None
            return stored.version

        assert count(1) == count(8)

    def test_outside_scope_is_404_and_supervisors_read_without_forms(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        observation = make_observation(db, client, observed_at=RECENT)
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        stranger = make_user(db, settings, Role.THERAPIST)
        entry = f"/clients/{client.id}/record/observations/{observation.id}"
        log_in(api, db, settings, stranger)
        assert api.get(f"/clients/{client.id}/record").status_code == 404
        assert api.get(entry).status_code == 404
        csrf = log_in(api, db, settings, boss)
        page = _page(api, entry)
        assert page.find_all("form", id="error-form") == []
        assert page.find_all("a", id="correct-link") == []
        assert api.get(f"{entry}/edit").status_code == 403
        denied = api.post(
            f"{entry}/entered-in-error",
            data={"csrf_token": csrf, "version": "1", "status_reason": "x"},
        )
        assert denied.status_code == 403
        assert db.get(Observation, observation.id).status == RecordStatus.RECORDED  # type: ignore[union-attr]


class TestCorrections:
    def test_correcting_a_phq9_item_9_rescores_it_and_keeps_the_old_answer(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        measure = make_measure(db, client, administered_at=RECENT, items=[1] * 8 + [2], total=10.0)
        entry = f"/clients/{client.id}/record/measures/{measure.id}"
        log_in(api, db, settings, owner)
        form_page = _page(api, f"{entry}/edit")
        form = form_page.by_id("log-form")
        values = submitted_values(form)
        assert (values["item_9"], values["version"]) == ("2", "1")
        assert "form_id" not in values
        values["item_9"] = "0"
        response = api.post(f"{entry}/edit", data=values, follow_redirects=False)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"{entry}?saved=correction"
        db.expire_all()
        stored = db.get(Measure, measure.id)
        assert stored is not None
        assert (stored.items, stored.total, stored.version) == ([1] * 8 + [0], 8, 2)
        detail = _page(api, response.headers["location"])
        assert "Correction saved" in detail.by_id("saved-notice").words()
        [change] = [
            row
            for row in detail.by_id("history").find_all("tr")
            if row.attrs.get("data-field") == "Answers"
        ]
        assert change.find("td", cls="old").words() == "1, 1, 1, 1, 1, 1, 1, 1, 2"
        assert change.find("td", cls="new").words() == "1, 1, 1, 1, 1, 1, 1, 1, 0"
        assert "Dana Okafor" in detail.by_id("history").words()

    def test_a_stale_correction_saves_nothing_and_shows_both_values(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        observation = make_observation(db, client, observed_at=RECENT, activation=3)
        entry = f"/clients/{client.id}/record/observations/{observation.id}"
        log_in(api, db, settings, owner)
        values = submitted_values(_page(api, f"{entry}/edit").by_id("log-form"))
        # Meanwhile, someone else corrects it (through the API, say) to 5.
        observation.activation = 5
        db.commit()
        values["activation"] = "7"
        response = api.post(f"{entry}/edit", data=values)
        assert response.status_code == 409
        page = parse(response.text)
        rows = {
            tr.find("th").words(): [td.words() for td in tr.find_all("td")]
            for tr in page.by_id("conflict").find_all("tr")
            if tr.find_all("td")
        }
        assert rows == {"Activation": ["5", "7"]}
        db.expire_all()
        assert db.get(Observation, observation.id).activation == 5  # type: ignore[union-attr]
        # The redrawn form keeps what was typed and carries the new version to save again.
        again = submitted_values(page.by_id("log-form"))
        assert (again["activation"], again["version"]) == ("7", "2")
        assert api.post(f"{entry}/edit", data=again, follow_redirects=False).status_code == 303

    def test_a_correction_with_reversed_episode_times_is_refused_by_field(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        episode = make_episode(db, client, started_at=RECENT)
        entry = f"/clients/{client.id}/record/episodes/{episode.id}"
        log_in(api, db, settings, owner)
        values = submitted_values(_page(api, f"{entry}/edit").by_id("log-form"))
        before = (RECENT - timedelta(hours=1)).astimezone(settings.timezone)
        values["baseline_at_date"] = before.strftime("%Y-%m-%d")
        values["baseline_at_time"] = before.strftime("%H:%M")
        response = api.post(f"{entry}/edit", data=values)
        assert response.status_code == 422
        message = parse(response.text).by_id("baseline_at-error").words()
        assert "onset" in message.lower() or "started" in message.lower()
        assert db.scalars(select(Revision)).all() == []

    def test_an_episode_is_corrected_with_a_time_typed_in_minutes_after_onset(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        episode = make_episode(db, client, started_at=RECENT)  # back after 40 minutes
        entry = f"/clients/{client.id}/record/episodes/{episode.id}"
        log_in(api, db, settings, owner)
        values = submitted_values(_page(api, f"{entry}/edit").by_id("log-form"))
        # Both ways at once is refused, next to the quick field; the pair cleared, it is used.
        both = api.post(f"{entry}/edit", data={**values, BASELINE_AFTER: "+25"})
        assert both.status_code == 422
        assert "not both" in parse(both.text).by_id(f"{BASELINE_AFTER}-error").words()
        values.update({"baseline_at_date": "", "baseline_at_time": "", BASELINE_AFTER: "+25"})
        saved = api.post(f"{entry}/edit", data=values, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        db.expire_all()
        stored = db.get(Episode, episode.id)
        assert stored is not None
        assert stored.recovery_minutes == 25

    def test_mark_entered_in_error_needs_a_reason_then_leaves_the_figures(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        observation = make_observation(db, client, observed_at=RECENT, zone=Zone.HYPER)
        entry = f"/clients/{client.id}/record/observations/{observation.id}"
        csrf = log_in(api, db, settings, owner)
        empty = api.post(
            f"{entry}/entered-in-error",
            data={"csrf_token": csrf, "version": "1", "status_reason": "  "},
        )
        assert empty.status_code == 422
        page = parse(empty.text)
        assert "reason" in page.by_id("status_reason-error").words().lower()
        assert page.by_id("f-status_reason").attrs["aria-invalid"] == "true"
        too_long = api.post(
            f"{entry}/entered-in-error",
            data={"csrf_token": csrf, "version": "1", "status_reason": "x" * 501},
        )
        assert too_long.status_code == 422
        assert "500 characters" in parse(too_long.text).by_id("status_reason-error").words()
        no_csrf = api.post(f"{entry}/entered-in-error", data={"version": "1", "status_reason": "x"})
        assert no_csrf.status_code == 403
        done = api.post(
            f"{entry}/entered-in-error",
            data={"csrf_token": csrf, "version": "1", "status_reason": "wrong client"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        detail = _page(api, done.headers["location"])
        assert "Marked entered in error" in detail.by_id("saved-notice").words()
        assert "Reason: wrong client" in detail.by_id("entry-reason").words()
        assert detail.find_all("form", id="error-form") == []
        # It can no longer be corrected.
        assert api.get(f"{entry}/edit").status_code == 422


class TestDuplicates:
    def test_the_same_entry_again_asks_before_saving_a_second(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        log_in(api, db, settings, owner)
        url = f"/clients/{client.id}/observations/new"

        def fresh() -> dict[str, str]:
            values = submitted_values(_page(api, url).by_id("log-form"))
            return {**values, "zone": "hyper", "activation": "6"}

        first = fresh()
        assert api.post(url, data=first, follow_redirects=False).status_code == 303
        # A new form (a new one-time id) with the same time: probably the same observation.
        second = {**fresh(), **{k: first[k] for k in ("observed_at_date", "observed_at_time")}}
        asked = api.post(url, data=second)
        assert asked.status_code == 422
        page = parse(asked.text)
        assert "at the same time, was saved" in page.by_id("confirm_duplicate-error").words()
        assert page.by_id("f-confirm_duplicate").attrs["type"] == "checkbox"
        count = select(Observation.id).where(Observation.client_id == client.id)
        assert len(db.scalars(count).all()) == 1
        # Confirmed: saved as a second one.
        again = {**submitted_values(page.by_id("log-form")), "confirm_duplicate": "on"}
        assert api.post(url, data=again, follow_redirects=False).status_code == 303
        assert len(db.scalars(count).all()) == 2
        # Other values at the same time are another entry, saved without asking.
        other = {**fresh(), **{k: first[k] for k in ("observed_at_date", "observed_at_time")}}
        other["activation"] = "2"
        assert api.post(url, data=other, follow_redirects=False).status_code == 303
        assert len(db.scalars(count).all()) == 3
        # Another time is not a duplicate.
        third = fresh()
        third["observed_at_time"] = "00:01" if first["observed_at_time"] != "00:01" else "00:02"
        assert api.post(url, data=third, follow_redirects=False).status_code == 303
