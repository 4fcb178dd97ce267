"""Drawing and saving the record forms (client, status, booking, session edit) with versions.

A stale `version` saves nothing: the same page comes back (409) with both values of every field
that differs, as web/forms/versions.py describes, and the user's choice is posted again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any, TypeVar

from fastapi.responses import Response
from pydantic import BaseModel

from practice_dashboard.db import DbSession
from practice_dashboard.errors import Invalid
from practice_dashboard.web.forms import (
    FieldSpec,
    FormState,
    messages_from_invalid,
    parse_fields,
    validate,
)
from practice_dashboard.web.forms.versions import (
    CONFLICTS,
    ConflictRow,
    conflicts,
    originals,
    record_values,
    resolve,
)
from practice_dashboard.web.templating import templates

M = TypeVar("M", bound=BaseModel)
VERSION = "version"


def render_form(
    context: dict[str, Any],
    *,
    heading: str,
    form: FormState,
    action: str,
    submit_label: str,
    cancel_url: str,
    hidden: Mapping[str, str] | None = None,
    conflict: list[ConflictRow] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """A record form's page (200 fresh, 422 with messages, 409 with a conflict to resolve)."""
    rows = conflict or []
    hidden_values = dict(hidden or {})
    hidden_fields = set()
    for row in rows:
        # A field in conflict is chosen in the conflict view; your value travels hidden.
        hidden_fields.add(row.name)
        names = (
            (row.spec.date_name, row.spec.time_name) if row.spec.kind == "datetime" else (row.name,)
        )
        for name in names:
            hidden_values[name] = form.value(name)
    return templates.TemplateResponse(
        context["request"],
        "record_form.html",
        {
            **context,
            "nav": extra.pop("nav", "caseload"),
            "heading": heading,
            "form": form,
            "action": action,
            "submit_label": submit_label,
            "cancel_url": cancel_url,
            "hidden": hidden_values,
            "hidden_fields": hidden_fields,
            "conflict": rows,
            **extra,
        },
        status_code=status_code,
    )


def edit_values(
    specs: tuple[FieldSpec, ...], record: Any, tz: tzinfo
) -> tuple[dict[str, str], dict[str, str]]:
    """(the form's values, the hidden fields: version and the values as drawn)."""
    values = record_values(specs, record, tz)
    return values, {VERSION: str(record.version), **originals(values)}


def read_update(
    schema: type[M],
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    errors: dict[str, str],
    *,
    version: int,
) -> M | None:
    """An update schema from the posted fields; a blank optional field clears the value."""
    values, problems = parse_fields(specs, raw, tz)
    errors.update(problems)
    payload: dict[str, Any] = {s.name: values.get(s.name) for s in specs if s.name not in errors}
    payload[VERSION] = version
    version_spec = FieldSpec(VERSION, "Version", "int")
    return validate(schema, payload, (*specs, version_spec), errors)


def posted_version(raw: Mapping[str, str]) -> int | None:
    """The version the form was drawn with, or None when it is missing or not a number."""
    text = raw.get(VERSION, "").strip()
    return int(text) if text.isdigit() else None


def save_edit(
    db: DbSession,
    *,
    record: Any,
    schema: type[M],
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    save: Callable[[M], object],
    named: tuple[FieldSpec, ...] = (),
) -> tuple[FormState, list[ConflictRow], dict[str, str]] | None:
    """Save an edit form. None when saved; else (the form, the conflict rows, hidden fields).

    A stale version saves nothing and returns the conflict rows; a resolved conflict is read
    with the choices made, then saved against the version it was shown with. `named` are
    fields not on this form that a rule's message may mention (named by their labels).
    """
    current = record_values(specs, record, tz)
    hidden = {VERSION: str(record.version), **originals(current)}
    version = posted_version(raw)
    if version is None or version != record.version:
        rows = conflicts(specs, raw, current)
        if rows:
            form = FormState(specs=specs, values=dict(raw), form_id="")
            return form, rows, hidden
        # Every value you sent is the stored one: nothing of anyone's can be lost.
        version = record.version
    chosen, errors = resolve(specs, raw, current) if raw.get(CONFLICTS) else (dict(raw), {})
    if errors:  # a conflict shown, but not every choice made: show it again
        form = FormState(specs=specs, values=dict(raw), form_id="", errors=errors)
        return form, conflicts(specs, raw, current), hidden
    data = read_update(schema, specs, chosen, tz, errors, version=version)
    if data is not None and not errors:
        try:
            # A savepoint: a rule broken half-way leaves nothing changed in the transaction.
            with db.begin_nested():
                save(data)
        except Invalid as exc:
            errors.update(messages_from_invalid(exc, (*specs, *named)))
        else:
            return None
    form = FormState(specs=specs, values=chosen, form_id="", errors=errors)
    # Drawn again on the version it was checked against, with the values as first drawn.
    drawn = {k: v for k, v in raw.items() if k.startswith("orig.")}
    return form, [], {VERSION: str(version), **drawn}
