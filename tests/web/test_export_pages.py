"""Downloads with the browser's login (issue 9, item 7): a client's CSV and FHIR, the caseload.

Same bytes as the API's exports, streamed with the right content type, audited, and only for
the owning practitioner: a supervisor's read access is not a copy of the record.
"""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.exchange.csv.spec import COLUMNS, CsvKind
from tests.builders import (
    NOW,
    auth_headers,
    make_client,
    make_observation,
    make_user,
    sign_in,
    supervise,
)
from tests.conftest import QueryCounter
from tests.html import parse


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def _exports(db: DbSession) -> list[tuple[str, uuid.UUID | None, str | None]]:
    return [
        (e.entity, e.client_id, e.detail)
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.at)
        )
    ]


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, full_name="Tess Therapist")


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner, display_name="Ana P")
    for hours in (1, 2, 3):
        make_observation(db, client, observed_at=NOW.replace(hour=hours))
    return client


class TestClientDownloads:
    def test_the_client_page_links_every_download(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        page = parse(api.get(f"/clients/{client.id}").text)
        links = {
            a.attrs["data-export"]: a.attrs["href"]
            for a in page.by_id("export-links").find_all("a")
        }
        assert links == {
            **{
                f"csv-{k.value}": f"/clients/{client.id}/export.csv?kind={k.value}" for k in CsvKind
            },
            "fhir": f"/clients/{client.id}/export.fhir.json",
        }

    def test_csv_streams_the_same_rows_as_the_api_and_is_audited(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        response = api.get(f"/clients/{client.id}/export.csv?kind=observations")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="client-{client.id}-observations.csv"'
        )
        rows = _rows(response.content)
        assert rows[0] == list(COLUMNS[CsvKind.OBSERVATIONS])
        assert len(rows) == 1 + 3
        api.cookies.clear()
        by_api = api.get(
            f"/api/v1/clients/{client.id}/export.csv?kind=observations",
            headers=auth_headers(settings, owner),
        )
        assert by_api.content == response.content
        assert _exports(db)[0] == ("observation", client.id, "csv client")

    def test_fhir_is_a_bundle_with_the_fhir_content_type_and_is_audited(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        response = api.get(f"/clients/{client.id}/export.fhir.json")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/fhir+json"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="client-{client.id}.fhir.json"'
        )
        bundle = json.loads(response.content)
        assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
        assert _exports(db) == [("client", client.id, "fhir_r4")]

    def test_a_supervisor_reads_the_page_but_gets_no_copy(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        sign_in(api, db, settings, boss)
        page = parse(api.get(f"/clients/{client.id}").text)
        assert page.find_all(id="export-links") == []
        for url in (
            f"/clients/{client.id}/export.csv?kind=sessions",
            f"/clients/{client.id}/export.fhir.json",
        ):
            assert api.get(url).status_code == 403, url
        assert _exports(db) == []

    @pytest.mark.parametrize("role", [Role.THERAPIST, Role.ADMIN])
    def test_anyone_else_gets_404(
        self, api: TestClient, db: DbSession, settings: Settings, client: Client, role: Role
    ) -> None:
        sign_in(api, db, settings, make_user(db, settings, role))
        for url in (
            f"/clients/{client.id}/export.csv",
            f"/clients/{client.id}/export.fhir.json",
            f"/clients/{uuid.uuid4()}/export.csv",
            "/clients/not-an-id/export.fhir.json",
        ):
            response = api.get(url)
            assert response.status_code == 404, url
            assert "Ana P" not in response.text
        assert _exports(db) == []

    def test_without_a_login_it_asks_for_one(self, api: TestClient, client: Client) -> None:
        response = api.get(f"/clients/{client.id}/export.csv", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")

    def test_an_unknown_kind_names_the_field(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        response = api.get(f"/clients/{client.id}/export.csv?kind=notes")
        assert response.status_code == 422
        assert "choose one of" in parse(response.text).one("main").words()
        assert _exports(db) == []


class TestCaseloadDownload:
    def test_only_the_callers_own_clients_even_for_a_supervisor(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        own = make_client(db, boss, display_name="Boss's own")
        sign_in(api, db, settings, boss)
        response = api.get("/export.csv?kind=clients")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].startswith(
            'attachment; filename="caseload-clients-'
        )
        rows = _rows(response.content)
        name = rows[0].index("display_name")
        assert [r[name] for r in rows[1:]] == ["Boss's own"]
        assert _exports(db) == [("client", own.id, "csv caseload")]

    def test_the_caseload_page_offers_it(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        form = parse(api.get("/").text).by_id("caseload-export").one("form")
        assert (form.attrs["method"], form.attrs["action"]) == ("get", "/export.csv")
        options = [o.attrs["value"] for o in form.find_all("option")]
        assert options == [k.value for k in CsvKind]

    def test_the_clients_file_takes_the_same_queries_whatever_the_caseload(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        queries: QueryCounter,
    ) -> None:
        sign_in(api, db, settings, owner)
        # (The record kinds stream one keyset-paged query per client, by the export service's
        # design: short read transactions, bounded memory. Clients come in id batches.)

        def count() -> int:
            queries.reset()
            assert api.get("/export.csv?kind=clients").status_code == 200
            return queries.count

        small = count()
        for i in range(5):
            make_client(db, owner, display_name=f"More {i}")
        db.commit()
        assert count() == small
