from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from practice_dashboard.schemas.common import InputSchema, LongText, Record, Scale

Strategy = Annotated[str, Field(min_length=1, max_length=100)]


def _check_order(
    started_at: datetime | None, recognized_at: datetime | None, baseline_at: datetime | None
) -> None:
    if started_at is None:
        return
    if recognized_at is not None and recognized_at < started_at:
        raise ValueError("recognized_at must not be before started_at")
    if baseline_at is not None and baseline_at < started_at:
        raise ValueError("baseline_at must not be before started_at")


class EpisodeCreate(InputSchema):
    started_at: AwareDatetime = Field(description="Onset of the activation")
    recognized_at: AwareDatetime | None = Field(
        default=None, description="When the client noticed they were activated"
    )
    peak_intensity: Scale
    baseline_at: AwareDatetime | None = Field(
        default=None, description="Return to baseline; null = not back yet, or unknown"
    )
    session_id: uuid.UUID | None = None
    trigger: str | None = Field(default=None, max_length=500)
    trigger_category: str | None = Field(default=None, max_length=80)
    strategies: list[Strategy] = Field(default_factory=list, max_length=30)
    self_compassion: Scale | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> EpisodeCreate:
        _check_order(self.started_at, self.recognized_at, self.baseline_at)
        return self


class EpisodeUpdate(InputSchema):
    started_at: AwareDatetime | None = None
    recognized_at: AwareDatetime | None = None
    peak_intensity: Scale | None = None
    baseline_at: AwareDatetime | None = None
    trigger: str | None = Field(default=None, max_length=500)
    trigger_category: str | None = Field(default=None, max_length=80)
    strategies: list[Strategy] | None = Field(default=None, max_length=30)
    self_compassion: Scale | None = None
    notes: LongText | None = None
    version: int = Field(description="The version this change is based on")


class EpisodeRead(Record):
    client_id: uuid.UUID
    session_id: uuid.UUID | None
    started_at: datetime
    recognized_at: datetime | None
    peak_intensity: int
    baseline_at: datetime | None
    trigger: str | None
    trigger_category: str | None
    strategies: list[str]
    self_compassion: int | None
    notes: str | None
    version: int
    recovery_minutes: float | None = Field(description="Onset to return to baseline")
    recognition_minutes: float | None = Field(description="Onset to recognition")
