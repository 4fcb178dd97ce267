"""The client's record: every entry listed, each with its detail, history and corrections.

`/clients/{id}/record` lists sessions, observations, episodes, measures and timeline notes,
newest first, filtered by kind and period, a page at a time. Each entry's detail shows who
recorded it and when, its history (old → new) and "Mark entered in error"; the correction
form is in record_corrections.py. Nothing is ever deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain import periods
from practice_dashboard.errors import Conflict, Invalid, NotFound
from practice_dashboard.models import RecordKind
from practice_dashboard.models.base import STATUS_REASON_MAX
from practice_dashboard.models.enums import RecordStatus
from practice_dashboard.routing import Router
from practice_dashboard.schemas.annotation import AnnotationUpdate
from practice_dashboard.schemas.episode import EpisodeUpdate
from practice_dashboard.schemas.measure import MeasureUpdate
from practice_dashboard.schemas.observation import ObservationUpdate
from practice_dashboard.schemas.session import SessionUpdate
from practice_dashboard.services import access
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import annotation as annotation_service
from practice_dashboard.services.records import episode as episode_service
from practice_dashboard.services.records import measure as measure_service
from practice_dashboard.services.records import observation as observation_service
from practice_dashboard.services.records import session as session_service
from practice_dashboard.services.records.record_list import EntryDetail, get_entry, list_record
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor
from practice_dashboard.web.record_words import (
    KIND_WORDS,
    KINDS_BY_PATH,
    PATHS,
    changes_text,
    detail_fields,
    label,
    summary,
    value_text,
)
from practice_dashboard.web.routes.log_forms.common import RawForm
from practice_dashboard.web.templating import templates

router = Router()
PAGE_SIZE = 50
UPDATES: dict[RecordKind, type[BaseModel]] = {
    RecordKind.SESSION: SessionUpdate,
    RecordKind.OBSERVATION: ObservationUpdate,
    RecordKind.EPISODE: EpisodeUpdate,
    RecordKind.MEASURE: MeasureUpdate,
    RecordKind.ANNOTATION: AnnotationUpdate,
}
TextParam = Annotated[str, Query(max_length=40)]


def client_uuid(client_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc


def record_kind(path: str) -> RecordKind:
    kind = KINDS_BY_PATH.get(path)
    if kind is None:
        raise NotFound("There is no such kind of entry")
    return kind


def record_uuid(record_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(record_id)
    except ValueError as exc:
        raise NotFound("Entry not found") from exc


def entry_path(client_id: uuid.UUID, kind: RecordKind, record_id: uuid.UUID) -> str:
    """Where an entry's detail is."""
    return f"/clients/{client_id}/record/{PATHS[kind]}/{record_id}"


# --------------------------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordFilter:
    kind: str
    start: str
    end: str
    page: int
    errors: dict[str, str]

    def query(self, **changes: Any) -> str:
        values = {"kind": self.kind, "start": self.start, "end": self.end, "page": self.page}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})

    @property
    def filtered(self) -> bool:
        return bool(self.kind or self.start or self.end)


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        errors[name] = "Enter a date like 2026-05-31."
        return None
    if not periods.plausible(day):  # year 1 east of UTC has no UTC midnight
        errors[name] = f"Enter a date between {periods.DAY_RANGE}."
        return None
    return day


def _bounds(
    start: str, end: str, tz: tzinfo, errors: dict[str, str]
) -> tuple[datetime | None, datetime | None]:
    """The period as UTC instants: from the start of `start` to the end of `end` (local days)."""
    first, last = _day(start, "start", errors), _day(end, "end", errors)
    if first and last and last < first:
        errors["end"] = "The end must not be before the start."
        return None, None
    lo = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC) if first else None
    hi = (
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        if last
        else None
    )
    return lo, hi


