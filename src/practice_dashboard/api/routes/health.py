from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services import readiness

router = Router(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unwritable"]


@router.get("/healthz", response_model=Liveness)
def healthz() -> dict[str, str]:
    """Liveness: the process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database cannot take a write"}},
)
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and takes a write (503 when it cannot)."""
    if not readiness.database_writable(request.app.state.engine, now=utcnow()):
        return JSONResponse({"status": "unavailable", "database": "unwritable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
