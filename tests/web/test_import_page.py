"""The CSV import page: check (a dry run with every problem by row and column), then commit."""

from __future__ import annotations

import base64
import csv
import io
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, Observation, User
from practice_dashboard.services.exchange.csv.spec import COLUMNS, CsvKind
from tests.builders import login_cookies, make_client, make_user
from tests.html import Node, parse
from tests.web.test_caseload_page import page

OBS = COLUMNS[CsvKind.OBSERVATIONS]


def _file(client: Client, *activations: object) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(OBS)
    for i, activation in enumerate(activations):
        values = {
            "client_id": client.id,
            "observed_at": f"2026-05-{i + 1:02d}T10:00:00+01:00",
            "zone": "within",
            "activation": activation,
        }
        writer.writerow([values.get(name, "") for name in OBS])
    return out.getvalue().encode()


class Browser:
    """One logged-in person posting the page's forms with their CSRF token."""

    def __init__(self, api: TestClient, db: DbSession, settings: Settings, user: User) -> None:
        cookies, self.csrf = login_cookies(db, settings, user)
        db.commit()
        api.cookies.clear()
        api.cookies.update(cookies)
        self.api = api

    def check(self, kind: str, content: bytes, *, csrf: str | None = None) -> Any:
        return self.api.post(
            "/import/check",
            data={"csrf_token": self.csrf if csrf is None else csrf, "kind": kind},
            files={"file": ("mine.csv", content, "text/csv")},
            follow_redirects=False,
        )

    def commit(self, form: Node) -> Any:
        """Submit the commit form exactly as the page drew it."""
        data = {
            i.attrs["name"]: i.attrs.get("value", "")
            for i in form.find_all("input")
            if i.attrs.get("type") == "hidden"
        }
        return self.api.post(form.attrs["action"], data=data, follow_redirects=False)


def _count(db: DbSession) -> int:
    return db.scalar(select(func.count()).select_from(Observation)) or 0


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner)
    db.commit()
    return client


