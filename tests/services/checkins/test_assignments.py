"""Assignments and questionnaires in the service layer: what may be assigned, what is due for
the client (most overdue first; archived and ended ones never), and answers that are refused
whole (not due, or not scorable)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid, NotFound
from practice_dashboard.models import Assignment, CheckinLink, Client, Measure
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.checkins import assignments, questionnaires
from tests.builders import make_checkin_link, make_client, make_measure, make_user

LONDON = ZoneInfo("Europe/London")
TODAY = date(2026, 6, 10)


@pytest.fixture
def client(db: DbSession, settings: Settings) -> Client:
    return make_client(db, make_user(db, settings))


def _assign(db: DbSession, client: Client, code: str, starts_on: date, **extra: object) -> None:
    db.add(
        Assignment(
            client_id=client.id,
            instrument=code,
            every_days=extra.pop("every_days", 14),
            starts_on=starts_on,
            created_by_id=client.practitioner_id,
            **extra,
        )
    )
    db.flush()


def test_only_instruments_with_items_and_no_licence_bar_are_assignable() -> None:
    assert assignments.assignable_codes() == ("phq9", "gad7", "cbi")
    assert not assignments.assignable("ors")
    assert not assignments.assignable("srs")
    assert not assignments.assignable("bdi")


def test_due_most_overdue_first_never_archived_or_ended(db: DbSession, client: Client) -> None:
    _assign(db, client, "phq9", TODAY - timedelta(days=2))  # due 8 June: 2 days overdue
    _assign(db, client, "gad7", TODAY - timedelta(days=5))  # due 5 June: 5 days overdue
    _assign(db, client, "cbi", TODAY + timedelta(days=1))  # not yet
    # PHQ-9 answered 9 June: next due 23 June, not now. (An answer before its start, 8 June,
    # would not count.)
    make_measure(db, client, instrument="phq9", administered_at=datetime(2026, 6, 9, 9, tzinfo=UTC))
    due = assignments.due_for_client(db, client.id, today=TODAY, grace_days=3, zone=LONDON)
    assert [(v.assignment.instrument, v.status.overdue_days) for v in due] == [("gad7", 5)]
    # The same GAD-7 archived, and one that ended yesterday: nothing due.
    gad7 = db.scalars(select(Assignment).where(Assignment.instrument == "gad7")).one()
    gad7.archived_at = utcnow()
    _assign(db, client, "phq9", TODAY - timedelta(days=30), ends_on=TODAY - timedelta(days=1))
    assert assignments.due_for_client(db, client.id, today=TODAY, grace_days=3, zone=LONDON) == []


class TestAnswer:
    @pytest.fixture
    def link(self, db: DbSession, settings: Settings, client: Client) -> CheckinLink:
        _, link = make_checkin_link(db, settings, client)
        today = utcnow().astimezone(settings.timezone).date()
        _assign(db, client, "phq9", today)
        return link

    def _count(self, db: DbSession) -> int:
        return db.scalar(select(func.count()).select_from(Measure)) or 0

    def test_an_instrument_not_due_is_refused(
        self, db: DbSession, settings: Settings, link: CheckinLink
    ) -> None:
        with pytest.raises(NotFound):
            questionnaires.answer(
                db, settings, link=link, code="gad7", items=[0] * 7, now=utcnow(), ip=None
            )
        assert self._count(db) == 0

    def test_unscorable_answers_are_refused_whole(
        self, db: DbSession, settings: Settings, link: CheckinLink
    ) -> None:
        # Three of nine PHQ-9 items missing: more than the 2 that may be prorated.
        items: list[int | None] = [1, 1, 1, None, None, None, 1, 1, 0]
        with pytest.raises(Invalid) as raised:
            questionnaires.answer(
                db, settings, link=link, code="phq9", items=items, now=utcnow(), ip=None
            )
        assert raised.value.problems[0]["loc"] == ["body", "items"]
        assert self._count(db) == 0

    def test_the_crisis_answer_is_reported(
        self, db: DbSession, settings: Settings, link: CheckinLink
    ) -> None:
        answered = questionnaires.answer(
            db, settings, link=link, code="phq9", items=[0] * 8 + [1], now=utcnow(), ip=None
        )
        assert answered.show_crisis_text
        assert answered.measure.total == 1.0
        assert link.last_used_at is not None
        assert questionnaires.crisis_answer("phq9", [None] * 8 + [2], utcnow())
        assert not questionnaires.crisis_answer("gad7", [3] * 7, utcnow())
