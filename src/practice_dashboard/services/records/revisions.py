"""Corrections and history: every edit keeps the old values, nothing is overwritten silently.

Each kind's update function calls `correct()`, which refuses a stale `version` (409) and any
change to a record entered in error, applies the fields, lets the kind validate the result,
and writes one `revision` row (old and new value per changed field) in the same transaction.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid
from practice_dashboard.models import (
    Annotation,
    Client,
    Episode,
    Measure,
    Observation,
    RecordKind,
    Revision,
    Session,
    User,
)
from practice_dashboard.models.enums import RecordStatus
from practice_dashboard.schemas.common import CorrectionInput
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor, AnyActor
from practice_dashboard.services.common import check_version

MODELS: dict[RecordKind, type[Any]] = {
    RecordKind.SESSION: Session,
    RecordKind.OBSERVATION: Observation,
    RecordKind.EPISODE: Episode,
    RecordKind.MEASURE: Measure,
    RecordKind.ANNOTATION: Annotation,
}
_STATUS_FIELDS = frozenset({"status", "status_reason"})


def as_json(value: Any) -> Any:
    """A value as the revision stores it: times as ISO 8601, enums and ids as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


def _status_change(record: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The status part of an edit, checked: entered in error needs a reason and stands alone."""
    status = fields.get("status")
    reason = fields.get("status_reason")
    if status is None:
        if reason is not None:
            raise Invalid([(("status_reason",), "only given with status entered_in_error")])
        return {}
    if status == RecordStatus.RECORDED:
        if record.status == RecordStatus.RECORDED and reason is None:
            return {}
        raise Invalid([(("status",), "use entered_in_error with a reason to change the status")])
    if not reason:
        raise Invalid([(("status_reason",), "a reason is required when marking entered in error")])
    others = sorted(set(fields) - _STATUS_FIELDS)
    if others:
        raise Invalid(
            [
                ((name,), "mark a record entered in error on its own, without other changes")
                for name in others
            ]
        )
    return {"status": RecordStatus.ENTERED_IN_ERROR, "status_reason": reason}


def correct(
    db: DbSession,
    *,
    kind: RecordKind,
    record: Any,
    client: Client,
    data: CorrectionInput,
    actor: AnyActor,
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    validate: Callable[[set[str]], None] | None = None,
) -> dict[str, Any]:
    """Apply `data` to `record` with its history; returns the changed fields' new values.

    `derive` turns the sent fields into the fields to store (a measure's re-scoring);
    `validate` checks the record once changed (given the sent field names) and raises Invalid.
    """
    check_version(record, data.version)
    if record.status == RecordStatus.ENTERED_IN_ERROR:
        raise Invalid([(("status",), "this record was entered in error and cannot be changed")])
    sent = data.model_dump(exclude_unset=True, exclude={"version"})
    status = _status_change(record, sent)
    fields = {k: v for k, v in sent.items() if k not in _STATUS_FIELDS}
    if derive is not None and fields:
        fields = derive(fields)
    fields.update(status)
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        old = getattr(record, name)
        if old != value:
            changes[name] = {"old": as_json(old), "new": as_json(value)}
            setattr(record, name, value)
    if validate is not None:
        validate(set(sent))
    if not changes:
        return {}
    version = record.version
    db.flush()  # the UPDATE carries `WHERE version = :old`: a concurrent edit is a 409 here
    db.add(
        Revision(
            record_kind=kind,
            record_id=record.id,
            client_id=client.id,
            version=version,
            changes=changes,
            actor_id=audit.user_id_of(actor),
        )
    )
    action = "entered_in_error" if status else "update"
    audit.record(
        db, actor, action, kind.value, record.id, client_id=client.id, detail=",".join(changes)
    )
    return {name: fields[name] for name in changes}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One revision with the name of who made it."""

    revision: Revision
    actor_name: str | None


def get_history(
    db: DbSession, *, kind: RecordKind, record_id: uuid.UUID, actor: Actor
) -> tuple[Any, list[HistoryEntry]]:
    """A visible record and its revisions, oldest first, each with who made it (404 if hidden)."""
    record, client = access.get_visible_child(db, actor.user, MODELS[kind], record_id)
    rows = db.execute(
        select(Revision, User.full_name)
        .outerjoin(User, User.id == Revision.actor_id)
        .where(Revision.record_kind == kind, Revision.record_id == record.id)
        .order_by(Revision.version, Revision.id)
    ).all()
    audit.record(db, actor, "read", kind.value, record.id, client_id=client.id, detail="history")
    return record, [HistoryEntry(revision, name) for revision, name in rows]
