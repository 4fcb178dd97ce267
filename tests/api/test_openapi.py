"""/openapi.json is a contract: a valid document, every reference resolvable, every error a
route can answer documented, nullability as the server enforces it, and a client that knows
nothing but the document can do a practitioner's day's work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import ValidationError
from openapi_spec_validator import validate as validate_spec

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, User
from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.observation import ObservationCreate
from tests.builders import (
    NOW,
    PASSWORD,
    auth_headers,
    make_annotation,
    make_checkin_link,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
)
from tests.openapi_doc import (
    Document,
    DocumentClient,
    allows_null,
    body_schema,
    operation,
    operations,
    resolve,
)

# Routes outside the bearer-token API: they answer without credentials.
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}


@pytest.fixture
def doc(api: TestClient) -> Document:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document: Document = response.json()
    return document


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


class TestDocument:
    def test_is_a_valid_openapi_31_document(self, doc: Document) -> None:
        assert doc["openapi"].startswith("3.1")
        validate_spec(doc)

    def test_every_reference_resolves(self, doc: Document) -> None:
        # The spec validator does not follow references: a dangling one passes it.
        components = doc["components"]["schemas"]
        dangling = {
            ref for ref in _refs(doc) if ref.removeprefix("#/components/schemas/") not in components
        }
        assert dangling == set()

    def test_the_observation_body_is_a_component_one_or_a_batch(self, doc: Document) -> None:
        op = operation(doc, "post", "/api/v1/clients/{client_id}/observations")
        schema = body_schema(doc, op)
        assert schema is not None
        one, batch = schema["oneOf"]
        assert one == {"$ref": "#/components/schemas/ObservationCreate"}
        assert batch["items"] == one
        component = doc["components"]["schemas"]["ObservationCreate"]
        assert set(component["required"]) == {
            name for name, field in ObservationCreate.model_fields.items() if field.is_required()
        }

    def test_every_operation_documents_the_errors_it_can_answer(self, doc: Document) -> None:
        missing = []
        for method, path, op in operations(doc):
            documented = set(op["responses"])
            expected = set()
            if (method, path) not in PUBLIC:
                expected.add("401")  # no token, a stale token (or, for the token, bad login)
            if any(p["in"] == "path" for p in op.get("parameters", [])):
                expected.add("404")
            if "requestBody" in op:
                expected |= {"413", "422"}
            body = body_schema(doc, op)
            in_body = body is not None and "version" in resolve(doc, body).get("properties", {})
            in_query = any(p["name"] == "version" for p in op.get("parameters", []))
            if in_body or in_query:
                expected.add("409")
            if expected - documented:
                missing.append((method, path, sorted(expected - documented)))
        assert missing == []

    def test_error_bodies_have_the_apps_error_shape(self, doc: Document) -> None:
        shapes = set()
        for _method, _path, op in operations(doc):
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    shapes.add(str(schema))
        assert shapes <= {
            str({"$ref": "#/components/schemas/ErrorMessage"}),
            str({"$ref": "#/components/schemas/HTTPValidationError"}),
            str({"$ref": "#/components/schemas/Readiness"}),
            # The CSV import's 422 is its report of every problem, or a bad request.
            str(
                {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ImportReportRead"},
                        {"$ref": "#/components/schemas/HTTPValidationError"},
                    ]
                }
            ),
        }
        assert doc["components"]["schemas"]["ErrorMessage"]["required"] == ["detail"]


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings, Role.THERAPIST)
    db.commit()
    return user


class TestPatchNullability:
    """Every PATCH body field: null is accepted where the document allows it, and a 422
    naming the field where it does not (never "nullable" in the document but refused)."""

    def _targets(
        self, db: DbSession, settings: Settings, owner: User
    ) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """Per PATCH path: (path parameter value, headers) for records to patch."""
        admin = make_user(db, settings, Role.ADMIN)
        account = make_user(db, settings, Role.COACH)
        client = make_client(db, owner)
        linked = make_client(db, owner)
        make_checkin_link(db, settings, linked)
        assignment = Assignment(
            client_id=client.id,
            instrument="gad7",
            every_days=28,
            starts_on=NOW.date(),
            created_by_id=owner.id,
        )
        db.add(assignment)
        phq9 = make_measure(db, client)
        ors = make_measure(db, client, instrument="ors", items=None, total=20.0, severity=None)
        records = {
            "/api/v1/clients/{client_id}": [client.id],
            "/api/v1/clients/{client_id}/checkin-link": [linked.id],
            "/api/v1/sessions/{session_id}": [make_session(db, client).id],
            "/api/v1/observations/{observation_id}": [make_observation(db, client).id],
            "/api/v1/episodes/{episode_id}": [make_episode(db, client).id],
            # Which of items and total may be null depends on the instrument.
            "/api/v1/measures/{measure_id}": [phq9.id, ors.id],
            "/api/v1/annotations/{annotation_id}": [make_annotation(db, client).id],
            "/api/v1/assignments/{assignment_id}": [assignment.id],
            "/api/v1/users/{user_id}": [account.id],
        }
        db.commit()
        as_owner, as_admin = auth_headers(settings, owner), auth_headers(settings, admin)
        return {
            path: [(str(i), as_admin if "users" in path else as_owner) for i in ids]
            for path, ids in records.items()
        }

    def test_null_is_accepted_exactly_where_documented(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, doc: Document
    ) -> None:
        targets = self._targets(db, settings, owner)
        patches = [(path, op) for method, path, op in operations(doc) if method == "PATCH"]
        assert {path for path, _ in patches} == set(targets), "a PATCH route needs a target"
        wrong = []
        versions: dict[str, int] = {}  # every record starts at version 1
        for path, op in patches:
            schema = body_schema(doc, op)
            assert schema is not None
            properties = resolve(doc, schema)["properties"]
            for name, prop in properties.items():
                if name == "version":
                    continue
                outcomes = []
                for record_id, headers in targets[path]:
                    body: dict[str, Any] = {name: None}
                    if "version" in properties:
                        body["version"] = versions.get(record_id, 1)
                    url = path[: path.index("{")] + record_id + path[path.index("}") + 1 :]
                    response = api.patch(url, json=body, headers=headers)
                    if response.status_code == 200 and "version" in response.json():
                        versions[record_id] = response.json()["version"]
                    outcomes.append(response)
                if allows_null(doc, prop):
                    ok = any(r.status_code == 200 for r in outcomes)
                else:
                    ok = all(
                        r.status_code == 422
                        and [e["loc"] for e in r.json()["detail"]] == [["body", name]]
                        for r in outcomes
                    )
                if not ok:
                    wrong.append((path, name, [r.text[:150] for r in outcomes]))
        assert wrong == []


class TestClientFromTheDocument:
    """A practitioner's day through `DocumentClient`, which knows only /openapi.json."""

    @pytest.fixture
    def client(self, api: TestClient, doc: Document, owner: User) -> DocumentClient:
        document_client = DocumentClient(api, doc)
        document_client.login(owner.email, PASSWORD)
        return document_client

    def test_a_day_of_work(self, client: DocumentClient) -> None:
        me = client.call("GET", "/api/v1/me").json()
        created = client.call("POST", "/api/v1/clients", body={"display_name": "R. M."})
        assert created.status_code == 201
        person = created.json()
        cid = {"client_id": person["id"]}
        at = datetime.now(UTC) - timedelta(days=10)
        episode = client.call(
            "POST",
            "/api/v1/clients/{client_id}/episodes",
            params=cid,
            body={
                "started_at": at.isoformat(),
                "peak_intensity": 7,
                "strategies": ["orienting"],
            },
        )
        assert episode.status_code == 201
        one = {"observed_at": at.isoformat(), "zone": "hyper", "activation": 7}
        single = client.call(
            "POST", "/api/v1/clients/{client_id}/observations", params=cid, body=one
        )
        batch = client.call(
            "POST",
            "/api/v1/clients/{client_id}/observations",
            params=cid,
            body=[one, {**one, "zone": "within", "activation": 3}],
        )
        assert (single.status_code, batch.status_code, len(batch.json())) == (201, 201, 2)
        closed = client.call(
            "PATCH",
            "/api/v1/episodes/{episode_id}",
            params={"episode_id": episode.json()["id"]},
            body={"baseline_at": (at + timedelta(minutes=30)).isoformat(), "version": 1},
        )
        assert closed.json()["recovery_minutes"] == 30
        metrics = client.call(
            "GET",
            "/api/v1/clients/{client_id}/metrics",
            params=cid,
            query={"source": "practitioner"},
        )
        assert metrics.json()["recovery"]["median_minutes"] == 30
        changed = client.call(
            "PATCH",
            "/api/v1/clients/{client_id}",
            params=cid,
            body={"goals": "notice activation sooner", "version": person["version"]},
        )
        assert changed.json()["version"] == person["version"] + 1
        stale = client.call(
            "PATCH",
            "/api/v1/clients/{client_id}",
            params=cid,
            body={"goals": "again", "version": person["version"]},
        )
        assert stale.status_code == 409
        listed = client.call("GET", "/api/v1/clients", query={"limit": "10"}).json()
        assert [c["id"] for c in listed["items"]] == [person["id"]]
        assert me["id"] == listed["items"][0]["practitioner_id"]
        client.call("GET", "/api/v1/caseload")
        client.call("GET", "/api/v1/instruments")

    def test_what_the_document_refuses_the_server_refuses(self, client: DocumentClient) -> None:
        person = client.call("POST", "/api/v1/clients", body={"display_name": "J"}).json()
        cid = {"client_id": person["id"]}
        body = {"display_name": None, "version": person["version"]}
        with pytest.raises(ValidationError):
            client.call(
                "PATCH",
                "/api/v1/clients/{client_id}",
                params={"client_id": person["id"]},
                body=body,
            )
        refused = client.call(
            "PATCH",
            "/api/v1/clients/{client_id}",
            params=cid,
            body=body,
            check_request=False,
        )
        assert refused.status_code == 422

    def test_errors_have_their_documented_bodies(self, client: DocumentClient) -> None:
        missing = {"client_id": str(uuid.uuid4())}
        assert client.call("GET", "/api/v1/clients/{client_id}", params=missing).status_code == 404
        anonymous = client.call("GET", "/api/v1/clients", authenticated=False)
        assert anonymous.status_code == 401
        client.token = "not-a-token"
        assert client.call("GET", "/api/v1/me").status_code == 401
