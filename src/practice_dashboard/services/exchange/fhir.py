"""FHIR R4 (4.0.1) export of one client's record as a `collection` Bundle (DOMAIN.md §7).

The mapping, the local code system and what is deliberately left out are documented in
docs/fhir.md; keep the two in step. In short:

* Patient: pseudonymous, display name and identifiers only (no birth date, no goals).
* Practitioner: name only, for the owner and anyone who held a session or recorded a record.
* Encounter: one per attended session; `class` is a single v3-ActCode Coding (R4), AMB in
  person, VR for video and phone.
* Observation: one per nervous-system check-in and one per activation episode (local codes,
  components); one scored Observation per measure (LOINC for PHQ-9 and GAD-7 totals, local
  codes for the other instruments), `derivedFrom` its QuestionnaireResponse.
* Questionnaire + QuestionnaireResponse: per instrument with item answers. Item wording only
  where the instrument's licence allows it (the registry carries `item_text` only then).

Every `fullUrl` is `urn:uuid:<id>` of the record it comes from (derived resources use a
UUID-5 of the record id), so the same record always has the same address and references
resolve inside the bundle. Free-text notes are never exported (minimum necessary).

The query count is fixed: the client, then one query per record kind and one for the people
named, whatever the number of records.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select

from practice_dashboard.db import DbSession
from practice_dashboard.domain.instruments import INSTRUMENTS, Instrument, instrument_name
from practice_dashboard.models import Client, Episode, Measure, Observation, Session, User
from practice_dashboard.models.enums import Attendance, Modality, RecordStatus, Source
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor

Json = dict[str, Any]

FHIR_VERSION: Final = "4.0.1"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"

# The project's own identifiers. A URN rather than a URL, because the project owns no domain
# to publish a CodeSystem under; a practice that publishes one replaces this prefix (see
# docs/fhir.md). Never LOINC-looking codes: LOINC is used only where DOMAIN.md §7.2 has a code.
LOCAL_BASE: Final = "urn:practice-dashboard:fhir"
LOCAL_CODES: Final = f"{LOCAL_BASE}:codes"
CLIENT_ID_SYSTEM: Final = f"{LOCAL_BASE}:client-id"
EXTERNAL_REF_SYSTEM: Final = f"{LOCAL_BASE}:external-ref"
QUESTIONNAIRE_BASE: Final = f"{LOCAL_BASE}:questionnaire:"
# Namespace of the UUID-5 ids of derived resources (score Observations, Questionnaires).
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, LOCAL_BASE)

SCORE_UNIT: Final = "{score}"
MINUTES_UNIT: Final = "min"


@dataclass(frozen=True, slots=True)
class LoincInstrument:
    """LOINC codes of an instrument (DOMAIN.md §7.2): panel, total score, items in order."""

    panel: str
    total: str
    items: tuple[str, ...]


# Answer codes shared by PHQ-9 and GAD-7, by item score 0-3 (DOMAIN.md §7.2).
PHQ_GAD_ANSWERS: Final = (
    ("LA6568-5", "Not at all"),
    ("LA6569-3", "Several days"),
    ("LA6570-1", "More than half the days"),
    ("LA6571-9", "Nearly every day"),
)
LOINC_INSTRUMENTS: Final[dict[str, LoincInstrument]] = {
    "phq9": LoincInstrument(
        panel="44249-1",
        total="44261-6",
        items=(
            "44250-9",
            "44255-8",
            "44259-0",
            "44254-1",
            "44251-7",
            "44258-2",
            "44252-5",
            "44253-3",
            "44260-8",
        ),
    ),
    # 69737-5 is the GAD-7 panel: it names the questionnaire, never the score.
    "gad7": LoincInstrument(
        panel="69737-5",
        total="70274-6",
        items=("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
    ),
}

# Local codes (system LOCAL_CODES) and their displays: the whole code system, documented in
# docs/fhir.md. Instrument score codes are derived: `<instrument>-total`, `<instrument>-scales`
# and `<instrument>-<scale>`.
LOCAL_DISPLAY: Final[dict[str, str]] = {
    "nervous-system": "Nervous-system observation",
    "nervous-system-check-in": "Nervous-system check-in",
    "zone": "Window-of-tolerance zone",
    "within": "Within the window of tolerance",
    "hyper": "Above the window (hyperarousal)",
    "hypo": "Below the window (hypoarousal)",
    "activation": "Activation, 0-10 rating",
    "capacity": "Capacity, 0-10 rating",
    "safety": "Felt safety, 0-10 rating",
    "body-connection": "Body connection, 0-10 rating",
    "practitioner-observation": "Observed by the practitioner",
    "self-report": "Reported by the client",
    "activation-episode": "Activation episode",
    "peak-intensity": "Peak intensity, 0-10 rating",
    "recovery-minutes": "Recovery time, onset to return to baseline",
    "recognition-minutes": "Recognition time, onset to recognition",
    "censored": "Censored: no return to baseline recorded",
    "trigger": "Trigger",
    "trigger-category": "Trigger category",
    "strategy": "Strategy used",
    "self-compassion": "Self-compassion, 0-10 rating",
    "session-therapy": "Therapy session",
    "session-coaching": "Coaching session",
    "session-assessment": "Assessment session",
    "session-check-in": "Check-in session",
}
_ENCOUNTER_CLASS: Final = {
    Modality.IN_PERSON: ("AMB", "ambulatory"),
    Modality.VIDEO: ("VR", "virtual"),
    Modality.PHONE: ("VR", "virtual"),
}
# Characters FHIR strings may not hold: whitespace other than space, CR, LF and tab.
_ODD_WHITESPACE: Final = re.compile(r"[^\S \r\n\t]")
_CODE_UNSAFE: Final = re.compile(r"[^A-Za-z0-9.\-]+")  # "work_related" -> "work-related"


# --------------------------------------------------------------------------------------------
# Small builders
# --------------------------------------------------------------------------------------------


def urn(record_id: uuid.UUID) -> str:
    return f"urn:uuid:{record_id}"


def derived_id(kind: str, record_id: uuid.UUID | str) -> uuid.UUID:
    """A stable id for a resource derived from a record (e.g. the score of a measure)."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{record_id}")


