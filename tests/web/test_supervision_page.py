"""The supervision page: supervisees' load, their flagged clients (alerts first), access."""

from __future__ import annotations

from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models.enums import Role
from tests.builders import login_cookies, make_client, make_user, supervise
from tests.conftest import QueryCounter
from tests.html import Node, parse
from tests.web.test_caseload_page import calm_client, get, page, safety_client


def _flagged_names(doc: Node) -> list[str]:
    if not doc.find_all(id="flagged-table"):
        return []
    return [a.words() for a in doc.by_id("flagged-table").find_all("a", cls="client-name")]


class TestSupervisionPage:
    def test_supervisees_load_and_their_flagged_clients_only(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        tess = make_user(db, settings, full_name="Tess Therapist")
        cole = make_user(db, settings, Role.COACH, full_name="Cole Coach")
        stranger = make_user(db, settings, full_name="Not Supervised")
        supervise(db, supervisor, tess)
        supervise(db, supervisor, cole)
        alert = safety_client(db, tess, "Alert Client")
        watch = make_client(db, cole, display_name="Watch Client")  # no data yet: stale_data
        calm_client(db, tess, display_name="Calm Client")
        safety_client(db, stranger, "Stranger Client")
        safety_client(db, supervisor, "Own Client")
        doc = page(api, db, settings, supervisor, "/supervision")

        table = doc.by_id("supervisee-table")
        people = {
            row.attrs["data-practitioner"]: [td.words() for td in row.find_all("td")]
            for row in table.find("tbody").find_all("tr")
        }
        assert set(people) == {str(tess.id), str(cole.id)}
        tess_row = people[str(tess.id)]
        assert tess_row[0].startswith("Tess Therapist")
        assert tess_row[1:5] == ["2", "0", "50% 1 of 2", "none yet"]
        # Half of Tess's active clients have an alert: her load flag speaks, with its reasons.
        assert "Check-in suggested" in tess_row[5]
        assert "1 of 2 active clients (50%) have an alert" in tess_row[5]
        link = table.find("tr", data_practitioner=str(tess.id)).find("a")
        assert link.attrs["href"] == f"/?practitioner={tess.id}"

        # Alerts first; the supervisor's own and unsupervised clients are not listed here.
        assert _flagged_names(doc) == ["Alert Client", "Watch Client"]
        flagged = doc.by_id("flagged-table")
        row = flagged.find("tr", data_client=str(alert.id))
        assert row.find("a").attrs["href"] == f"/clients/{alert.id}"
        assert row.find_all("td")[1].words() == "Tess Therapist"
        chip = row.find("span", cls="chip", data_flag="safety")
        assert chip.attrs["tabindex"] == "0"
        assert doc.by_id(chip.attrs["aria-describedby"]).find_all(cls="tip-reason")
        watch_chip = flagged.find("tr", data_client=str(watch.id)).find("span", cls="chip")
        assert "watch-level" in watch_chip.classes

    def test_without_supervisees(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        doc = page(api, db, settings, supervisor, "/supervision")
        assert not doc.find_all(id="supervisee-table")
        assert _flagged_names(doc) == []

    def test_only_supervisors(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        for role in (Role.THERAPIST, Role.COACH, Role.ADMIN):
            response = get(api, db, settings, make_user(db, settings, role), "/supervision")
            assert response.status_code == 403
            assert response.headers["content-type"].startswith("text/html")
            assert parse(response.text).find("h1").words() == "You do not have access to this"

    def test_fixed_number_of_queries(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        counts = []
        for n in (2, 20):
            supervisee = make_user(db, settings)
            supervise(db, supervisor, supervisee)
            for _ in range(n):
                safety_client(db, supervisee, "Someone")
            cookies, _ = login_cookies(db, settings, supervisor)
            db.commit()
            api.cookies.update(cookies)
            queries.reset()
            response = api.get("/supervision")
            assert response.status_code == 200
            counts.append(queries.count)
        assert len(parse(response.text).by_id("flagged-table").find("tbody").find_all("tr")) == 22
        assert counts[0] == counts[1], queries.statements
