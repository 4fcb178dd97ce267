from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from practice_dashboard.models.base import utcnow
from practice_dashboard.services import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and takes a write (503 when it cannot)."""
    if not readiness.database_writable(request.app.state.engine, now=utcnow()):
        return JSONResponse({"status": "unavailable", "database": "unwritable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
