"""The practitioner's own self-check: the Copenhagen Burnout Inventory as a form, and its history.

The answers are scored by the registry (domain/instruments.py, Kristensen et al. 2005) through
the same service as the API's `/me/self-checks`; the latest work-related score feeds the
`practitioner_load` flag on the caseload and supervision pages.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import Depends, Query
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.instruments import CBI
from practice_dashboard.errors import Conflict, Forbidden, Invalid
from practice_dashboard.models import SelfCheck
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import Role
from practice_dashboard.routing import Router
from practice_dashboard.schemas.self_check import SelfCheckCreate
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import self_check as self_check_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor
from practice_dashboard.web.forms import FieldSpec, FormState, messages_from_invalid
from practice_dashboard.web.forms.registry import measure_fields
from practice_dashboard.web.routes.log_forms.common import RawForm
from practice_dashboard.web.routes.log_forms.measure import (
    NOT_ANSWERED,
    incomplete_problems,
    item_groups,
    measure_notes,
)
from practice_dashboard.web.templating import templates

router = Router()

PAGE_PATH: Final = "/self-check"
HISTORY_PAGE_SIZE: Final = 20
#: The item inputs of the registry's CBI form, without the measure form's time and source.
ITEM_SPECS: Final[tuple[FieldSpec, ...]] = tuple(
    s for s in measure_fields(CBI) if s.name.startswith("item_")
)
_CUTOFF: Final = CBI.clinical_cutoff


async def require_practitioner(actor: WebActor) -> Actor:
    if actor.user.role == Role.ADMIN:
        raise Forbidden("Self-checks are for practitioners; admin accounts have none")
    return actor


PractitionerActor = Annotated[Actor, Depends(require_practitioner)]


@dataclass(frozen=True, slots=True)
class ScaleScore:
    name: str
    value: float | None

    @property
    def high(self) -> bool:
        return self.value is not None and _CUTOFF is not None and _CUTOFF.met(self.value)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: uuid.UUID
    administered_at: datetime
    scales: list[ScaleScore]


def _scales(check: SelfCheck) -> list[ScaleScore]:
    scores = check.subscales or {}
    return [ScaleScore(sub.name, scores.get(sub.code)) for sub in CBI.subscales]


def _page(
    context: dict[str, Any],
    db: DbDep,
    actor: Actor,
    form: FormState,
    *,
    page: int = 1,
    saved: SelfCheck | None = None,
    status_code: int = 200,
) -> Response:
    checks, total = self_check_service.list_self_checks(
        db, actor=actor, limit=HISTORY_PAGE_SIZE, offset=(page - 1) * HISTORY_PAGE_SIZE
    )
    return templates.TemplateResponse(
        context["request"],
        "self_check.html",
        {
            **context,
            "nav": "self_check",
            "instrument": CBI,
            "cutoff": _CUTOFF,
            "form": form,
            "groups": item_groups(CBI, form.specs),
            "notes": measure_notes(CBI),
            "action": PAGE_PATH,
            "saved": HistoryRow(saved.id, saved.administered_at, _scales(saved)) if saved else None,
            "history": [HistoryRow(c.id, c.administered_at, _scales(c)) for c in checks],
            "history_total": total,
            "page": page,
            "pages": max(1, -(-total // HISTORY_PAGE_SIZE)),
        },
        status_code=status_code,
    )


def _fresh() -> FormState:
    return FormState(specs=ITEM_SPECS, values={}, form_id=str(uuid7()))


@router.get(PAGE_PATH, name="self_check_page")
def self_check_page(
    context: PageContext,
    actor: PractitionerActor,
    db: DbDep,
    saved: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The self-check form and the caller's own history of self-checks, newest first."""
    saved_check = None
    if saved:
        try:
            saved_check = self_check_service.own_self_check(
                db, actor=actor, record_id=uuid.UUID(saved)
            )
        except ValueError:
            saved_check = None
    return _page(context, db, actor, _fresh(), page=page, saved=saved_check)


def _items(raw: Mapping[str, str], errors: dict[str, str]) -> list[int | None]:
    items: list[int | None] = []
    for n in range(1, CBI.item_count + 1):
        text = raw.get(f"item_{n}", "").strip()
        if not text:
            items.append(None)
        elif text.isdigit() and len(text) < 4:
            items.append(int(text))  # the range is the registry's check (service)
        else:
            errors[f"item_{n}"] = "Please choose one of the options."
            items.append(None)
    if all(v is None for v in items) and not errors:
        errors["items"] = "No item is answered yet."
    else:
        for key, message in incomplete_problems(CBI, items).items():
            if key == "items":
                # The self-check keeps no unscored answers: it exists to give a score.
                message = message.split(" Answer them")[0] + " Answer them to get a score."
            errors.setdefault(key, message)
    return items


def _form_id(raw: Mapping[str, str]) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw.get("form_id", "").strip())
    except ValueError:
        return None


@router.post(PAGE_PATH, name="save_self_check")
def save_self_check(
    context: PageContext, _login: CsrfLogin, actor: PractitionerActor, db: DbDep, raw: RawForm
) -> Response:
    """Score and save a self-check: back to the page with what was saved, or 422 by the item."""
    errors: dict[str, str] = {}
    record_id = _form_id(raw)
    if record_id is None:
        errors["form_id"] = (
            "This form was missing its one-time id (it may be out of date); "
            "check the answers and save again."
        )
    elif (stored := db.get(SelfCheck, record_id)) is not None:
        if stored.practitioner_id != actor.user.id:
            raise Conflict("This form was already used; open a new one and try again")
        # A repeated submit of a form that was saved: saved once, shown as saved.
        return RedirectResponse(f"{PAGE_PATH}?saved={record_id}", status_code=303)
    items = _items(raw, errors)
    if not errors and record_id is not None:
        data = SelfCheckCreate(instrument=CBI.code, administered_at=utcnow(), items=items)
        try:
            check = self_check_service.create_self_check(
                db, data=data, actor=actor, record_id=record_id
            )
        except Invalid as exc:
            errors.update(messages_from_invalid(exc, ITEM_SPECS))
        else:
            return RedirectResponse(f"{PAGE_PATH}?saved={check.id}", status_code=303)
    form = FormState(
        specs=ITEM_SPECS,
        values={k: v for k, v in raw.items() if k.startswith("item_")},
        form_id=str(record_id or uuid7()),
        errors=errors,
        anchors={
            "items": (_first_anchor(errors), "Answers"),
            "form_id": ("f-item_1-0", "Answers"),
        },
        quiet=frozenset(k for k, m in errors.items() if m == NOT_ANSWERED),
    )
    return _page(context, db, actor, form, status_code=422)


def _first_anchor(errors: Mapping[str, str]) -> str:
    flagged = [n for n in range(1, CBI.item_count + 1) if f"item_{n}" in errors]
    return f"f-item_{flagged[0] if flagged else 1}-0"
