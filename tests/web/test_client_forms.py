"""Clients in the browser: add, edit, change status, archive and restore, with versions.

A stale version saves nothing and shows both values of every field that differs; supervisors
get no buttons and a forged post is a 403; another practitioner's client is a 404.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, User
from practice_dashboard.models.enums import ClientStatus, Role
from tests.builders import make_client, make_user, supervise
from tests.html import Node, parse
from tests.web.test_log_forms import log_in, submitted_values, the_form


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, Role.THERAPIST)


@pytest.fixture
def csrf(api: TestClient, db: DbSession, settings: Settings, owner: User) -> str:
    return log_in(api, db, settings, owner)


@pytest.fixture
def client(db: DbSession, owner: User, csrf: str) -> Client:
    client = make_client(db, owner, display_name="Robin", goals="Sleep")
    db.commit()
    return client


def drawn(api: TestClient, url: str) -> tuple[Node, dict[str, str]]:
    response = api.get(url)
    assert response.status_code == 200, response.text
    page = parse(response.text)
    return page, submitted_values(the_form(page))


def post(api: TestClient, url: str, data: dict[str, str]) -> Response:
    response: Response = api.post(url, data=data, follow_redirects=False)
    return response


def stored(db: DbSession, client: Client) -> Client:
    db.expire_all()
    found = db.get(Client, client.id)
    assert found is not None
    return found


def listed_as_archived(api: TestClient) -> list[str]:
    page = parse(api.get("/clients/archived").text)
    return [a.words() for a in page.one("section").find_all("a")]


class TestAddClient:
    def test_adds_to_own_caseload_and_saves_once(
        self, api: TestClient, db: DbSession, owner: User, csrf: str
    ) -> None:
        _page, values = drawn(api, "/clients/new")
        assert values["session_cadence_days"] == "7"
        values.update(
            display_name="Sam K.",
            external_ref="F-12",
            date_of_birth="1990-04-02",
            intake_date="2026-05-04",
            goals="Notice activation earlier",
            session_cadence_days="14",
        )
        first = post(api, "/clients/new", values)
        assert first.status_code == 303
        again = post(api, "/clients/new", values)  # a double submit
        assert again.headers["location"] == first.headers["location"]
        clients = list(db.scalars(select(Client).where(Client.practitioner_id == owner.id)))
        assert len(clients) == 1
        c = clients[0]
        assert first.headers["location"] == f"/clients/{c.id}"
        assert (c.display_name, c.external_ref, c.date_of_birth, c.intake_date) == (
            "Sam K.",
            "F-12",
            date(1990, 4, 2),
            date(2026, 5, 4),
        )
        assert (c.goals, c.session_cadence_days, c.status) == (
            "Notice activation earlier",
            14,
            ClientStatus.ACTIVE,
        )

    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("display_name", "", "fill this in"),
            ("session_cadence_days", "0", "from 1 to 365"),
            ("date_of_birth", "2999-01-01", "between 1900-01-01 and 2100-12-31"),
            ("date_of_birth", "31/02/1990", "like 2026-05-31"),
            ("intake_date", "0202-01-01", "between 1900-01-01"),
            ("display_name", "x" * 121, "120 characters"),
            ("goals", "tab\x00bed", "NUL character"),
        ],
    )
    def test_bad_input_names_the_field_and_saves_nothing(
        self,
        api: TestClient,
        db: DbSession,
        owner: User,
        csrf: str,
        field: str,
        value: str,
        words: str,
    ) -> None:
        _page, values = drawn(api, "/clients/new")
        values.update({"display_name": "Sam", field: value})
        response = post(api, "/clients/new", values)
        assert response.status_code == 422
        page = parse(response.text)
        message = page.by_id(f"{field}-error")
        assert words.lower() in message.words().lower()
        assert the_form(page).one(name=field).attrs.get("aria-invalid") == "true"
        assert db.scalar(select(func.count()).select_from(Client)) == 0

    def test_a_date_of_birth_in_the_future_is_refused(
        self, api: TestClient, db: DbSession, csrf: str
    ) -> None:
        _page, values = drawn(api, "/clients/new")
        values.update(display_name="Sam", date_of_birth="2099-01-01")
        response = post(api, "/clients/new", values)
        assert response.status_code == 422
        assert "future" in parse(response.text).by_id("date_of_birth-error").words()

    def test_without_csrf_is_403(self, api: TestClient, csrf: str) -> None:
        _page, values = drawn(api, "/clients/new")
        values.update(display_name="Sam", csrf_token="forged")
        assert post(api, "/clients/new", values).status_code == 403

    def test_caseload_links_to_it(self, api: TestClient, csrf: str) -> None:
        page = parse(api.get("/").text)
        assert any(a.attrs.get("href") == "/clients/new" for a in page.find_all("a"))


class TestEditClient:
    def test_saves_changes_with_the_version(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        _page, values = drawn(api, f"/clients/{client.id}/edit")
        assert values["version"] == "1"
        values.update(goals="Sleep and rest", external_ref="")
        response = post(api, f"/clients/{client.id}/edit", values)
        assert response.status_code == 303
        saved = stored(db, client)
        assert (saved.goals, saved.version) == ("Sleep and rest", 2)
        events = db.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "update", AuditEvent.entity_id == str(client.id)
            )
        ).all()
        assert events == ["goals"]

    def test_stale_edit_shows_both_values_and_saves_nothing_until_chosen(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        _page, mine = drawn(api, f"/clients/{client.id}/edit")
        # Someone else saves first: a new name and goals.
        _page, theirs = drawn(api, f"/clients/{client.id}/edit")
        theirs.update(display_name="Robin T.", goals="Sleep, and fewer panics")
        assert post(api, f"/clients/{client.id}/edit", theirs).status_code == 303
        # Mine changes the goals too, and the rhythm.
        mine.update(goals="Sleep through", session_cadence_days="14")
        response = post(api, f"/clients/{client.id}/edit", mine)
        assert response.status_code == 409
        saved = stored(db, client)
        assert (saved.goals, saved.session_cadence_days, saved.version) == (
            "Sleep, and fewer panics",
            7,
            2,
        )
        page = parse(response.text)
        rows = {
            f.attrs["data-field"]: (
                f.one("span", data_side="mine").words(),
                f.one("span", data_side="theirs").words(),
            )
            for f in page.find_all("fieldset", cls="conflict-field")
        }
        assert rows == {
            "display_name": ("Robin", "Robin T."),
            "goals": ("Sleep through", "Sleep, and fewer panics"),
            "session_cadence_days": ("14", "7"),
        }
        # Only their change to the name is preselected as theirs; only mine to the rhythm as mine;
        # both changed the goals, so nothing is preselected there.
        resolved = submitted_values(the_form(page))
        assert resolved.get("keep.display_name") == "theirs"
        assert resolved.get("keep.session_cadence_days") == "mine"
        assert "keep.goals" not in resolved
        unchosen = post(api, f"/clients/{client.id}/edit", resolved)
        assert unchosen.status_code == 409, parse(unchosen.text).by_id("error-summary").words()
        assert "Choose which value" in parse(unchosen.text).by_id("error-summary").words()
        assert stored(db, client).version == 2
        resolved["keep.goals"] = "mine"
        done = post(api, f"/clients/{client.id}/edit", resolved)
        assert done.status_code == 303, done.text
        saved = stored(db, client)
        assert (saved.display_name, saved.goals, saved.session_cadence_days) == (
            "Robin T.",
            "Sleep through",
            14,
        )

    def test_supervisor_sees_no_buttons_and_a_forged_post_is_403(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        _page, values = drawn(api, f"/clients/{client.id}/edit")
        log_in(api, db, settings, boss)
        page = parse(api.get(f"/clients/{client.id}").text)
        hrefs = {a.attrs.get("href") for a in page.find_all("a")}
        assert f"/clients/{client.id}/edit" not in hrefs
        assert not page.find_all("form", action=f"/clients/{client.id}/archive")
        assert api.get(f"/clients/{client.id}/edit").status_code == 403
        csrf = log_in(api, db, settings, boss)
        values.update(csrf_token=csrf, goals="changed by a supervisor")
        for path in ("edit", "status", "archive", "restore"):
            assert post(api, f"/clients/{client.id}/{path}", values).status_code == 403
        assert stored(db, client).goals == "Sleep"

    def test_another_practitioners_client_is_404(
        self, api: TestClient, db: DbSession, settings: Settings, client: Client
    ) -> None:
        stranger = make_user(db, settings, Role.THERAPIST)
        csrf = log_in(api, db, settings, stranger)
        for path in ("edit", "status"):
            assert api.get(f"/clients/{client.id}/{path}").status_code == 404
        data = {"csrf_token": csrf, "version": "1", "goals": "x", "display_name": "x"}
        for path in ("edit", "status", "archive", "restore"):
            assert post(api, f"/clients/{client.id}/{path}", data).status_code == 404


class TestStatus:
    def test_discharge_with_a_date_then_activate_again(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        url = f"/clients/{client.id}/status"
        _page, values = drawn(api, url)
        assert values["status"] == "active"
        values.update(status="discharged", discharged_on="2026-06-30")
        assert post(api, url, values).status_code == 303
        saved = stored(db, client)
        assert (saved.status, saved.discharged_on) == (ClientStatus.DISCHARGED, date(2026, 6, 30))
        _page, values = drawn(api, url)
        values.update(status="active", discharged_on="")
        assert post(api, url, values).status_code == 303
        saved = stored(db, client)
        assert (saved.status, saved.discharged_on) == (ClientStatus.ACTIVE, None)

    def test_discharge_before_intake_is_refused_by_the_clients_rule(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        url = f"/clients/{client.id}/status"
        _page, values = drawn(api, url)
        values.update(status="discharged", discharged_on="2025-12-31")  # intake 2026-01-05
        response = post(api, url, values)
        assert response.status_code == 422
        message = parse(response.text).by_id("discharged_on-error").words()
        assert "Must not be before “Intake date”" in message
        assert stored(db, client).status == ClientStatus.ACTIVE


class TestArchive:
    def test_archive_then_restore_keeps_the_client(
        self, api: TestClient, db: DbSession, client: Client, csrf: str
    ) -> None:
        archived = post(api, f"/clients/{client.id}/archive", {"csrf_token": csrf, "version": "1"})
        assert archived.status_code == 303
        assert stored(db, client).archived_at is not None
        assert listed_as_archived(api) == ["Robin"]
        page = parse(api.get(f"/clients/{client.id}").text)
        restore = page.one("form", action=f"/clients/{client.id}/restore")
        values = submitted_values(restore)
        assert post(api, f"/clients/{client.id}/restore", values).status_code == 303
        assert stored(db, client).archived_at is None
        assert listed_as_archived(api) == []

    def test_archived_list_shows_only_visible_clients(
        self, api: TestClient, db: DbSession, settings: Settings, client: Client
    ) -> None:
        client.archived_at = client.created_at
        db.commit()
        stranger = make_user(db, settings, Role.THERAPIST)
        log_in(api, db, settings, stranger)
        assert listed_as_archived(api) == []

    def test_stale_archive_is_a_409_page_and_keeps_the_client(
        self, api: TestClient, db: DbSession, client: Client, csrf: str
    ) -> None:
        response = post(api, f"/clients/{client.id}/archive", {"csrf_token": csrf, "version": "0"})
        assert response.status_code == 409
        assert "changed" in parse(response.text).one("h1").words()
        assert stored(db, client).archived_at is None
