"""The access matrix: every route of the app (JSON API and pages), and who may use it.

Each route has one entry in MATRIX: what each caller gets for a real request. A route without
an entry fails `test_every_route_has_an_entry`, so no route ships without saying who may use
it; adding one is a line here.

The rules (README, "Privacy in one place"): the owning practitioner reads and writes; the
owner's supervisor reads, and gets 403 on writes (they already see the client); anyone else,
admins included, gets 404 for a client's data, indistinguishable from a client that does not
exist; anonymous callers get 401 (API) or a redirect to the login page. The client's check-in
pages open only for whoever holds the link and entered its code.

Form posts are sent with the caller's CSRF token and no fields: the access check comes before
validation, so the owner sees the form's 422 (or the action done) and everyone else the same
denial as for a read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, User
from practice_dashboard.models.enums import Attendance, Role, Source
from practice_dashboard.security import create_checkin_session
from practice_dashboard.web.routes.auth import LOGIN_CSRF_COOKIE
from practice_dashboard.web.routes.checkin_pages import CODE_CSRF_COOKIE, SESSION_COOKIE
from tests.builders import (
    CHECKIN_CODE,
    NOW,
    PASSWORD,
    auth_headers,
    login_cookies,
    make_annotation,
    make_checkin_link,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.openapi_doc import operation

CALLERS = (
    "anonymous",
    "owner",
    "other_practitioner",
    "supervisor",
    "unrelated_supervisor",
    "admin",
    "link_holder",
)
LOGGED_IN = ("owner", "other_practitioner", "supervisor", "unrelated_supervisor", "admin")


@dataclass(frozen=True)
class Expect:
    """The status each caller gets. `link_holder` has no login: only the check-in cookie."""

    anonymous: int
    owner: int
    other_practitioner: int
    supervisor: int
    unrelated_supervisor: int
    admin: int
    link_holder: int

    def __call__(self, **changes: int) -> Expect:
        return replace(self, **changes)


def _api(ok: int, supervisor: int) -> Expect:
    """A client-scoped API route: only the owner (and, reading, the supervisor) sees it."""
    return Expect(401, ok, 404, supervisor, 404, 404, 401)


def _page(ok: int, supervisor: int) -> Expect:
    """A client-scoped page: anonymous callers are sent to the login page (303)."""
    return Expect(303, ok, 404, supervisor, 404, 404, 303)


# API: a read, a write (the supervisor's 403), a creation.
READ = _api(200, 200)
WRITE = _api(200, 403)
CREATE = _api(201, 403)
# Any account, each seeing their own scope; admin-only account management.
ANY = Expect(401, 200, 200, 200, 200, 200, 401)
ADMIN = Expect(401, 403, 403, 403, 403, 200, 401)
PUBLIC = Expect(200, 200, 200, 200, 200, 200, 200)
# Pages: a read; a write (an empty form: the owner's 422, or 303 when the action is done).
PAGE = _page(200, 200)
FORM = _page(422, 403)
ACTION = _page(303, 403)
ANY_PAGE = Expect(303, 200, 200, 200, 200, 200, 303)
ADMIN_PAGE = Expect(303, 403, 403, 403, 403, 200, 303)
# Check-in pages: everyone requests the real link; without its code they get the code page.
CHECKIN = Expect(200, 200, 200, 200, 200, 200, 200)
# Each account acting for itself; an empty form's 422 for anyone logged in.
MINE = Expect(401, 201, 201, 201, 201, 201, 401)
ANY_FORM = Expect(401, 422, 422, 422, 422, 422, 401)
ANY_PAGE_FORM = Expect(303, 422, 422, 422, 422, 422, 303)
SUPERVISION = Expect(303, 403, 403, 200, 200, 403, 303)


Body = Mapping[str, Any] | list[Any] | Callable[["Practice"], Any] | None


@dataclass(frozen=True)
class Entry:
    expect: Expect
    body: Body = None  # JSON for the API; form fields for pages (the CSRF token is added)
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    sweep: bool = True


AT = NOW.isoformat()
TODAY = NOW.date().isoformat()
IN_ERROR = {"status": "entered_in_error", "status_reason": "logged for the wrong client"}
CODE_FORM = {"code": CHECKIN_CODE, "csrf_token": "matrix"}
LOGIN_CSRF = {LOGIN_CSRF_COOKIE: "matrix"}
SELF_CHECK = {"instrument": "cbi", "administered_at": AT, "items": [2] * 19}
VERSION = {"version": "1"}

# (METHOD, path template) -> who may use it. Path parameters are filled by `_url`.
MATRIX: dict[tuple[str, str], Entry] = {
    # -- public ---------------------------------------------------------------------------------
    ("GET", "/openapi.json"): Entry(PUBLIC),
    ("GET", "/healthz"): Entry(PUBLIC),
    # Not swept: on SQLite its probe waits for the write lock the test's transaction holds
    # (tests/api cover it); still listed, so that the route is accounted for.
    ("GET", "/readyz"): Entry(PUBLIC, sweep=False),
    ("GET", "/docs"): Entry(PUBLIC),
    ("GET", "/login"): Entry(PUBLIC(**dict.fromkeys(LOGGED_IN, 303))),  # logged in: onward
    ("POST", "/login"): Entry(
        PUBLIC(**dict.fromkeys(CALLERS, 303)), lambda p: p.login_form, cookies=LOGIN_CSRF
    ),
    ("POST", "/api/v1/auth/token"): Entry(PUBLIC, lambda p: p.credentials),
    # -- any account ----------------------------------------------------------------------------
    ("GET", "/api/v1/me"): Entry(ANY),
    ("GET", "/api/v1/instruments"): Entry(ANY),
    ("GET", "/api/v1/clients"): Entry(ANY),
    # Every practitioner adds clients to their own caseload; an admin owns none (422).
    ("POST", "/api/v1/clients"): Entry(MINE(admin=422), {"display_name": "New"}),
    ("GET", "/api/v1/caseload"): Entry(ANY),
    ("GET", "/api/v1/schedule"): Entry(ANY, query={"start": AT, "end": AT[:8] + "28" + AT[10:]}),
    ("GET", "/api/v1/export.csv"): Entry(ANY),
    ("POST", "/api/v1/import.csv"): Entry(ANY_FORM),  # no file: only the gate is checked
    ("GET", "/api/v1/audit-events"): Entry(ANY),
    ("GET", "/api/v1/audit-events/export.csv"): Entry(ANY),
    ("GET", "/api/v1/me/self-checks"): Entry(ANY),
    ("POST", "/api/v1/me/self-checks"): Entry(MINE(admin=422), SELF_CHECK),
    ("POST", "/logout"): Entry(ANY_PAGE(**dict.fromkeys(LOGGED_IN, 303))),
    ("GET", "/"): Entry(ANY_PAGE(admin=303)),  # an admin's start is the accounts page
    ("GET", "/schedule"): Entry(ANY_PAGE(admin=404)),
    ("GET", "/settings"): Entry(ANY_PAGE),
    ("POST", "/settings"): Entry(ANY_PAGE_FORM),
    ("GET", "/self-check"): Entry(ANY_PAGE(admin=403)),  # a practitioner's own burnout check
    ("POST", "/self-check"): Entry(ANY_PAGE_FORM(admin=403)),
    ("GET", "/supervision"): Entry(SUPERVISION),
    ("GET", "/supervision/packet.pdf"): Entry(SUPERVISION),
    ("GET", "/supervision/packet.csv"): Entry(SUPERVISION),
    ("GET", "/audit"): Entry(ANY_PAGE),
    ("GET", "/audit/export.csv"): Entry(ANY_PAGE),
    ("GET", "/export.csv"): Entry(ANY_PAGE),
    ("GET", "/import"): Entry(ANY_PAGE),
    ("POST", "/import/check"): Entry(ANY_PAGE_FORM),
    ("POST", "/import/commit"): Entry(ANY_PAGE_FORM),
    ("GET", "/clients/new"): Entry(ANY_PAGE(admin=403)),
    ("POST", "/clients/new"): Entry(ANY_PAGE_FORM(admin=403)),
    ("GET", "/clients/archived"): Entry(ANY_PAGE(admin=403)),
    # -- admin: accounts ------------------------------------------------------------------------
    ("GET", "/api/v1/users"): Entry(ADMIN),
    ("POST", "/api/v1/users"): Entry(ADMIN(admin=201), lambda p: p.new_account),
    ("PATCH", "/api/v1/users/{user_id}"): Entry(ADMIN, {"full_name": "Renamed", "version": 1}),
    ("GET", "/api/v1/users/{user_id}/supervisees"): Entry(ADMIN),
    ("POST", "/api/v1/users/{user_id}/supervisees"): Entry(
        ADMIN(admin=201), lambda p: {"supervisee_id": str(p.users["other_practitioner"].id)}
    ),
    ("DELETE", "/api/v1/users/{user_id}/supervisees/{supervisee_id}"): Entry(ADMIN(admin=204)),
    ("GET", "/admin/users"): Entry(ADMIN_PAGE),
    ("POST", "/admin/users"): Entry(ADMIN_PAGE(admin=422)),
    ("GET", "/admin/users/{user_id}"): Entry(ADMIN_PAGE),
    ("POST", "/admin/users/{user_id}"): Entry(ADMIN_PAGE(admin=422)),
    ("POST", "/admin/supervision"): Entry(ADMIN_PAGE(admin=422)),
    ("POST", "/admin/supervision/remove"): Entry(ADMIN_PAGE(admin=303), lambda p: p.link_form),
    # Two-factor authentication (MFA): the code step after a password, set-up, admin reset.
    ("GET", "/login/mfa"): Entry(PUBLIC(**dict.fromkeys(CALLERS, 303))),
    ("POST", "/login/mfa"): Entry(PUBLIC(**dict.fromkeys(CALLERS, 303)), {"code": "000000"}),
    ("GET", "/account/mfa"): Entry(ANY_PAGE),
    ("POST", "/account/mfa/confirm"): Entry(ANY_PAGE_FORM),
    ("POST", "/account/mfa/recovery-codes"): Entry(ANY_PAGE_FORM),
    ("POST", "/admin/users/{user_id}/mfa/reset"): Entry(ADMIN_PAGE(admin=303)),
    ("POST", "/api/v1/users/{user_id}/mfa/reset"): Entry(ADMIN(admin=204)),
    # -- one client: API ------------------------------------------------------------------------
    ("GET", "/api/v1/clients/{client_id}"): Entry(READ),
    ("PATCH", "/api/v1/clients/{client_id}"): Entry(WRITE, {"goals": "sleep", "version": 1}),
    ("DELETE", "/api/v1/clients/{client_id}"): Entry(WRITE),
    ("POST", "/api/v1/clients/{client_id}/restore"): Entry(WRITE),
    ("GET", "/api/v1/clients/{client_id}/sessions"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/sessions"): Entry(CREATE, {"starts_at": AT}),
    ("POST", "/api/v1/clients/{client_id}/sessions/series"): Entry(
        CREATE, {"starts_at": AT, "count": 2}
    ),
    ("PATCH", "/api/v1/sessions/{session_id}"): Entry(WRITE, {"notes": "n", "version": 1}),
    ("DELETE", "/api/v1/sessions/{session_id}"): Entry(WRITE),
    ("POST", "/api/v1/sessions/{session_id}/attendance"): Entry(
        WRITE, {"attendance": "no_show", "version": 1}
    ),
    ("GET", "/api/v1/clients/{client_id}/observations"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/observations"): Entry(
        CREATE, [{"observed_at": AT, "zone": "hyper", "activation": 8}]
    ),
    ("PATCH", "/api/v1/observations/{observation_id}"): Entry(WRITE, {**IN_ERROR, "version": 1}),
    ("GET", "/api/v1/clients/{client_id}/episodes"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/episodes"): Entry(
        CREATE, {"started_at": AT, "peak_intensity": 6}
    ),
    ("PATCH", "/api/v1/episodes/{episode_id}"): Entry(WRITE, {"peak_intensity": 5, "version": 1}),
    ("GET", "/api/v1/clients/{client_id}/measures"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/measures"): Entry(
        CREATE, {"instrument": "gad7", "administered_at": AT, "items": [1] * 7}
    ),
    ("PATCH", "/api/v1/measures/{measure_id}"): Entry(WRITE, {"items": [0] * 9, "version": 1}),
    ("GET", "/api/v1/clients/{client_id}/annotations"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/annotations"): Entry(
        CREATE, {"at": AT, "kind": "other", "label": "moved"}
    ),
    ("PATCH", "/api/v1/annotations/{annotation_id}"): Entry(WRITE, {"label": "m", "version": 1}),
    ("DELETE", "/api/v1/annotations/{annotation_id}"): Entry(WRITE),
    ("GET", "/api/v1/sessions/{record_id}/history"): Entry(READ),
    ("GET", "/api/v1/observations/{record_id}/history"): Entry(READ),
    ("GET", "/api/v1/episodes/{record_id}/history"): Entry(READ),
    ("GET", "/api/v1/measures/{record_id}/history"): Entry(READ),
    ("GET", "/api/v1/annotations/{record_id}/history"): Entry(READ),
    ("GET", "/api/v1/clients/{client_id}/metrics"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/flags/{code}/acknowledge"): Entry(CREATE, {}),
    # Nothing acknowledged yet: the owner is told so (422), everyone else is refused.
    ("POST", "/api/v1/clients/{client_id}/flags/{code}/unacknowledge"): Entry(WRITE(owner=422)),
    ("GET", "/api/v1/clients/{client_id}/checkin-link"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/checkin-link"): Entry(CREATE, {"code": "1357"}),
    ("PATCH", "/api/v1/clients/{client_id}/checkin-link"): Entry(WRITE, {"renew": True}),
    ("DELETE", "/api/v1/clients/{client_id}/checkin-link"): Entry(WRITE),
    ("GET", "/api/v1/clients/{client_id}/assignments"): Entry(READ),
    ("POST", "/api/v1/clients/{client_id}/assignments"): Entry(
        CREATE, {"instrument": "phq9", "every_days": 14, "starts_on": TODAY}
    ),
    ("PATCH", "/api/v1/assignments/{assignment_id}"): Entry(
        WRITE, {"every_days": 14, "version": 1}
    ),
    ("DELETE", "/api/v1/assignments/{assignment_id}"): Entry(WRITE),
    # Programs with a supervisor's token may export (the pages keep downloads to the owner).
    ("GET", "/api/v1/clients/{client_id}/export.csv"): Entry(READ),
    ("GET", "/api/v1/clients/{client_id}/export.fhir.json"): Entry(READ),
    ("GET", "/api/v1/clients/{client_id}/summary.pdf"): Entry(READ),
    # -- one client: pages ----------------------------------------------------------------------
    ("GET", "/clients/{client_id}"): Entry(PAGE),
    ("GET", "/clients/{client_id}/record"): Entry(PAGE),
    ("GET", "/clients/{client_id}/record/{kind}/{record_id}"): Entry(PAGE),
    ("GET", "/clients/{client_id}/record/{kind}/{record_id}/edit"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/record/{kind}/{record_id}/edit"): Entry(FORM),
    ("POST", "/clients/{client_id}/record/{kind}/{record_id}/entered-in-error"): Entry(FORM),
    ("GET", "/clients/{client_id}/summary"): Entry(PAGE),
    ("GET", "/clients/{client_id}/summary.pdf"): Entry(PAGE),
    ("GET", "/clients/{client_id}/export.csv"): Entry(PAGE(supervisor=403)),
    ("GET", "/clients/{client_id}/export.fhir.json"): Entry(PAGE(supervisor=403)),
    ("GET", "/clients/{client_id}/edit"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/edit"): Entry(FORM, VERSION),
    ("GET", "/clients/{client_id}/status"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/status"): Entry(FORM, VERSION),
    ("POST", "/clients/{client_id}/archive"): Entry(ACTION, VERSION),
    ("POST", "/clients/{client_id}/restore"): Entry(ACTION, VERSION),
    ("POST", "/clients/{client_id}/flags/{code}/acknowledge"): Entry(ACTION),
    ("POST", "/clients/{client_id}/flags/{code}/unacknowledge"): Entry(FORM),
    ("GET", "/clients/{client_id}/sessions/new"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/sessions/new"): Entry(FORM),
    ("GET", "/clients/{client_id}/observations/new"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/observations/new"): Entry(FORM),
    ("GET", "/clients/{client_id}/episodes/new"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/episodes/new"): Entry(FORM),
    ("GET", "/clients/{client_id}/measures/new"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/measures/new"): Entry(FORM),
    ("GET", "/clients/{client_id}/annotations/new"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/annotations/new"): Entry(FORM),
    ("GET", "/clients/{client_id}/sessions/book"): Entry(PAGE(supervisor=403)),
    ("POST", "/clients/{client_id}/sessions/book"): Entry(FORM),
    ("POST", "/sessions/{session_id}/attendance"): Entry(FORM),
    ("GET", "/sessions/{session_id}/edit"): Entry(PAGE(supervisor=403)),
    ("POST", "/sessions/{session_id}/edit"): Entry(FORM, VERSION),
    ("GET", "/clients/{client_id}/checkin-link"): Entry(PAGE),
    ("POST", "/clients/{client_id}/checkin-link"): Entry(FORM),
    ("POST", "/clients/{client_id}/checkin-link/change"): Entry(FORM, {"action": "code"}),
    ("POST", "/clients/{client_id}/assignments"): Entry(FORM),
    ("POST", "/clients/{client_id}/assignments/{assignment_id}/stop"): Entry(ACTION),
    # -- the client's check-in pages: the link and its code ------------------------------------
    ("POST", "/c/{token}/code"): Entry(CHECKIN(**dict.fromkeys(CALLERS, 303)), CODE_FORM),
    ("GET", "/c/{token}"): Entry(CHECKIN),
    ("POST", "/c/{token}/leave"): Entry(CHECKIN(link_holder=303)),
    ("GET", "/c/{token}/activated"): Entry(CHECKIN),
    ("POST", "/c/{token}/activated"): Entry(CHECKIN(link_holder=422)),
    ("GET", "/c/{token}/back"): Entry(CHECKIN),
    ("POST", "/c/{token}/back"): Entry(CHECKIN(link_holder=303)),
    ("GET", "/c/{token}/daily"): Entry(CHECKIN),
    ("POST", "/c/{token}/daily"): Entry(CHECKIN(link_holder=422)),
    ("GET", "/c/{token}/episodes/{episode_id}"): Entry(CHECKIN),
    ("POST", "/c/{token}/episodes/{episode_id}"): Entry(CHECKIN(link_holder=422)),
    ("GET", "/c/{token}/questionnaires"): Entry(CHECKIN),
    ("GET", "/c/{token}/questionnaires/{code}"): Entry(CHECKIN),
    ("POST", "/c/{token}/questionnaires/{code}"): Entry(CHECKIN(link_holder=422)),
    ("GET", "/c/{token}/progress"): Entry(CHECKIN(link_holder=404)),
}


@dataclass
class Practice:
    users: dict[str, User]
    ids: dict[str, str]  # path parameter -> value
    logins: dict[str, tuple[dict[str, str], dict[str, str], str]]  # headers, cookies, CSRF
    checkin_cookie: dict[str, str]
    checkin_csrf: str
    credentials: dict[str, str]
    login_form: dict[str, str]
    link_form: dict[str, str]
    new_account: dict[str, str]


@pytest.fixture
def practice(db: DbSession, settings: Settings) -> Practice:
    owner = make_user(db, settings, Role.THERAPIST)
    users = {
        "owner": owner,
        "other_practitioner": make_user(db, settings, Role.COACH),
        "supervisor": make_user(db, settings, Role.SUPERVISOR),
        "unrelated_supervisor": make_user(db, settings, Role.SUPERVISOR),
        "admin": make_user(db, settings, Role.ADMIN),
    }
    supervise(db, users["supervisor"], owner)
    supervise(db, users["unrelated_supervisor"], users["other_practitioner"])
    client = make_client(db, owner)
    booking = make_session(db, client, attendance=Attendance.SCHEDULED, engagement=None)
    make_session(db, client)
    episode = make_episode(db, client)
    now = datetime.now(UTC)
    # The client's own, entered just now: the check-in pages may still correct its times.
    own_episode = make_episode(
        db, client, source=Source.CLIENT, started_at=now - timedelta(hours=1), baseline_at=None
    )
    assignment = Assignment(
        client_id=client.id,
        instrument="gad7",
        every_days=28,
        starts_on=NOW.date(),
        created_by_id=owner.id,
    )
    db.add(assignment)
    token, link = make_checkin_link(db, settings, client)
    ids = {
        "client_id": str(client.id),
        "session_id": str(booking.id),
        "observation_id": str(make_observation(db, client).id),
        "episode_id": str(episode.id),
        "own_episode_id": str(own_episode.id),
        "measure_id": str(make_measure(db, client).id),
        "annotation_id": str(make_annotation(db, client).id),
        "assignment_id": str(assignment.id),
        "user_id": str(users["supervisor"].id),
        "supervisee_id": str(owner.id),
        "token": token,
        "flag": "set by the test from the client's metrics",
        "instrument": "gad7",
    }
    logins = {}
    for name, user in users.items():
        cookies, csrf = login_cookies(db, settings, user)
        logins[name] = (auth_headers(settings, user), cookies, csrf)
    db.commit()
    checkin_csrf = "holder-csrf"
    session = create_checkin_session(settings, link.id, now, csrf_token=checkin_csrf)
    return Practice(
        users=users,
        ids=ids,
        logins=logins,
        checkin_cookie={SESSION_COOKIE: session},
        checkin_csrf=checkin_csrf,
        credentials={"username": owner.email, "password": PASSWORD},
        login_form={"email": owner.email, "password": PASSWORD, "csrf_token": "matrix"},
        link_form={"supervisor_id": ids["user_id"], "supervisee_id": ids["supervisee_id"]},
        new_account={
            "email": "new.account@example.org",
            "full_name": "New Account",
            "role": "coach",
            "password": "a long enough password",
        },
    )


def _url(practice: Practice, path: str) -> str:
    ids = practice.ids
    values = {
        **ids,
        "kind": "sessions",
        "record_id": ids["session_id"],
        "code": ids["flag"] if "/flags/" in path else ids["instrument"],
    }
    if path.startswith("/c/"):
        values["episode_id"] = ids["own_episode_id"]
    for kind in ("observation", "episode", "measure", "annotation"):
        if path.startswith(f"/api/v1/{kind}s/{{record_id}}"):
            values["record_id"] = ids[f"{kind}_id"]
    url = path
    for name, value in values.items():
        url = url.replace("{" + name + "}", value)
    assert "{" not in url, url
    return url


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in route.methods or ()
        if method != "HEAD" and route.path
    }


def test_every_route_has_an_entry(app: FastAPI) -> None:
    routes = _routes(app)
    assert sorted(routes - MATRIX.keys()) == [], "add these routes to MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "these MATRIX entries match no route"


@pytest.fixture
def matrix_api(app: FastAPI) -> Iterator[TestClient]:
    # A server error is a wrong answer to record, not a reason to stop the sweep.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _request(
    api: TestClient, practice: Practice, caller: str, method: str, path: str, entry: Entry
) -> Any:
    headers: dict[str, str] = {}
    cookies: dict[str, str] = dict(entry.cookies)
    csrf = ""
    if caller in practice.logins:
        headers, login, csrf = practice.logins[caller]
        cookies.update(login)
    elif caller == "link_holder":
        cookies.update(practice.checkin_cookie)
        csrf = practice.checkin_csrf
    if path.startswith("/c/") and path.endswith("/code"):
        cookies[CODE_CSRF_COOKIE] = "matrix"
    body = entry.body(practice) if callable(entry.body) else entry.body
    api.cookies.clear()
    api.cookies.update(cookies)
    kwargs: dict[str, Any] = {"headers": headers, "params": entry.query}
    if path.startswith("/api/"):
        if path.endswith("/auth/token"):
            kwargs["data"] = body
        elif body is not None:
            kwargs["json"] = body
    elif method == "POST":
        kwargs["data"] = {"csrf_token": csrf, **dict(body or {})}
    return api.request(method, _url(practice, path), follow_redirects=False, **kwargs)


def _once(connection: Connection, send: Callable[[], Any]) -> Any:
    """One request from the matrix's starting point: whatever it writes is rolled back."""
    savepoint = connection.begin_nested()
    try:
        return send()
    finally:
        savepoint.rollback()


