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

import inspect
import threading
from typing import Any, Final

from fastapi import APIRouter
from fastapi._form_limits import _validate_form_limits
from fastapi.routing import APIRoute
from starlette.routing import compile_path, get_name

# Every option FastAPI's own APIRoute takes, with its own default (read from its signature, so
# the two never disagree): the inclusion reads each of them from the route as declared.
_OPTIONS: Final[dict[str, Any]] = {
    name: parameter.default
    for name, parameter in inspect.signature(APIRoute.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
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
        for option, default in _OPTIONS.items():
            setattr(self, option, options.get(option, default))
        # As APIRoute normalises them.
        self.methods = {method.upper() for method in self.methods or ["GET"]}
        self.name = get_name(endpoint) if self.name is None else self.name
        self.tags = list(self.tags or [])
        self.dependencies = list(self.dependencies or [])
        self.responses = dict(self.responses or {})
        self.stream_item_type = None
        self.form_limits = _validate_form_limits(self.form_limits)

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
