"""The audit log page: login, who sees what, filters, paging, CSV link, audit, queries."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.reports import audit_log
from tests.builders import make_client, make_user, supervise
from tests.conftest import QueryCounter
from tests.html import Node, parse
from tests.services.reports.test_audit_log import FINGERPRINT, add_event
from tests.web.test_caseload_page import get, page

# Noon in the practice's zone on a fixed day, so local days in filters are unambiguous.
DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class Office:
    admin: User
    owner: User
    supervisor: User
    other: User
    client: Client
    others_client: Client
    events: dict[str, AuditEvent]


@pytest.fixture
def office(db: DbSession, settings: Settings) -> Office:
    admin = make_user(db, settings, Role.ADMIN, full_name="Ada Admin")
    owner = make_user(db, settings, full_name="Olu Owner")
    supervisor = make_user(db, settings, Role.SUPERVISOR, full_name="Sam Supervisor")
    supervise(db, supervisor, owner)
    other = make_user(db, settings, full_name="Oona Other")
    client = make_client(db, owner, display_name="Zed Quill")
    others_client = make_client(db, other, display_name="Yara Vell")
    events = {
        "owner_reads": add_event(
            db, owner, "read", "client", at=DAY - timedelta(days=2), client=client
        ),
        "supervisor_reads": add_event(
            db,
            supervisor,
            "read",
            "client",
            at=DAY - timedelta(days=1),
            client=client,
            ip="10.1.1.1",
            detail="page",
        ),
        "ack": add_event(
            db, owner, "acknowledge", "flag", at=DAY, client=client, detail=FINGERPRINT
        ),
        "other_reads": add_event(db, other, "read", "client", at=DAY, client=others_client),
        "admin_creates": add_event(db, admin, "create", "user", at=DAY, entity_id=other.id),
    }
    db.commit()
    return Office(
        admin=admin,
        owner=owner,
        supervisor=supervisor,
        other=other,
        client=client,
        others_client=others_client,
        events=events,
    )


def event_rows(doc: Node) -> dict[str, Node]:
    if not doc.find_all(id="audit-table"):
        return {}
    return {
        tr.attrs["data-event"]: tr for tr in doc.by_id("audit-table").find("tbody").find_all("tr")
    }


def ids(office: Office, *names: str) -> set[str]:
    return {str(office.events[n].id) for n in names}


def shown(office: Office, doc: Node) -> set[str]:
    """The fixture's events on the page (the page also lists earlier reads of the log)."""
    return set(event_rows(doc)) & ids(office, *office.events)


