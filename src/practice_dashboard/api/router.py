from fastapi import APIRouter, Depends

from practice_dashboard.api.routes import (
    analytics,
    annotations,
    assignments,
    audit_log,
    auth,
    checkin_links,
    clients,
    csv_io,
    fhir,
    instruments,
    records,
    reports,
    revisions,
    schedule,
    self_checks,
    users,
)
from practice_dashboard.dependencies import no_nul_in_form

api_router = APIRouter(prefix="/api/v1", dependencies=[Depends(no_nul_in_form)])
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(clients.router)
api_router.include_router(checkin_links.router)
api_router.include_router(assignments.router)
api_router.include_router(records.router)
api_router.include_router(schedule.router)
api_router.include_router(annotations.router)
api_router.include_router(revisions.router)
api_router.include_router(instruments.router)
api_router.include_router(self_checks.router)
api_router.include_router(analytics.router)
api_router.include_router(csv_io.router)
api_router.include_router(reports.router)
api_router.include_router(fhir.router)
api_router.include_router(audit_log.router)
