"""The dashboard's error pages: a calm page with a title per status, never a trace."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.web.deps import LoginRequired, MfaEnrolmentRequired
from practice_dashboard.web.templating import templates

TITLES: Final[dict[int, str]] = {
    400: "Something in that request was not right",
    401: "Please log in",
    403: "You do not have access to this",
    404: "We could not find that page",
    409: "Someone else changed this first",
    413: "That was too large",
    422: "Some of that could not be saved",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def render_error_page(request: Request, status_code: int, detail: str) -> Response:
    """The error page for `status_code`; a page that needs a login redirects to /login instead."""
    if status_code == LoginRequired.status_code:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": TITLES.get(status_code, "Something went wrong"),
            "detail": detail,
        },
        status_code=status_code,
    )


async def mfa_enrolment_redirect(request: Request, exc: Exception) -> Response:
    """Any page, for an account that must set up its second factor first: to the set-up page."""
    assert isinstance(exc, MfaEnrolmentRequired)
    return RedirectResponse(request.app.url_path_for("account_mfa"), status_code=303)
