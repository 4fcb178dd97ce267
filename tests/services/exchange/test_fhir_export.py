"""FHIR R4 export: validity (fhir.resources R4B + project-side checks), mapping, codes,
visibility, audit, query count, the demo practice and the CLI.

fhir.resources checks structure and datatypes but not required code bindings, reference
target types or profiles (DOMAIN.md §7.3), so `project_problems` checks those here.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select
from typer.testing import CliRunner

from practice_dashboard.cli.main import app as cli_app
from practice_dashboard.config import Settings, get_settings
from practice_dashboard.db import DbSession, create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import (
    AuditEvent,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    User,
)
from practice_dashboard.models.enums import (
    Attendance,
    Modality,
    RecordStatus,
    Role,
    SessionKind,
    Source,
    Zone,
)
from practice_dashboard.services import demo
from practice_dashboard.services.demo.roster import ROSTER
from practice_dashboard.services.exchange import fhir as fx
from practice_dashboard.services.records.measure import scored_fields
from tests.builders import (
    NOW,
    auth_headers,
    cli_environment,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.conftest import QueryCounter
from tests.databases import fresh_database

Json = dict[str, Any]

# DOMAIN.md §7.2, written out again here on purpose: the test must not read the codes from the
# module it checks.
PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
ANSWERS = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
ALLOWED_LOINC = {"44249-1", "44261-6", "69737-5", "70274-6", *PHQ9_ITEMS, *GAD7_ITEMS, *ANSWERS}
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOCAL = "urn:practice-dashboard:fhir:codes"
KNOWN_SYSTEMS = {LOINC, ACT_CODE, CATEGORY, LOCAL}

# R4 required bindings (the library accepts any string).
STATUSES = {
    # entered-in-error: a record marked so in the dashboard (DESIGN.md "Corrections and history")
    "Encounter": {"finished", "entered-in-error"},
    "Observation": {"final", "entered-in-error"},
    "QuestionnaireResponse": {"completed", "entered-in-error"},
    "Questionnaire": {"active"},
}
R4_OBSERVATION_STATUS = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}
# (resource type, element) -> resource types a reference there may point to (R4).
REFERENCE_TARGETS: dict[tuple[str, str], set[str]] = {
    ("Encounter", "subject"): {"Patient"},
    ("Encounter", "individual"): {"Practitioner"},
    ("Observation", "subject"): {"Patient"},
    ("Observation", "encounter"): {"Encounter"},
    ("Observation", "performer"): {"Practitioner", "Patient"},
    ("Observation", "derivedFrom"): {"QuestionnaireResponse"},
    ("QuestionnaireResponse", "subject"): {"Patient"},
    ("QuestionnaireResponse", "author"): {"Practitioner", "Patient"},
    ("QuestionnaireResponse", "source"): {"Practitioner", "Patient"},
}


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def r4_errors(bundle: Json) -> list[str]:
    """Validation errors from the fhir.resources R4B models (empty when valid)."""
    try:
        Bundle.model_validate(bundle)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        return [str(exc)]
    return []


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, path)


def project_problems(bundle: Json) -> list[str]:
    """What fhir.resources does not check: statuses, references, code systems, units, text."""
    problems: list[str] = []
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "collection":
        problems.append("not a collection Bundle")
    entries = bundle.get("entry", [])
    by_url: dict[str, str] = {}
    for entry in entries:
        resource = entry["resource"]
        if entry["fullUrl"] != f"urn:uuid:{resource['id']}":
            problems.append(f"fullUrl {entry['fullUrl']} does not name {resource['id']}")
        if entry["fullUrl"] in by_url:
            problems.append(f"duplicate fullUrl {entry['fullUrl']}")
        by_url[entry["fullUrl"]] = resource["resourceType"]
    questionnaires = {
        e["resource"]["url"]: e["resource"]
        for e in entries
        if e["resource"]["resourceType"] == "Questionnaire"
    }
    for entry in entries:
        resource = entry["resource"]
        kind = resource["resourceType"]
        where = f"{kind}/{resource['id']}"
        if kind in STATUSES and resource.get("status") not in STATUSES[kind]:
            problems.append(f"{where}: status {resource.get('status')!r}")
        if kind == "Observation":
            if resource.get("status") not in R4_OBSERVATION_STATUS:
                problems.append(f"{where}: not an R4 observation status")
            if not resource.get("code", {}).get("text"):
                problems.append(f"{where}: code.text empty")
            if not resource.get("category"):
                problems.append(f"{where}: no category")
            if "effectiveDateTime" not in resource and "effectivePeriod" not in resource:
                problems.append(f"{where}: no effective time")
            if "valueQuantity" not in resource and not resource.get("component"):
                problems.append(f"{where}: neither a value nor components")
        if kind == "Encounter":
            klass = resource.get("class", {})
            if klass.get("system") != ACT_CODE or klass.get("code") not in {"AMB", "VR"}:
                problems.append(f"{where}: class {klass}")
        if kind == "Patient" and set(resource) - {"resourceType", "id", "identifier", "name"}:
            problems.append(f"{where}: more than a pseudonymous name and identifiers")
        if kind == "QuestionnaireResponse":
            questionnaire = questionnaires.get(resource["questionnaire"])
            if questionnaire is None:
                problems.append(f"{where}: questionnaire {resource['questionnaire']} not in bundle")
            else:
                link_ids = {i["linkId"] for i in questionnaire["item"]}
                for item in resource.get("item", []):
                    if item["linkId"] not in link_ids:
                        problems.append(f"{where}: linkId {item['linkId']} not in questionnaire")
        for path, node in _walk(resource):
            if isinstance(node, str) and (not node.strip() or node != node.strip()):
                problems.append(f"{where}.{'.'.join(path)}: empty or padded string")
            if not isinstance(node, dict):
                continue
            if "reference" in node:
                target = by_url.get(node["reference"])
                if target is None:
                    problems.append(f"{where}.{'.'.join(path)}: unresolved {node['reference']}")
                else:
                    allowed = REFERENCE_TARGETS.get((kind, path[-1]))
                    if allowed is None or target not in allowed:
                        problems.append(f"{where}.{'.'.join(path)}: may not point to {target}")
            if "system" in node and "code" in node and "value" not in node:
                if node["system"] not in KNOWN_SYSTEMS:
                    problems.append(f"{where}: unknown code system {node['system']}")
                if node["system"] == LOINC and node["code"] not in ALLOWED_LOINC:
                    problems.append(f"{where}: LOINC code {node['code']} not in DOMAIN.md §7.2")
            if "value" in node and "unit" in node:
                if node.get("system") != UCUM or node.get("code") not in {"{score}", "min"}:
                    problems.append(f"{where}: quantity {node}")
                if node.get("unit") != node.get("code"):
                    problems.append(f"{where}: unit and code differ in {node}")
    return problems


def resources(bundle: Json, kind: str) -> list[Json]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_code(bundle: Json, code: str) -> list[Json]:
    return [
        r
        for r in resources(bundle, "Observation")
        if any(c["code"] == code for c in r["code"].get("coding", []))
    ]


def component(observation: Json, code: str) -> Json | None:
    for part in observation.get("component", []):
        if part["code"]["coding"][0]["code"] == code:
            return part
    return None


def assert_valid(bundle: Json) -> None:
    assert r4_errors(bundle) == []
    assert project_problems(bundle) == []


# --------------------------------------------------------------------------------------------
# A small practice with one client of every kind of record
# --------------------------------------------------------------------------------------------


@dataclass
class Practice:
    settings: Settings
    owner: User
    supervisor: User
    other: User
    admin: User
    client: Client
    sessions: dict[str, Session]
    observations: dict[str, Observation]
    episodes: dict[str, Episode]
    measures: dict[str, Measure]

    @property
    def url(self) -> str:
        return f"/api/v1/clients/{self.client.id}/export.fhir.json"

    def headers(self, user: User | None = None) -> dict[str, str]:
        return auth_headers(self.settings, user or self.owner)


def _measure(db: DbSession, client: Client, instrument: str, days: int, **values: Any) -> Measure:
    at = NOW - timedelta(days=days)
    fields = scored_fields(instrument, at, values.get("items"), values.get("total"))
    return make_measure(db, client, source=values.get("source", Source.CLIENT), **fields)


@pytest.fixture
def practice(db: DbSession, settings: Settings) -> Practice:
    owner = make_user(db, settings, full_name="Maya Owner")
    supervisor = make_user(db, settings, Role.SUPERVISOR)
    supervise(db, supervisor, owner)
    other = make_user(db, settings)
    admin = make_user(db, settings, Role.ADMIN)
    client = make_client(
        db,
        owner,
        display_name="R. K.",
        external_ref="EXT-42",
        date_of_birth=NOW.date().replace(year=1990),
        goals="SECRET-GOAL",
    )
    day = timedelta(days=1)
    sessions = {
        "in_person": make_session(db, client, starts_at=NOW - 30 * day, notes="SECRET-NOTE"),
        "video": make_session(
            db, client, starts_at=NOW - 20 * day, modality=Modality.VIDEO, duration_minutes=45
        ),
        "phone": make_session(
            db,
            client,
            starts_at=NOW - 10 * day,
            modality=Modality.PHONE,
            kind=SessionKind.CHECK_IN,
        ),
        "no_show": make_session(
            db, client, starts_at=NOW - 5 * day, attendance=Attendance.NO_SHOW, engagement=None
        ),
        "archived": make_session(db, client, starts_at=NOW - 4 * day, archived_at=NOW),
    }
    observations = {
        "in_session": make_observation(
            db,
            client,
            observed_at=NOW - 30 * day + timedelta(minutes=5),
            session_id=sessions["in_person"].id,
            recorded_by_id=owner.id,
            zone=Zone.HYPER,
            activation=7,
            notes="SECRET-NOTE",
        ),
        "self_report": make_observation(
            db,
            client,
            observed_at=NOW - 2 * day,
            source=Source.CLIENT,
            zone=Zone.WITHIN,
            activation=3,
            capacity=6,
            safety=8,
            body_connection=5,
        ),
        "no_show_link": make_observation(
            db, client, observed_at=NOW - 5 * day, session_id=sessions["no_show"].id, zone=Zone.HYPO
        ),
    }
    start = NOW - 15 * day
    episodes = {
        "recovered": make_episode(
            db,
            client,
            started_at=start,
            recognized_at=start + timedelta(minutes=5),
            baseline_at=start + timedelta(minutes=40),
            session_id=sessions["video"].id,
            recorded_by_id=owner.id,
            trigger_category="work",
            strategies=["paced breathing", "  ", "orienting"],
            self_compassion=6,
        ),
        "censored": make_episode(
            db,
            client,
            started_at=start + 2 * day,
            recognized_at=None,
            baseline_at=None,
            peak_intensity=9,
            trigger="  loud\x0cnoise \n",
            strategies=[],
            notes="SECRET-NOTE",
        ),
    }
    measures = {
        "phq9": _measure(db, client, "phq9", 30, items=[0, 1, 2, 3, 0, 1, 2, 3, 1]),
        "phq9_prorated": _measure(db, client, "phq9", 16, items=[1, 1, 1, 1, None, 1, 1, 1, 0]),
        "phq9_invalid": _measure(
            db, client, "phq9", 12, items=[1, None, None, None, 1, 1, 1, 1, 0]
        ),
        "gad7": _measure(db, client, "gad7", 30, items=[3, 3, 2, 2, 1, 1, 0]),
        "cbi": _measure(
            db,
            client,
            "cbi",
            25,
            items=[4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, *([None] * 6)],
        ),
        "ors": _measure(db, client, "ors", 20, total=18.5, source=Source.PRACTITIONER),
    }
    db.commit()
    return Practice(
        settings=settings,
        owner=owner,
        supervisor=supervisor,
        other=other,
        admin=admin,
        client=client,
        sessions=sessions,
        observations=observations,
        episodes=episodes,
        measures=measures,
    )


def export(api: TestClient, practice: Practice, user: User | None = None) -> Json:
    response = api.get(practice.url, headers=practice.headers(user))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle: Json = response.json()
    return bundle


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


class TestValidity:
    def test_bundle_is_valid_r4(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        assert_valid(bundle)
        assert (
            "attachment"
            in (api.get(practice.url, headers=practice.headers()).headers["content-disposition"])
        )

    def test_the_project_checks_catch_what_the_library_lets_through(
        self, api: TestClient, practice: Practice
    ) -> None:
        bundle = export(api, practice)
        observation = by_code(bundle, "nervous-system-check-in")[0]
        observation["status"] = "done"  # not an R4 status: the library accepts it
        observation["subject"] = {"reference": "urn:uuid:" + str(uuid.uuid4())}
        observation["code"]["text"] = ""
        encounter = resources(bundle, "Encounter")[0]
        encounter["class"] = {"system": "http://example.org", "code": "AMB"}
        score = by_code(bundle, "44261-6")[0]
        score["derivedFrom"] = [{"reference": f"urn:uuid:{practice.client.id}"}]
        score["code"]["coding"][0]["code"] = "99999-9"
        problems = "\n".join(project_problems(bundle))
        for expected in (
            "status 'done'",
            "not an R4 observation status",
            "unresolved urn:uuid:",
            "code.text empty",
            "class",
            "may not point to Patient",
            "LOINC code 99999-9",
        ):
            assert expected in problems


class TestMapping:
    def test_every_record_becomes_its_resource(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        counts = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        # Check-ins 3 + episodes 2 + scores (PHQ-9 x2, GAD-7, CBI, ORS; the invalid PHQ-9 has
        # no score) 5.
        assert counts == {
            "Patient": 1,
            "Practitioner": 1,
            "Encounter": 3,  # attended and not archived
            "Observation": 10,
            "Questionnaire": 3,  # PHQ-9, GAD-7, CBI (ORS is a total only)
            "QuestionnaireResponse": 5,
        }
        urls = {e["fullUrl"] for e in bundle["entry"]}
        p = practice
        for record in (
            p.client,
            p.owner,
            *[p.sessions[k] for k in ("in_person", "video", "phone")],
            *p.observations.values(),
            *p.episodes.values(),
            *[m for k, m in p.measures.items() if k != "ors"],
        ):
            assert f"urn:uuid:{record.id}" in urls
        assert f"urn:uuid:{p.sessions['no_show'].id}" not in urls
        assert f"urn:uuid:{p.sessions['archived'].id}" not in urls

    def test_entered_in_error_records_carry_that_status(
        self, api: TestClient, practice: Practice, db: DbSession
    ) -> None:
        p = practice
        for record in (
            p.sessions["video"],
            p.observations["self_report"],
            p.episodes["censored"],
            p.measures["phq9"],
        ):
            record.status = RecordStatus.ENTERED_IN_ERROR
            record.status_reason = "logged for the wrong client"
        db.commit()
        bundle = export(api, practice)
        assert_valid(bundle)
        status = {e["resource"]["id"]: e["resource"].get("status") for e in bundle["entry"]}
        assert status[str(p.sessions["video"].id)] == "entered-in-error"
        assert status[str(p.sessions["in_person"].id)] == "finished"
        assert status[str(p.observations["self_report"].id)] == "entered-in-error"
        assert status[str(p.observations["in_session"].id)] == "final"
        assert status[str(p.episodes["censored"].id)] == "entered-in-error"
        # The PHQ-9: its QuestionnaireResponse and its score Observation alike.
        assert status[str(p.measures["phq9"].id)] == "entered-in-error"
        [score] = [
            o
            for o in by_code(bundle, "44261-6")
            if o["derivedFrom"] == [{"reference": f"urn:uuid:{p.measures['phq9'].id}"}]
        ]
        assert score["status"] == "entered-in-error"
        assert status[str(p.measures["gad7"].id)] == "completed"

    def test_full_urls_are_stable(self, api: TestClient, practice: Practice) -> None:
        first, second = export(api, practice), export(api, practice)
        assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
        assert first["entry"] == second["entry"]

    def test_patient_is_pseudonymous(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        (patient,) = resources(bundle, "Patient")
        assert patient == {
            "resourceType": "Patient",
            "id": str(practice.client.id),
            "identifier": [
                {
                    "system": "urn:practice-dashboard:fhir:client-id",
                    "value": str(practice.client.id),
                },
                {"system": "urn:practice-dashboard:fhir:external-ref", "value": "EXT-42"},
            ],
            "name": [{"text": "R. K."}],
        }
        (practitioner,) = resources(bundle, "Practitioner")
        assert practitioner == {
            "resourceType": "Practitioner",
            "id": str(practice.owner.id),
            "name": [{"text": "Maya Owner"}],
        }
        text = json.dumps(bundle)
        assert "SECRET" not in text  # goals and notes stay out
        # The date of birth in any form (a bare "1990" can occur by chance inside a random id).
        assert NOW.date().replace(year=1990).isoformat() not in text
        assert "birthDate" not in text
        assert practice.owner.email not in text

    def test_encounters(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        encounters = {e["id"]: e for e in resources(bundle, "Encounter")}
        expected = {"in_person": "AMB", "video": "VR", "phone": "VR"}
        for key, code in expected.items():
            session = practice.sessions[key]
            encounter = encounters[str(session.id)]
            assert encounter["status"] == "finished"
            assert encounter["class"]["system"] == ACT_CODE
            assert encounter["class"]["code"] == code
            assert encounter["subject"] == {"reference": f"urn:uuid:{practice.client.id}"}
            individual = encounter["participant"][0]["individual"]
            assert individual == {"reference": f"urn:uuid:{practice.owner.id}"}
            end = session.starts_at + timedelta(minutes=session.duration_minutes)
            assert encounter["period"] == {
                "start": fx.fhir_time(session.starts_at),
                "end": fx.fhir_time(end),
            }
        video = encounters[str(practice.sessions["video"].id)]
        assert video["length"] == {"value": 45, "unit": "min", "system": UCUM, "code": "min"}
        phone = encounters[str(practice.sessions["phone"].id)]
        assert phone["type"][0]["text"] == "Check-in session"

    def test_check_ins(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        check_ins = {o["id"]: o for o in by_code(bundle, "nervous-system-check-in")}
        in_session = check_ins[str(practice.observations["in_session"].id)]
        assert in_session["category"][0]["coding"][0]["system"] == LOCAL
        assert in_session["encounter"] == {
            "reference": f"urn:uuid:{practice.sessions['in_person'].id}"
        }
        assert in_session["performer"] == [{"reference": f"urn:uuid:{practice.owner.id}"}]
        zone = component(in_session, "zone")
        assert zone is not None
        assert zone["valueCodeableConcept"]["coding"][0]["code"] == "hyper"
        activation = component(in_session, "activation")
        assert activation is not None
        assert activation["valueQuantity"] == {
            "value": 7,
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
        assert component(in_session, "capacity") is None

        self_report = check_ins[str(practice.observations["self_report"].id)]
        assert self_report["performer"] == [{"reference": f"urn:uuid:{practice.client.id}"}]
        assert self_report["method"]["coding"][0]["code"] == "self-report"
        assert "encounter" not in self_report
        for code, value in (("capacity", 6), ("safety", 8), ("body-connection", 5)):
            part = component(self_report, code)
            assert part is not None
            assert part["valueQuantity"]["value"] == value
            assert part["code"]["text"]
        # A link to a session that was not attended is not an Encounter reference.
        assert "encounter" not in check_ins[str(practice.observations["no_show_link"].id)]

    def test_episodes(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        episodes = {o["id"]: o for o in by_code(bundle, "activation-episode")}
        recovered = episodes[str(practice.episodes["recovered"].id)]
        start = practice.episodes["recovered"].started_at
        assert recovered["effectivePeriod"] == {
            "start": fx.fhir_time(start),
            "end": fx.fhir_time(start + timedelta(minutes=40)),
        }
        recovery = component(recovered, "recovery-minutes")
        assert recovery is not None
        assert recovery["valueQuantity"] == {
            "value": 40,
            "unit": "min",
            "system": UCUM,
            "code": "min",
        }
        recognition = component(recovered, "recognition-minutes")
        assert recognition is not None
        assert recognition["valueQuantity"]["value"] == 5
        censored = component(recovered, "censored")
        assert censored is not None
        assert censored["valueBoolean"] is False
        peak = component(recovered, "peak-intensity")
        assert peak is not None
        assert peak["valueQuantity"]["value"] == 7
        strategies = [
            p["valueString"] for p in recovered["component"] if p["code"]["text"] == "Strategy used"
        ]
        assert strategies == ["paced breathing", "orienting"]  # the blank one is dropped
        category = component(recovered, "trigger-category")
        assert category is not None
        assert category["valueCodeableConcept"] == {"text": "work"}
        assert recovered["encounter"] == {"reference": f"urn:uuid:{practice.sessions['video'].id}"}

        open_episode = episodes[str(practice.episodes["censored"].id)]
        assert set(open_episode["effectivePeriod"]) == {"start"}
        assert component(open_episode, "recovery-minutes") is None
        assert component(open_episode, "recognition-minutes") is None
        censored = component(open_episode, "censored")
        assert censored is not None
        assert censored["valueBoolean"] is True
        trigger = component(open_episode, "trigger")
        assert trigger is not None
        assert trigger["valueString"] == "loud noise"
        assert "performer" not in open_episode  # nobody recorded as its author

    def test_phq9_codes_exactly_as_domain(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        measure = practice.measures["phq9"]
        (questionnaire,) = [
            q for q in resources(bundle, "Questionnaire") if q["url"].endswith(":phq9")
        ]
        assert questionnaire["code"] == [{"system": LOINC, "code": "44249-1"}]
        assert [i["code"][0]["code"] for i in questionnaire["item"]] == PHQ9_ITEMS
        assert [o["valueCoding"]["code"] for o in questionnaire["item"][0]["answerOption"]] == (
            ANSWERS
        )
        assert questionnaire["item"][8]["text"].startswith("Thoughts that you would be better")

        (response,) = [
            r for r in resources(bundle, "QuestionnaireResponse") if r["id"] == str(measure.id)
        ]
        assert response["questionnaire"] == questionnaire["url"]
        assert response["status"] == "completed"
        assert [i["linkId"] for i in response["item"]] == PHQ9_ITEMS
        answers = [i["answer"][0]["valueCoding"] for i in response["item"]]
        assert [a["code"] for a in answers] == [ANSWERS[v] for v in [0, 1, 2, 3, 0, 1, 2, 3, 1]]
        assert {a["system"] for a in answers} == {LOINC}
        assert answers[0]["display"] == "Not at all"
        assert response["author"] == {"reference": f"urn:uuid:{practice.client.id}"}

        scores = {s["effectiveDateTime"]: s for s in by_code(bundle, "44261-6")}
        score = scores[fx.fhir_time(measure.administered_at)]
        assert score["code"]["coding"] == [{"system": LOINC, "code": "44261-6"}]
        assert score["code"]["text"] == "PHQ-9 total score"
        assert score["category"][0]["coding"][0] == {
            "system": CATEGORY,
            "code": "survey",
            "display": "Survey",
        }
        assert score["valueQuantity"] == {
            "value": 13,
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
        assert score["derivedFrom"] == [{"reference": f"urn:uuid:{measure.id}"}]
        assert score["interpretation"] == [{"text": "Moderate (10-14)"}]
        assert score["status"] == "final"

    def test_incomplete_phq9(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        scores = {s["effectiveDateTime"]: s for s in by_code(bundle, "44261-6")}
        prorated = practice.measures["phq9_prorated"]
        assert scores[fx.fhir_time(prorated.administered_at)]["valueQuantity"]["value"] == 8
        invalid = practice.measures["phq9_invalid"]
        # Too many items missing: the answers are exported, no made-up total.
        assert fx.fhir_time(invalid.administered_at) not in scores
        (response,) = [
            r for r in resources(bundle, "QuestionnaireResponse") if r["id"] == str(invalid.id)
        ]
        assert [i["linkId"] for i in response["item"]] == [
            PHQ9_ITEMS[i] for i in (0, 4, 5, 6, 7, 8)
        ]

    def test_gad7_codes_exactly_as_domain(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        measure = practice.measures["gad7"]
        (score,) = by_code(bundle, "70274-6")
        assert score["valueQuantity"]["value"] == 12
        assert score["interpretation"] == [{"text": "Moderate (10-14)"}]
        assert score["derivedFrom"] == [{"reference": f"urn:uuid:{measure.id}"}]
        assert by_code(bundle, "69737-5") == []  # the panel code never names a score
        (questionnaire,) = [
            q for q in resources(bundle, "Questionnaire") if q["url"].endswith(":gad7")
        ]
        assert questionnaire["code"] == [{"system": LOINC, "code": "69737-5"}]
        assert [i["code"][0]["code"] for i in questionnaire["item"]] == GAD7_ITEMS
        (response,) = [
            r for r in resources(bundle, "QuestionnaireResponse") if r["id"] == str(measure.id)
        ]
        assert [i["linkId"] for i in response["item"]] == GAD7_ITEMS

    def test_other_instruments_use_local_codes(self, api: TestClient, practice: Practice) -> None:
        bundle = export(api, practice)
        (cbi,) = by_code(bundle, "cbi-scales")
        assert cbi["code"]["coding"][0]["system"] == LOCAL
        assert cbi["code"]["text"] == "CBI scale scores"
        assert "valueQuantity" not in cbi
        personal = component(cbi, "cbi-personal")
        assert personal is not None
        assert personal["valueQuantity"]["value"] == pytest.approx(
            practice.measures["cbi"].subscales["personal"], abs=0.01
        )
        assert personal["interpretation"] == [{"text": "high burnout (>= 50)"}]
        assert component(cbi, "cbi-client-related") is None  # not answered
        (questionnaire,) = [
            q for q in resources(bundle, "Questionnaire") if q["url"].endswith(":cbi")
        ]
        assert "code" not in questionnaire
        # The published wording (Kristensen et al. 2005, appendix), item 13 the reversed one.
        texts = [item["text"] for item in questionnaire["item"]]
        assert len(texts) == 19
        assert texts[12] == "Do you have enough energy for family and friends during leisure time?"

        (ors,) = by_code(bundle, "ors-total")
        assert ors["code"]["coding"][0]["system"] == LOCAL
        assert ors["valueQuantity"]["value"] == 18.5
        assert "derivedFrom" not in ors
        assert ors["note"] == [{"text": "Collected under the user's own licence."}]
        assert ors["performer"] == [{"reference": f"urn:uuid:{practice.owner.id}"}]
        text = json.dumps(bundle)
        assert "PCOMS" not in text


class TestVisibilityAndAudit:
    def test_who_may_export(self, api: TestClient, practice: Practice, db: DbSession) -> None:
        assert export(api, practice, practice.supervisor)["entry"]  # supervision: read access
        for user in (practice.other, practice.admin):
            response = api.get(practice.url, headers=practice.headers(user))
            assert response.status_code == 404
            assert response.json() == {"detail": "Client not found"}
        missing = f"/api/v1/clients/{uuid.uuid4()}/export.fhir.json"
        assert api.get(missing, headers=practice.headers()).status_code == 404
        assert api.get(practice.url).status_code == 401

    def test_every_export_is_audited(
        self, api: TestClient, practice: Practice, db: DbSession
    ) -> None:
        export(api, practice)
        export(api, practice, practice.supervisor)
        api.get(practice.url, headers=practice.headers(practice.other))  # 404: nothing exported
        events = db.execute(
            select(AuditEvent.actor_id, AuditEvent.entity_id, AuditEvent.client_id).where(
                AuditEvent.action == "export", AuditEvent.detail == "fhir_r4"
            )
        ).all()
        client = practice.client.id
        assert sorted(events, key=lambda e: str(e[0])) == sorted(
            [
                (practice.owner.id, str(client), client),
                (practice.supervisor.id, str(client), client),
            ],
            key=lambda e: str(e[0]),
        )

    def test_archived_client_can_still_be_exported(
        self, api: TestClient, practice: Practice, db: DbSession
    ) -> None:
        practice.client.archived_at = NOW
        db.commit()
        assert_valid(export(api, practice))


def test_query_count_is_fixed(
    api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    headers = auth_headers(settings, owner)
    counts, sizes = [], []
    for n in (2, 30):
        for i in range(n):
            at = NOW - timedelta(days=60) + timedelta(hours=i)
            session = make_session(db, client, starts_at=at, modality=Modality.VIDEO)
            make_observation(db, client, observed_at=at, session_id=session.id)
            make_episode(db, client, started_at=at, recorded_by_id=owner.id)
            _measure(db, client, "phq9", 40 - i % 30, items=[1, 2, 1, 0, 1, 1, 0, 0, 0])
            _measure(db, client, "ors", 40 - i % 30, total=20)
        db.commit()
        queries.reset()
        response = api.get(f"/api/v1/clients/{client.id}/export.fhir.json", headers=headers)
        assert response.status_code == 200
        counts.append(queries.count)
        sizes.append(len(response.json()["entry"]))
    assert sizes[1] > sizes[0]
    assert counts[0] == counts[1], queries.statements


def test_every_demo_client_exports_a_valid_bundle(
    api: TestClient, db: DbSession, settings: Settings
) -> None:
    demo.load_demo(db, settings, password="demo password for tests")
    db.commit()
    supervisor = db.scalars(select(User).where(User.email == "supervisor@demo.practice")).one()
    headers = auth_headers(settings, supervisor)  # sees all demo clients (read-only)
    clients = list(db.scalars(select(Client).order_by(Client.id)))
    attended = dict(
        db.execute(
            select(Session.client_id, func.count())
            .where(Session.attendance == Attendance.ATTENDED, Session.archived_at.is_(None))
            .group_by(Session.client_id)
        ).all()
    )
    per_client = {
        model: dict(
            db.execute(select(model.client_id, func.count()).group_by(model.client_id)).all()
        )
        for model in (Observation, Episode)
    }
    measures = list(db.scalars(select(Measure)))
    assert len(clients) == len(ROSTER)  # every demo client
    all_errors: list[str] = []
    for client in clients:
        response = api.get(f"/api/v1/clients/{client.id}/export.fhir.json", headers=headers)
        assert response.status_code == 200
        bundle = response.json()
        all_errors += [f"{client.display_name}: {e}" for e in r4_errors(bundle)]
        all_errors += [f"{client.display_name}: {e}" for e in project_problems(bundle)]
        counts = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
        own = [m for m in measures if m.client_id == client.id]
        scored = [
            m
            for m in own
            if m.total is not None or any(v is not None for v in (m.subscales or {}).values())
        ]
        assert counts["Patient"] == 1
        assert counts["Encounter"] == attended.get(client.id, 0)
        assert len(by_code(bundle, "nervous-system-check-in")) == per_client[Observation].get(
            client.id, 0
        )
        assert len(by_code(bundle, "activation-episode")) == per_client[Episode].get(client.id, 0)
        assert counts["QuestionnaireResponse"] == sum(1 for m in own if m.items is not None)
        survey = [
            o
            for o in resources(bundle, "Observation")
            if o["category"][0]["coding"][0]["code"] == "survey"
        ]
        assert len(survey) == len(scored)
    assert all_errors == []


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database() as url, cli_environment(monkeypatch, url):
        yield url


def test_cli_export(cli_db: str, tmp_path: Path) -> None:
    assert runner.invoke(cli_app, ["migrate"]).exit_code == 0
    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        with session_scope(create_session_factory(engine)) as db:
            owner = make_user(db, settings, email="owner@example.org")
            make_user(db, settings, email="other@example.org")
            client = make_client(db, owner)
            make_session(db, client)
            make_episode(db, client, baseline_at=None)
            _measure(db, client, "gad7", 3, items=[1, 1, 1, 1, 1, 1, 1])
            client_id = str(client.id)

        out = tmp_path / "bundle.json"
        args = ["export", "fhir", "--client", client_id, "--as", "Owner@Example.org"]
        result = runner.invoke(cli_app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "wrote" in result.output
        assert "1 Encounter" in result.output
        bundle = json.loads(out.read_text())
        assert_valid(bundle)
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600

        refused = runner.invoke(
            cli_app,
            [
                "export",
                "fhir",
                "--client",
                client_id,
                "--as",
                "other@example.org",
                "--out",
                str(tmp_path / "no.json"),
            ],
        )
        assert refused.exit_code == 1
        assert "Client not found" in refused.output
        assert not (tmp_path / "no.json").exists()
        unknown = runner.invoke(cli_app, [*args[:4], "--as", "nobody@example.org", "--out", "-"])
        assert unknown.exit_code == 1
        assert "no active account" in unknown.output
        bad_id = runner.invoke(
            cli_app, ["export", "fhir", "--client", "x", "--as", "owner@example.org", "--out", "-"]
        )
        assert bad_id.exit_code == 1

        with session_scope(create_session_factory(engine)) as db:
            audited = db.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "export", AuditEvent.detail == "fhir_r4"
                )
            ).all()
            assert [(e.client_id, e.ip) for e in audited] == [(uuid.UUID(client_id), None)]
    finally:
        engine.dispose()
