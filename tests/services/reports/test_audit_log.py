"""The audit log API: who sees which events, filters, paging, CSV export, injection, queries."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.reports import audit_log
from practice_dashboard.services.reports.audit_log import AuditFilters
from tests.builders import NOW, auth_headers, make_client, make_user, supervise
from tests.conftest import QueryCounter

URL = "/api/v1/audit-events"
CSV_URL = "/api/v1/audit-events/export.csv"
FINGERPRINT = "safety|alert|phq9_item9@2026-05-01"


@dataclass
class World:
    settings: Settings
    admin: User
    owner: User
    supervisor: User
    other: User
    own_client: Client  # owned by `owner`
    supervisors_client: Client  # owned by `supervisor`
    others_client: Client
    events: dict[str, AuditEvent]

    def headers(self, user: User) -> dict[str, str]:
        return auth_headers(self.settings, user)

    def ids(self, *names: str) -> set[str]:
        return {str(self.events[n].id) for n in names}


def add_event(
    db: DbSession,
    actor: User | None,
    action: str,
    entity: str,
    *,
    at: datetime,
    client: Client | None = None,
    entity_id: Any = None,
    ip: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        action=action,
        entity=entity,
        entity_id=str(entity_id) if entity_id is not None else None,
        client_id=client.id if client else None,
        at=at,
        ip=ip,
        detail=detail,
    )
    db.add(event)
    db.flush()
    return event


@pytest.fixture
def world(db: DbSession, settings: Settings) -> World:
    admin = make_user(db, settings, Role.ADMIN, full_name="Ada Admin")
    owner = make_user(db, settings, full_name="Olu Owner")
    supervisor = make_user(db, settings, Role.SUPERVISOR, full_name="Sam Supervisor")
    supervise(db, supervisor, owner)
    other = make_user(db, settings, full_name="Oona Other")
    own_client = make_client(db, owner)
    supervisors_client = make_client(db, supervisor)
    others_client = make_client(db, other)
    hour = timedelta(hours=1)
    t0 = NOW - timedelta(days=10)
    events = {
        "owner_reads": add_event(
            db, owner, "read", "client", at=t0, client=own_client, entity_id=own_client.id
        ),
        "supervisor_reads_own_client": add_event(
            db,
            supervisor,
            "read",
            "client",
            at=t0 + hour,
            client=own_client,
            entity_id=own_client.id,
            ip="10.0.0.2",
            detail="page",
        ),
        "supervisor_reads_theirs": add_event(
            db, supervisor, "list", "session", at=t0 + 2 * hour, client=supervisors_client
        ),
        "other_reads": add_event(
            db, other, "read", "client", at=t0 + 3 * hour, client=others_client, ip="10.0.0.3"
        ),
        "owner_updates_self": add_event(
            db, owner, "update", "user", at=t0 + 4 * hour, entity_id=owner.id, detail="full_name"
        ),
        "admin_creates_user": add_event(
            db, admin, "create", "user", at=t0 + 5 * hour, entity_id=other.id, ip="10.0.0.9"
        ),
        "owner_acknowledges": add_event(
            db,
            owner,
            "acknowledge",
            "flag",
            at=t0 + 6 * hour,
            client=own_client,
            detail=FINGERPRINT,
        ),
        "system": add_event(db, None, "demo_load", "practice", at=t0 + 7 * hour),
        "owner_logs_in": add_event(
            db, owner, "login", "user", at=t0 + 8 * hour, entity_id=owner.id, ip="10.0.0.1"
        ),
    }
    db.commit()
    return World(
        settings=settings,
        admin=admin,
        owner=owner,
        supervisor=supervisor,
        other=other,
        own_client=own_client,
        supervisors_client=supervisors_client,
        others_client=others_client,
        events=events,
    )


def listed(api: TestClient, world: World, user: User, **params: Any) -> dict[str, Any]:
    response = api.get(URL, headers=world.headers(user), params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fixture_ids(world: World, body: dict[str, Any]) -> set[str]:
    """Ids of the fixture's events in a page (the log also holds the reads of the log)."""
    everything = {str(e.id) for e in world.events.values()}
    return {item["id"] for item in body["items"]} & everything


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestVisibility:
    def test_admin_sees_every_event(self, api: TestClient, world: World) -> None:
        body = listed(api, world, world.admin)
        assert fixture_ids(world, body) == world.ids(*world.events)

    def test_practitioner_sees_own_clients_and_own_actions(
        self, api: TestClient, world: World
    ) -> None:
        body = listed(api, world, world.owner)
        assert fixture_ids(world, body) == world.ids(
            "owner_reads",
            "supervisor_reads_own_client",  # someone else, about the owner's client
            "owner_updates_self",
            "owner_acknowledges",
            "owner_logs_in",
        )

    def test_supervisor_does_not_see_supervisees_clients(
        self, api: TestClient, world: World
    ) -> None:
        body = listed(api, world, world.supervisor)
        # Their own client, and their own read of a supervisee's client; never the
        # supervisee's own reads of it.
        assert fixture_ids(world, body) == world.ids(
            "supervisor_reads_own_client", "supervisor_reads_theirs"
        )

    def test_another_practitioner_sees_only_theirs(self, api: TestClient, world: World) -> None:
        assert fixture_ids(world, listed(api, world, world.other)) == world.ids("other_reads")

    def test_filtering_on_a_client_one_may_not_see_reveals_nothing(
        self, api: TestClient, world: World
    ) -> None:
        body = listed(api, world, world.other, client_id=str(world.own_client.id))
        assert body["items"] == []
        assert body["total"] == 0

    def test_inactive_and_anonymous_callers(
        self, api: TestClient, world: World, db: DbSession
    ) -> None:
        assert api.get(URL).status_code == 401
        assert api.get(CSV_URL).status_code == 401
        headers = world.headers(world.other)
        world.other.is_active = False
        db.commit()
        assert api.get(URL, headers=headers).status_code == 401

    def test_ip_only_for_admins_and_own_actions(self, api: TestClient, world: World) -> None:
        event = str(world.events["supervisor_reads_own_client"].id)

        def ip_seen_by(user: User) -> str | None:
            items = listed(api, world, user)["items"]
            ip: str | None = next(i for i in items if i["id"] == event)["ip"]
            return ip

        assert ip_seen_by(world.admin) == "10.0.0.2"
        assert ip_seen_by(world.supervisor) == "10.0.0.2"  # their own action
        assert ip_seen_by(world.owner) is None  # about their client, but someone else's IP
        own_login = str(world.events["owner_logs_in"].id)
        items = listed(api, world, world.owner)["items"]
        assert next(i for i in items if i["id"] == own_login)["ip"] == "10.0.0.1"

    def test_clinical_details_are_withheld_from_admins(self, api: TestClient, world: World) -> None:
        ack = str(world.events["owner_acknowledges"].id)
        read = str(world.events["supervisor_reads_own_client"].id)

        def details(user: User) -> dict[str, str | None]:
            return {i["id"]: i["detail"] for i in listed(api, world, user)["items"]}

        admin_view, owner_view = details(world.admin), details(world.owner)
        assert admin_view[ack] == audit_log.WITHHELD
        assert "phq9" not in str(admin_view.values())
        assert owner_view[ack] == FINGERPRINT
        assert admin_view[read] == "page"  # plain words stay visible
        account = str(world.events["owner_updates_self"].id)
        assert admin_view[account] == "full_name"

    @pytest.mark.parametrize(
        ("entity", "detail", "admin_sees"),
        [
            ("client", "supervision packet pdf 2026-01-01..2026-03-31", True),
            ("session", "engagement,notes", True),
            ("client", "csv client", True),
            ("flag", "stale_data", False),  # a flag's detail is always withheld
            ("client", "Low mood since March", False),  # not the shape of a plain detail
            ("client", "x|y", False),
        ],
    )
    def test_detail_shapes_admins_may_read(
        self,
        api: TestClient,
        world: World,
        db: DbSession,
        entity: str,
        detail: str,
        admin_sees: bool,
    ) -> None:
        event = add_event(
            db, world.owner, "export", entity, at=NOW, client=world.own_client, detail=detail
        )
        db.commit()
        items = {i["id"]: i for i in listed(api, world, world.admin)["items"]}
        assert items[str(event.id)]["detail"] == (detail if admin_sees else audit_log.WITHHELD)
        owner_items = {i["id"]: i for i in listed(api, world, world.owner)["items"]}
        assert owner_items[str(event.id)]["detail"] == detail


