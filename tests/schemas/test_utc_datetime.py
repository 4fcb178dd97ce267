"""UtcDatetime (schemas/common.py): every API time filter and body time goes through it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from practice_dashboard.schemas.common import BirthDate, PlausibleDate, UtcDatetime

ADAPTER: TypeAdapter[datetime] = TypeAdapter(UtcDatetime)


def test_an_offset_time_is_given_back_in_utc() -> None:
    assert ADAPTER.validate_python("2026-01-05T09:30:00+01:00") == datetime(
        2026, 1, 5, 8, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_with_no_utc_equivalent_is_a_validation_error(value: str) -> None:
    # Was an OverflowError, which pydantic does not catch: a 500 on every list filter.
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python(value)
    assert "the time is out of range" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "9999-12-31T00:00Z"],
)
def test_a_time_outside_1900_to_2100_is_refused(value: str) -> None:
    """Issue 12: year 1 was stored, then broke every export and page of that client."""
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python(value)
    assert "must be between 1900-01-01 and 2100-12-31" in str(caught.value)


def test_the_range_is_read_in_utc() -> None:
    # 1900-01-01 00:30 at +01:00 is still 1899 in UTC.
    with pytest.raises(ValidationError):
        ADAPTER.validate_python("1900-01-01T00:30:00+01:00")
    assert ADAPTER.validate_python("1900-01-01T00:30:00-01:00").year == 1900


@pytest.mark.parametrize("value", [0, 1_780_000_000, 1.78e9, True])
def test_a_number_is_not_a_time(value: object) -> None:
    """Lax mode would read a number as seconds since 1970 (0 = 1970-01-01)."""
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python(value)
    assert "must be ISO 8601 text, not a number" in str(caught.value)


class TestDays:
    DAY: TypeAdapter[date] = TypeAdapter(PlausibleDate)
    BIRTH: TypeAdapter[date] = TypeAdapter(BirthDate)

    @pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "2101-01-01", 20260101, 0])
    def test_a_day_outside_1900_to_2100_or_a_number_is_refused(self, value: object) -> None:
        with pytest.raises(ValidationError):
            self.DAY.validate_python(value)

    def test_a_plausible_day_is_kept(self) -> None:
        assert self.DAY.validate_python("1900-01-01") == date(1900, 1, 1)

    def test_a_date_of_birth_is_not_in_the_future(self) -> None:
        tomorrow_but_one = datetime.now(UTC).date() + timedelta(days=2)
        with pytest.raises(ValidationError) as caught:
            self.BIRTH.validate_python(tomorrow_but_one.isoformat())
        assert "cannot be in the future" in str(caught.value)
        assert self.BIRTH.validate_python("1950-06-01") == date(1950, 6, 1)
