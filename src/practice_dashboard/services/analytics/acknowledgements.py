"""Flags as shown to people: the domain's flags with their acknowledgement state."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from practice_dashboard.db import DbSession, kept_statement
from practice_dashboard.domain.flags import Flag, is_acknowledged
from practice_dashboard.models import FlagAcknowledgement


def latest_acknowledgements(
    db: DbSession, client_ids: Any, *, as_of: datetime | None = None
) -> dict[tuple[uuid.UUID, str], FlagAcknowledgement]:
    """The newest acknowledgement of each flag code for each client: one query.

    With ``as_of``, the newest made by then (whether it still stood then: :func:`standing`).
    """
    # A list of ids is bound when the statement runs (one statement kept per shape); a
    # subquery of ids is written into one built for this call.
    listed = isinstance(client_ids, list | tuple)

    def newest_of_each() -> Select[FlagAcknowledgement]:
        made: list[ColumnElement[bool]] = [
            FlagAcknowledgement.client_id.in_(
                bindparam("client_ids", expanding=True) if listed else client_ids
            )
        ]
        if as_of is not None:
            made.append(FlagAcknowledgement.at <= bindparam("as_of"))
        newest = (
            select(
                FlagAcknowledgement.client_id.label("client_id"),
                FlagAcknowledgement.code.label("code"),
                func.max(FlagAcknowledgement.at).label("at"),
            )
            .where(*made)
            .group_by(FlagAcknowledgement.client_id, FlagAcknowledgement.code)
            .subquery()
        )
        return select(FlagAcknowledgement).join(
            newest,
            (FlagAcknowledgement.client_id == newest.c.client_id)
            & (FlagAcknowledgement.code == newest.c.code)
            & (FlagAcknowledgement.at == newest.c.at),
        )

    statement = (
        kept_statement(("latest acknowledgements", as_of is None), newest_of_each)
        if listed
        else newest_of_each()
    )
    rows = db.scalars(statement, {"client_ids": list(client_ids) if listed else (), "as_of": as_of})
    return {(a.client_id, a.code): a for a in rows}


def standing(ack: FlagAcknowledgement | None, as_of: datetime | None = None) -> bool:
    """Whether an acknowledgement is in force: not withdrawn (with ``as_of``: not withdrawn by
    then; a withdrawal after it had not happened yet)."""
    if ack is None:
        return False
    withdrawn = ack.withdrawn_at
    return withdrawn is None or (as_of is not None and withdrawn > as_of)


def flag_views(
    flags: Sequence[Flag],
    client_id: uuid.UUID,
    acknowledgements: dict[tuple[uuid.UUID, str], FlagAcknowledgement],
    *,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """Plain dicts (stored in summaries, returned by the API), acknowledgement attached.

    ``as_of``: the acknowledgements as they stood then (from ``latest_acknowledgements`` with
    the same ``as_of``)."""
    views = []
    for flag in flags:
        ack = acknowledgements.get((client_id, flag.code))
        # The newest acknowledgement decides: once withdrawn, the flag speaks again.
        covered = (
            ack is not None
            and standing(ack, as_of)
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
    acknowledgements: dict[tuple[uuid.UUID, str], FlagAcknowledgement],
    client_id: uuid.UUID,
    *,
    as_of: datetime | None = None,
) -> datetime | None:
    """When the client's monitoring charts restart: the standing acknowledgement of
    ``deterioration`` (DOMAIN.md §5.5: after a signal is reviewed, the next needs new evidence).
    ``as_of``: as it stood then.
    """
    ack = acknowledgements.get((client_id, "deterioration"))
    return ack.at if ack is not None and standing(ack, as_of) else None


def active(views: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags not quietened by an acknowledgement."""
    return [v for v in views if v["acknowledgement"] is None]