class TestAccess:
    def test_login_required(self, api: TestClient) -> None:
        for url in ("/audit", "/audit/export.csv"):
            response = api.get(url, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")

    def test_admin_sees_everything_but_no_client_names(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        doc = page(api, db, settings, office.admin, "/audit")
        assert shown(office, doc) == ids(office, *office.events)
        text = doc.words()
        assert "Zed Quill" not in text
        assert "Yara Vell" not in text
        assert "phq9" not in text
        row = event_rows(doc)[str(office.events["ack"].id)]
        cells = row.find_all("td")
        assert cells[4].words() == str(office.client.id)[:8] + "…"
        assert cells[5].words() == audit_log.WITHHELD
        # Admins filter by client id in a text box (no list of client names).
        assert doc.by_id("f-client").tag == "input"
        assert "Every read of a client's record" in doc.by_id("audit-scope").words()

    def test_practitioner_sees_own_clients_by_name(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        doc = page(api, db, settings, office.owner, "/audit")
        assert shown(office, doc) == ids(office, "owner_reads", "supervisor_reads", "ack")
        row = event_rows(doc)[str(office.events["supervisor_reads"].id)]
        cells = row.find_all("td")
        assert cells[1].words() == "Sam Supervisor"
        link = cells[4].find("a")
        assert link.words() == "Zed Quill"
        assert link.attrs["href"] == f"/clients/{office.client.id}"
        assert cells[6].words() == ""  # someone else's IP is not shown
        ack = event_rows(doc)[str(office.events["ack"].id)].find_all("td")
        assert ack[5].words() == FINGERPRINT
        assert "(you)" in ack[1].words()
        assert "Yara Vell" not in doc.words()
        options = {o.words() for o in doc.by_id("f-actor").find_all("option")}
        assert options == {"Anyone", "Olu Owner (you)", "Sam Supervisor"}
        clients = {o.words() for o in doc.by_id("f-client").find_all("option")}
        assert clients == {"Any", "Zed Quill"}

    def test_supervisor_does_not_see_supervisees_events(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        doc = page(api, db, settings, office.supervisor, "/audit")
        assert shown(office, doc) == ids(office, "supervisor_reads")
        row = event_rows(doc)[str(office.events["supervisor_reads"].id)]
        assert row.find_all("td")[6].words() == "10.1.1.1"  # their own action


class TestFilters:
    def test_client_and_action(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        url = f"/audit?client={office.client.id}&action=read"
        doc = page(api, db, settings, office.owner, url)
        assert set(event_rows(doc)) == ids(office, "owner_reads", "supervisor_reads")
        selected = doc.by_id("f-client").find("option", selected="")
        assert selected.words() == "Zed Quill"
        assert doc.by_id("f-action").attrs["value"] == "read"
        assert "2 of 2 events matching the filters" in doc.by_id("result-line").words()
        assert any(a.words() == "Clear" for a in doc.find_all("a", href="/audit"))

    def test_actor(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        doc = page(api, db, settings, office.owner, f"/audit?actor={office.supervisor.id}")
        assert set(event_rows(doc)) == ids(office, "supervisor_reads")

    def test_days_are_local_and_inclusive(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        day = DAY.astimezone(settings.timezone).date()
        yesterday = day - timedelta(days=1)
        url = f"/audit?start={yesterday}&end={day}"
        doc = page(api, db, settings, office.owner, url)
        assert shown(office, doc) == ids(office, "supervisor_reads", "ack")
        doc = page(api, db, settings, office.owner, f"/audit?end={yesterday}")
        assert shown(office, doc) == ids(office, "owner_reads", "supervisor_reads")

    def test_bad_filters_show_errors_and_no_rows(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        response = get(
            api, db, settings, office.owner, "/audit?client=nope&start=2026-03-10&end=2026-03-01"
        )
        assert response.status_code == 422
        doc = parse(response.text)
        assert doc.by_id("f-client-error").words() == "Choose from the list, or paste a full id."
        assert doc.by_id("f-end-error").words() == "The last day must not be before the first day."
        assert doc.by_id("f-client").attrs["aria-invalid"] == "true"
        assert event_rows(doc) == {}
        assert not doc.find_all(id="csv-link")
        bad_csv = get(api, db, settings, office.owner, "/audit/export.csv?start=yesterday")
        assert bad_csv.status_code == 422

    @pytest.mark.parametrize("query", ["end=9999-12-31", "start=0001-01-01&end=0001-01-02"])
    def test_a_far_day_is_a_field_error(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office, query: str
    ) -> None:
        # "end=9999-12-31" was a 500 (OverflowError: the range ends the next day).
        response = get(api, db, settings, office.owner, f"/audit?{query}")
        assert response.status_code == 422
        doc = parse(response.text)
        assert doc.by_id("f-end-error").words() == "Use a date between 1900-01-01 and 2100-12-31."
        assert event_rows(doc) == {}
        bad_csv = get(api, db, settings, office.owner, f"/audit/export.csv?{query}")
        assert bad_csv.status_code == 422


class TestCsvAndPaging:
    def test_csv_link_keeps_the_filters(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        doc = page(api, db, settings, office.owner, f"/audit?client={office.client.id}&page=1")
        href = doc.by_id("csv-link").attrs["href"]
        parts = urlsplit(href)
        assert parts.path == "/audit/export.csv"
        assert parse_qs(parts.query) == {"client": [str(office.client.id)]}
        response = get(api, db, settings, office.owner, href)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert {r["id"] for r in rows} == ids(office, "owner_reads", "supervisor_reads", "ack")
        exports = db.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "audit_event", AuditEvent.action == "export"
            )
        ).all()
        assert [(e.actor_id, e.detail) for e in exports] == [(office.owner.id, "client_id")]

    def test_paging_newest_first(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        for minute in range(60):
            add_event(
                db,
                office.owner,
                "read",
                "session",
                at=DAY + timedelta(minutes=minute),
                client=office.client,
            )
        db.commit()
        first = page(api, db, settings, office.owner, "/audit?entity=session")
        rows = list(event_rows(first).values())
        assert len(rows) == 50
        times = [r.find("time").attrs["datetime"] for r in rows]
        assert times == sorted(times, reverse=True)
        assert "1–50 of 60 events" in first.by_id("result-line").words()
        older = first.find("a", rel="next").attrs["href"]
        assert parse_qs(urlsplit(older).query) == {"entity": ["session"], "page": ["2"]}
        second = page(api, db, settings, office.owner, older)
        assert len(event_rows(second)) == 10
        assert set(event_rows(first)).isdisjoint(event_rows(second))
        assert second.find("a", rel="prev").attrs["href"] == "/audit?entity=session"

    def test_opening_the_page_is_audited(
        self, api: TestClient, db: DbSession, settings: Settings, office: Office
    ) -> None:
        page(api, db, settings, office.supervisor, "/audit?entity=client")
        events = db.scalars(select(AuditEvent).where(AuditEvent.entity == "audit_event")).all()
        assert [(e.actor_id, e.action, e.detail) for e in events] == [
            (office.supervisor.id, "list", "entity")
        ]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.THERAPIST])
def test_query_count_is_fixed(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter, role: Role
) -> None:
    caller = make_user(db, settings, role)
    owner = caller if role != Role.ADMIN else make_user(db, settings)
    counts = []
    for n in (3, 40):
        for i in range(n):
            client = make_client(db, owner)
            actor = make_user(db, settings) if i % 5 == 0 else owner
            add_event(db, actor, "read", "client", at=DAY - timedelta(minutes=i), client=client)
        db.commit()
        cookies_response = get(api, db, settings, caller, "/audit")  # logs in, warms up
        assert cookies_response.status_code == 200
        queries.reset()
        response = api.get("/audit")
        assert response.status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1], queries.statements
