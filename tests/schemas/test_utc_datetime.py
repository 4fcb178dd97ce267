"""UtcDatetime (schemas/common.py): every API time filter and body time goes through it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from practice_dashboard.schemas.common import UtcDatetime

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
