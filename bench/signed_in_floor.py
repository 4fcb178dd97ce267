"""Floors 1s and 2s of `bench.ceilings`: the rows of 1j and 2f, asked for as the product's own
reads of a client are.

Mounted in the product's app in the bench's process, never served by the product. A module of
its own, not bench/ceiling_app.py: FastAPI reads these routes' annotations from this module's
names, and the served DB+template ceiling should load none of the product's web layer.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.responses import Response

from bench.ceiling_app import PagePlan, Plan, Sized, SizedJson, fetch
from practice_dashboard.api.deps import CurrentActor
from practice_dashboard.db import DbSession
from practice_dashboard.dependencies import DbDep
from practice_dashboard.services import access, audit
from practice_dashboard.services.audit import Actor
from practice_dashboard.web.deps import PageContext, WebActor, WebLogin


def signed_in_floors(plan: Plan) -> APIRouter:
    """Routes to mount in the product's own app (`bench.ceilings`, in its process): the
    page's and the metrics response's rows as JSON of their size, as 1j and 2f write them,
    but asked for as the product's are: signed in (the page's login cookie with its layout's
    context, the API's bearer token), the client found through `access` (scoped), the read
    audited, in the product's unit of work (`DbDep`: one transaction, committed). What every
    read of a client's data costs in this product before it computes or draws anything.

    The rows are read through the raw DBAPI cursor of the request's own connection; the first
    request's rows size the writer, as ceiling_app's sample does."""
    writers: dict[str, Sized] = {}

    def read(db: DbSession, actor: Actor, client_id: uuid.UUID, name: str, entity: str) -> Response:
        client = access.get_visible_client(db, actor.user, client_id)
        planned: PagePlan = plan.pages[name]
        rows = fetch(db.connection().connection, planned.statements)
        if (writer := writers.get(name)) is None:
            writer = writers[name] = SizedJson(name, planned.size, rows)
        audit.record(db, actor, "read", entity, client.id, client_id=client.id, detail="floor")
        return Response(writer.render(rows), media_type="application/json")

    router = APIRouter()

    @router.get("/bench-floor/page/{client_id}")
    def page(
        client_id: uuid.UUID, _context: PageContext, _login: WebLogin, actor: WebActor, db: DbDep
    ) -> Response:
        return read(db, actor, client_id, "client", "client")

    @router.get("/bench-floor/metrics/{client_id}")
    def metrics(client_id: uuid.UUID, actor: CurrentActor, db: DbDep) -> Response:
        return read(db, actor, client_id, "metrics", "metrics")

    return router
