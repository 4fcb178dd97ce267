"""Record a measure: an instrument answered item by item (or the total of ORS / SRS).

The server scores it; unanswered items that leave no valid score are named, and can be saved
deliberately ("Save with unanswered items") to keep the answers without a score.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.instruments import INSTRUMENTS, Instrument
from practice_dashboard.errors import NotFound
from practice_dashboard.models import Client
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Source
from practice_dashboard.routing import Router
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.services.records import measure as measure_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import (
    FieldSpec,
    FormState,
    local_input_values,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.registry import (
    ALLOW_INCOMPLETE,
    LOG_FORMS,
    measure_fields,
)
from practice_dashboard.web.routes.log_forms.common import (
    Build,
    Create,
    RawForm,
    back_to_client,
    form_path,
    fresh,
    render,
    submit,
    writable_client,
)

router = Router()
FORM = LOG_FORMS["measures"]
NOT_ANSWERED = "Not answered."


def item_groups(
    instrument: Instrument, specs: tuple[FieldSpec, ...]
) -> list[tuple[str, list[FieldSpec]]]:
    """The item inputs in groups: one per scale (CBI), else one for the whole instrument."""
    by_name = {s.name: s for s in specs}
    if instrument.subscales and instrument.scoring == "scale_means":
        return [
            (sub.name, [by_name[f"item_{n}"] for n in sub.items]) for sub in instrument.subscales
        ]
    return [("", [by_name[f"item_{n}"] for n in range(1, instrument.item_count + 1)])]


def incomplete_problems(instrument: Instrument, items: list[int | None]) -> dict[str, str]:
    """Unanswered items that leave no valid score, each named, plus one explanation."""
    name = instrument.short_name
    missing = [n for n, v in enumerate(items, start=1) if v is None]
    if not missing:
        return {}
    problems: dict[str, str] = {}
    if instrument.scoring == "scale_means":
        short: list[str] = []
        for sub in instrument.subscales:
            answered = sum(1 for n in sub.items if items[n - 1] is not None)
            if 0 < answered < sub.min_answered:
                short.append(
                    f"{sub.name} needs at least {sub.min_answered} of its {len(sub.items)}"
                )
                for n in sub.items:
                    if items[n - 1] is None:
                        problems[f"item_{n}"] = NOT_ANSWERED
        if not short:
            return {}
        explanation = "; ".join(short) + " answers for a score."
    else:
        if len(missing) <= instrument.max_missing_items:
            return {}  # the scorer prorates
        allowed = (
            f"{name} can be scored with at most {instrument.max_missing_items} unanswered"
            if instrument.max_missing_items
            else f"{name} needs every item answered for a total"
        )
        explanation = f"{len(missing)} of {instrument.item_count} items are unanswered; {allowed}."
        for n in missing:
            problems[f"item_{n}"] = NOT_ANSWERED
    problems["items"] = (
        f"{explanation} Answer them, or tick “Save with unanswered items” to keep the answers "
        "without a score."
    )
    return problems


def read_items(
    instrument: Instrument, raw: Mapping[str, str], allow_incomplete: bool, errors: dict[str, str]
) -> list[int | None] | None:
    """The answers typed item by item (None for a total-only instrument); problems to `errors`."""
    if instrument.total_only:
        return None
    items: list[int | None] = []
    for n in range(1, instrument.item_count + 1):
        text = raw.get(f"item_{n}", "").strip()
        if not text:
            items.append(None)
        elif text.lstrip("-").isdigit() and len(text) < 4:
            items.append(int(text))  # the range is the registry's check (service)
        else:
            errors[f"item_{n}"] = "Please choose one of the options."
            items.append(None)
    if all(v is None for v in items) and not any(k.startswith("item_") for k in errors):
        errors["items"] = "No item is answered yet."
    elif not allow_incomplete:
        for key, message in incomplete_problems(instrument, items).items():
            errors.setdefault(key, message)
    return items


def _measure_build(
    instrument: Instrument,
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    call: Callable[[MeasureCreate, uuid.UUID], object],
) -> Build:
    plain = tuple(s for s in specs if not s.name.startswith("item_"))

    def build(errors: dict[str, str]) -> Create | None:
        values, problems = parse_fields(plain, raw, tz)
        errors.update(problems)
        items = read_items(instrument, raw, bool(values.get(ALLOW_INCOMPLETE)), errors)
        payload = {
            **{k: v for k, v in values.items() if k in ("administered_at", "source", "total")},
            "instrument": instrument.code,
            "items": items,
        }
        data = validate(
            MeasureCreate,
            payload,
            (
                *specs,
                FieldSpec("instrument", "Instrument", "text"),
                FieldSpec("items", "Answers", "text"),
            ),
            errors,
        )
        if data is None:
            return None
        return lambda record_id: call(data, record_id)

    return build


def _instrument(code: str) -> Instrument:
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        raise NotFound("There is no instrument with that code")
    return instrument


def _measure_page(
    context: dict[str, Any],
    client: Client,
    instrument: Instrument,
    form: FormState,
    status_code: int = 200,
) -> Response:
    return render(
        context,
        FORM,
        client=client,
        form=form,
        action=f"{form_path(client, FORM)}?instrument={instrument.code}",
        status_code=status_code,
        instrument=instrument,
        instrument_name=instrument.short_name,
        instruments=[(code, i.short_name) for code, i in INSTRUMENTS.items()],
        groups=item_groups(instrument, form.specs) if not instrument.total_only else [],
        notes=measure_notes(instrument),
    )


InstrumentQuery = Annotated[str, Query(max_length=40)]


def _items_anchor(form: FormState, instrument: Instrument) -> None:
    """Link the general answers message to the first item that needs attention."""
    if instrument.total_only:
        return
    flagged = [n for n in range(1, instrument.item_count + 1) if f"item_{n}" in form.errors]
    first = flagged[0] if flagged else 1
    form.anchors = {"items": (f"f-item_{first}-0", "Answers")}
    if "items" in form.errors:
        # One summary line explains the unanswered items; each is still marked where it is.
        form.quiet = frozenset(
            name for name, message in form.errors.items() if message == NOT_ANSWERED
        )


def measure_notes(instrument: Instrument) -> list[str]:
    """How unanswered items are treated, in words, from the registry's rules."""
    notes = []
    if instrument.item_text is None:
        notes.append(
            "Item wording is not shown here (its licence is not confirmed); enter the answers "
            "in the order of the paper form."
        )
    if instrument.scoring == "sum":
        if instrument.max_missing_items:
            notes.append(
                f"Up to {instrument.max_missing_items} unanswered items are prorated; "
                "with more, no total can be scored."
            )
        else:
            notes.append("Every item is needed for a total.")
    elif instrument.scoring == "scale_means":
        notes.append(
            "Each scale is scored from at least half of its items; leave a whole scale empty "
            "if it does not apply."
        )
    if instrument.safety_item is not None:
        notes.append(
            f"An answer above 0 to item {instrument.safety_item} raises the safety flag, "
            "whatever the total."
        )
    return notes


