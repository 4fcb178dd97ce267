"""One checked row per kind: the validated schema and the services' rules → the values written.

Each builder gets a row the kind's input schema has accepted, applies the same rules as the
record services (taken from them, not restated), and returns the values to insert, in the
order of `INSERT_COLUMNS`, with the row's natural key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, NamedTuple

from pydantic import TypeAdapter, ValidationError

from practice_dashboard.domain.instruments import INSTRUMENTS
from practice_dashboard.errors import Invalid
from practice_dashboard.models.enums import RecordStatus
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.schemas.client import ClientCreate
from practice_dashboard.schemas.common import StatusReason, UtcDatetime
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.schemas.session import SessionCreate
from practice_dashboard.services.exchange.csv.guard import restore
from practice_dashboard.services.exchange.csv.importer.keys import client_natural, natural_key
from practice_dashboard.services.exchange.csv.importer.report import field_problems, problems_from
from practice_dashboard.services.exchange.csv.reader import Problem, shown
from practice_dashboard.services.exchange.csv.spec import CsvKind
from practice_dashboard.services.records import annotation as annotation_service
from practice_dashboard.services.records import episode as episode_service
from practice_dashboard.services.records import measure as measure_service
from practice_dashboard.services.records import observation as observation_service
from practice_dashboard.services.records import session as session_service

_STATUS_COLUMNS: Final = ("status", "status_reason")

# The columns each kind writes per row, in the order of the value tuples the builders return;
# `constants` adds those that are the same for every row of an import.
INSERT_COLUMNS: Final[dict[CsvKind, tuple[str, ...]]] = {
    CsvKind.CLIENTS: (
        "id",
        "display_name",
        "external_ref",
        "date_of_birth",
        "status",
        "intake_date",
        "discharged_on",
        "goals",
        "session_cadence_days",
        "archived_at",
    ),
    CsvKind.SESSIONS: (
        "id",
        "client_id",
        "practitioner_id",
        "starts_at",
        "duration_minutes",
        "kind",
        "modality",
        "attendance",
        "engagement",
        "homework_assigned",
        "homework_completed",
        "notes",
        "archived_at",
        *_STATUS_COLUMNS,
    ),
    CsvKind.OBSERVATIONS: (
        "id",
        "client_id",
        "session_id",
        "observed_at",
        "source",
        "zone",
        "activation",
        "capacity",
        "safety",
        "body_connection",
        "notes",
        *_STATUS_COLUMNS,
    ),
    CsvKind.EPISODES: (
        "id",
        "client_id",
        "session_id",
        "started_at",
        "source",
        "recognized_at",
        "peak_intensity",
        "baseline_at",
        "trigger",
        "trigger_category",
        "strategies",
        "self_compassion",
        "notes",
        *_STATUS_COLUMNS,
    ),
    CsvKind.MEASURES: (
        "id",
        "client_id",
        "instrument",
        "administered_at",
        "items",
        "source",
        "total",
        "subscales",
        "severity",
        *_STATUS_COLUMNS,
    ),
    CsvKind.ANNOTATIONS: (
        "id",
        "client_id",
        "at",
        "kind",
        "label",
        "notes",
        "archived_at",
        *_STATUS_COLUMNS,
    ),
}
_RECORDED_BY: Final = {
    CsvKind.CLIENTS: "practitioner_id",  # the importer owns the clients they import
    CsvKind.OBSERVATIONS: "recorded_by_id",
    CsvKind.EPISODES: "recorded_by_id",
    CsvKind.MEASURES: "recorded_by_id",
    CsvKind.ANNOTATIONS: "created_by_id",
}
_VERSIONED: Final = frozenset(CsvKind)  # every kind carries an optimistic version


def constants(kind: CsvKind, user_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The values every row of one import shares: who, when, and the first version."""
    values: dict[str, Any] = {"created_at": now, "updated_at": now}
    if kind in _RECORDED_BY:
        values[_RECORDED_BY[kind]] = user_id.hex
    if kind in _VERSIONED:
        values["version"] = 1
    return values


