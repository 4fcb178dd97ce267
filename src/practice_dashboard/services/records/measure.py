"""Measures: validated against the instrument registry and scored on write."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.conventions import change_verdict
from practice_dashboard.domain.facts import CLOCK_SLACK, MeasureFact
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    Instrument,
    score_measure,
    validate_measure,
)
from practice_dashboard.errors import Invalid
from practice_dashboard.models import Measure, RecordKind
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.schemas.measure import (
    MeasureCreate,
    MeasureRead,
    MeasureUpdate,
    ScaleChange,
)
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.common import check_range, in_time_range, page
from practice_dashboard.services.records import revisions


def list_measures(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    instrument: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Measure], int]:
    check_range(start, end)
    client = access.get_visible_client(db, actor.user, client_id)
    stmt = select(Measure).where(
        Measure.client_id == client.id, *in_time_range(Measure.administered_at, start, end)
    )
    if instrument is not None:
        stmt = stmt.where(Measure.instrument == instrument)
    items, total = page(
        db,
        stmt,
        order_by=(Measure.administered_at.desc(), Measure.id.desc()),
        limit=limit,
        offset=offset,
    )
    audit.record(db, actor, "list", "measure", client_id=client.id)
    return items, total


def scored_fields(
    instrument: str, administered_at: datetime, items: list[int | None] | None, total: float | None
) -> dict[str, Any]:
    """Validate one administration against the registry and score it; 422 names each problem."""
    problems = [(p.loc, p.msg) for p in validate_measure(instrument, items, total)]
    if administered_at > utcnow() + CLOCK_SLACK:
        problems.append((("administered_at",), "must not be in the future"))
    if problems:
        raise Invalid(problems)
    score = score_measure(
        MeasureFact(
            instrument=instrument,
            administered_at=administered_at,
            items=tuple(items) if items is not None else None,
            total=total,
        )
    )
    return {
        "instrument": instrument,
        "administered_at": administered_at,
        "items": items,
        "total": score.total,
        "subscales": score.subscales or None,
        "severity": score.severity,
    }


def create_measure(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    data: MeasureCreate,
    actor: Actor,
    record_id: uuid.UUID | None = None,
) -> Measure:
    """`record_id` lets a form choose the new row's key, so a repeated submit saves once."""
    client = access.get_visible_client(db, actor.user, client_id, for_write=True)
    fields = scored_fields(data.instrument, data.administered_at, data.items, data.total)
    measure = Measure(
        id=record_id or uuid7(),
        client_id=client.id,
        recorded_by_id=actor.user.id,
        source=data.source,
        **fields,
    )
    db.add(measure)
    db.flush()
    audit.record(db, actor, "create", "measure", measure.id, client_id=client.id)
    return measure


def _change(
    instrument: Instrument,
    scale: str | None,
    baseline: float,
    value: float,
    thresholds: Thresholds,
) -> ScaleChange:
    """The change and its verdict by the practice's convention for the instrument."""
    convention = thresholds.convention_for(instrument.code)
    verdict = change_verdict(instrument, baseline, value, convention, scale=scale)
    if verdict is None:
        return ScaleChange(change=value - baseline, rci=None, reliable_change=None)
    return ScaleChange(
        change=verdict.change, rci=verdict.rci, reliable_change=verdict.reliable_change
    )


def with_baseline_change(
    db: DbSession, client_id: uuid.UUID, measures: list[Measure], *, thresholds: Thresholds
) -> list[MeasureRead]:
    """The measures as returned by the API, each with its change from the client's baseline.

    The baseline of an instrument is the client's first administration of it with a score
    (per scale for instruments scored as scales, like the CBI); the RCI follows Jacobson &
    Truax (1991) with the registry's reliability figures, and the verdict the practice's
    convention for the instrument, as in the metrics. One query whatever the number of
    measures.
    """
    codes = sorted({m.instrument for m in measures})
    # Baseline per (instrument, scale or None): (measure id, administered_at, score).
    baselines: dict[tuple[str, str | None], tuple[uuid.UUID, datetime, float]] = {}
    if codes:
        rows = db.execute(
            select(
                Measure.id,
                Measure.instrument,
                Measure.administered_at,
                Measure.total,
                Measure.subscales,
            )
            .where(
                Measure.client_id == client_id,
                Measure.instrument.in_(codes),
                Measure.counted(),
            )
            .order_by(Measure.administered_at, Measure.id)
        )
        for measure_id, code, at, total, subscales in rows:
            if total is not None:
                baselines.setdefault((code, None), (measure_id, at, total))
            for scale, value in (subscales or {}).items():
                if value is not None:
                    baselines.setdefault((code, scale), (measure_id, at, value))
    out = []
    for m in measures:
        read = MeasureRead.model_validate(m)
        instrument = INSTRUMENTS.get(m.instrument)
        if instrument is None:
            out.append(read)
            continue
        update: dict[str, object] = {}
        if instrument.has_total:
            base = baselines.get((m.instrument, None))
            if base is not None:
                update["baseline_at"] = base[1]
            if base is not None and m.total is not None and base[0] != m.id:
                change = _change(instrument, None, base[2], m.total, thresholds)
                update["change_from_baseline"] = change.change
                update["rci"] = change.rci
                update["reliable_change"] = change.reliable_change
        else:
            firsts = [b for (code, scale), b in baselines.items() if code == m.instrument and scale]
            if firsts:
                update["baseline_at"] = min(b[1] for b in firsts)
            scales = {}
            for sub in instrument.subscales:
                value = (m.subscales or {}).get(sub.code)
                base = baselines.get((m.instrument, sub.code))
                if value is not None and base is not None and base[0] != m.id:
                    scales[sub.code] = _change(instrument, sub.code, base[2], value, thresholds)
            update["subscale_changes"] = scales or None
        out.append(read.model_copy(update=update))
    return out


def update_measure(
    db: DbSession, *, measure_id: uuid.UUID, data: MeasureUpdate, actor: Actor
) -> Measure:
    """Correct a measure (re-scored from its items), or mark it entered in error."""
    measure, client = access.get_visible_child(db, actor.user, Measure, measure_id, for_write=True)

    def rescore(fields: dict[str, Any]) -> dict[str, Any]:
        merged = {
            "administered_at": fields.get("administered_at", measure.administered_at),
            "items": fields.get("items", measure.items),
            "total": fields.get("total", None if measure.items is not None else measure.total),
        }
        scored = scored_fields(measure.instrument, **merged)
        scored.pop("instrument")
        if fields.get("source") is not None:
            scored["source"] = fields["source"]
        return scored

    revisions.correct(
        db,
        kind=RecordKind.MEASURE,
        record=measure,
        client=client,
        data=data,
        actor=actor,
        derive=rescore,
    )
    return measure
