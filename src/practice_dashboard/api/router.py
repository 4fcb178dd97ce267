from fastapi import APIRouter

from practice_dashboard.api.routes import auth, clients, records, users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(clients.router)
api_router.include_router(records.router)
