"""Collects every router in web/routes, so adding a page group touches no shared file.

A module there offers `router`, or `routers` for a package of page groups (log_forms). Each is
included into the app on its own (`include_web`), not through one parent router: FastAPI
rebuilds every route of a router that holds other routers once more when that parent is
included, which cost about a fifth of a second at each start and bought nothing.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, FastAPI

from practice_dashboard.web import routes


def _collect() -> tuple[APIRouter, ...]:
    found: list[APIRouter] = []
    for module_info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{module_info.name}")
        found.extend(getattr(module, "routers", None) or (module.router,))
    return tuple(found)


web_routers = _collect()


def include_web(app: FastAPI) -> None:
    """Mount every page router; pages stay out of the OpenAPI document."""
    for router in web_routers:
        app.include_router(router, include_in_schema=False)
