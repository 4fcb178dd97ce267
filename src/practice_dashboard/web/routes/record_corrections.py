"""Correcting an entry: its logging form in edit mode, drawn with the `version` it shows.

A correction based on an older version saves nothing: the form comes back with what is
stored now next to what was typed, keeping the typed values, so the practitioner chooses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from fastapi.responses import RedirectResponse, Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.instruments import INSTRUMENTS, Instrument
from practice_dashboard.errors import Conflict, Invalid, NotFound
from practice_dashboard.models import RecordKind
from practice_dashboard.models.enums import RecordStatus
from practice_dashboard.routing import Router
from practice_dashboard.services import access
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records.record_list import EntryDetail, get_entry
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor
from practice_dashboard.web.forms import (
    FieldSpec,
    FormState,
    local_input_values,
    messages_from_invalid,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.parsing import TRUE_WORDS
from practice_dashboard.web.forms.registry import (
    ALLOW_INCOMPLETE,
    LOG_FORMS,
    annotation_fields,
    episode_fields,
    measure_fields,
    observation_fields,
    session_fields,
)
from practice_dashboard.web.record_words import KIND_WORDS
from practice_dashboard.web.routes.log_forms.common import RawForm
from practice_dashboard.web.routes.log_forms.episode import read_after_onset
from practice_dashboard.web.routes.log_forms.measure import item_groups, measure_notes, read_items
from practice_dashboard.web.routes.record_pages import (
    UPDATES,
    client_uuid,
    entry_path,
    form_version,
    record_kind,
    record_uuid,
    update_record,
)
from practice_dashboard.web.templating import templates

router = Router()
_FORMS = {RecordKind(kind.removesuffix("s")): form for kind, form in LOG_FORMS.items()}


def _specs(kind: RecordKind, record: Any, vocabulary: str) -> tuple[FieldSpec, ...]:
    if kind == RecordKind.SESSION:
        return session_fields()
    if kind == RecordKind.OBSERVATION:
        return observation_fields(vocabulary, ())
    if kind == RecordKind.EPISODE:
        return episode_fields(())
    if kind == RecordKind.MEASURE:
        return measure_fields(_instrument_of(record))
    return annotation_fields()


def _instrument_of(record: Any) -> Instrument:
    instrument = INSTRUMENTS.get(record.instrument)
    if instrument is None:
        raise NotFound("This measure's instrument is no longer in the registry")
    return instrument


def stored_values(specs: tuple[FieldSpec, ...], record: Any, tz: tzinfo) -> dict[str, str]:
    """The record's values as the form's inputs show them."""
    values: dict[str, str] = {}
    items = getattr(record, "items", None) or []
    for spec in specs:
        name = spec.name
        if name.startswith("item_"):
            n = int(name.removeprefix("item_"))
            answer = items[n - 1] if n <= len(items) else None
            values[name] = "" if answer is None else str(answer)
            continue
        if name == ALLOW_INCOMPLETE:
            values[name] = "on" if items and getattr(record, "total", None) is None else ""
            continue
        value = getattr(record, name, None)
        if spec.kind == "datetime":
            if value is not None:
                values.update(local_input_values(name, value, tz))
        elif spec.kind == "bool":
            values[name] = "on" if value else ""
        elif spec.kind == "list":
            values[name] = ", ".join(value or [])
        elif value is None:
            values[name] = ""
        elif spec.kind == "float" and isinstance(value, float) and value.is_integer():
            values[name] = str(int(value))
        else:
            values[name] = str(getattr(value, "value", value))
    return values


def _edit_page(
    context: Mapping[str, Any],
    detail: EntryDetail,
    form: FormState,
    version: int,
    *,
    conflict: list[tuple[str, str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    entry = detail.entry
    log_form = _FORMS[entry.kind]
    path = entry_path(detail.client.id, entry.kind, entry.record.id)
    extra: dict[str, Any] = {}
    if entry.kind == RecordKind.MEASURE:
        instrument = _instrument_of(entry.record)
        extra = {
            "instrument": instrument,
            "instrument_name": instrument.short_name,
            "instruments": [],
            "groups": item_groups(instrument, form.specs) if not instrument.total_only else [],
            "notes": measure_notes(instrument),
        }
    tz = context["tz"]
    return templates.TemplateResponse(
        context["request"],
        log_form.template,
        {
            **context,
            "nav": "caseload",
            "client": detail.client,
            "form": form,
            "action": f"{path}/edit",
            "tz_name": getattr(tz, "key", str(tz)),
            "editing": {
                "kind_word": KIND_WORDS[entry.kind].lower(),
                "version": version,
                "cancel": path,
                "conflict": conflict,
            },
            **extra,
        },
        status_code=status_code,
    )


def _writable_entry(
    db: DbDep, actor: Actor, client_id: str, kind: str, record_id: str
) -> EntryDetail:
    detail = get_entry(
        db,
        client_id=client_uuid(client_id),
        kind=record_kind(kind),
        record_id=record_uuid(record_id),
        actor=actor,
    )
    access.require_write(actor.user, detail.client)
    if detail.entry.record.status == RecordStatus.ENTERED_IN_ERROR:
        raise Invalid([(("status",), "this entry was marked entered in error; it stays as it is")])
    return detail


@router.get("/clients/{client_id}/record/{kind}/{record_id}/edit", name="correct_entry_form")
def edit_page(
    client_id: str,
    kind: str,
    record_id: str,
    context: PageContext,
    actor: WebActor,
    db: DbDep,
) -> Response:
    """The entry's logging form, filled with its values, to correct it."""
    detail = _writable_entry(db, actor, client_id, kind, record_id)
    record = detail.entry.record
    specs = _specs(detail.entry.kind, record, context["vocabulary"])
    form = FormState(specs=specs, values=stored_values(specs, record, context["tz"]), form_id="")
    return _edit_page(context, detail, form, record.version)


