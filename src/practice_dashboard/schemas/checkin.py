"""Check-in links (the practitioner's side) and what a client enters through one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from practice_dashboard.models.enums import Zone
from practice_dashboard.schemas.common import InputSchema, LongText, Scale, Schema, UtcDatetime
from practice_dashboard.schemas.episode import Strategy

# [0-9], not \d: \d would also accept other scripts' digits.
CheckinCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4,8}$",
        description="The numeric code that guards the link on a shared phone: 4–8 digits",
    ),
]
LinkState = Literal["live", "expired", "revoked", "client_inactive"]


class CheckinLinkCreate(InputSchema):
    code: CheckinCode
    show_progress: bool = Field(
        default=False, description="Whether the client sees a calm view of their own progress"
    )


class CheckinLinkUpdate(InputSchema):
    renew: bool = Field(
        default=False, description="Start the link's lifetime again from now (default 180 days)"
    )
    code: CheckinCode | None = Field(default=None, description="A new code; the old one ends")
    show_progress: bool | None = None


class CheckinLinkRead(Schema):
    """A link's state for the practitioner; never its token or code."""

    id: uuid.UUID
    client_id: uuid.UUID
    state: LinkState
    created_at: datetime
    created_by_id: uuid.UUID
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    show_progress: bool


class CheckinLinkCreated(CheckinLinkRead):
    url: str = Field(description="The link, shown this once: only its hash is stored")


class CheckinEpisodeStart(InputSchema):
    """ "Something activated me": the episode starts now unless the client says when."""

    started_at: UtcDatetime | None = Field(default=None, description="Defaults to now")
    peak_intensity: Scale = Field(description="How strong it is, 0–10")
    trigger_category: str | None = Field(default=None, max_length=80)
    notes: LongText | None = None


class CheckinEpisodeClose(InputSchema):
    """ "I'm back to baseline": closes the open episode."""

    baseline_at: UtcDatetime | None = Field(default=None, description="Defaults to now")
    peak_intensity: Scale | None = Field(
        default=None, description="How strong it got at its highest, if more than at the start"
    )
    strategies: list[Strategy] = Field(default_factory=list, max_length=30)
    self_compassion: Scale | None = None


class CheckinEpisodeTimes(InputSchema):
    """The client's own correction of an episode's times (within 24 hours of entering it)."""

    version: int
    started_at: UtcDatetime
    baseline_at: UtcDatetime | None = None


class CheckinDaily(InputSchema):
    """The daily check-in: zone, activation, capacity and an optional note."""

    zone: Zone
    activation: Scale
    capacity: Scale | None = None
    notes: LongText | None = None