def test_each_caller_gets_what_the_matrix_says(
    matrix_api: TestClient, practice: Practice, connection: Connection, app: FastAPI
) -> None:
    doc = app.openapi()
    metrics = matrix_api.get(
        f"/api/v1/clients/{practice.ids['client_id']}/metrics", headers=practice.logins["owner"][0]
    )
    flags = [f["code"] for f in metrics.json()["flags"]]
    assert flags, "the practice needs a raised flag to acknowledge"
    practice.ids["flag"] = flags[0]
    wrong = []
    for (method, path), entry in MATRIX.items():
        if not entry.sweep:
            continue
        for caller in CALLERS:
            send = partial(_request, matrix_api, practice, caller, method, path, entry)
            response = _once(connection, send)
            got, expected = response.status_code, getattr(entry.expect, caller)
            where = f"{method} {path} {caller}"
            if got != expected:
                wrong.append(f"{where}: expected {expected}, got {got}: {response.text[:160]!r}")
                continue
            if got == 303 and caller not in LOGGED_IN and not path.startswith(("/c/", "/login")):
                if not response.headers["location"].startswith("/login"):
                    wrong.append(f"{where}: redirected to {response.headers['location']}")
            if got == 404 and path.startswith("/api/") and "{client_id}" in path:
                # The answer must not tell a hidden client from one that does not exist.
                real, practice.ids["client_id"] = practice.ids["client_id"], str(uuid.uuid4())
                try:
                    missing = _once(connection, send)
                finally:
                    practice.ids["client_id"] = real
                if (missing.status_code, missing.content) != (404, response.content):
                    wrong.append(f"{where}: the 404 differs from a missing client's")
            if path in doc["paths"] and str(got) not in operation(doc, method, path)["responses"]:
                wrong.append(f"{where}: {got} is not documented in /openapi.json")
    assert wrong == [], "\n".join(wrong)


def test_a_link_that_does_not_exist_opens_nothing(
    matrix_api: TestClient, practice: Practice
) -> None:
    """Every check-in route answers a made-up link with the one "no longer works" page."""
    practice.ids["token"] = str(uuid.uuid4())
    statuses = {
        (method, path): _request(
            matrix_api, practice, "link_holder", method, path, entry
        ).status_code
        for (method, path), entry in MATRIX.items()
        if path.startswith("/c/")
    }
    assert set(statuses.values()) == {404}
