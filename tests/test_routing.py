"""routing.py: routes that defer FastAPI's analysis until something reads past their options."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, FastAPI, Query
from fastapi.routing import APIRoute, APIRouter, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from practice_dashboard.routing import DeferredRoute, Router


class Reading(BaseModel):
    activation: int


def _scale() -> int:
    return 10


def _declare(router: APIRouter) -> None:
    @router.get("/readings/{reading_id}", response_model=Reading, responses={404: {}})
    def reading(
        reading_id: int,
        scale: Annotated[int, Depends(_scale)],
        at_least: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, object]:
        """One reading, scaled."""
        return {"activation": max(reading_id * scale, at_least), "hidden": "not in the model"}


def _app(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/api")
    return app


def _analysed(route: DeferredRoute) -> bool:
    return "_deferred" not in route.__dict__


class TestIncludedRoutes:
    def test_a_served_route_is_never_analysed_as_declared(self) -> None:
        router = Router()
        _declare(router)
        app = _app(router)
        (route,) = router.routes
        assert isinstance(route, DeferredRoute)
        with TestClient(app) as client:
            ok = client.get("/api/readings/3", params={"at_least": 5})
            bad = client.get("/api/readings/3", params={"at_least": -1})
        # Served exactly as FastAPI serves it: dependency, response model, validation.
        assert ok.status_code == 200
        assert ok.json() == {"activation": 30}
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["query", "at_least"]
        assert not _analysed(route)

    def test_the_served_route_and_document_match_fastapis_own(self) -> None:
        ours, theirs = Router(), APIRouter()
        _declare(ours)
        _declare(theirs)
        assert _app(ours).openapi() == _app(theirs).openapi()

    def test_walking_the_routes_as_the_warm_up_does_builds_only_the_served_ones(self) -> None:
        router = Router()
        _declare(router)
        app = _app(router)
        contexts = [
            c for c in iter_route_contexts(app.routes) if c.path == "/api/readings/{reading_id}"
        ]
        assert len(contexts) == 1
        assert not _analysed(router.routes[0])  # type: ignore[arg-type]


class TestReadDirectly:
    def test_reading_past_the_options_analyses_it_as_apiroute_would(self) -> None:
        router = Router()
        _declare(router)
        route = router.routes[0]
        assert isinstance(route, DeferredRoute)
        plain = APIRouter()
        _declare(plain)
        reference = plain.routes[0]
        assert isinstance(reference, APIRoute)
        assert [p.name for p in route.dependant.query_params] == ["at_least"]
        assert _analysed(route)
        assert route.description == reference.description == "One reading, scaled."
        assert route.unique_id == reference.unique_id
        assert route.response_model is Reading
        assert route.response_field is not None
        assert route.methods == reference.methods == {"GET"}

    def test_served_without_an_inclusion(self) -> None:
        app = FastAPI()
        router = Router()
        _declare(router)
        app.router.routes.extend(router.routes)
        with TestClient(app) as client:
            assert client.get("/readings/2").json() == {"activation": 20}

    def test_threads_reading_at_once_analyse_it_once(self) -> None:
        router = Router()
        _declare(router)
        route = router.routes[0]
        assert isinstance(route, DeferredRoute)
        start = threading.Barrier(8)
        seen: list[object] = []

        def read() -> None:
            start.wait()
            seen.append(route.dependant)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 8
        assert all(dependant is seen[0] for dependant in seen)

    def test_an_unknown_attribute_is_still_an_attribute_error(self) -> None:
        router = Router()
        _declare(router)
        route = router.routes[0]
        assert not hasattr(route, "no_such_option")
        assert not hasattr(route, "__deepcopy_hook__")


def test_every_route_of_the_app_is_deferred() -> None:
    """Each api and web router declares on Router: none pays for an analysis at start-up."""
    from practice_dashboard.api.router import api_routers
    from practice_dashboard.api.routes import health
    from practice_dashboard.web.router import web_routers

    routers = [health.router, *api_routers, *web_routers]
    routes = [route for router in routers for route in router.routes]
    assert len(routes) > 100
    assert all(isinstance(route, DeferredRoute) for route in routes)
