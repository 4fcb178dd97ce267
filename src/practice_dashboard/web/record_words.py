"""How a record reads on the record page and its detail: kind words, one-line summaries, values.

Labels come from the form registry (the words the practitioner typed them under), so the
history says "Activation: 3 → 6" in the same words as the form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from practice_dashboard.domain.instruments import instrument_name
from practice_dashboard.domain.labels import (
    ANNOTATION_KIND_WORDS,
    ATTENDANCE_WORDS,
    SOURCE_WORDS,
    zone_word,
)
from practice_dashboard.models import RecordKind
from practice_dashboard.web.forms.registry import (
    annotation_fields,
    episode_fields,
    observation_fields,
    session_fields,
)
from practice_dashboard.web.templating import local_time, minutes

KIND_WORDS: Final[dict[RecordKind, str]] = {
    RecordKind.SESSION: "Session",
    RecordKind.OBSERVATION: "Observation",
    RecordKind.EPISODE: "Activation episode",
    RecordKind.MEASURE: "Measure",
    RecordKind.ANNOTATION: "Timeline note",
}
# The record page's address segment of each kind (as in the API and the logging forms).
PATHS: Final[dict[RecordKind, str]] = {kind: f"{kind.value}s" for kind in RecordKind}
KINDS_BY_PATH: Final[dict[str, RecordKind]] = {path: kind for kind, path in PATHS.items()}

_EXTRA_LABELS: Final[dict[str, str]] = {
    "items": "Answers",
    "total": "Total",
    "severity": "Severity",
    "subscales": "Scale scores",
    "status": "Status",
    "status_reason": "Reason",
    "session_id": "Session",
    "instrument": "Instrument",
    "archived_at": "Deleted at",
}


def _labels() -> dict[RecordKind, dict[str, str]]:
    specs = {
        RecordKind.SESSION: session_fields(),
        RecordKind.OBSERVATION: observation_fields("window", ()),
        RecordKind.EPISODE: episode_fields(()),
        RecordKind.MEASURE: (),
        RecordKind.ANNOTATION: annotation_fields(),
    }
    labels = {kind: {s.name: s.label for s in fields} for kind, fields in specs.items()}
    labels[RecordKind.MEASURE] = {"administered_at": "Administered at", "source": "Completed by"}
    labels[RecordKind.EPISODE] = {"source": "Reported by", **labels[RecordKind.EPISODE]}
    return labels


LABELS: Final = _labels()


def label(kind: RecordKind, field: str) -> str:
    """The form's label of a field (or a plain one for fields no form shows)."""
    return LABELS[kind].get(field) or _EXTRA_LABELS.get(field) or field.replace("_", " ")


def _word(value: Any) -> str:
    text = str(getattr(value, "value", value))
    return text.replace("_", " ")


def value_text(field: str, value: Any, tz: tzinfo, vocabulary: str) -> str:
    """One stored value (or a revision's JSON value) as a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, str) and field.endswith("_at"):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return local_time(value, tz)
    if field == "zone":
        return zone_word(_word(value).replace(" ", "_"), vocabulary)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join("—" if v is None else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return _word(value) if field not in ("notes", "label", "trigger", "status_reason") else value


def summary(kind: RecordKind, record: Any, vocabulary: str) -> str:
    """One line saying what the entry holds, in the record page's list."""
    if kind == RecordKind.SESSION:
        parts = [
            ATTENDANCE_WORDS[record.attendance.value].capitalize(),
            _word(record.kind),
            _word(record.modality),
        ]
        parts.append(f"{record.duration_minutes} min")
        if record.engagement is not None:
            parts.append(f"engagement {record.engagement}")
        return ", ".join(parts)
    if kind == RecordKind.OBSERVATION:
        parts = [zone_word(record.zone.value, vocabulary), f"activation {record.activation}"]
        for name, word in (("capacity", "capacity"), ("safety", "felt safety")):
            value = getattr(record, name)
            if value is not None:
                parts.append(f"{word} {value}")
        parts.append(SOURCE_WORDS["client"] if record.source.value == "client" else "observed")
        return ", ".join(parts)
    if kind == RecordKind.EPISODE:
        parts = [f"peak {record.peak_intensity}"]
        recovery = record.recovery_minutes
        parts.append(
            f"back to baseline after {minutes(recovery)}"
            if recovery is not None
            else "not back to baseline (or unknown)"
        )
        if record.trigger:
            parts.append(f"trigger: {record.trigger}")
        if record.source.value == "client":
            parts.append(SOURCE_WORDS["client"])
        return ", ".join(parts)
    if kind == RecordKind.MEASURE:
        name = instrument_name(record.instrument)
        if record.total is None:
            return f"{name}, no score (unanswered items)"
        severity = f" ({_word(record.severity)})" if record.severity else ""
        return f"{name} total {value_text('total', record.total, UTC, vocabulary)}{severity}"
    return f"{ANNOTATION_KIND_WORDS[record.kind.value]}: {record.label}"


def detail_fields(kind: RecordKind, record: Any) -> list[str]:
    """The fields the detail page lists, in the form's order."""
    names = list(LABELS[kind])
    if kind == RecordKind.MEASURE:
        names += ["items", "total", "severity", "subscales"]
    if kind in (RecordKind.OBSERVATION, RecordKind.EPISODE) and "session_id" not in names:
        names.insert(len(names) - 1, "session_id")
    return [n for n in names if hasattr(record, n)]


def changes_text(
    kind: RecordKind, changes: Mapping[str, Mapping[str, Any]], tz: tzinfo, vocabulary: str
) -> list[tuple[str, str, str]]:
    """A revision's changes as (label, old, new) in words."""
    return [
        (
            label(kind, name),
            value_text(name, change.get("old"), tz, vocabulary),
            value_text(name, change.get("new"), tz, vocabulary),
        )
        for name, change in changes.items()
    ]
