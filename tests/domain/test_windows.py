"""Period analytics (domain/windows.py, domain/attendance.py), worked by hand.

Every expected number below is computed in the comment beside it from DESIGN.md "Metrics":
recovery = minutes from onset to return to baseline; due = attended, no-show or late cancel;
homework yes 1, partly 0.5, no 0; medians of even counts are the mean of the middle two.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from practice_dashboard.domain.attendance import attendance_counts, period_attendance
from practice_dashboard.domain.facts import Attendance, HomeworkCompletion, Zone
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.stats import SECONDS_PER_DAY
from practice_dashboard.domain.windows import (
    Window,
    change_rows,
    fitted_line,
    weekly_recovery,
)
from tests.domain.builders import END, at, client, ep, metrics, obs, sess


class TestWindow:
    def test_figures_of_one_stretch(self) -> None:
        facts = client(
            episodes=(ep(-10, 30, recognition=5), ep(-9, 50), ep(-8, None), ep(-40, 10)),
            observations=(
                obs(-10, Zone.WITHIN, 2, capacity=6),
                obs(-9, Zone.HYPER, 8, capacity=3),
                obs(-8, Zone.WITHIN, 4),
            ),
        )
        window = Window(facts, at(-14).timestamp(), END.timestamp())
        assert window.recovery() == [30.0, 50.0]  # the day -40 episode is outside
        assert window.recognition() == [5.0]
        assert window.unrecovered() == pytest.approx(1 / 3)  # one of three not back
        assert window.activation() == [2.0, 8.0, 4.0]
        assert window.capacity() == [6.0, 3.0]
        assert window.within() == [2.0, 4.0]
        assert window.within_share() == pytest.approx(2 / 3)

    def test_an_empty_stretch_has_no_figures(self) -> None:
        window = Window(client(), 0.0, 0.0)
        assert (window.unrecovered(), window.within_share()) == (None, None)


class TestChangeRows:
    def test_whole_period_and_last_28_days(self) -> None:
        # Recovery 40, 20 and 60 minutes in the period: median 40; the last 28 days hold the
        # day -3 episode only (60 min). Capacity 4 and 8 in the period: mean 6.
        facts = client(
            episodes=(ep(-60, 40), ep(-45, 20), ep(-3, 60)),
            observations=(obs(-50, capacity=4), obs(-2, capacity=8)),
        )
        recent = metrics(facts)
        rows = {
            r.key: r
            for r in change_rows(
                facts, recent, start=END - timedelta(days=90), end=END, thresholds=Thresholds()
            )
        }
        assert list(rows) == [
            "recovery",
            "unrecovered",
            "recognition",
            "activation",
            "capacity",
            "time_in_window",
            "tolerated_activation",
        ]
        assert (rows["recovery"].period, rows["recovery"].period_n) == (40.0, 3)
        assert rows["recovery"].recent == 60.0  # the domain's median of the last 28 days
        assert (rows["capacity"].period, rows["capacity"].recent_n) == (6.0, 1)
        assert rows["unrecovered"].period == 0.0  # all three came back
        assert rows["time_in_window"].period == 1.0  # both check-ins within the window


class TestAttendance:
    def test_counts_rates_and_homework_in_the_period(self) -> None:
        facts = client(
            sessions=(
                sess(-20, engagement=6, homework_completed=HomeworkCompletion.YES),
                sess(-13, Attendance.NO_SHOW),
                sess(-6, engagement=8, homework_completed=HomeworkCompletion.PARTIAL),
                sess(-5, Attendance.CANCELLED),
                sess(-40, Attendance.LATE_CANCEL),  # before the period
            )
        )
        figures = period_attendance(
            facts,
            metrics(facts),
            start=END - timedelta(days=28),
            end=END,
            now=END,
            thresholds=Thresholds(),
        )
        assert (figures.attended, figures.no_show, figures.cancelled) == (2, 1, 1)
        assert figures.due == 3  # a cancellation in good time is not due
        assert figures.rate == pytest.approx(2 / 3)
        assert figures.engagement_mean == 7.0  # (6 + 8) / 2
        assert figures.homework_rate == 0.75  # (1 + 0.5) / 2
        assert figures.recent_due == 4  # the late cancel before the period counts too

    def test_the_last_due_sessions(self) -> None:
        sessions = [sess(-d) for d in range(1, 9)] + [sess(-9, Attendance.NO_SHOW)]
        # The attendance window is the last 6 due sessions: all attended.
        assert attendance_counts(sessions, END.timestamp(), Thresholds()) == (6, 6)
        assert attendance_counts([], END.timestamp(), Thresholds()) == (0, 0)


class TestWeeklyRecovery:
    def test_weeks_end_now_and_empty_weeks_are_gaps(self) -> None:
        facts = client(episodes=(ep(-1, 30), ep(-2, 50), ep(-10, 20), ep(-100, 5), ep(-3, None)))
        weeks = weekly_recovery(facts, END)
        assert len(weeks) == 12
        assert weeks[-1] == 40.0  # median of 30 and 50 in the latest seven days
        assert weeks[-2] == 20.0
        assert weeks[:-2] == [None] * 10  # day -100 is before the 12 weeks


class TestFittedLine:
    def test_the_theil_sen_line_at_its_ends(self) -> None:
        # y = 10 + 2 per day exactly: every pairwise slope is 2, so the line is the data.
        t = np.array([0.0, 1.0, 2.0, 5.0]) * SECONDS_PER_DAY
        y = np.array([10.0, 12.0, 14.0, 20.0])
        ends, values = fitted_line(t, y) or ([], [])
        assert ends == [0.0, 5 * SECONDS_PER_DAY]
        assert values == pytest.approx([10.0, 20.0])
        assert fitted_line(t[:1], y[:1]) is None