def fhir_time(value: datetime) -> str:
    """An instant in UTC with seconds, e.g. 2026-03-01T09:30:00Z."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def text(value: str | None) -> str | None:
    """A FHIR string, or None: no empty strings, no whitespace FHIR does not allow."""
    if value is None:
        return None
    cleaned = _ODD_WHITESPACE.sub(" ", value).strip()
    return cleaned or None


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


def local(code: str, display: str | None = None) -> Json:
    """A CodeableConcept from the local code system, `text` always filled."""
    shown = display or LOCAL_DISPLAY[code]
    return {"coding": [{"system": LOCAL_CODES, "code": code, "display": shown}], "text": shown}


def _ref(url: str) -> Json:
    return {"reference": url}


def _score(value: float) -> Json:
    return {"value": _number(value), "unit": SCORE_UNIT, "system": UCUM, "code": SCORE_UNIT}


def _minutes(value: float) -> Json:
    return {"value": _number(value), "unit": MINUTES_UNIT, "system": UCUM, "code": MINUTES_UNIT}


def _code_safe(value: str) -> str:
    return _CODE_UNSAFE.sub("-", value).strip("-") or "unknown"


def questionnaire_url(instrument: str) -> str:
    return QUESTIONNAIRE_BASE + _code_safe(instrument)


# --------------------------------------------------------------------------------------------
# Loading: a fixed number of queries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientRecords:
    """Everything the bundle is built from (plain ORM rows, read once)."""

    client: Client
    sessions: Sequence[Session]
    observations: Sequence[Observation]
    episodes: Sequence[Episode]
    measures: Sequence[Measure]
    people: dict[uuid.UUID, User]


def fhir_status(record: Session | Observation | Episode | Measure, otherwise: str) -> str:
    """FHIR R4's `entered-in-error` (Encounter, Observation, QuestionnaireResponse alike)."""
    if record.status == RecordStatus.ENTERED_IN_ERROR:
        return "entered-in-error"
    return otherwise


