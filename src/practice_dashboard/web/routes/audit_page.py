"""The audit log page: who read or changed what, filtered, paged, downloadable as CSV.

Everyone logged in may open it and sees what services.audit_log lets them see: admins every
event (ids only, no client names), practitioners their own clients' events and their own
actions. Reading the page and downloading the CSV are audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from practice_dashboard.db import SessionFactory
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.periods import OUT_OF_RANGE, plausible
from practice_dashboard.errors import Invalid
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.routing import Router
from practice_dashboard.services.accounts import mfa
from practice_dashboard.services.reports import audit_log
from practice_dashboard.services.reports.audit_log import AuditFilters
from practice_dashboard.web.deps import PageContext, WebActor
from practice_dashboard.web.templating import templates

router = Router()

PAGE_SIZE: Final = 50
MAX_PAGE: Final = 100_000
MAX_WORD: Final = 40
# Suggestions for the free-text filters (what services record today); any value may be typed.
ENTITIES: Final = (
    "annotation",
    "audit_event",
    "caseload",
    "client",
    "episode",
    "flag",
    "measure",
    "metrics",
    "observation",
    "self_check",
    "session",
    "supervision",
    "user",
)
ACTIONS: Final = (
    "acknowledge",
    "archive",
    "create",
    "delete",
    "export",
    "list",
    "login",
    "login_failed",
    *mfa.AUDIT_ACTIONS,
    "read",
    "restore",
    "unacknowledge",
    "update",
)


@dataclass
class PageFilters:
    """The filter form as typed (strings), its problems, and the service filters it gives."""

    actor: str = ""
    client: str = ""
    entity: str = ""
    action: str = ""
    start: str = ""
    end: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)
    parsed: AuditFilters = field(default_factory=AuditFilters)

    @property
    def filtered(self) -> bool:
        return any((self.actor, self.client, self.entity, self.action, self.start, self.end))

    def query(self, **changes: Any) -> str:
        """This page's query string with `changes` (empty values left out)."""
        values: dict[str, Any] = {
            "actor": self.actor,
            "client": self.client,
            "entity": self.entity,
            "action": self.action,
            "start": self.start,
            "end": self.end,
            "page": self.page,
        }
        values.update(changes)
        if values.get("page") == 1:
            values.pop("page")
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _uuid(value: str, name: str, errors: dict[str, str]) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        errors[name] = "Choose from the list, or paste a full id."
        return None


def _day(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = "Enter a date like 2026-03-01."
        return None
    if not plausible(day):  # 9999-12-31 has no next day to end the range at
        errors[name] = OUT_OF_RANGE.capitalize() + "."
        return None
    return day


def _word(value: str, name: str, errors: dict[str, str]) -> str | None:
    if len(value) > MAX_WORD:
        errors[name] = f"Use at most {MAX_WORD} characters."
        return None
    return value or None


def parse_filters(request: Request, tz: Any) -> PageFilters:
    """Read the form from the query string; days are whole days in the practice's zone."""
    params = request.query_params

    def typed(name: str) -> str:
        return params.get(name, "").strip()

    form = PageFilters(
        actor=typed("actor"),
        client=typed("client"),
        entity=typed("entity"),
        action=typed("action"),
        start=typed("start"),
        end=typed("end"),
    )
    try:
        form.page = min(max(int(params.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        form.page = 1
    errors = form.errors
    first_day = _day(form.start, "start", errors)
    last_day = _day(form.end, "end", errors)
    start = datetime.combine(first_day, time(0), tzinfo=tz) if first_day else None
    # The "to" day is included: the range ends at the start of the next day.
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz) if last_day else None
    if start is not None and end is not None and end <= start:
        errors["end"] = "The last day must not be before the first day."
    form.parsed = AuditFilters(
        actor_id=_uuid(form.actor, "actor", errors),
        client_id=_uuid(form.client, "client", errors),
        entity=_word(form.entity, "entity", errors),
        action=_word(form.action, "action", errors),
        start=start,
        end=end,
    )
    return form


@router.get("/audit", name="audit_log")
def audit_page(
    context: PageContext, actor: WebActor, db: DbDep, settings: SettingsDep, request: Request
) -> Response:
    user = actor.user
    form = parse_filters(request, settings.timezone)
    rows: list[audit_log.AuditRow] = []
    total = 0
    if not form.errors:
        offset = (form.page - 1) * PAGE_SIZE
        rows, total = audit_log.list_events(
            db, actor=actor, filters=form.parsed, limit=PAGE_SIZE, offset=offset
        )
    clients = audit_log.client_choices(db, user)
    pages = max(1, -(-total // PAGE_SIZE))
    first = (form.page - 1) * PAGE_SIZE + 1 if rows else 0
    return templates.TemplateResponse(
        request,
        "audit.html",
        {
            **context,
            "nav": "audit",
            "form": form,
            "rows": rows,
            "total": total,
            "first": first,
            "last": first + len(rows) - 1 if rows else 0,
            "pages": pages,
            "is_admin": user.role == Role.ADMIN,
            "actors": audit_log.actor_choices(db, user),
            "clients": clients,
            "client_names": {c.id: c.display_name for c in clients},
            "entities": ENTITIES,
            "actions": ACTIONS,
            "csv_url": "/audit/export.csv" + (f"?{form.query(page=1)}" if form.filtered else ""),
            "withheld": audit_log.WITHHELD,
        },
        status_code=422 if form.errors else 200,
    )


@router.get("/audit/export.csv", name="audit_log_csv")
def audit_csv(actor: WebActor, db: DbDep, settings: SettingsDep, request: Request) -> Response:
    """The filtered events as CSV (all pages), streamed; the download is audited."""
    form = parse_filters(request, settings.timezone)
    if form.errors:
        raise Invalid(
            [((name,), message) for name, message in form.errors.items()], location="query"
        )
    audit_log.record_export(db, actor=actor, filters=form.parsed)
    factory: SessionFactory = request.app.state.session_factory
    rows = audit_log.export_rows(factory, user=actor.user, filters=form.parsed)
    return StreamingResponse(
        audit_log.csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": audit_log.attachment(utcnow())},
    )