class TestListing:
    def test_shape_order_and_actor_names(self, api: TestClient, world: World) -> None:
        body = listed(api, world, world.owner)
        assert set(body) == {"items", "total", "limit", "offset"}
        ats = [item["at"] for item in body["items"]]
        assert ats == sorted(ats, reverse=True)
        first = next(
            i
            for i in body["items"]
            if i["id"] == str(world.events["supervisor_reads_own_client"].id)
        )
        assert first == {
            "id": str(world.events["supervisor_reads_own_client"].id),
            "at": first["at"],
            "actor_id": str(world.supervisor.id),
            "actor_name": "Sam Supervisor",
            "actor_email": world.supervisor.email,
            "action": "read",
            "entity": "client",
            "entity_id": str(world.own_client.id),
            "client_id": str(world.own_client.id),
            "ip": None,
            "detail": "page",
        }
        system = next(
            i
            for i in listed(api, world, world.admin)["items"]
            if i["id"] == str(world.events["system"].id)
        )
        assert system["actor_id"] is None
        assert system["actor_name"] is None

    def test_paging(self, api: TestClient, world: World) -> None:
        whole = listed(api, world, world.admin, entity="client")
        assert whole["total"] == 3
        pages = [
            listed(api, world, world.admin, entity="client", limit=2, offset=offset)
            for offset in (0, 2)
        ]
        assert [p["total"] for p in pages] == [3, 3]
        assert [len(p["items"]) for p in pages] == [2, 1]
        assert [i["id"] for p in pages for i in p["items"]] == [i["id"] for i in whole["items"]]
        assert pages[1]["offset"] == 2
        assert pages[1]["limit"] == 2

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"entity": "client"}, {"owner_reads", "supervisor_reads_own_client"}),
            ({"action": "acknowledge"}, {"owner_acknowledges"}),
            ({"action": "read", "entity": "user"}, set()),
            ({"actor_id": "supervisor"}, {"supervisor_reads_own_client"}),
            (
                {"client_id": "own_client"},
                {"owner_reads", "supervisor_reads_own_client", "owner_acknowledges"},
            ),
            # Half-open range [start, end): an event at `end` belongs to the next range.
            ({"start": 1, "end": 6}, {"supervisor_reads_own_client", "owner_updates_self"}),
            ({"start": 6}, {"owner_acknowledges", "owner_logs_in"}),
        ],
    )
    def test_filters(
        self, api: TestClient, world: World, params: dict[str, Any], expected: set[str]
    ) -> None:
        t0 = NOW - timedelta(days=10)
        query: dict[str, Any] = {}
        for key, value in params.items():
            if key in ("start", "end"):
                query[key] = (t0 + timedelta(hours=value)).isoformat()
            elif key == "actor_id":
                query[key] = str(getattr(world, value).id)
            elif key == "client_id":
                query[key] = str(getattr(world, value).id)
            else:
                query[key] = value
        body = listed(api, world, world.owner, **query)
        assert fixture_ids(world, body) == world.ids(*expected)
        assert body["total"] == len(body["items"])

    def test_bad_filters(self, api: TestClient, world: World) -> None:
        headers = world.headers(world.owner)
        start, end = NOW.isoformat(), (NOW - timedelta(hours=1)).isoformat()
        response = api.get(URL, headers=headers, params={"start": start, "end": end})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "end"]
        assert api.get(URL, headers=headers, params={"actor_id": "x"}).status_code == 422
        assert api.get(URL, headers=headers, params={"entity": "x" * 41}).status_code == 422
        naive = api.get(URL, headers=headers, params={"start": "2026-01-01T00:00:00"})
        assert naive.status_code == 422

    def test_reading_the_log_is_audited(self, api: TestClient, world: World, db: DbSession) -> None:
        listed(api, world, world.owner, entity="client", action="read")
        (event,) = db.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "audit_event", AuditEvent.actor_id == world.owner.id
            )
        )
        assert (event.action, event.detail, event.client_id) == ("list", "entity,action", None)
        # The owner's next read shows the first one (it is their own action), newest first.
        again = listed(api, world, world.owner)
        assert again["items"][0]["id"] == str(event.id)
        unfiltered = db.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.entity == "audit_event", AuditEvent.id != event.id
            )
        ).all()
        assert unfiltered == [None]
        # A failed read (bad filters) is not recorded.
        api.get(URL, headers=world.headers(world.owner), params={"actor_id": "nope"})
        count = db.scalars(select(AuditEvent).where(AuditEvent.entity == "audit_event")).all()
        assert len(count) == 2