def load_records(db: DbSession, client: Client) -> ClientRecords:
    """The client's attended sessions and all observations, episodes and measures."""
    sessions = list(
        db.scalars(
            select(Session)
            .where(
                Session.client_id == client.id,
                Session.archived_at.is_(None),
                Session.attendance == Attendance.ATTENDED,
            )
            .order_by(Session.starts_at, Session.id)
        )
    )
    observations = list(
        db.scalars(
            select(Observation)
            .where(Observation.client_id == client.id)
            .order_by(Observation.observed_at, Observation.id)
        )
    )
    episodes = list(
        db.scalars(
            select(Episode)
            .where(Episode.client_id == client.id)
            .order_by(Episode.started_at, Episode.id)
        )
    )
    measures = list(
        db.scalars(
            select(Measure)
            .where(Measure.client_id == client.id)
            .order_by(Measure.administered_at, Measure.id)
        )
    )
    people_ids = {client.practitioner_id}
    people_ids.update(s.practitioner_id for s in sessions)
    for recorded_by in (
        *(o.recorded_by_id for o in observations),
        *(e.recorded_by_id for e in episodes),
        *(m.recorded_by_id for m in measures),
    ):
        if recorded_by is not None:
            people_ids.add(recorded_by)
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_(sorted(people_ids))))}
    return ClientRecords(client, sessions, observations, episodes, measures, people)


