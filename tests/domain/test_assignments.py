"""When an assigned questionnaire is due; dates worked by hand from the rule in
domain/assignments.py (first on starts_on, then every_days after the latest answer)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from practice_dashboard.domain.assignments import (
    assignment_status,
    local_day,
    overdue_assessments,
)
from practice_dashboard.domain.facts import AssignmentFact, MeasureFact

LONDON = ZoneInfo("Europe/London")
PHQ9_FORTNIGHTLY = AssignmentFact("phq9", every_days=14, starts_on=date(2026, 3, 2))


def at(day: date, hour: int = 12, tz: ZoneInfo | None = None) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz or UTC)


class TestFirstAdministration:
    def test_not_due_before_the_start(self) -> None:
        status = assignment_status(PHQ9_FORTNIGHTLY, [], today=date(2026, 3, 1), grace_days=3)
        assert status.next_due_on == date(2026, 3, 2)
        assert not status.due_now
        assert status.overdue_days == 0

    def test_due_on_the_start_day_and_not_yet_overdue(self) -> None:
        status = assignment_status(PHQ9_FORTNIGHTLY, [], today=date(2026, 3, 2), grace_days=3)
        assert status.due_now
        assert status.overdue_days == 0
        assert not status.overdue_beyond_grace

    def test_overdue_counts_days_after_the_due_day(self) -> None:
        # Due 2 March; on 5 March it is 3 days overdue: still within a 3-day grace period.
        status = assignment_status(PHQ9_FORTNIGHTLY, [], today=date(2026, 3, 5), grace_days=3)
        assert status.overdue_days == 3
        assert not status.overdue_beyond_grace
        # 6 March: 4 days > 3.
        later = assignment_status(PHQ9_FORTNIGHTLY, [], today=date(2026, 3, 6), grace_days=3)
        assert later.overdue_days == 4
        assert later.overdue_beyond_grace

    def test_answers_before_the_start_do_not_count(self) -> None:
        status = assignment_status(
            PHQ9_FORTNIGHTLY, [at(date(2026, 3, 1))], today=date(2026, 3, 2), grace_days=3
        )
        assert status.last_administered_on is None
        assert status.due_now


class TestRhythm:
    def test_next_is_every_days_after_the_latest_answer(self) -> None:
        # Answered on the start day, 2 March: next due 2 + 14 = 16 March.
        status = assignment_status(
            PHQ9_FORTNIGHTLY, [at(date(2026, 3, 2))], today=date(2026, 3, 10), grace_days=3
        )
        assert status.last_administered_on == date(2026, 3, 2)
        assert status.next_due_on == date(2026, 3, 16)
        assert not status.due_now

    def test_a_late_answer_moves_the_rhythm(self) -> None:
        # Due 2 March, answered 9 March: next due 23 March, not 16 March.
        answers = [at(date(2026, 3, 9))]
        status = assignment_status(PHQ9_FORTNIGHTLY, answers, today=date(2026, 3, 20), grace_days=3)
        assert status.next_due_on == date(2026, 3, 23)
        # On 30 March: 7 days overdue.
        late = assignment_status(PHQ9_FORTNIGHTLY, answers, today=date(2026, 3, 30), grace_days=3)
        assert late.overdue_days == 7
        assert late.overdue_beyond_grace

    def test_the_latest_of_several_answers_counts(self) -> None:
        answers = [at(date(2026, 3, 16)), at(date(2026, 3, 2))]
        status = assignment_status(PHQ9_FORTNIGHTLY, answers, today=date(2026, 3, 20), grace_days=3)
        assert status.next_due_on == date(2026, 3, 30)

    def test_answers_after_today_are_not_seen(self) -> None:
        # A point-in-time view on 10 March ignores the answer of 12 March.
        status = assignment_status(
            PHQ9_FORTNIGHTLY,
            [at(date(2026, 3, 2)), at(date(2026, 3, 12))],
            today=date(2026, 3, 10),
            grace_days=3,
        )
        assert status.last_administered_on == date(2026, 3, 2)

    def test_daily_rhythm(self) -> None:
        daily = AssignmentFact("gad7", every_days=1, starts_on=date(2026, 3, 2))
        answered_today = assignment_status(
            daily, [at(date(2026, 3, 5))], today=date(2026, 3, 5), grace_days=0
        )
        assert answered_today.next_due_on == date(2026, 3, 6)
        assert not answered_today.due_now

    def test_every_days_out_of_range_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="every_days"):
            assignment_status(
                AssignmentFact("phq9", 0, date(2026, 3, 2)),
                [],
                today=date(2026, 3, 2),
                grace_days=3,
            )


class TestEnd:
    MONTHLY_TO_APRIL = AssignmentFact(
        "gad7", every_days=30, starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 15)
    )

    def test_a_due_date_after_the_end_is_not_asked_for(self) -> None:
        # Answered 20 March: next would be 19 April, after the end on 15 April.
        status = assignment_status(
            self.MONTHLY_TO_APRIL, [at(date(2026, 3, 20))], today=date(2026, 4, 1), grace_days=3
        )
        assert status.next_due_on is None
        assert not status.due_now
        assert not status.ended

    def test_nothing_is_overdue_once_it_has_ended(self) -> None:
        # Never answered: overdue since 1 March, but the assignment ended on 15 April.
        on_end_day = assignment_status(
            self.MONTHLY_TO_APRIL, [], today=date(2026, 4, 15), grace_days=3
        )
        assert on_end_day.overdue_days == 45  # 1 March -> 15 April
        after = assignment_status(self.MONTHLY_TO_APRIL, [], today=date(2026, 4, 16), grace_days=3)
        assert after.ended
        assert after.next_due_on is None
        assert after.overdue_days == 0
        assert not after.overdue_beyond_grace


class TestPracticeDays:
    def test_an_answer_after_midnight_in_london_counts_for_that_day(self) -> None:
        # London keeps summer time (UTC+1) in June: 00:30 BST on 1 June 2026 is 23:30 UTC on
        # 31 May.
        weekly = AssignmentFact("phq9", every_days=7, starts_on=date(2026, 6, 1))
        answer = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
        assert local_day(answer, LONDON) == date(2026, 6, 1)
        status = assignment_status(
            weekly, [answer], today=date(2026, 6, 3), grace_days=3, zone=LONDON
        )
        assert status.last_administered_on == date(2026, 6, 1)
        assert status.next_due_on == date(2026, 6, 8)
        # Read in UTC days the same answer falls before the start and does not count.
        in_utc = assignment_status(weekly, [answer], today=date(2026, 6, 3), grace_days=3)
        assert in_utc.last_administered_on is None

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            local_day(datetime(2026, 3, 2, 12), LONDON)  # noqa: DTZ001


class TestOverdueSignal:
    def test_only_beyond_the_grace_period_most_overdue_first(self) -> None:
        gad7 = AssignmentFact("gad7", every_days=28, starts_on=date(2026, 2, 1))
        phq9 = AssignmentFact("phq9", every_days=14, starts_on=date(2026, 2, 1))
        cbi = AssignmentFact("cbi", every_days=28, starts_on=date(2026, 3, 8))
        measures = [
            # GAD-7 answered 1 Feb: next due 1 March; on 12 March 11 days overdue.
            MeasureFact("gad7", at(date(2026, 2, 1)), (1,) * 7),
            # PHQ-9 answered 20 Feb: next due 6 March, 6 days overdue.
            MeasureFact("phq9", at(date(2026, 2, 20)), (0,) * 9),
        ]
        # CBI first due 8 March: 4 days overdue, beyond 3; with a grace period of 5, only
        # GAD-7 and PHQ-9 remain.
        found = overdue_assessments(
            [phq9, gad7, cbi], measures, today=date(2026, 3, 12), grace_days=5
        )
        assert [(o.instrument, o.label, o.due_on, o.days_overdue) for o in found] == [
            ("gad7", "GAD-7", date(2026, 3, 1), 11),
            ("phq9", "PHQ-9", date(2026, 3, 6), 6),
        ]
        assert len(overdue_assessments([cbi], [], today=date(2026, 3, 12), grace_days=3)) == 1