@router.get("/clients/{client_id}/record", name="client_record")
def record_page(
    client_id: str,
    context: PageContext,
    actor: WebActor,
    db: DbDep,
    kind: TextParam = "",
    start: TextParam = "",
    end: TextParam = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Every entry of the client's record, newest first, filtered by kind and period."""
    errors: dict[str, str] = {}
    kinds = list(RecordKind)
    if kind:
        if kind in KINDS_BY_PATH:
            kinds = [KINDS_BY_PATH[kind]]
        else:
            errors["kind"] = "Choose one of the kinds listed."
    tz = context["tz"]
    lo, hi = _bounds(start, end, tz, errors)
    result = list_record(
        db,
        client_id=client_uuid(client_id),
        actor=actor,
        kinds=kinds,
        start=lo,
        end=hi,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    vocabulary = context["vocabulary"]
    rows = [
        {
            "entry": e,
            "kind_word": KIND_WORDS[e.kind],
            "summary": summary(e.kind, e.record, vocabulary),
            "path": entry_path(result.client.id, e.kind, e.record.id),
            "in_error": e.record.status == RecordStatus.ENTERED_IN_ERROR,
            "archived": getattr(e.record, "archived_at", None) is not None,
        }
        for e in result.entries
    ]
    pages = max(1, -(-result.total // PAGE_SIZE))
    return templates.TemplateResponse(
        context["request"],
        "record.html",
        {
            **context,
            "nav": "caseload",
            "client": result.client,
            "can_write": access.can_write(actor.user, result.client),
            "rows": rows,
            "total": result.total,
            "pages": pages,
            "filter": RecordFilter(kind, start, end, result.offset // PAGE_SIZE + 1, errors),
            "kind_choices": [(PATHS[k], KIND_WORDS[k]) for k in RecordKind],
        },
        status_code=422 if errors else 200,
    )


# --------------------------------------------------------------------------------------------
# One entry
# --------------------------------------------------------------------------------------------


def _detail_context(detail: EntryDetail, context: Mapping[str, Any]) -> dict[str, Any]:
    tz, vocabulary = context["tz"], context["vocabulary"]
    entry = detail.entry
    record = entry.record
    fields = [
        (label(entry.kind, name), value_text(name, getattr(record, name), tz, vocabulary))
        for name in detail_fields(entry.kind, record)
    ]
    history = [
        {
            "revision": r,
            "who": detail.people.get(r.actor_id) if r.actor_id else None,
            "changes": changes_text(entry.kind, r.changes, tz, vocabulary),
        }
        for r in reversed(detail.history)  # newest first
    ]
    return {
        **context,
        "nav": "caseload",
        "client": detail.client,
        "entry": entry,
        "record": record,
        "kind_word": KIND_WORDS[entry.kind],
        "summary": summary(entry.kind, record, vocabulary),
        "fields": fields,
        "history": history,
        "can_write": detail.can_write,
        "in_error": record.status == RecordStatus.ENTERED_IN_ERROR,
        "entry_path": entry_path(detail.client.id, entry.kind, record.id),
        "record_path": f"/clients/{detail.client.id}/record",
        "reason_max": STATUS_REASON_MAX,
    }


@router.get("/clients/{client_id}/record/{kind}/{record_id}", name="record_entry")
def entry_page(
    client_id: str,
    kind: str,
    record_id: str,
    context: PageContext,
    actor: WebActor,
    db: DbDep,
    saved: TextParam = "",
) -> Response:
    """One entry: its values, who recorded it and when, its history, and how to correct it."""
    detail = get_entry(
        db,
        client_id=client_uuid(client_id),
        kind=record_kind(kind),
        record_id=record_uuid(record_id),
        actor=actor,
    )
    page = _detail_context(detail, context)
    page["saved"] = saved
    return templates.TemplateResponse(context["request"], "record_entry.html", page)


@router.post("/clients/{client_id}/record/{kind}/{record_id}/entered-in-error")
def mark_entered_in_error(
    client_id: str,
    kind: str,
    record_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Mark the entry entered in error with a reason: it leaves every figure, and stays here."""
    chosen, cid, rid = record_kind(kind), client_uuid(client_id), record_uuid(record_id)
    detail = get_entry(db, client_id=cid, kind=chosen, record_id=rid, actor=actor)
    access.require_write(login.user, detail.client)
    errors: dict[str, str] = {}
    reason = raw.get("status_reason", "")
    version = form_version(raw, errors)
    if not errors:
        payload = {"status": "entered_in_error", "status_reason": reason, "version": version}
        try:
            data = UPDATES[chosen].model_validate(payload)
            update_record(db, chosen, rid, data, actor)
        except Conflict:
            errors["status_reason"] = (
                "Someone changed this entry after you opened it; nothing was marked. "
                "Check the values below, then mark it again."
            )
        except Invalid as exc:
            for problem in exc.problems:
                errors[str(problem["loc"][-1])] = str(problem["msg"])
        except ValueError as exc:  # the reason's own rules (length, NUL)
            errors["status_reason"] = _reason_message(exc)
    if not errors:
        return RedirectResponse(f"{entry_path(cid, chosen, rid)}?saved=error", 303)
    db.rollback()
    detail = get_entry(db, client_id=cid, kind=chosen, record_id=rid, actor=actor)
    page = _detail_context(detail, context)
    page.update(reason_errors=errors, reason_value=reason)
    return templates.TemplateResponse(
        context["request"], "record_entry.html", page, status_code=422
    )


def _reason_message(exc: ValueError) -> str:
    text = str(exc)
    if "at most" in text or "too_long" in text:
        return f"Keep the reason to {STATUS_REASON_MAX} characters or fewer."
    if "NUL" in text:
        return "The reason contains a character that cannot be stored (NUL); remove it."
    return "A reason is needed: say briefly why this entry is in error (e.g. the wrong client)."


def form_version(raw: Mapping[str, str], errors: dict[str, str]) -> int:
    text = raw.get("version", "").strip()
    if not text.isdigit():
        errors["version"] = "This form was missing the version it was drawn from; reload it."
        return 0
    return int(text)


def update_record(
    db: DbDep, kind: RecordKind, record_id: uuid.UUID, data: BaseModel, actor: Actor
) -> object:
    if kind == RecordKind.SESSION:
        assert isinstance(data, SessionUpdate)
        return session_service.update_session(db, session_id=record_id, data=data, actor=actor)
    if kind == RecordKind.OBSERVATION:
        assert isinstance(data, ObservationUpdate)
        return observation_service.update_observation(
            db, observation_id=record_id, data=data, actor=actor
        )
    if kind == RecordKind.EPISODE:
        assert isinstance(data, EpisodeUpdate)
        return episode_service.update_episode(db, episode_id=record_id, data=data, actor=actor)
    if kind == RecordKind.MEASURE:
        assert isinstance(data, MeasureUpdate)
        return measure_service.update_measure(db, measure_id=record_id, data=data, actor=actor)
    assert isinstance(data, AnnotationUpdate)
    return annotation_service.update_annotation(db, annotation_id=record_id, data=data, actor=actor)


def saved_entry(
    db: DbDep, actor: Actor, client_id: uuid.UUID, saved: str | None, vocabulary: str
) -> dict[str, Any] | None:
    """What a logging form just saved (`saved` = "observations/<id>"), for the confirmation."""
    path, _, text = (saved or "").partition("/")
    kind = KINDS_BY_PATH.get(path)
    try:
        record_id = uuid.UUID(text)
    except ValueError:
        return None
    if kind is None:
        return None
    try:
        detail = get_entry(db, client_id=client_id, kind=kind, record_id=record_id, actor=actor)
    except NotFound:
        return None
    entry = detail.entry
    return {
        "kind_word": KIND_WORDS[kind],
        "summary": summary(kind, entry.record, vocabulary),
        "at": entry.at,
        "path": entry_path(client_id, kind, record_id),
        "can_correct": detail.can_write and entry.record.status == RecordStatus.RECORDED,
    }
