"""Reading the API's OpenAPI document in tests: operations, documented statuses, and a small
client that knows the API only from the document (it validates what it sends and gets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS31Validator

Document = dict[str, Any]


def operation(doc: Document, method: str, path: str) -> dict[str, Any]:
    """The document's operation for `method` on the templated `path` (KeyError if absent)."""
    op: dict[str, Any] = doc["paths"][path][method.lower()]
    return op


def operations(doc: Document) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) for every operation in the document."""
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def resolve(doc: Document, schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` with a top-level `$ref` into the components followed."""
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = doc["components"]["schemas"][name]
    return dict(schema)


def body_schema(doc: Document, op: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON request body's schema, if the operation takes one."""
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


def allows_null(doc: Document, schema: Mapping[str, Any]) -> bool:
    schema = resolve(doc, schema)
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(allows_null(doc, s) for s in (*schema.get("anyOf", ()), *schema.get("oneOf", ())))


def validate(doc: Document, schema: Mapping[str, Any], instance: Any) -> None:
    """Raise jsonschema's ValidationError unless `instance` fits `schema` (refs into `doc`)."""
    rooted = {**schema, "components": doc["components"]}
    OAS31Validator(rooted, format_checker=OAS31Validator.FORMAT_CHECKER).validate(instance)


class UndocumentedResponse(AssertionError):
    pass


def check_response(doc: Document, op: Mapping[str, Any], response: httpx.Response) -> None:
    """The response's status is documented and its JSON body fits the documented schema."""
    status = str(response.status_code)
    if status not in op["responses"]:
        raise UndocumentedResponse(
            f"{op['operationId']}: {status} is not documented ({response.text[:200]})"
        )
    content = op["responses"][status].get("content")
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not content or not response.content:
        return
    assert media_type in content, f"{op['operationId']}: {status} {media_type} not documented"
    schema = content[media_type].get("schema")
    if schema and media_type.endswith("json"):
        validate(doc, schema, response.json())


class DocumentClient:
    """A client built from nothing but the OpenAPI document.

    It finds the token URL in the security schemes, refuses to send a request the document
    says is invalid (unknown path or query parameter, a body that does not fit), and checks
    every answer's status and body against the document.
    """

    def __init__(self, http: TestClient, doc: Document) -> None:
        self.http = http
        self.doc = doc
        self.token: str | None = None

    def login(self, email: str, password: str) -> None:
        (scheme,) = (
            s for s in self.doc["components"]["securitySchemes"].values() if s["type"] == "oauth2"
        )
        token_url = scheme["flows"]["password"]["tokenUrl"]
        op = operation(self.doc, "post", token_url)
        form_schema = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        form = {"username": email, "password": password}
        validate(self.doc, form_schema, form)
        response = self.http.post(token_url, data=form)
        check_response(self.doc, op, response)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        check_request: bool = True,
        authenticated: bool = True,
    ) -> httpx.Response:
        op = operation(self.doc, method, path)
        declared = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
        url = path
        for name, value in (params or {}).items():
            assert ("path", name) in declared, f"{path} has no path parameter {name}"
            url = url.replace("{" + name + "}", value)
        assert "{" not in url, f"missing path parameters in {url}"
        for name in query or {}:
            assert ("query", name) in declared, f"{method} {path} has no query parameter {name}"
        schema = body_schema(self.doc, op)
        if body is not None:
            assert schema is not None, f"{method} {path} takes no JSON body"
            if check_request:
                validate(self.doc, schema, body)
        headers = {}
        if authenticated and op.get("security") and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response: httpx.Response = self.http.request(
            method, url, params=dict(query or {}), json=body, headers=headers
        )
        check_response(self.doc, op, response)
        return response
