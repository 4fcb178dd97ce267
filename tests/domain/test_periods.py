"""The one period parser (domain/periods.py): every entry point reads its period here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from practice_dashboard.domain.periods import (
    AS_OF_FUTURE,
    AS_OF_UNREADABLE,
    END_AFTER_AS_OF,
    END_NOT_AFTER_START,
    NEEDS_OFFSET,
    OUT_OF_RANGE,
    START_NOT_BEFORE_AS_OF,
    START_NOT_BEFORE_END,
    TOO_LONG,
    UNREADABLE,
    PeriodError,
    as_of_before_intake,
    as_of_moment,
    metrics_window,
    metrics_window_as_of,
    parse_bound,
    parse_day,
    report_period,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")


class TestParseBound:
    def test_a_day_is_local_midnight_and_an_end_day_is_included(self) -> None:
        assert parse_bound("2026-03-28", BERLIN, field="start") == datetime(
            2026, 3, 27, 23, tzinfo=UTC
        )
        # The end of 28 March is local midnight of 29 March (+01:00: clocks go forward at 2:00).
        assert parse_bound("2026-03-28", BERLIN, field="end") == datetime(
            2026, 3, 28, 23, tzinfo=UTC
        )
        # In summer time the same day ends at 22:00 UTC.
        assert parse_bound("2026-07-01", BERLIN, field="end") == datetime(
            2026, 7, 1, 22, tzinfo=UTC
        )

    def test_a_time_without_offset_is_local_and_with_one_is_kept(self) -> None:
        assert parse_bound("2026-01-05T09:30", BERLIN, field="start") == datetime(
            2026, 1, 5, 8, 30, tzinfo=UTC
        )
        assert parse_bound("2026-01-05T09:30+00:00", BERLIN, field="end") == datetime(
            2026, 1, 5, 9, 30, tzinfo=UTC
        )

    @pytest.mark.parametrize("value", [None, "", "   "])
    def test_blank_is_none(self, value: str | None) -> None:
        assert parse_bound(value, UTC, field="start") is None

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("yesterday", UNREADABLE),
            ("2026-02-30", UNREADABLE),
            ("31/05/2026", UNREADABLE),
            ("9999-12-31", OUT_OF_RANGE),  # was an OverflowError: the day after does not exist
            ("0001-01-01", OUT_OF_RANGE),  # was an OverflowError east of UTC
            ("1899-12-31", OUT_OF_RANGE),
            ("2101-01-01", OUT_OF_RANGE),
            ("9999-12-31T23:59:59-05:00", OUT_OF_RANGE),
            ("0001-01-01T00:00:00+05:00", OUT_OF_RANGE),
        ],
    )
    @pytest.mark.parametrize("field", ["start", "end"])
    def test_impossible_and_implausible_dates_name_the_field(
        self, value: str, message: str, field: str
    ) -> None:
        with pytest.raises(PeriodError) as caught:
            parse_bound(value, TOKYO, field=field)  # type: ignore[arg-type]
        assert caught.value.problems == ((field, message),)

    def test_the_edges_of_the_plausible_range_are_accepted(self) -> None:
        assert parse_bound("1900-01-01", TOKYO, field="start") is not None
        assert parse_bound("2100-12-31", TOKYO, field="end") == datetime(
            2100, 12, 31, 15, tzinfo=UTC
        )

    @pytest.mark.parametrize("value", ["2026-01-05", "2026-01-05T09:30", "soon"])
    def test_a_program_must_give_the_offset(self, value: str) -> None:
        with pytest.raises(PeriodError) as caught:
            parse_bound(value, UTC, field="end", require_offset=True)
        assert caught.value.problems == (("end", NEEDS_OFFSET),)


class TestReportPeriod:
    def test_both_bad_fields_are_reported_at_once(self) -> None:
        with pytest.raises(PeriodError) as caught:
            report_period("yesterday", "9999-12-31", now=NOW, tz=UTC)
        assert caught.value.problems == (("start", UNREADABLE), ("end", OUT_OF_RANGE))

    @pytest.mark.parametrize(
        ("start", "end", "message"),
        [
            ("2026-05-02", "2026-05-01", START_NOT_BEFORE_END),
            ("2026-07-01", None, START_NOT_BEFORE_END),  # the future
            ("2010-01-01", None, TOO_LONG),
            ("1900-01-01", "1900-01-01", None),
        ],
    )
    def test_order_and_length(self, start: str, end: str | None, message: str | None) -> None:
        if message is None:
            period = report_period(start, end, now=NOW, tz=UTC)
            assert (period.start_date, period.end_date) == (date(1900, 1, 1), date(1900, 1, 1))
            return
        with pytest.raises(PeriodError) as caught:
            report_period(start, end, now=NOW, tz=UTC)
        assert caught.value.problems == (("start", message),)

    def test_default_is_the_last_six_months_and_a_future_end_stops_at_now(self) -> None:
        period = report_period(None, "2099-01-01", now=NOW, tz=UTC)
        assert period.end == NOW
        assert period.end - period.start == timedelta(days=183)
        assert period.label == "30 Nov 2025 to 1 Jun 2026"  # 183 days back


class TestMetricsWindow:
    def test_default_is_the_28_days_up_to_the_end(self) -> None:
        end = datetime(2025, 1, 1, tzinfo=UTC)
        assert metrics_window(None, end, now=NOW) == (end - timedelta(days=28), end)

    def test_an_end_not_after_the_start_is_the_ends_fault(self) -> None:
        with pytest.raises(PeriodError) as caught:
            metrics_window(NOW, NOW, now=NOW)
        assert caught.value.problems == (("end", END_NOT_AFTER_START),)

    def test_far_instants_are_refused_before_any_arithmetic(self) -> None:
        far = datetime(1, 1, 2, tzinfo=UTC)
        with pytest.raises(PeriodError) as caught:
            metrics_window(None, far, now=NOW)
        assert caught.value.problems == (("end", OUT_OF_RANGE),)


class TestAsOf:
    """``as_of``: a local day; the moment is its end in the practice's zone, or now for today."""

    INTAKE = date(2026, 1, 5)

    def test_a_day_is_read_only_as_yyyy_mm_dd(self) -> None:
        assert parse_day(" 2026-05-20 ") == date(2026, 5, 20)

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("yesterday", AS_OF_UNREADABLE),
            ("2026-02-30", AS_OF_UNREADABLE),
            ("20260520", AS_OF_UNREADABLE),  # date.fromisoformat reads it; we do not
            ("2026-05-20T10:00:00+00:00", AS_OF_UNREADABLE),  # a day, not a time
            ("", AS_OF_UNREADABLE),
            ("0001-01-01", OUT_OF_RANGE),
        ],
    )
    def test_anything_else_names_as_of(self, value: str, message: str) -> None:
        with pytest.raises(PeriodError) as caught:
            parse_day(value)
        assert caught.value.problems == (("as_of", message),)

    def test_the_moment_is_the_next_local_midnight(self) -> None:
        # London is on summer time (UTC+1) in May: 21 May 00:00 BST = 20 May 23:00 UTC.
        moment = as_of_moment(date(2026, 5, 20), now=NOW, tz=LONDON, intake=self.INTAKE)
        assert moment == datetime(2026, 5, 20, 23, tzinfo=UTC)
        # In winter (GMT) it is midnight UTC; Tokyo (UTC+9) ends the day 9 hours earlier.
        assert as_of_moment(date(2026, 1, 20), now=NOW, tz=LONDON, intake=self.INTAKE) == datetime(
            2026, 1, 21, tzinfo=UTC
        )
        assert as_of_moment(date(2026, 1, 20), now=NOW, tz=TOKYO, intake=self.INTAKE) == datetime(
            2026, 1, 20, 15, tzinfo=UTC
        )

    def test_the_intake_day_is_allowed_and_today_is_now(self) -> None:
        assert as_of_moment(self.INTAKE, now=NOW, tz=LONDON, intake=self.INTAKE) == datetime(
            2026, 1, 6, tzinfo=UTC
        )
        assert as_of_moment(date(2026, 6, 1), now=NOW, tz=LONDON, intake=self.INTAKE) == NOW

    def test_today_is_the_practices_today(self) -> None:
        # 23:30 UTC on 1 June is already 2 June in London, still 1 June in UTC.
        late = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
        assert as_of_moment(date(2026, 6, 2), now=late, tz=LONDON, intake=self.INTAKE) == late
        with pytest.raises(PeriodError) as caught:
            as_of_moment(date(2026, 6, 2), now=late, tz=UTC, intake=self.INTAKE)
        assert caught.value.problems == (("as_of", AS_OF_FUTURE),)

    def test_before_intake_names_as_of(self) -> None:
        with pytest.raises(PeriodError) as caught:
            as_of_moment(date(2026, 1, 4), now=NOW, tz=LONDON, intake=self.INTAKE)
        assert caught.value.problems == (("as_of", as_of_before_intake(self.INTAKE)),)
        assert "2026-01-05" in as_of_before_intake(self.INTAKE)

    def test_the_window_ends_at_the_moment_by_default(self) -> None:
        moment = datetime(2026, 3, 1, tzinfo=UTC)
        assert metrics_window_as_of(None, None, moment=moment) == (
            moment - timedelta(days=28),
            moment,
        )
        start = moment - timedelta(days=7)
        assert metrics_window_as_of(start, None, moment=moment) == (start, moment)
        assert metrics_window_as_of(None, moment, moment=moment) == (
            moment - timedelta(days=28),
            moment,
        )

    def test_bounds_past_the_moment_name_their_field(self) -> None:
        moment = datetime(2026, 3, 1, tzinfo=UTC)
        later = moment + timedelta(seconds=1)
        with pytest.raises(PeriodError) as caught:
            metrics_window_as_of(None, later, moment=moment)
        assert caught.value.problems == (("end", END_AFTER_AS_OF),)
        with pytest.raises(PeriodError) as caught:
            metrics_window_as_of(moment, None, moment=moment)
        assert caught.value.problems == (("start", START_NOT_BEFORE_AS_OF),)
        with pytest.raises(PeriodError) as caught:
            metrics_window_as_of(later, later + timedelta(days=1), moment=moment)
        assert caught.value.problems == (
            ("start", START_NOT_BEFORE_AS_OF),
            ("end", END_AFTER_AS_OF),
        )

    def test_the_usual_window_rules_still_hold(self) -> None:
        moment = datetime(2026, 3, 1, tzinfo=UTC)
        end = moment - timedelta(days=1)
        with pytest.raises(PeriodError) as caught:
            metrics_window_as_of(end, end, moment=moment)
        assert caught.value.problems == (("end", END_NOT_AFTER_START),)
        far = datetime(1, 1, 2, tzinfo=UTC)
        with pytest.raises(PeriodError) as caught:
            metrics_window_as_of(far, None, moment=moment)
        assert caught.value.problems == (("start", OUT_OF_RANGE),)
