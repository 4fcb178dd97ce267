"""Every client-scoped record's history: `GET /api/v1/{kind}/{id}/history`."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.api.responses import CLIENT_READ
from practice_dashboard.dependencies import DbDep
from practice_dashboard.models import RecordKind
from practice_dashboard.routing import Router
from practice_dashboard.schemas.revision import History, RevisionRead
from practice_dashboard.services.records import revisions as revision_service

router = Router(tags=["history"])


def _history_route(kind: RecordKind) -> Callable[[uuid.UUID, CurrentActor, DbDep], History]:
    def history(record_id: uuid.UUID, actor: CurrentActor, db: DbDep) -> History:
        record, entries = revision_service.get_history(
            db, kind=kind, record_id=record_id, actor=actor
        )
        return History(
            record_kind=kind,
            record_id=record.id,
            version=record.version,
            items=[
                RevisionRead.model_validate(
                    {
                        **{
                            name: getattr(e.revision, name)
                            for name in (
                                "id",
                                "record_kind",
                                "record_id",
                                "version",
                                "changes",
                                "actor_id",
                                "at",
                            )
                        },
                        "actor_name": e.actor_name,
                    }
                )
                for e in entries
            ],
        )

    history.__doc__ = f"The {kind.value}'s revisions, oldest first: who changed what, and when."
    return history


# One explicit route per kind (not a `{kind}` path parameter), so no other route is shadowed.
for _kind in RecordKind:
    router.add_api_route(
        f"/{_kind.value}s/{{record_id}}/history",
        _history_route(_kind),
        methods=["GET"],
        response_model=History,
        responses=CLIENT_READ,
        name=f"{_kind.value}_history",
    )
