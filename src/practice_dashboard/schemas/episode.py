from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from practice_dashboard.models.enums import Source
from practice_dashboard.schemas.common import (
    Correctable,
    CorrectionInput,
    InputSchema,
    LongText,
    NotNull,
    Scale,
    UtcDatetime,
)

Strategy = Annotated[str, Field(min_length=1, max_length=100)]


class EpisodeCreate(InputSchema):
    started_at: UtcDatetime = Field(description="Onset of the activation")
    recognized_at: UtcDatetime | None = Field(
        default=None, description="When the client noticed they were activated"
    )
    peak_intensity: Scale
    baseline_at: UtcDatetime | None = Field(
        default=None, description="Return to baseline; null = not back yet, or unknown"
    )
    session_id: uuid.UUID | None = None
    source: Source = Field(
        default=Source.PRACTITIONER,
        description="practitioner, or client: reported by the client themselves",
    )
    trigger: str | None = Field(default=None, max_length=500)
    trigger_category: str | None = Field(default=None, max_length=80)
    strategies: list[Strategy] = Field(default_factory=list, max_length=30)
    self_compassion: Scale | None = None
    notes: LongText | None = None

    # A field validator, not a model validator, so that the 422 names the field itself
    # (["body", "recognized_at"]) rather than the whole body. started_at is declared first.
    @field_validator("recognized_at", "baseline_at")
    @classmethod
    def _not_before_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        started_at = info.data.get("started_at")
        if value is not None and started_at is not None and value < started_at:
            raise ValueError("must not be before started_at")
        return value


class EpisodeUpdate(CorrectionInput):
    started_at: Annotated[UtcDatetime | None, NotNull] = None
    source: Annotated[Source | None, NotNull] = None
    recognized_at: UtcDatetime | None = None
    peak_intensity: Annotated[Scale | None, NotNull] = None
    baseline_at: UtcDatetime | None = None
    trigger: str | None = Field(default=None, max_length=500)
    trigger_category: str | None = Field(default=None, max_length=80)
    strategies: Annotated[list[Strategy] | None, NotNull] = Field(default=None, max_length=30)
    self_compassion: Scale | None = None
    notes: LongText | None = None


class EpisodeRead(Correctable):
    client_id: uuid.UUID
    session_id: uuid.UUID | None
    source: Source
    started_at: datetime
    recognized_at: datetime | None
    peak_intensity: int
    baseline_at: datetime | None
    trigger: str | None
    trigger_category: str | None
    strategies: list[str]
    self_compassion: int | None
    notes: str | None
    recovery_minutes: float | None = Field(description="Onset to return to baseline")
    recognition_minutes: float | None = Field(description="Onset to recognition")
