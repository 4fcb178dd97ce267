"""Response shapes of the metrics, flags and caseload routes (DESIGN.md's contract)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from practice_dashboard.domain.metrics import (
    CapacityMetrics,
    EngagementMetrics,
    MeasureProgress,
    MonitoringCharts,
    PersonalBaseline,
    RecognitionMetrics,
    RecoveryMetrics,
)
from practice_dashboard.models.enums import ClientStatus, Source
from practice_dashboard.schemas.common import InputSchema, Schema


class AcknowledgementRead(Schema):
    id: uuid.UUID
    level: str
    fingerprint: str
    acknowledged_by_id: uuid.UUID
    at: datetime
    note: str | None


class AcknowledgementWithdrawn(AcknowledgementRead):
    """An acknowledgement after un-acknowledging: kept, marked withdrawn."""

    withdrawn_at: datetime
    withdrawn_by_id: uuid.UUID


class FlagRead(Schema):
    code: str
    level: str = Field(description="watch or alert")
    reasons: list[str] = Field(description="Why, in plain words")
    evidence: dict[str, Any] = Field(description="The values that fired")
    suggestion: str = Field(description="A suggested next step")
    signals: list[str]
    fingerprint: str = Field(description="Identifies which signals fired, for acknowledgement")
    acknowledgement: AcknowledgementRead | None = Field(
        default=None, description="Set while an acknowledgement keeps this flag quiet"
    )


class MetricsRead(Schema):
    client_id: uuid.UUID
    start: datetime
    end: datetime
    episodes_per_week: float | None
    recovery: RecoveryMetrics
    recognition: RecognitionMetrics
    capacity: CapacityMetrics
    engagement: EngagementMetrics
    measures: list[MeasureProgress]
    baseline: PersonalBaseline
    monitoring: MonitoringCharts = Field(
        description="The person-specific monitoring charts behind `deterioration` "
        "(self-starting CUSUMs on recovery and recognition minutes, a Bernoulli CUSUM on "
        "not coming back to baseline): each chart's points (the statistic after each episode "
        "since monitoring began), its limit, when it crossed it (`signal_at`), when it "
        "restarted from an acknowledgement, the client's usual, and its status"
    )
    flags: list[FlagRead]
    as_of: date | None = Field(
        default=None,
        description="The day these figures are as of (the `as_of` asked for; null: now)",
    )
    source: Source | None = Field(
        default=None,
        description="Whose reports these figures are from (the `source` asked for; null: both)",
    )


class AcknowledgeFlag(InputSchema):
    fingerprint: str | None = Field(
        default=None,
        max_length=64,
        description="The fingerprint you saw; if the flag has changed since, the answer is 409",
    )
    note: str | None = Field(default=None, max_length=2_000, description="Required for safety")


class CaseloadRecovery(Schema):
    median_minutes: float | None
    direction: str


class CaseloadItem(Schema):
    client_id: uuid.UUID
    display_name: str
    status: ClientStatus
    practitioner_id: uuid.UUID
    practitioner_name: str
    last_attended_at: datetime | None
    next_session_at: datetime | None
    recovery: CaseloadRecovery
    time_in_window: float | None
    episodes_per_week: float | None
    capacity_direction: str
    flags: list[FlagRead]
    as_of: date | None = Field(
        description="The practice day these figures were computed for (null: not yet computed)"
    )


class PractitionerLoadRead(Schema):
    practitioner_id: uuid.UUID
    full_name: str
    role: str
    active_caseload: int
    attended_sessions_last_7_days: int
    active_clients_with_alert: int
    latest_self_check_cbi_work_related: float | None
    flag: FlagRead | None


class CaseloadRead(Schema):
    items: list[CaseloadItem]
    total: int
    limit: int
    offset: int
    stale: int = Field(
        description="Visible clients whose figures are out of date (from an earlier day, or "
        "showing a next session that has begun) and are waiting to be refreshed"
    )
    practitioners: list[PractitionerLoadRead]