class ClientRef(NamedTuple):
    """What the rows need of a client the importer may change (plain values: fast to read)."""

    id: uuid.UUID
    hex: str  # the id as the writer takes it
    practitioner_hex: str
    external_ref: str | None
    display_name: str
    intake_date: date


@dataclass(slots=True)
class Pending:
    """A valid row waiting for its chunk to be checked against the database and written."""

    row: int
    key: bytes
    by_id: bool
    client_id: uuid.UUID | None
    natural: tuple[Any, ...]
    session_id: uuid.UUID | None
    values: tuple[Any, ...]


_archived_at = TypeAdapter(UtcDatetime)
_status_reason = TypeAdapter(StatusReason)


@dataclass(slots=True)
class RowInput:
    """One data row being checked: where it is, its cells, its record and client, its problems."""

    row: int
    cells: Sequence[str]
    index: Mapping[str, int]  # header name → cell position
    record_id: str  # 32 hex digits: the file's id, or a new one
    by_id: bool  # the file gave the id
    client: ClientRef | None
    now: datetime
    problems: list[Problem]

    def cell(self, name: str) -> str:
        """The cell of column `name` ("" when the header has no such column)."""
        i = self.index.get(name)
        return "" if i is None else self.cells[i]

    def archived_at(self) -> Any:
        """The `archived_at` cell as a UTC time (not a schema field: only the import sets it)."""
        text = self.cell("archived_at").strip()
        if not text:
            return None
        try:
            return _archived_at.validate_python(text)
        except ValidationError as exc:
            self.problems.extend(problems_from(exc, self.row, "archived_at"))
            return None

    def record_status(self) -> tuple[str, str | None]:
        """The `status` and `status_reason` cells, checked as a correction through the API is."""
        text = self.cell("status").strip() or RecordStatus.RECORDED.value
        reason_cell = restore(self.cell("status_reason")).strip()
        if text not in {s.value for s in RecordStatus}:
            self.problems.append(
                Problem(self.row, "status", f"must be recorded or entered_in_error{shown(text)}")
            )
            return RecordStatus.RECORDED.value, None
        if text == RecordStatus.RECORDED.value:
            if reason_cell:
                self.problems.append(
                    Problem(self.row, "status_reason", "only given with status entered_in_error")
                )
            return text, None
        try:
            reason = _status_reason.validate_python(reason_cell)
        except ValidationError as exc:
            self.problems.extend(problems_from(exc, self.row, "status_reason"))
            return text, None
        return text, reason

    def add(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        """Add a record service's (field, message) problems."""
        self.problems.extend(field_problems(self.row, problems))

    def pending(
        self,
        natural: tuple[Any, ...],
        values: tuple[Any, ...],
        session_id: uuid.UUID | None = None,
    ) -> Pending:
        """The row, ready for its chunk; its key is the id, or else the natural key's digest."""
        client = self.client
        if self.by_id:
            key = bytes.fromhex(self.record_id)
        else:
            key = natural_key(client.hex if client else None, natural)
        client_id = client.id if client else None
        return Pending(self.row, key, self.by_id, client_id, natural, session_id, values)


def _client_row(r: RowInput, m: ClientCreate) -> Pending | None:
    archived_at = r.archived_at()
    if m.intake_date is None:  # the API defaults it to today; a file must say
        r.problems.append(Problem(r.row, "intake_date", "is required"))
    if r.problems or m.intake_date is None:
        return None
    values = (
        r.record_id,
        m.display_name,
        m.external_ref,
        m.date_of_birth,
        m.status.value,
        m.intake_date,
        m.discharged_on,
        m.goals,
        m.session_cadence_days,
        archived_at,
    )
    pending = r.pending(client_natural(m.external_ref, m.display_name, m.intake_date), values)
    pending.client_id = uuid.UUID(hex=r.record_id)  # the new client's own id
    return pending


def _session_row(r: RowInput, m: SessionCreate) -> Pending | None:
    assert r.client is not None
    archived_at = r.archived_at()
    status = r.record_status()
    r.add(
        session_service.attendance_problems(
            starts_at=m.starts_at,
            attendance=m.attendance,
            engagement=m.engagement,
            homework_completed=m.homework_completed,
            now=r.now,
        )
    )
    if r.problems:
        return None
    values = (
        r.record_id,
        r.client.hex,
        r.client.practitioner_hex,
        m.starts_at,
        m.duration_minutes,
        m.kind.value,
        m.modality.value,
        m.attendance.value,
        m.engagement,
        m.homework_assigned,
        m.homework_completed.value if m.homework_completed else None,
        m.notes,
        archived_at,
        *status,
    )
    return r.pending((m.starts_at,), values)


def _observation_row(r: RowInput, m: ObservationCreate) -> Pending | None:
    assert r.client is not None
    r.add(observation_service.time_problems(m.observed_at, r.now))
    status = r.record_status()
    if r.problems:
        return None
    source, zone = m.source.value, m.zone.value
    values = (
        r.record_id,
        r.client.hex,
        m.session_id.hex if m.session_id else None,
        m.observed_at,
        source,
        zone,
        m.activation,
        m.capacity,
        m.safety,
        m.body_connection,
        m.notes,
        *status,
    )
    return r.pending((m.observed_at, source, zone, m.activation), values, m.session_id)


def _episode_row(r: RowInput, m: EpisodeCreate) -> Pending | None:
    assert r.client is not None
    r.add(
        episode_service.time_problems(
            started_at=m.started_at,
            recognized_at=m.recognized_at,
            baseline_at=m.baseline_at,
            now=r.now,
        )
    )
    status = r.record_status()
    if r.problems:
        return None
    values = (
        r.record_id,
        r.client.hex,
        m.session_id.hex if m.session_id else None,
        m.started_at,
        m.source.value,
        m.recognized_at,
        m.peak_intensity,
        m.baseline_at,
        m.trigger,
        m.trigger_category,
        list(m.strategies),
        m.self_compassion,
        m.notes,
        *status,
    )
    return r.pending((m.started_at, m.peak_intensity), values, m.session_id)


def _measure_row(r: RowInput, m: MeasureCreate) -> Pending | None:
    assert r.client is not None
    # `total` is an input only for total-only instruments (ORS, SRS); otherwise it is derived.
    total: float | None = None
    status = r.record_status()
    instrument = INSTRUMENTS.get(m.instrument)
    total_cell = r.cell("total").strip()
    if instrument is not None and instrument.total_only and total_cell:
        try:
            total = float(total_cell)
        except ValueError:
            r.problems.append(Problem(r.row, "total", f"is not a number{shown(total_cell)}"))
            return None
    try:
        scored = measure_service.scored_fields(m.instrument, m.administered_at, m.items, total)
    except Invalid as exc:
        for problem in exc.problems:
            loc = problem["loc"][1:]  # without "body"
            r.problems.append(Problem(r.row, str(loc[0]) if loc else None, str(problem["msg"])))
        return None
    if r.problems:
        return None
    values = (
        r.record_id,
        r.client.hex,
        scored["instrument"],
        scored["administered_at"],
        scored["items"],
        m.source.value,
        scored["total"],
        scored["subscales"],
        scored["severity"],
        *status,
    )
    return r.pending((m.administered_at, m.instrument), values)


def _annotation_row(r: RowInput, m: AnnotationCreate) -> Pending | None:
    assert r.client is not None
    archived_at = r.archived_at()
    status = r.record_status()
    r.add(annotation_service.time_problems(m.at, r.now))
    if r.problems:
        return None
    values = (r.record_id, r.client.hex, m.at, m.kind.value, m.label, m.notes, archived_at, *status)
    return r.pending((m.at, m.kind.value, m.label), values)


BUILDERS: Final[dict[CsvKind, Callable[[RowInput, Any], Pending | None]]] = {
    CsvKind.CLIENTS: _client_row,
    CsvKind.SESSIONS: _session_row,
    CsvKind.OBSERVATIONS: _observation_row,
    CsvKind.EPISODES: _episode_row,
    CsvKind.MEASURES: _measure_row,
    CsvKind.ANNOTATIONS: _annotation_row,
}
