"""Un-acknowledging a flag from the client page, and what the supervisor sees throughout.

Issue 9, item 7: an acknowledged alert stays visible to the supervisor (marked acknowledged,
with its note) and in "active clients with an alert"; un-acknowledging makes it speak again.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, FlagAcknowledgement, User
from practice_dashboard.models.enums import Role
from practice_dashboard.security import csrf_token_matches
from tests.builders import make_client, make_user, sign_in, supervise
from tests.html import Node, parse
from tests.web.test_caseload_page import calm_client, safety_client


def _page(api: TestClient, url: str) -> Node:
    response = api.get(url)
    assert response.status_code == 200, response.text[:2000]
    return parse(response.text)


def _acknowledge(api: TestClient, client: Client, csrf: str, note: str) -> None:
    response = api.post(
        f"/clients/{client.id}/flags/safety/acknowledge",
        data={"csrf_token": csrf, "note": note},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:2000]


def _supervisor_view(
    api: TestClient, db: DbSession, settings: Settings, boss: User, client: Client
) -> tuple[Node, Node, str]:
    """(the flagged row on /supervision, the client page's flag panel, the alert-count cell)."""
    sign_in(api, db, settings, boss)
    supervision = _page(api, "/supervision")
    row = supervision.by_id("flagged-table").find("tr", data_client=str(client.id))
    count = supervision.by_id("supervisee-table").find("tbody").find("tr").find_all("td")[3]
    panel = _page(api, f"/clients/{client.id}").one("section", id="flags")
    return row, panel, count.words()


class TestUnacknowledgeFromThePage:
    def test_acknowledge_then_unacknowledge_with_the_supervisor_watching(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings, full_name="Tess Therapist")
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        client = safety_client(db, owner, "Ada")
        calm_client(db, owner, display_name="Bea")

        row, panel, count = _supervisor_view(api, db, settings, boss, client)
        assert row.find("span", cls="chip", data_flag="safety").classes >= {"alert-level"}
        assert panel.find("article", id="flag-safety") is not None
        assert count == "50% 1 of 2"

        csrf = sign_in(api, db, settings, owner)
        _acknowledge(api, client, csrf, "Risk assessment done")
        page = _page(api, f"/clients/{client.id}")
        form = page.one("form", data_unack="safety")
        assert form.attrs["action"] == f"/clients/{client.id}/flags/safety/unacknowledge"
        assert csrf_token_matches(csrf, form.find("input", name="csrf_token").attrs["value"])

        # Acknowledged: still listed for the supervisor, marked, with the note; still counted.
        row, panel, count = _supervisor_view(api, db, settings, boss, client)
        chip = row.find("span", cls="chip", data_flag="safety")
        assert "acknowledged" in chip.classes
        assert "Risk assessment done" in row.one("p", data_ack_note="safety").words()
        assert "Risk assessment done" in chip.words()  # in the chip's tip too
        quiet = panel.one("details", class_="quiet-flags")
        assert "open" in quiet.attrs  # nothing to click to find it
        assert "Risk assessment done" in quiet.words()
        assert quiet.find_all("form") == []  # read-only for the supervisor
        assert count == "50% 1 of 2"

        csrf = sign_in(api, db, settings, owner)
        response = api.post(form.attrs["action"], data={"csrf_token": csrf}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/clients/{client.id}?unacknowledged=safety"
        page = _page(api, response.headers["location"])
        assert "Un-acknowledged: Safety" in page.by_id("unacknowledged-notice").words()
        assert page.one("section", id="flags").find("article", id="flag-safety") is not None
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == client.id, AuditEvent.action == "unacknowledge"
            )
        ).all()
        assert [(e.actor_id, e.entity) for e in events] == [(owner.id, "flag")]

        row, panel, count = _supervisor_view(api, db, settings, boss, client)
        assert "acknowledged" not in row.find("span", cls="chip", data_flag="safety").classes
        assert panel.find("article", id="flag-safety") is not None
        assert count == "50% 1 of 2"

    def test_the_supervisor_cannot_unacknowledge(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        client = safety_client(db, owner, "Ada")
        _acknowledge(api, client, sign_in(api, db, settings, owner), "Called")
        csrf = sign_in(api, db, settings, boss)
        response = api.post(
            f"/clients/{client.id}/flags/safety/unacknowledge", data={"csrf_token": csrf}
        )
        assert response.status_code == 403
        db.expire_all()
        assert db.scalars(select(FlagAcknowledgement.withdrawn_at)).all() == [None]

    def test_without_csrf_nothing_changes(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = safety_client(db, owner, "Ada")
        _acknowledge(api, client, sign_in(api, db, settings, owner), "Called")
        response = api.post(f"/clients/{client.id}/flags/safety/unacknowledge", data={})
        assert response.status_code == 403
        db.expire_all()
        assert db.scalars(select(FlagAcknowledgement.withdrawn_at)).all() == [None]

    def test_a_flag_not_acknowledged_says_so(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = safety_client(db, owner, "Ada")
        csrf = sign_in(api, db, settings, owner)
        response = api.post(
            f"/clients/{client.id}/flags/safety/unacknowledge", data={"csrf_token": csrf}
        )
        assert response.status_code == 422
        message = parse(response.text).one("section", id="flags").one("p", role="alert")
        assert "not acknowledged" in message.words()


class TestSupervisionOrder:
    def test_an_acknowledged_alert_stays_above_a_watch(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        alert = safety_client(db, owner, "Zed Alert")
        make_client(db, owner, display_name="Amy Watch")  # no data yet: stale_data, a watch
        _acknowledge(api, alert, sign_in(api, db, settings, owner), "Plan made")
        sign_in(api, db, settings, boss)
        table = _page(api, "/supervision").by_id("flagged-table")
        names = [a.attrs["title"] for a in table.find_all("a", cls="client-name")]
        # Worst raised flag first, acknowledged or not; the name would put Amy first.
        assert names == ["Zed Alert", "Amy Watch"]
