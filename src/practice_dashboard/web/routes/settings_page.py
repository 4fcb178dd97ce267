"""Personal settings: which words the dashboard uses for zones."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.labels import ZONE_WORDS
from practice_dashboard.routing import Router
from practice_dashboard.services import audit
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.templating import templates

router = Router()


@router.get("/settings", name="settings")
def settings_page(context: PageContext, _login: WebLogin, saved: bool = False) -> Response:
    return templates.TemplateResponse(
        context["request"], "settings.html", {**context, "nav": "settings", "saved": saved}
    )


@router.post("/settings")
def save_settings(
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    zone_vocabulary: Annotated[str, Form()],
) -> Response:
    if zone_vocabulary not in ZONE_WORDS:
        return templates.TemplateResponse(
            context["request"],
            "settings.html",
            {**context, "nav": "settings", "error": "Choose one of the listed vocabularies."},
            status_code=422,
        )
    login.user.zone_vocabulary = zone_vocabulary
    db.flush()
    audit.record(db, actor, "update", "user", login.user.id, detail="zone_vocabulary")
    return RedirectResponse("/settings?saved=1", status_code=303)