class TestCsv:
    def test_same_events_as_the_list(self, api: TestClient, world: World) -> None:
        params = {"client_id": str(world.own_client.id)}
        response = api.get(CSV_URL, headers=world.headers(world.owner), params=params)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="audit-events-')
        rows = read_csv(response.text)
        body = listed(api, world, world.owner, **params)
        assert list(rows[0]) == list(audit_log.CSV_COLUMNS)
        assert [r["id"] for r in rows] == [i["id"] for i in body["items"]]
        assert len(rows) == 3
        assert [datetime.fromisoformat(r["at"]) for r in rows] == [
            datetime.fromisoformat(i["at"]) for i in body["items"]
        ]
        ack = next(r for r in rows if r["action"] == "acknowledge")
        assert ack["detail"] == FINGERPRINT
        assert ack["client_id"] == str(world.own_client.id)
        assert ack["actor_name"] == "Olu Owner"

    def test_scoping_and_withholding_apply(self, api: TestClient, world: World) -> None:
        other = read_csv(api.get(CSV_URL, headers=world.headers(world.other)).text)
        assert {r["client_id"] for r in other} <= {str(world.others_client.id), ""}
        admin = read_csv(api.get(CSV_URL, headers=world.headers(world.admin)).text)
        ack = next(r for r in admin if r["action"] == "acknowledge")
        assert ack["detail"] == audit_log.WITHHELD

    def test_export_is_audited(self, api: TestClient, world: World, db: DbSession) -> None:
        api.get(CSV_URL, headers=world.headers(world.admin), params={"action": "read"})
        (event,) = db.scalars(select(AuditEvent).where(AuditEvent.entity == "audit_event"))
        assert (event.action, event.actor_id, event.detail) == ("export", world.admin.id, "action")
        bad = api.get(
            CSV_URL,
            headers=world.headers(world.admin),
            params={"start": NOW.isoformat(), "end": NOW.isoformat()},
        )
        assert bad.status_code == 422

    def test_formula_injection_is_neutralised(
        self, api: TestClient, world: World, db: DbSession, settings: Settings
    ) -> None:
        evil = make_user(db, settings, full_name='=HYPERLINK("http://x","y")')
        client = make_client(db, evil)
        at = NOW - timedelta(days=1)
        for detail in ("+1+2", "-3", "@SUM(A1)", "\t=1", "\r=1", "  =1", "＝1", "plain"):
            add_event(db, evil, "read", "client", at=at, client=client, detail=detail)
        add_event(db, evil, "=cmd|' /C calc'!A0", "client", at=at, client=client)
        db.commit()
        everything = read_csv(api.get(CSV_URL, headers=world.headers(evil)).text)
        # The export's own audit event ("export", "audit_event") is listed too.
        assert [r["entity"] for r in everything].count("audit_event") == 1
        rows = [r for r in everything if r["entity"] == "client"]
        details = sorted(r["detail"] for r in rows if r["detail"])
        assert details == sorted(
            ["'+1+2", "'-3", "'@SUM(A1)", "'\t=1", "'\r=1", "'  =1", "'＝1", "plain"]
        )
        assert {r["actor_name"] for r in rows} == {'\'=HYPERLINK("http://x","y")'}
        assert "'=cmd|' /C calc'!A0" in {r["action"] for r in rows}
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))

    def test_keyset_pages_cover_every_event_once(
        self,
        world: World,
        db: DbSession,
        session_factory: sessionmaker[OrmSession],
    ) -> None:
        same_moment = NOW - timedelta(days=3)
        for _ in range(7):  # ties on `at`: the id breaks them
            add_event(db, world.owner, "read", "client", at=same_moment, client=world.own_client)
        db.commit()
        expected, _ = audit_log.list_events(
            db, actor=Actor(world.owner), filters=AuditFilters(), limit=500, offset=0
        )
        db.commit()
        for batch in (1, 3, 5, 1000):
            rows = list(
                audit_log.export_rows(
                    session_factory, user=world.owner, filters=AuditFilters(), batch=batch
                )
            )
            # The list call above audited itself after reading; the export sees that event too.
            assert [r.id for r in rows][1:] == [r.id for r in expected]


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (" =x", "' =x"),
        ("＠x", "'＠x"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, shown: str) -> None:
    assert audit_log.neutralise(cell) == shown


@pytest.mark.parametrize("path", [URL, CSV_URL])
@pytest.mark.parametrize("role", [Role.ADMIN, Role.THERAPIST])
def test_query_count_is_fixed(
    api: TestClient,
    db: DbSession,
    settings: Settings,
    queries: QueryCounter,
    path: str,
    role: Role,
) -> None:
    caller = make_user(db, settings, role)
    owner = caller if role != Role.ADMIN else make_user(db, settings)
    client = make_client(db, owner)
    counts, sizes = [], []
    for n in (3, 60):
        for i in range(n):
            actor = make_user(db, settings) if i % 10 == 0 else owner
            add_event(db, actor, "read", "client", at=NOW - timedelta(minutes=i), client=client)
        db.commit()
        queries.reset()
        response = api.get(path, headers=auth_headers(settings, caller), params={"limit": 500})
        assert response.status_code == 200
        counts.append(queries.count)
        sizes.append(len(response.text))
    assert sizes[1] > sizes[0]
    assert counts[0] == counts[1], queries.statements
