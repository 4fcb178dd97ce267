"""The facts' own rules: minutes between two times, due sessions, homework scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from practice_dashboard.domain.facts import (
    CLOCK_SLACK,
    DUE_ATTENDANCE,
    HOMEWORK_SCORE,
    Attendance,
    EpisodeFact,
    HomeworkCompletion,
    minutes_between,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class TestMinutes:
    def test_recovery_and_recognition_of_an_episode(self) -> None:
        episode = EpisodeFact(
            T0,
            7,
            recognized_at=T0 + timedelta(minutes=12, seconds=30),
            baseline_at=T0 + timedelta(hours=1, minutes=30),
        )
        assert episode.recognition_minutes == 12.5
        assert episode.recovery_minutes == 90.0
        assert EpisodeFact(T0, 7).recovery_minutes is None
        assert EpisodeFact(T0, 7).recognition_minutes is None

    def test_counts_real_minutes_across_a_daylight_saving_change(self) -> None:
        london = ZoneInfo("Europe/London")
        # Clocks go forward at 01:00 on 29 March 2026: 00:30 to 02:30 local is one hour.
        start = datetime(2026, 3, 29, 0, 30, tzinfo=london)
        assert minutes_between(start, datetime(2026, 3, 29, 2, 30, tzinfo=london)) == 60.0

    def test_an_earlier_time_is_negative_and_an_unknown_one_none(self) -> None:
        assert minutes_between(T0, T0 - timedelta(minutes=5)) == -5.0
        assert minutes_between(T0, None) is None


class TestRules:
    def test_due_sessions_are_those_the_client_was_expected_at(self) -> None:
        assert DUE_ATTENDANCE == {
            Attendance.ATTENDED,
            Attendance.NO_SHOW,
            Attendance.LATE_CANCEL,
        }

    def test_homework_scores(self) -> None:
        assert dict(HOMEWORK_SCORE) == {
            HomeworkCompletion.YES: 1.0,
            HomeworkCompletion.PARTIAL: 0.5,
            HomeworkCompletion.NO: 0.0,
        }

    def test_clock_slack_is_ten_minutes(self) -> None:
        assert timedelta(minutes=10) == CLOCK_SLACK
