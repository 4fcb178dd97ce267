from fastapi import APIRouter

from practice_dashboard.api.routes import (
    analytics,
    annotations,
    auth,
    clients,
    instruments,
    records,
    self_checks,
    users,
)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(clients.router)
api_router.include_router(records.router)
api_router.include_router(annotations.router)
api_router.include_router(instruments.router)
api_router.include_router(self_checks.router)
api_router.include_router(analytics.router)