# --------------------------------------------------------------------------------------------
# Building the bundle (pure: no database)
# --------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, records: ClientRecords) -> None:
        self.records = records
        self.client = records.client
        self.patient = urn(self.client.id)
        self.encounters = {s.id: urn(s.id) for s in records.sessions}
        self.entries: list[Json] = []

    def add(self, resource_id: uuid.UUID, resource: Json) -> str:
        url = urn(resource_id)
        kind = resource.pop("resourceType")
        self.entries.append(
            {"fullUrl": url, "resource": {"resourceType": kind, "id": str(resource_id), **resource}}
        )
        return url

    def practitioner(self, user_id: uuid.UUID | None) -> str:
        """Reference to a person in the bundle (the owner when the record names nobody)."""
        if user_id is None or user_id not in self.records.people:
            return urn(self.client.practitioner_id)
        return urn(user_id)

    def performer(self, source: Source, recorded_by: uuid.UUID | None) -> Json:
        if source == Source.CLIENT:
            return _ref(self.patient)
        return _ref(self.practitioner(recorded_by))

    def encounter_of(self, resource: Json, session_id: uuid.UUID | None) -> None:
        # Only attended sessions are Encounters; a link to any other session is dropped.
        if session_id is not None and session_id in self.encounters:
            resource["encounter"] = _ref(self.encounters[session_id])

    # --- people ---------------------------------------------------------------------------

    def add_patient(self) -> None:
        identifiers = [{"system": CLIENT_ID_SYSTEM, "value": str(self.client.id)}]
        external = text(self.client.external_ref)
        if external is not None:
            identifiers.append({"system": EXTERNAL_REF_SYSTEM, "value": external})
        patient: Json = {"resourceType": "Patient", "identifier": identifiers}
        name = text(self.client.display_name)
        if name is not None:
            patient["name"] = [{"text": name}]
        self.add(self.client.id, patient)

    def add_practitioners(self) -> None:
        people = self.records.people
        owner_first = sorted(people, key=lambda i: (i != self.client.practitioner_id, str(i)))
        for user_id in owner_first:
            practitioner: Json = {"resourceType": "Practitioner"}
            name = text(people[user_id].full_name)
            if name is not None:
                practitioner["name"] = [{"text": name}]
            self.add(user_id, practitioner)
        if self.client.practitioner_id not in people:  # pragma: no cover - FK guarantees it
            self.add(self.client.practitioner_id, {"resourceType": "Practitioner"})

    # --- sessions -------------------------------------------------------------------------

    def add_encounters(self) -> None:
        for session in self.records.sessions:
            code, display = _ENCOUNTER_CLASS[session.modality]
            end = session.starts_at + timedelta(minutes=session.duration_minutes)
            self.add(
                session.id,
                {
                    "resourceType": "Encounter",
                    "status": fhir_status(session, "finished"),
                    "class": {"system": ACT_CODE, "code": code, "display": display},
                    "type": [local(f"session-{_code_safe(session.kind.value)}")],
                    "subject": _ref(self.patient),
                    "participant": [
                        {"individual": _ref(self.practitioner(session.practitioner_id))}
                    ],
                    "period": {"start": fhir_time(session.starts_at), "end": fhir_time(end)},
                    "length": _minutes(session.duration_minutes),
                },
            )

    # --- nervous-system observations ------------------------------------------------------

    def add_check_ins(self) -> None:
        category = [local("nervous-system")]
        for row in self.records.observations:
            components: list[Json] = [
                {"code": local("zone"), "valueCodeableConcept": local(row.zone.value)},
                {"code": local("activation"), "valueQuantity": _score(row.activation)},
            ]
            for code, value in (
                ("capacity", row.capacity),
                ("safety", row.safety),
                ("body-connection", row.body_connection),
            ):
                if value is not None:
                    components.append({"code": local(code), "valueQuantity": _score(value)})
            resource: Json = {
                "resourceType": "Observation",
                "status": fhir_status(row, "final"),
                "category": category,
                "code": local("nervous-system-check-in"),
                "subject": _ref(self.patient),
                "effectiveDateTime": fhir_time(row.observed_at),
                "performer": [self.performer(row.source, row.recorded_by_id)],
                "method": local(
                    "self-report" if row.source == Source.CLIENT else "practitioner-observation"
                ),
                "component": components,
            }
            self.encounter_of(resource, row.session_id)
            self.add(row.id, resource)

    def add_episodes(self) -> None:
        category = [local("nervous-system")]
        for row in self.records.episodes:
            period = {"start": fhir_time(row.started_at)}
            components: list[Json] = [
                {"code": local("peak-intensity"), "valueQuantity": _score(row.peak_intensity)}
            ]
            recovery = row.recovery_minutes
            if row.baseline_at is not None and recovery is not None:
                period["end"] = fhir_time(row.baseline_at)
                components.append(
                    {"code": local("recovery-minutes"), "valueQuantity": _minutes(recovery)}
                )
            recognition = row.recognition_minutes
            if recognition is not None:
                components.append(
                    {"code": local("recognition-minutes"), "valueQuantity": _minutes(recognition)}
                )
            # Always stated, so "no return recorded" is never confused with "not exported".
            components.append({"code": local("censored"), "valueBoolean": row.baseline_at is None})
            trigger = text(row.trigger)
            if trigger is not None:
                components.append({"code": local("trigger"), "valueString": trigger})
            category_text = text(row.trigger_category)
            if category_text is not None:
                components.append(
                    {
                        "code": local("trigger-category"),
                        "valueCodeableConcept": {"text": category_text},
                    }
                )
            for strategy in row.strategies or []:
                shown = text(strategy)
                if shown is not None:
                    components.append({"code": local("strategy"), "valueString": shown})
            if row.self_compassion is not None:
                components.append(
                    {"code": local("self-compassion"), "valueQuantity": _score(row.self_compassion)}
                )
            resource: Json = {
                "resourceType": "Observation",
                "status": fhir_status(row, "final"),
                "category": category,
                "code": local("activation-episode"),
                "subject": _ref(self.patient),
                "effectivePeriod": period,
                "method": local(
                    "self-report" if row.source == Source.CLIENT else "practitioner-observation"
                ),
                "component": components,
            }
            if row.source == Source.CLIENT or row.recorded_by_id is not None:
                resource["performer"] = [self.performer(row.source, row.recorded_by_id)]
            self.encounter_of(resource, row.session_id)
            self.add(row.id, resource)

    # --- measures -------------------------------------------------------------------------

    def add_measures(self) -> None:
        with_items = [m for m in self.records.measures if m.items is not None]
        for code in sorted({m.instrument for m in with_items}):
            longest = max(len(m.items or ()) for m in with_items if m.instrument == code)
            self.add_questionnaire(code, longest)
        for row in self.records.measures:
            response_url = self.add_response(row) if row.items is not None else None
            self.add_score(row, response_url)

    def add_questionnaire(self, code: str, item_count: int) -> None:
        instrument = INSTRUMENTS.get(code)
        loinc = LOINC_INSTRUMENTS.get(code)
        url = questionnaire_url(code)
        count = instrument.item_count if instrument and instrument.item_count else item_count
        items = [self._question(instrument, loinc, n) for n in range(1, count + 1)]
        questionnaire: Json = {
            "resourceType": "Questionnaire",
            "url": url,
            "name": re.sub(r"[^A-Za-z0-9]", "", instrument_name(code).upper()) or "Instrument",
            "title": instrument.name if instrument else code,
            "status": "active",
            "subjectType": ["Patient"],
            "item": items,
        }
        if loinc is not None:
            questionnaire["code"] = [{"system": LOINC, "code": loinc.panel}]
        if instrument is not None:
            questionnaire["copyright"] = f"{instrument.licence} {instrument.citation}."
        self.add(derived_id("questionnaire", url), questionnaire)

    def _question(
        self, instrument: Instrument | None, loinc: LoincInstrument | None, number: int
    ) -> Json:
        item: Json = {"linkId": _link_id(loinc, number), "prefix": str(number)}
        if loinc is not None and number <= len(loinc.items):
            item["code"] = [{"system": LOINC, "code": loinc.items[number - 1]}]
        wording = _item_text(instrument, number)
        if wording is not None:
            item["text"] = wording
        if loinc is not None:
            item["type"] = "choice"
            item["answerOption"] = [
                {"valueCoding": {"system": LOINC, "code": c, "display": d}}
                for c, d in PHQ_GAD_ANSWERS
            ]
        elif instrument is not None and instrument.item_max > instrument.item_min:
            item["type"] = "choice"
            item["answerOption"] = [
                {"valueInteger": v} for v in range(instrument.item_min, instrument.item_max + 1)
            ]
        else:
            item["type"] = "integer"
        return item

    def add_response(self, row: Measure) -> str:
        instrument = INSTRUMENTS.get(row.instrument)
        loinc = LOINC_INSTRUMENTS.get(row.instrument)
        answers: list[Json] = []
        for number, value in enumerate(row.items or [], start=1):
            if value is None:
                continue  # unanswered: no item, rather than an empty answer
            item: Json = {"linkId": _link_id(loinc, number)}
            wording = _item_text(instrument, number)
            if wording is not None:
                item["text"] = wording
            if loinc is not None and 0 <= value < len(PHQ_GAD_ANSWERS):
                code, display = PHQ_GAD_ANSWERS[value]
                item["answer"] = [
                    {"valueCoding": {"system": LOINC, "code": code, "display": display}}
                ]
            else:
                item["answer"] = [{"valueInteger": value}]
            answers.append(item)
        client_answered = row.source == Source.CLIENT
        author = self.patient if client_answered else self.practitioner(row.recorded_by_id)
        response: Json = {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": questionnaire_url(row.instrument),
            "status": fhir_status(row, "completed"),
            "subject": _ref(self.patient),
            "authored": fhir_time(row.administered_at),
            "author": _ref(author),
            "source": _ref(self.patient if client_answered else author),
        }
        if answers:
            response["item"] = answers
        return self.add(row.id, response)

    def add_score(self, row: Measure, response_url: str | None) -> None:
        instrument = INSTRUMENTS.get(row.instrument)
        name = instrument_name(row.instrument)
        resource: Json = {
            "resourceType": "Observation",
            "status": fhir_status(row, "final"),
            "category": [
                {
                    "coding": [
                        {"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}
                    ],
                    "text": "Survey",
                }
            ],
            "subject": _ref(self.patient),
            "effectiveDateTime": fhir_time(row.administered_at),
        }
        if row.total is not None:
            loinc = LOINC_INSTRUMENTS.get(row.instrument)
            label = f"{name} total score"
            if loinc is not None:
                resource["code"] = {"coding": [{"system": LOINC, "code": loinc.total}]}
                resource["code"]["text"] = label
            else:
                resource["code"] = local(f"{_code_safe(row.instrument)}-total", label)
            resource["valueQuantity"] = _score(row.total)
            band = _severity_text(instrument, row.severity)
            if band is not None:
                resource["interpretation"] = [{"text": band}]
        else:
            components = self._scale_components(instrument, row)
            if not components:
                return  # nothing could be scored (e.g. too many items missing)
            resource["code"] = local(f"{_code_safe(row.instrument)}-scales", f"{name} scale scores")
            resource["component"] = components
        if instrument is not None and instrument.total_only:
            # DOMAIN.md §2.1: ORS/SRS totals only, marked as collected under the user's licence.
            resource["note"] = [{"text": "Collected under the user's own licence."}]
        if response_url is not None:
            resource["derivedFrom"] = [_ref(response_url)]
        resource["performer"] = [self.performer(row.source, row.recorded_by_id)]
        self.add(derived_id("score", row.id), resource)

    def _scale_components(self, instrument: Instrument | None, row: Measure) -> list[Json]:
        components: list[Json] = []
        scales = row.subscales or {}
        for code in sorted(scales, key=_scale_order(instrument)):
            value = scales[code]
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue  # a scale with too few answers has no score
            scale = instrument.subscale(code) if instrument else None
            label = scale.name if scale else code
            component: Json = {
                "code": local(f"{_code_safe(row.instrument)}-{_code_safe(code)}", label),
                "valueQuantity": _score(value),
            }
            if scale is not None and scale.cutoff is not None and scale.cutoff.met(value):
                cutoff = scale.cutoff
                shown = f"{cutoff.label} ({cutoff.operator} {_number(cutoff.value)})"
                component["interpretation"] = [{"text": shown}]
            components.append(component)
        return components

    def build(self, now: datetime) -> Json:
        self.add_patient()
        self.add_practitioners()
        self.add_encounters()
        self.add_check_ins()
        self.add_episodes()
        self.add_measures()
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": fhir_time(now)},
            "type": "collection",
            "timestamp": fhir_time(now),
            "entry": self.entries,
        }


