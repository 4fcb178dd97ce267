"""Collects every `router` in web/routes, so adding a page group touches no shared file."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

from practice_dashboard.web import routes

web_router = APIRouter(include_in_schema=False)
for module_info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
    module = importlib.import_module(f"{routes.__name__}.{module_info.name}")
    web_router.include_router(module.router)
