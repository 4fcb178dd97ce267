from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StrictInt

from practice_dashboard.domain.instruments import ReliableChangeCategory
from practice_dashboard.models.enums import Source
from practice_dashboard.schemas.common import (
    Correctable,
    CorrectionInput,
    InputSchema,
    NotNull,
    Schema,
    UtcDatetime,
)


class MeasureCreate(InputSchema):
    instrument: str = Field(max_length=40, description="Registry code: phq9, gad7, cbi, ors, srs")
    administered_at: UtcDatetime
    # Strict: an answer is a whole number, never true/false, "2" or 2.0 coerced into one.
    items: list[StrictInt | None] | None = Field(
        default=None,
        max_length=200,
        description="Answers in the instrument's item order (null = unanswered)",
    )
    total: float | None = Field(
        default=None, description="Only for total-only instruments (ORS, SRS), 0–40"
    )
    source: Source = Source.CLIENT


class MeasureUpdate(CorrectionInput):
    """A correction of an administration; the instrument stays (another one is a new measure)."""

    administered_at: Annotated[UtcDatetime | None, NotNull] = None
    items: list[StrictInt | None] | None = Field(default=None, max_length=200)
    total: float | None = None
    source: Annotated[Source | None, NotNull] = None


class ScaleChange(Schema):
    """One scale's change from the client's first administration with a score on that scale."""

    change: float
    rci: float | None = Field(description="Reliable Change Index (Jacobson & Truax 1991)")
    reliable_change: ReliableChangeCategory | None


class MeasureRead(Correctable):
    client_id: uuid.UUID
    instrument: str
    administered_at: datetime
    items: list[int | None] | None
    source: Source
    total: float | None
    subscales: dict[str, Any] | None
    severity: str | None
    # Change from baseline: the client's first administration of this instrument with a score.
    # Null on the baseline itself, on an administration that could not be scored, and (for
    # `rci`/`reliable_change`) for instruments without published reliability figures.
    baseline_at: datetime | None = Field(
        default=None, description="When the baseline (first scored) administration was given"
    )
    change_from_baseline: float | None = Field(
        default=None, description="total - baseline total (instruments with a total)"
    )
    rci: float | None = Field(
        default=None, description="Reliable Change Index of that change (Jacobson & Truax 1991)"
    )
    reliable_change: ReliableChangeCategory | None = Field(
        default=None,
        description="By the practice's reliable-change convention for the instrument "
        "(Jacobson-Truax, or NHS Talking Therapies for PHQ-9/GAD-7)",
    )
    subscale_changes: dict[str, ScaleChange] | None = Field(
        default=None, description="Per scale, for instruments scored as scales (CBI)"
    )