@router.get("/clients/{client_id}/measures/new", name="log_measure_form")
def new_measure(
    client_id: str,
    context: PageContext,
    login: WebLogin,
    db: DbDep,
    instrument: InstrumentQuery = "phq9",
) -> Response:
    """The form for recording a measure, item by item (or a total for ORS/SRS)."""
    client = writable_client(db, login.user, client_id)
    chosen = _instrument(instrument)
    defaults = {
        **local_input_values("administered_at", utcnow(), context["tz"]),
        "source": Source.CLIENT.value,
    }
    return _measure_page(context, client, chosen, fresh(measure_fields(chosen), defaults))


@router.post("/clients/{client_id}/measures/new")
def save_measure(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
    instrument: InstrumentQuery = "phq9",
) -> Response:
    """Record a measure (scored by the server); 422 with per-item messages, or back."""
    client = writable_client(db, login.user, client_id)
    chosen = _instrument(raw.get("instrument") or instrument)
    specs = measure_fields(chosen)

    def create(data: MeasureCreate, record_id: uuid.UUID) -> object:
        return measure_service.create_measure(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=FORM.model,
        build=_measure_build(chosen, specs, raw, context["tz"], create),
        tz=context["tz"],
    )
    if form is None:
        return back_to_client(client, FORM, raw)
    _items_anchor(form, chosen)
    return _measure_page(context, client, chosen, form, status_code=422)
