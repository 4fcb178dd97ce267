"""A client's check-in link: create (the URL is shown once), read its state, change, revoke."""

from __future__ import annotations

import uuid

from fastapi import Request, status

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.api.responses import CLIENT_READ, CLIENT_WRITE, errors
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.schemas.checkin import (
    CheckinLinkCreate,
    CheckinLinkCreated,
    CheckinLinkRead,
    CheckinLinkUpdate,
)
from practice_dashboard.services.checkins import links
from practice_dashboard.services.checkins.links import LinkView

router = Router(
    prefix="/clients/{client_id}/checkin-link", tags=["check-in links"], responses=CLIENT_READ
)


def _read(view: LinkView) -> dict[str, object]:
    link = view.link
    return {
        "id": link.id,
        "client_id": link.client_id,
        "state": view.state,
        "created_at": link.created_at,
        "created_by_id": link.created_by_id,
        "expires_at": link.expires_at,
        "revoked_at": link.revoked_at,
        "last_used_at": link.last_used_at,
        "show_progress": link.show_progress,
    }


@router.post(
    "",
    response_model=CheckinLinkCreated,
    status_code=status.HTTP_201_CREATED,
    responses=CLIENT_WRITE,
)
def create_link(
    client_id: uuid.UUID,
    data: CheckinLinkCreate,
    request: Request,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> CheckinLinkCreated:
    """A new private check-in link for the client, guarded by `code`. The URL is in this
    response only (the server keeps a hash); an earlier link of this client stops working."""
    token, view = links.create_link(
        db, settings, client_id=client_id, data=data, actor=actor, now=utcnow()
    )
    url = str(request.base_url).rstrip("/") + links.link_path(token)
    return CheckinLinkCreated.model_validate({**_read(view), "url": url})


@router.get("", response_model=CheckinLinkRead)
def read_link(client_id: uuid.UUID, actor: CurrentActor, db: DbDep) -> CheckinLinkRead:
    """The client's current link: its state, expiry and when it was last used (never the URL)."""
    view = links.get_link(db, client_id=client_id, actor=actor, now=utcnow())
    return CheckinLinkRead.model_validate(_read(view))


@router.patch("", response_model=CheckinLinkRead, responses=CLIENT_WRITE)
def update_link(
    client_id: uuid.UUID,
    data: CheckinLinkUpdate,
    actor: CurrentActor,
    db: DbDep,
    settings: SettingsDep,
) -> CheckinLinkRead:
    """Renew the link (`renew: true`), give it a new code, or switch "Your progress"."""
    view = links.update_link(
        db, settings, client_id=client_id, data=data, actor=actor, now=utcnow()
    )
    return CheckinLinkRead.model_validate(_read(view))


@router.delete("", response_model=CheckinLinkRead, responses=errors(403))
def revoke_link(client_id: uuid.UUID, actor: CurrentActor, db: DbDep) -> CheckinLinkRead:
    """Revoke the link at once: it opens nothing from now on."""
    view = links.revoke_link(db, client_id=client_id, actor=actor, now=utcnow())
    return CheckinLinkRead.model_validate(_read(view))