def _link_id(loinc: LoincInstrument | None, number: int) -> str:
    """LOINC item codes as link ids for LOINC instruments, else the 1-based item number."""
    if loinc is not None and number <= len(loinc.items):
        return loinc.items[number - 1]
    return str(number)


def _item_text(instrument: Instrument | None, number: int) -> str | None:
    # Item wording only where the registry carries it, i.e. where the licence allows it.
    if instrument is None or instrument.item_text is None or number > len(instrument.item_text):
        return None
    return instrument.item_text[number - 1]


def _severity_text(instrument: Instrument | None, severity: str | None) -> str | None:
    if instrument is None or severity is None:
        return text(severity)
    for band in instrument.severity_bands:
        if band.code == severity:
            return f"{band.label} ({_number(band.low)}-{_number(band.high)})"
    return text(severity)


def _scale_order(instrument: Instrument | None) -> Any:
    order = [s.code for s in instrument.subscales] if instrument else []
    return lambda code: (order.index(code) if code in order else len(order), code)


def build_bundle(records: ClientRecords, *, now: datetime) -> Json:
    """The client's record as a FHIR R4 `collection` Bundle (a JSON-ready dict)."""
    return _Builder(records).build(now)


def resource_counts(bundle: Json) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in bundle["entry"]:
        kind = entry["resource"]["resourceType"]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def export_client(
    db: DbSession, *, client_id: uuid.UUID, actor: Actor, now: datetime, owned_only: bool = False
) -> Json:
    """One visible client's record as a FHIR Bundle (404 when not visible); audited.

    With `owned_only` (the pages' download), only the owning practitioner (403 otherwise).
    """
    client = access.get_visible_client(db, actor.user, client_id)
    if owned_only:
        access.require_owner_copy(actor.user, client)
    bundle = build_bundle(load_records(db, client), now=now)
    audit.record(db, actor, "export", "client", client.id, client_id=client.id, detail="fhir_r4")
    return bundle