@router.post("/clients/{client_id}/record/{kind}/{record_id}/edit")
def save_correction(
    client_id: str,
    kind: str,
    record_id: str,
    context: PageContext,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Save a correction; a stale version saves nothing and shows both values."""
    detail = _writable_entry(db, actor, client_id, kind, record_id)
    entry, tz = detail.entry, context["tz"]
    record = entry.record
    specs = _specs(entry.kind, record, context["vocabulary"])
    errors: dict[str, str] = {}
    version = form_version(raw, errors)
    values, problems = parse_fields(
        [s for s in specs if s.in_schema and not s.name.startswith("item_")], raw, tz
    )
    errors.update(problems)
    if entry.kind == RecordKind.EPISODE:  # times typed as minutes after onset, too
        read_after_onset(specs, raw, tz, values, errors)
    # A blank optional field clears the stored value (the form shows every field).
    for spec in specs:
        if spec.in_schema and spec.name not in values and spec.name not in errors:
            values[spec.name] = None
    if entry.kind == RecordKind.MEASURE:
        instrument = _instrument_of(record)
        allow = raw.get(ALLOW_INCOMPLETE, "").strip().lower() in TRUE_WORDS
        items = read_items(instrument, raw, allow, errors)
        if items is not None:
            values["items"] = items
        specs_for_schema: tuple[FieldSpec, ...] = (
            *specs,
            FieldSpec("items", "Answers", "text"),
        )
    else:
        specs_for_schema = specs
    values["version"] = version
    schema = UPDATES[entry.kind]
    data = validate(
        schema, values, (*specs_for_schema, FieldSpec("version", "Version", "int")), errors
    )
    form = FormState(specs=specs, values=dict(raw), form_id="", errors=errors)
    if data is None or errors:
        return _edit_page(context, detail, form, version or record.version, status_code=422)
    try:
        update_record(db, entry.kind, record.id, data, actor)
    except Conflict:
        db.rollback()
        detail = get_entry(
            db, client_id=detail.client.id, kind=entry.kind, record_id=record.id, actor=actor
        )
        current = detail.entry.record
        mine = dict(raw)
        conflict = _differences(specs, current, mine, tz)
        form = FormState(specs=specs, values=mine, form_id="")
        return _edit_page(
            context, detail, form, current.version, conflict=conflict, status_code=409
        )
    except Invalid as exc:
        db.rollback()
        form.errors.update(messages_from_invalid(exc, specs))
        return _edit_page(context, detail, form, version, status_code=422)
    path = entry_path(detail.client.id, entry.kind, record.id)
    return RedirectResponse(f"{path}?saved=correction", status_code=303)


def _differences(
    specs: tuple[FieldSpec, ...], current: Any, typed: Mapping[str, str], tz: tzinfo
) -> list[tuple[str, str, str]]:
    """(label, stored now, what you typed) for every field where the two differ, as typed."""
    stored = stored_values(specs, current, tz)
    rows = []
    for spec in specs:
        names = (spec.date_name, spec.time_name) if spec.kind == "datetime" else (spec.name,)
        now_text = " ".join(stored.get(n, "") for n in names).strip()
        typed_text = " ".join(typed.get(n, "").strip() for n in names).strip()
        if spec.kind == "bool":
            now_text = "yes" if stored.get(spec.name) else "no"
            typed_text = "yes" if typed.get(spec.name) else "no"
        if now_text != typed_text:
            rows.append((spec.label, now_text or "—", typed_text or "—"))
    return rows
