"""Fast logging forms: a session, an observation, an activation episode, a measure, a note.

Each form lives under /clients/{id}/…/new (404 for a client the caller may not see, 403 for a
supervisor: supervision is read-only). It posts back to the same address; a bad value draws the
form again (422) with the message next to its field and everything typed kept; success goes
back to the client page (303). One module per form; what they share is in common.py, their
fields in web/forms/registry.py.

Times typed into the forms are wall-clock times in the practice time zone; see
web/forms/parsing.py for the daylight-saving rule (zoneinfo fold=0).
"""

from fastapi import APIRouter

from practice_dashboard.web.routes.log_forms import (
    annotation,
    episode,
    measure,
    observation,
    session,
)

# Included one by one by web/router.py (a parent router would cost a rebuild of every route).
routers: tuple[APIRouter, ...] = (
    session.router,
    observation.router,
    episode.router,
    measure.router,
    annotation.router,
)
