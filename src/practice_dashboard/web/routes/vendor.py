"""The API docs page, drawn by the vendored Swagger UI (offline: no CDN)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from practice_dashboard.routing import Router
from practice_dashboard.web.templating import templates

router = Router()


@router.get("/docs", name="api_docs")
def api_docs(request: Request) -> Response:
    """Swagger UI from local files; the OpenAPI document is at /openapi.json."""
    return templates.TemplateResponse(request, "docs.html", {})
