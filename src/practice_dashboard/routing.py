"""Routers whose routes defer FastAPI's analysis of each endpoint until it is needed.

FastAPI analyses a route twice: when its decorator runs (the route as declared: dependencies,
parameter validators, response model) and again when its router is included into the app
(the route as served, under the app's prefix and dependencies). Every route here is served
through an inclusion, so the first analysis was never used, and it cost a quarter of a worker's
start-up (about 150 routes). A `DeferredRoute` keeps what the inclusion reads (the options
as declared, the path and methods) and analyses itself only if something asks for more.

This leans on how FastAPI (pinned in requirements/constraints.txt) builds an included route:
`tests/test_routing.py` checks it against FastAPI's own routes, so an upgrade that changes it
fails there first.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from fastapi import APIRouter
from fastapi._form_limits import _validate_form_limits
from fastapi.datastructures import Default
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id
from starlette.routing import compile_path, get_name

# The options FastAPI's own APIRoute takes (besides path, endpoint and methods), with its own
# defaults: the inclusion reads each of them from the route as declared.
_DECLARED: Final[dict[str, Any]] = {
    "response_model": Default(None),
    "status_code": None,
    "summary": None,
    "description": None,
    "response_description": "Successful Response",
    "deprecated": None,
    "operation_id": None,
    "response_model_include": None,
    "response_model_exclude": None,
    "response_model_by_alias": True,
    "response_model_exclude_unset": False,
    "response_model_exclude_defaults": False,
    "response_model_exclude_none": False,
    "include_in_schema": True,
    "response_class": Default(JSONResponse),
    "dependency_overrides_provider": None,
    "openapi_extra": None,
    "generate_unique_id_function": Default(generate_unique_id),
    "strict_content_type": Default(True),
    "max_body_size": None,
}
_ANALYSING: Final = threading.RLock()  # the analysis may read what it has not set yet


class DeferredRoute(APIRoute):
    """An APIRoute that analyses its endpoint on first use of anything beyond its options.

    An inclusion reads only the options (and the endpoint) to build the route as served, so
    for an included route the analysis never happens. Read directly (a route served without
    an inclusion, a test inspecting `dependant`), the route analyses itself once, exactly as
    APIRoute would have at declaration, and from then on is an ordinary APIRoute.
    """

    def __init__(self, path: str, endpoint: Any, **options: Any) -> None:
        self.__dict__["_deferred"] = options
        self.path, self.endpoint = path, endpoint
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.name = options.get("name") or get_name(endpoint)
        for option, default in _DECLARED.items():
            setattr(self, option, options.get(option, default))
        self.tags = list(options.get("tags") or [])
        self.dependencies = list(options.get("dependencies") or [])
        self.responses = dict(options.get("responses") or {})
        self.callbacks = options.get("callbacks")
        self.stream_item_type = None
        self.form_limits = _validate_form_limits(options.get("form_limits"))

    def __getattr__(self, attribute: str) -> Any:
        # Only for attributes not set yet: the analysis sets them all.
        if attribute.startswith("__"):  # copy, pickle and friends probing: not an option
            raise AttributeError(attribute)
        with _ANALYSING:
            options = self.__dict__.pop("_deferred", None)
            if options is not None:
                APIRoute.__init__(self, self.path, self.endpoint, **options)
        return object.__getattribute__(self, attribute)  # AttributeError if still not set


class Router(APIRouter):
    """An APIRouter of `DeferredRoute`s: what every route module declares its routes on."""

    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=DeferredRoute, **options)
