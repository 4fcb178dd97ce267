"""Front-end files served from installed packages (offline: no CDN), and the API docs page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from practice_dashboard.web.templating import PLOTLY_JS, templates

router = APIRouter()


@router.get("/vendor/plotly.min.js", name="plotly_js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package (cached for a year via ?v=<version>)."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript")


@router.get("/docs", name="api_docs")
def api_docs(request: Request) -> Response:
    """Swagger UI from local files; the OpenAPI document is at /openapi.json."""
    return templates.TemplateResponse(request, "docs.html", {})