class TestPage:
    def test_needs_a_login(self, api: TestClient) -> None:
        response = api.get("/import", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (
            303,
            "/login?next=/import",
        )

    def test_the_form(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User
    ) -> None:
        doc = page(api, db, settings, owner, "/import")
        assert doc.find("h1").words() == "Import records from a CSV file"
        form = doc.by_id("check-form")
        assert (form.attrs["action"], form.attrs["enctype"]) == (
            "/import/check",
            "multipart/form-data",
        )
        options = form.by_id("import-kind").find_all("option")
        assert [o.attrs["value"] for o in options] == [k.value for k in (
            CsvKind.CLIENTS, CsvKind.SESSIONS, CsvKind.OBSERVATIONS, CsvKind.EPISODES,
            CsvKind.MEASURES, CsvKind.ANNOTATIONS)]  # fmt: skip
        assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["observations"]
        assert doc.find("label", **{"for": "import-file"}).words() == "CSV file"
        assert not doc.find_all(id="import-report")


class TestCheckThenCommit:
    def test_a_clean_file_is_checked_then_imported(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        browser = Browser(api, db, settings, owner)

        checked = browser.check("observations", _file(client, 3, 4, 5))

        assert checked.status_code == 200
        doc = parse(checked.text)
        assert doc.by_id("report-heading").words() == "2. The file is ready to import"
        assert doc.by_id("report-summary").words() == (
            "mine.csv: 3 data rows; 3 new, 0 already here."
        )
        assert _count(db) == 0  # checking writes nothing
        form = doc.by_id("commit-form")
        assert form.find("button").words() == "Import 3 new records"

        committed = browser.commit(form)

        assert (committed.status_code, committed.headers["location"]) == (
            303,
            "/import?kind=observations&new=3&present=0",
        )
        assert _count(db) == 3
        done = parse(api.get(committed.headers["location"]).text).by_id("import-done")
        assert done.words() == "Imported 3 new observations (check-ins)."
        actions = db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity == "observation", AuditEvent.client_id.is_(None))
            .order_by(AuditEvent.at)
        ).all()
        assert actions == ["import_dry_run", "import"]

        # The same file again: everything is already here, nothing is added.
        again = parse(browser.check("observations", _file(client, 3, 4, 5)).text)
        assert again.by_id("report-summary").words() == (
            "mine.csv: 3 data rows; 0 new, 3 already here."
        )
        assert again.by_id("nothing-new").words() == (
            "Everything in this file is already here: there is nothing to import."
        )
        assert not again.find_all(id="commit-form")

    def test_problems_are_listed_by_row_and_column_and_nothing_is_written(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        browser = Browser(api, db, settings, owner)

        response = browser.check("observations", _file(client, 3, 12, "high"))

        assert response.status_code == 422
        doc = parse(response.text)
        assert doc.by_id("report-heading").words() == "Nothing was imported"
        assert doc.by_id("report-summary").words() == (
            "mine.csv: 3 data rows; 1 new, 0 already here, 2 problems."
        )
        rows = doc.by_id("problems-table").find("tbody").find_all("tr")
        assert [[td.words() for td in tr.find_all("td")] for tr in rows] == [
            ["3", "activation", "must be at most 10 (got 12)"],
            ["4", "activation", "is not a whole number (got 'high')"],
        ]
        assert not doc.find_all(id="commit-form")
        assert _count(db) == 0

    def test_a_file_problem_and_the_wrong_kind(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        browser = Browser(api, db, settings, owner)
        doc = parse(browser.check("observations", b"").text)
        cells = doc.by_id("problems-table").find("tbody").find("tr").find_all("td")
        assert [td.words() for td in cells] == [
            "file",
            "",
            "the file is empty: a header row is needed",
        ]
        doc = parse(browser.check("sessions", _file(client, 3)).text)
        assert "unknown column 'observed_at' for sessions" in doc.by_id("problems-table").words()
        response = browser.check("everything", _file(client, 3))
        assert response.status_code == 422
        assert parse(response.text).find("p", cls="alert").words() == "Choose what the file holds."

    def test_posts_need_the_csrf_token(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        browser = Browser(api, db, settings, owner)
        assert browser.check("observations", _file(client, 3), csrf="forged").status_code == 403
        response = api.post(
            "/import/commit",
            data={"kind": "observations", "carried": ""},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert _count(db) == 0

    def test_a_damaged_carried_file_is_refused(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        browser = Browser(api, db, settings, owner)
        form = parse(browser.check("observations", _file(client, 3)).text).by_id("commit-form")
        carried = form.find("input", name="carried")
        good = carried.attrs["value"]
        half = len(good) // 8 * 4
        for damaged in (good[:-8] + "AAAAAAAA", good[:half], "not base64!", good + "AAAA"):
            carried.attrs["value"] = damaged
            response = browser.commit(form)
            assert response.status_code == 422, damaged
            assert parse(response.text).find("p", cls="alert").words() == (
                "The checked file did not come back intact; choose it again."
            )
        assert _count(db) == 0

    def test_a_file_too_large_to_carry_is_chosen_again(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["client_id", "observed_at", "zone", "activation", "notes"])
        for i in range(140):  # ~1.4 MB of notes that do not compress: too big to carry
            at = f"2026-04-01T{i // 60:02d}:{i % 60:02d}:00Z"
            writer.writerow([client.id, at, "within", 2, base64.b64encode(os.urandom(7_400))])
        content = out.getvalue().encode()
        browser = Browser(api, db, settings, owner)

        doc = parse(browser.check("observations", content).text)

        form = doc.by_id("commit-form")
        assert not form.find_all("input", name="carried")
        assert form.find("label", **{"for": "commit-file"}).words() == (
            "This file is too large to carry to the next step: choose it again"
        )
        response = api.post(
            "/import/commit",
            data={"csrf_token": browser.csrf, "kind": "observations", "filename": ""},
            files={"file": ("mine.csv", content, "text/csv")},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/import?kind=observations&new=140&present=0"
        assert _count(db) == 140

    def test_someone_elses_client_is_not_imported(
        self, api: TestClient, db: DbSession, settings: Settings, client: Client
    ) -> None:
        stranger = make_user(db, settings)
        browser = Browser(api, db, settings, stranger)
        doc = parse(browser.check("observations", _file(client, 3)).text)
        cells = doc.by_id("problems-table").find("tbody").find("tr").find_all("td")
        assert [td.words() for td in cells] == [
            "2",
            "client_id",
            "no client with this id among the clients you can change",
        ]
