from __future__ import annotations

from practice_dashboard.api.deps import CurrentUser
from practice_dashboard.api.responses import AUTHENTICATED
from practice_dashboard.domain.instruments import INSTRUMENTS, Instrument
from practice_dashboard.routing import Router

router = Router(tags=["measures"])


@router.get("/instruments", response_model=list[Instrument], responses=AUTHENTICATED)
def list_instruments(_user: CurrentUser) -> list[Instrument]:
    """The instrument registry: items, ranges, scoring, bands, cutoffs, reliability, licence."""
    return list(INSTRUMENTS.values())
