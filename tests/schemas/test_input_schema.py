"""InputSchema (schemas/common.py): the base of every request body."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.schemas.self_check import SelfCheckCreate

AT = "2026-05-01T10:00:00Z"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (MeasureCreate, {"instrument": "ors", "administered_at": AT}),
        (SelfCheckCreate, {"instrument": "cbi", "administered_at": AT}),
    ],
)
def test_a_total_is_a_finite_number(
    schema: type[MeasureCreate | SelfCheckCreate], body: dict[str, object], value: float
) -> None:
    """Python's JSON parser reads NaN and Infinity; no figure may be built on one."""
    with pytest.raises(ValidationError) as caught:
        schema.model_validate({**body, "total": value})
    assert [e["loc"] for e in caught.value.errors()] == [("total",)]
    assert "finite number" in caught.value.errors()[0]["msg"]
