"""services/analytics/caseload.py: `practitioner_loads`, each person's figures read in one
query; `caseload_rows` through its kept statements.

The figures are counts over the fixture below; the flag's rules are domain/flags.py
`practitioner_load` (its own tests cite DOMAIN.md §6.2), so here only what is read is checked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, ClientSummary, SelfCheck, User
from practice_dashboard.models.enums import Attendance, ClientStatus, Role
from practice_dashboard.services.analytics.caseload import (
    CaseloadSort,
    caseload_rows,
    practitioner_loads,
)
from practice_dashboard.services.audit import Actor
from tests.builders import make_client, make_measure, make_session, make_user, supervise
from tests.conftest import QueryCounter


def _self_check(
    db: DbSession, owner: User, at: datetime, work: float, instrument: str = "cbi"
) -> None:
    db.add(
        SelfCheck(
            practitioner_id=owner.id,
            instrument=instrument,
            administered_at=at,
            items=[2] * 19,
            subscales={"personal": 10.0, "work_related": work, "client_related": 10.0},
        )
    )


def _alert_client(db: DbSession, owner: User, now: datetime) -> Client:
    """PHQ-9 item 9 above 0: a safety alert on the client's summary."""
    client = make_client(db, owner)
    make_measure(db, client, administered_at=now - timedelta(days=2), items=[1] * 9, total=9.0)
    return client


def _by_name(loads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {load["full_name"]: load for load in loads}


def _figures(load: dict[str, Any]) -> tuple[Any, ...]:
    return (
        load["active_caseload"],
        load["attended_sessions_last_7_days"],
        load["active_clients_with_alert"],
        load["latest_self_check_cbi_work_related"],
    )


class TestPractitionerLoads:
    def test_each_persons_figures(
        self, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        now = datetime.now(UTC)
        boss = make_user(db, settings, role=Role.SUPERVISOR, full_name="Zed Boss")
        ann = make_user(db, settings, full_name="Ann")
        bob = make_user(db, settings, full_name="bob")  # sorted by name, whatever its case
        stranger = make_user(db, settings, full_name="Not Supervised")
        supervise(db, boss, ann)
        supervise(db, boss, bob)
        # Ann: three active clients, one paused, one archived; one active with an alert, and
        # one paused with an alert (not active: not counted).
        alerting = _alert_client(db, ann, now)
        make_client(db, ann)
        attended = make_client(db, ann)
        paused = _alert_client(db, ann, now)
        db.execute(update(Client).where(Client.id == paused.id).values(status=ClientStatus.PAUSED))
        archived = make_client(db, ann)
        db.execute(update(Client).where(Client.id == archived.id).values(archived_at=now))
        # Sessions: two attended in the last 7 days count; one 8 days ago, one missed, one
        # still ahead do not.
        for days, attendance in (
            (1, Attendance.ATTENDED),
            (6, Attendance.ATTENDED),
            (8, Attendance.ATTENDED),
            (2, Attendance.NO_SHOW),
            (-1, Attendance.SCHEDULED),
        ):
            make_session(
                db,
                attended,
                starts_at=now - timedelta(days=days),
                attendance=attendance,
                engagement=None if attendance != Attendance.ATTENDED else 7,
            )
        # Self-checks: the latest CBI's work-related score, not an older one, nor another
        # instrument's, nor another practitioner's.
        _self_check(db, ann, now - timedelta(days=30), 80.0)
        _self_check(db, ann, now - timedelta(days=3), 55.0)
        _self_check(db, ann, now - timedelta(days=1), 99.0, instrument="other")
        _self_check(db, stranger, now - timedelta(hours=1), 12.0)
        db.commit()
        assert db.get(ClientSummary, (alerting.id, now.astimezone(settings.timezone).date()))

        queries.reset()
        loads = practitioner_loads(db, actor=Actor(boss), settings=settings, now=now)
        assert len(queries.statements) == 1, queries.statements

        assert [load["full_name"] for load in loads] == ["Zed Boss", "Ann", "bob"]
        by_name = _by_name(loads)
        assert by_name["Ann"]["practitioner_id"] == ann.id
        assert by_name["Ann"]["role"] == "therapist"
        # active caseload, sessions attended in 7 days, active clients with an alert, latest CBI
        assert _figures(by_name["Ann"]) == (3, 2, 1, 55.0)
        assert by_name["Ann"]["flag"]["signals"] == ("alerts", "cbi_work")
        assert _figures(by_name["bob"]) == (0, 0, 0, None)
        assert by_name["bob"]["flag"] is None
        assert by_name["Zed Boss"]["role"] == "supervisor"

    def test_a_practitioner_sees_only_their_own_load_and_an_admin_none(
        self, db: DbSession, settings: Settings
    ) -> None:
        ann = make_user(db, settings, full_name="Ann")
        boss = make_user(db, settings, role=Role.SUPERVISOR)
        supervise(db, boss, ann)
        admin = make_user(db, settings, role=Role.ADMIN)
        db.commit()
        now = datetime.now(UTC)
        assert [
            p["full_name"]
            for p in practitioner_loads(db, actor=Actor(ann), settings=settings, now=now)
        ] == ["Ann"]
        assert practitioner_loads(db, actor=Actor(admin), settings=settings, now=now) == []


class TestKeptStatements:
    """`caseload_rows` keeps its statements per shape (`db.kept_statement`), the caller, the
    day and each filter's value bound: callers and values in turn through the same ones."""

    def test_each_caller_and_each_value_in_turn(self, db: DbSession, settings: Settings) -> None:
        ann = make_user(db, settings, full_name="Ann")
        ben = make_user(db, settings, full_name="Ben")
        boss = make_user(db, settings, role=Role.SUPERVISOR, full_name="Boss")
        admin = make_user(db, settings, role=Role.ADMIN)
        supervise(db, boss, ann)
        for owner, names in ((ann, ("Alma", "Arlo")), (ben, ("Bea", "Alba"))):
            for name in names:
                make_client(db, owner, display_name=name)
        make_client(db, ann, display_name="Aida", status=ClientStatus.PAUSED)
        db.commit()
        now = datetime.now(UTC)

        def listed(user: User, **filters: Any) -> list[str]:
            result = caseload_rows(
                db, actor=Actor(user), settings=settings, now=now, sort=CaseloadSort.NAME, **filters
            )
            assert result["total"] == (3 if "offset" in filters else len(result["rows"]))
            return [row.display_name for row in result["rows"]]

        for _ in range(2):  # the second round runs what the first kept
            assert listed(ann) == ["Aida", "Alma", "Arlo"]
            assert listed(ben) == ["Alba", "Bea"]
            assert listed(boss) == ["Aida", "Alma", "Arlo"]
            assert listed(admin) == []
            assert listed(ann, search="al") == ["Alma"]
            assert listed(ben, search="al") == ["Alba"]
            assert listed(ann, search="ar") == ["Arlo"]
            assert listed(ann, status=ClientStatus.PAUSED) == ["Aida"]
            assert listed(ann, status=ClientStatus.ACTIVE) == ["Alma", "Arlo"]
            assert listed(boss, practitioner_id=ann.id, limit=1, offset=1) == ["Alma"]
            assert listed(boss, practitioner_id=ben.id) == []
            assert listed(boss, supervisees_only=True) == ["Aida", "Alma", "Arlo"]
            assert listed(ann, supervisees_only=True) == []  # supervises no one
