"""Flags as shown to people: the domain's flags with their acknowledgement state."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.flags import Flag, is_acknowledged
from practice_dashboard.models import FlagAcknowledgement


def latest_acknowledgements(
    db: DbSession, client_ids: Any
) -> dict[tuple[uuid.UUID, str], FlagAcknowledgement]:
    """The newest acknowledgement of each flag code for each client: one query."""
    newest = (
        select(
            FlagAcknowledgement.client_id.label("client_id"),
            FlagAcknowledgement.code.label("code"),
            func.max(FlagAcknowledgement.at).label("at"),
        )
        .where(FlagAcknowledgement.client_id.in_(client_ids))
        .group_by(FlagAcknowledgement.client_id, FlagAcknowledgement.code)
        .subquery()
    )
    rows = db.scalars(
        select(FlagAcknowledgement).join(
            newest,
            (FlagAcknowledgement.client_id == newest.c.client_id)
            & (FlagAcknowledgement.code == newest.c.code)
            & (FlagAcknowledgement.at == newest.c.at),
        )
    )
    return {(a.client_id, a.code): a for a in rows}


def flag_views(
    flags: Sequence[Flag],
    client_id: uuid.UUID,
    acknowledgements: dict[tuple[uuid.UUID, str], FlagAcknowledgement],
) -> list[dict[str, Any]]:
    """Plain dicts (stored in summaries, returned by the API), acknowledgement attached."""
    views = []
    for flag in flags:
        ack = acknowledgements.get((client_id, flag.code))
        # The newest acknowledgement decides: once withdrawn, the flag speaks again.
        covered = (
            ack is not None
            and ack.withdrawn_at is None
            and is_acknowledged(flag, ack.level, ack.fingerprint)
        )
        view = dataclasses.asdict(flag)
        view["reasons"] = list(flag.reasons)
        view["signals"] = list(flag.signals)
        view["acknowledgement"] = (
            {
                "id": str(ack.id),
                "level": ack.level,
                "fingerprint": ack.fingerprint,
                "acknowledged_by_id": str(ack.acknowledged_by_id),
                "at": ack.at.isoformat(),
                "note": ack.note,
            }
            if covered and ack is not None
            else None
        )
        views.append(view)
    return views


def monitoring_restart(
    acknowledgements: dict[tuple[uuid.UUID, str], FlagAcknowledgement], client_id: uuid.UUID
) -> datetime | None:
    """When the client's monitoring charts restart: the standing acknowledgement of
    ``deterioration`` (DOMAIN.md §5.5: after a signal is reviewed, the next needs new evidence).
    """
    ack = acknowledgements.get((client_id, "deterioration"))
    return ack.at if ack is not None and ack.withdrawn_at is None else None


def active(views: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags not quietened by an acknowledgement."""
    return [v for v in views if v["acknowledgement"] is None]
