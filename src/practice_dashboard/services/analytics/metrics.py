"""A client's metrics and flags for a period, and acknowledging a flag (or withdrawing it)."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import Source, facts_as_of, facts_from_source
from practice_dashboard.domain.metrics import compute_client_metrics
from practice_dashboard.domain.periods import DEFAULT_METRICS_PERIOD
from practice_dashboard.errors import Conflict, Invalid
from practice_dashboard.models import Client, FlagAcknowledgement
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics.acknowledgements import (
    flag_views,
    latest_acknowledgements,
    monitoring_restart,
)
from practice_dashboard.services.analytics.fact_loading import Reach, load_facts
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.periods import resolve_as_of, resolve_window

DEFAULT_PERIOD = DEFAULT_METRICS_PERIOD


def client_metrics(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    settings: Settings,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    as_of: date | None = None,
    source: Source | None = None,
) -> dict[str, Any]:
    """The metrics and flags for ``[start, end)``, default the 28 days up to now.

    ``source``: only the episodes, observations and measures the client reported through their
    check-in link (``client``) or the practitioner entered (``practitioner``).

    ``as_of``: what the dashboard would have said at the end of that day (practice time zone;
    today: now), from the data with times up to then and the acknowledgements as they stood
    then. The window then ends at that moment by default and may not reach past it.
    """
    client = access.get_visible_client(db, actor.user, client_id)
    moment: datetime | None = None
    if as_of is not None:
        moment = resolve_as_of(as_of, intake=client.intake_date, now=now, tz=settings.timezone)
        now = moment
    start, end = resolve_window(start, end, now, as_of=moment)
    facts = load_facts(
        db,
        [client],
        [client.id],
        timezone=settings.timezone,
        reach=Reach(windows=((start, end, now),)),
        thresholds=settings.thresholds,
    )[client.id]
    if moment is not None:
        facts = facts_as_of(facts, moment)
    if source is not None:
        facts = facts_from_source(facts, source)
    acknowledgements = latest_acknowledgements(db, [client.id], as_of=moment)
    restart = monitoring_restart(acknowledgements, client.id, as_of=moment)
    metrics = compute_client_metrics(
        facts,
        start=start,
        end=end,
        now=now,
        thresholds=settings.thresholds,
        monitoring_restart_at=restart if restart is not None and restart < end else None,
    )
    details = ([f"as_of {as_of.isoformat()}"] if as_of is not None else []) + (
        [f"source {source.value}"] if source is not None else []
    )
    detail = ", ".join(details) or None
    audit.record(db, actor, "read", "metrics", client.id, client_id=client.id, detail=detail)
    # The figures as they are (frozen dataclasses), not deep-copied by asdict: the monitoring
    # charts hold a point per episode, thousands over a long course of care.
    result: dict[str, Any] = {f.name: getattr(metrics, f.name) for f in fields(metrics)}
    result["client_id"] = client.id
    result["as_of"] = as_of
    result["source"] = source
    result["flags"] = flag_views(metrics.flags, client.id, acknowledgements, as_of=moment)
    return result


def acknowledge_flag(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    code: str,
    fingerprint: str | None,
    note: str | None,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> FlagAcknowledgement:
    """Quieten a flag until its evidence changes (a new signal or a higher level)."""
    client: Client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    facts = load_facts(
        db,
        [client],
        [client.id],
        timezone=settings.timezone,
        reach=Reach(windows=((now - DEFAULT_PERIOD, now, now),)),
        thresholds=settings.thresholds,
    )[client.id]
    restart = monitoring_restart(latest_acknowledgements(db, [client.id]), client.id)
    metrics = compute_client_metrics(
        facts,
        start=now - DEFAULT_PERIOD,
        end=now,
        now=now,
        thresholds=settings.thresholds,
        monitoring_restart_at=restart,
        monitoring_points_from=now,  # the flag only
    )
    flag = next((f for f in metrics.flags if f.code == code), None)
    if flag is None:
        raise Invalid([(("code",), f"this client has no {code!r} flag now")])
    if fingerprint is not None and fingerprint != flag.fingerprint:
        raise Conflict("This flag has changed since you saw it; review it again")
    if code == "safety" and not (note and note.strip()):
        raise Invalid([(("note",), "acknowledging a safety flag needs a note of what was done")])
    ack = FlagAcknowledgement(
        client_id=client.id,
        code=flag.code,
        level=flag.level,
        fingerprint=flag.fingerprint,
        evidence=dict(flag.evidence),
        acknowledged_by_id=actor.user.id,
        at=now,
        note=note.strip() if note else None,
    )
    db.add(ack)
    db.flush()
    # No detail: the fingerprint names clinical signals (e.g. a PHQ-9 self-harm answer), and
    # the audit log is read by admins, who see no clinical data. It is on the acknowledgement.
    audit.record(db, actor, "acknowledge", "flag", ack.id, client_id=client.id)
    return ack


def unacknowledge_flag(
    db: DbSession, *, client_id: uuid.UUID, code: str, actor: Actor, now: datetime
) -> FlagAcknowledgement:
    """Withdraw a flag's acknowledgement (kept, marked withdrawn): the flag speaks again."""
    client: Client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    ack = latest_acknowledgements(db, [client.id]).get((client.id, code))
    if ack is None or ack.withdrawn_at is not None:
        raise Invalid([(("code",), f"the {code!r} flag of this client is not acknowledged")])
    ack.withdrawn_at = now
    ack.withdrawn_by_id = actor.user.id
    db.flush()
    audit.record(db, actor, "unacknowledge", "flag", ack.id, client_id=client.id)
    return ack
