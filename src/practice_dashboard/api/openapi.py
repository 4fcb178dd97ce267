"""The OpenAPI document: FastAPI's own, plus the request bodies that routes read themselves.

A route that reads its body by hand (to name the row of a bad batch entry) hides the body's
model from FastAPI, so its schema would be a dangling reference: such routes describe their
body with `one_or_many_body`, and `install_openapi` adds the models to the components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
# Models named only in `openapi_extra`, by component name (filled as the route modules load).
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def one_or_many_body(model: type[BaseModel], *, what: str) -> dict[str, Any]:
    """`openapi_extra` for a body that is one `model` object or a non-empty JSON list of them."""
    _BODY_MODELS[model.__name__] = model
    ref = {"$ref": _REF.format(model=model.__name__)}
    batch = {
        "type": "array",
        "items": ref,
        "minItems": 1,
        "description": f"A batch of {what}: all are written, or none",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": [ref, batch]}}},
        }
    }


def install_openapi(app: FastAPI) -> None:
    """Serve FastAPI's document with the hand-read body models added to its components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI; the additions below are idempotent
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _BODY_MODELS.items():
            if name in components:
                continue
            schema = model.model_json_schema(ref_template=_REF, mode="validation")
            for def_name, definition in schema.pop("$defs", {}).items():
                components.setdefault(def_name, definition)
            components[name] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]
