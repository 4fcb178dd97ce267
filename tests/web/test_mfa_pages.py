"""Two-factor login in the browser: set-up, the code step, recovery codes, throttling, the
practice-wide requirement and the admin's reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, LoginSession, MfaAuthenticator, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.accounts import mfa, pending_login
from practice_dashboard.services.accounts.login_session import COOKIE_NAME
from practice_dashboard.web.deps import require_any_login, require_login
from tests.builders import PASSWORD, MfaSetup, login_cookies, make_mfa, make_user, sign_in
from tests.conftest import QueryCounter, make_settings
from tests.html import parse

PAGES = "practice_dashboard.web.routes.mfa_pages"


def _password_step(
    api: TestClient, user: User, *, next: str = "/settings", password: str = PASSWORD
) -> Response:
    page = api.get("/login")
    token = parse(page.text).one("input", name="csrf_token").attrs["value"]
    return api.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": token, "next": next},
        follow_redirects=False,
    )


def _code_step(api: TestClient, code: str, *, csrf: str | None = None) -> Response:
    page = api.get("/login/mfa", follow_redirects=False)
    assert page.status_code == 200, page.text
    token = csrf or parse(page.text).one("input", name="csrf_token").attrs["value"]
    return api.post("/login/mfa", data={"code": code, "csrf_token": token}, follow_redirects=False)


def _logins(db: DbSession, user: User) -> list[LoginSession]:
    db.expire_all()
    return list(db.scalars(select(LoginSession).where(LoginSession.user_id == user.id)))


def _error(response: Response) -> str:
    return parse(response.text).by_id("code-error").words()


@pytest.fixture
def enrolled(db: DbSession, settings: Settings) -> tuple[User, MfaSetup]:
    user = make_user(db, settings, Role.THERAPIST)
    setup = make_mfa(db, settings, user)
    db.commit()
    return user, setup


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The code step's clock, frozen at the middle of a time step; tests move it on."""
    now = [datetime.fromtimestamp((int(datetime.now(UTC).timestamp()) // 30) * 30 + 15, UTC)]
    monkeypatch.setattr(f"{PAGES}.utcnow", lambda: now[0])
    return now


class TestLoginWithSecondFactor:
    def test_the_password_alone_starts_no_login(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, _ = enrolled
        response = _password_step(api, user)
        assert response.status_code == 303
        assert response.headers["location"] == "/login/mfa"
        cookie = response.headers["set-cookie"]
        assert f"{pending_login.COOKIE_NAME}=" in cookie
        assert "HttpOnly" in cookie
        assert "Path=/login" in cookie
        assert "SameSite=strict" in cookie
        assert COOKIE_NAME not in api.cookies
        assert _logins(db, user) == []
        # The pending step opens nothing else.
        assert api.get("/settings", follow_redirects=False).headers["location"].startswith("/login")

    def test_a_right_code_logs_in_and_goes_on(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        _password_step(api, user, next="/settings")
        page = parse(api.get("/login/mfa").text)
        field = page.one("input", name="code")
        assert field.attrs["autocomplete"] == "one-time-code"
        response = _code_step(api, setup.code())
        assert response.status_code == 303
        assert response.headers["location"] == "/settings"
        assert len(_logins(db, user)) == 1
        assert api.get("/settings").status_code == 200
        actions = db.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(user.id))
        ).all()
        assert mfa.PASSED in actions

    def test_a_recovery_code_logs_in_once(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        _password_step(api, user)
        assert _code_step(api, setup.recovery_codes[0]).status_code == 303
        api.cookies.clear()
        _password_step(api, user)
        used_again = _code_step(api, setup.recovery_codes[0])
        assert used_again.status_code == 401
        assert "already used" in _error(used_again)
        assert len(_logins(db, user)) == 1

    def test_a_replayed_code_is_refused(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        code = setup.code()
        _password_step(api, user)
        assert _code_step(api, code).status_code == 303
        api.cookies.clear()
        _password_step(api, user)
        replayed = _code_step(api, code)
        assert replayed.status_code == 401
        assert len(_logins(db, user)) == 1

    def test_wrong_codes_are_throttled(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        enrolled: tuple[User, MfaSetup],
        clock: list[datetime],
    ) -> None:
        user, setup = enrolled
        _password_step(api, user)
        for _ in range(settings.mfa_code_free_attempts):
            wrong = _code_step(api, "000000")
            assert wrong.status_code == 401
            assert parse(wrong.text).one("input", name="code").attrs["aria-invalid"] == "true"
        throttled = _code_step(api, setup.code(clock[0]))
        assert throttled.status_code == 429
        assert "try again in 1 seconds" in _error(throttled)
        assert _logins(db, user) == []
        # The count was kept (the failed requests were not rolled back).
        db.expire_all()
        found = db.scalars(select(MfaAuthenticator)).one()
        assert found.failed_count == settings.mfa_code_free_attempts
        clock[0] += timedelta(seconds=2)
        assert _code_step(api, setup.code(clock[0])).status_code == 303

    def test_the_code_form_needs_its_csrf_token(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        _password_step(api, user)
        response = _code_step(api, setup.code(), csrf="forged")
        assert response.status_code == 400
        assert _logins(db, user) == []

    def test_the_pending_step_expires(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        enrolled: tuple[User, MfaSetup],
        clock: list[datetime],
    ) -> None:
        user, setup = enrolled
        _password_step(api, user)
        # The cookie was signed with the real clock; move the code step's clock past it.
        clock[0] = datetime.now(UTC) + timedelta(minutes=settings.mfa_pending_minutes, seconds=1)
        response = api.post(
            "/login/mfa",
            data={"code": setup.code(clock[0]), "csrf_token": "x"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        assert _logins(db, user) == []

    def test_a_reset_in_between_voids_the_pending_step(
        self, api: TestClient, db: DbSession, settings: Settings, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        _password_step(api, user)
        page = api.get("/login/mfa")
        token = parse(page.text).one("input", name="csrf_token").attrs["value"]
        admin = make_user(db, settings, Role.ADMIN)
        mfa.reset(db, user=user, now=datetime.now(UTC), actor=None)
        db.commit()
        response = api.post(
            "/login/mfa", data={"code": setup.code(), "csrf_token": token}, follow_redirects=False
        )
        assert response.headers["location"] == "/login"
        assert admin.id != user.id
        assert [login for login in _logins(db, user) if login.ended_at is None] == []

    def test_without_a_pending_step_the_code_form_sends_to_login(self, api: TestClient) -> None:
        response = api.get("/login/mfa", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
        api.cookies.set(pending_login.COOKIE_NAME, "not-a-token", path="/login")
        forged = api.post(
            "/login/mfa", data={"code": "123456", "csrf_token": "x"}, follow_redirects=False
        )
        assert (forged.status_code, forged.headers["location"]) == (303, "/login")

    def test_an_account_without_a_second_factor_logs_in_as_before(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        response = _password_step(api, user, next="/settings")
        assert response.headers["location"] == "/settings"
        assert len(_logins(db, user)) == 1


class TestSetUp:
    def test_set_up_with_a_code_then_recovery_codes_shown_once(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        csrf = sign_in(api, db, settings, user)
        page = parse(api.get("/account/mfa").text)
        qr = page.one("svg")
        assert qr.attrs["role"] == "img"
        assert qr.attrs["aria-label"]
        secret = page.by_id("secret-key").words().replace(" ", "")
        assert len(secret) == 32
        assert "mfa-required" not in api.get("/account/mfa").text

        wrong = api.post("/account/mfa/confirm", data={"code": "000000", "csrf_token": csrf})
        assert wrong.status_code == 422
        assert parse(wrong.text).by_id("confirm-code").attrs["aria-invalid"] == "true"
        assert not mfa.is_enrolled(db, user.id)
        # The same key is shown again, so an app that already scanned it still works.
        assert parse(wrong.text).by_id("secret-key").words().replace(" ", "") == secret

        code = pyotp.TOTP(secret).now()
        done = api.post("/account/mfa/confirm", data={"code": code, "csrf_token": csrf})
        assert done.status_code == 200
        codes = [li.words() for li in parse(done.text).by_id("recovery-codes").find_all("li")]
        assert len(codes) == 10
        assert mfa.is_enrolled(db, user.id)
        assert done.headers["cache-control"] == "no-store"

        later = parse(api.get("/account/mfa").text)
        assert later.by_id("codes-left").words() == "10"
        assert not later.find_all(id="recovery-codes")
        assert not later.find_all(id="secret-key")
        # The codes shown work as recovery codes.
        mfa.verify(db, settings, user=user, code=codes[0], now=datetime.now(UTC), actor=None)

    def test_set_up_needs_the_csrf_token(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        sign_in(api, db, settings, user)
        secret = parse(api.get("/account/mfa").text).by_id("secret-key").words().replace(" ", "")
        response = api.post(
            "/account/mfa/confirm", data={"code": pyotp.TOTP(secret).now(), "csrf_token": "x"}
        )
        assert response.status_code == 403
        assert not mfa.is_enrolled(db, user.id)

    def test_new_recovery_codes_need_a_current_app_code(
        self, api: TestClient, db: DbSession, settings: Settings, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        csrf = sign_in(api, db, settings, user)
        url = "/account/mfa/recovery-codes"
        refused = api.post(url, data={"code": setup.recovery_codes[0], "csrf_token": csrf})
        assert refused.status_code == 422
        assert parse(refused.text).by_id("renew-error").words()
        renewed = api.post(url, data={"code": setup.code(), "csrf_token": csrf})
        assert renewed.status_code == 200
        fresh = [li.words() for li in parse(renewed.text).by_id("recovery-codes").find_all("li")]
        assert len(fresh) == 10
        assert not set(fresh) & set(setup.recovery_codes)

    def test_each_person_sees_only_their_own(
        self, api: TestClient, db: DbSession, settings: Settings, enrolled: tuple[User, MfaSetup]
    ) -> None:
        owner, setup = enrolled
        other = make_user(db, settings)
        sign_in(api, db, settings, other)
        page = parse(api.get("/account/mfa").text)
        assert page.by_id("secret-key").words().replace(" ", "") != setup.secret
        assert mfa.status(db, owner.id).recovery_codes_left == 10

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "/account/mfa"),
            ("post", "/account/mfa/confirm"),
            ("post", "/account/mfa/recovery-codes"),
        ],
    )
    def test_anonymous_goes_to_login(self, api: TestClient, method: str, path: str) -> None:
        response = api.request(
            method.upper(), path, data={"code": "123456"}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")

    def test_settings_link_to_it(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        sign_in(api, db, settings, make_user(db, settings))
        assert parse(api.get("/settings").text).by_id("mfa-link").attrs["href"] == "/account/mfa"


@pytest.fixture
def strict_api(
    database_url: str, session_factory: sessionmaker[OrmSession]
) -> Iterator[TestClient]:
    """The app of a practice that requires two-factor authentication."""
    app: FastAPI = create_app(make_settings(database_url, require_mfa=True))
    app.state.session_factory = session_factory
    with TestClient(app) as client:
        yield client


class TestPracticeRequiresMfa:
    def test_after_the_password_the_account_is_sent_to_set_up(
        self, strict_api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        response = _password_step(strict_api, user, next="/settings")
        assert response.headers["location"] == "/account/mfa"
        for path in ("/", "/settings", "/audit", "/schedule"):
            page = strict_api.get(path, follow_redirects=False)
            assert (page.status_code, page.headers["location"]) == (303, "/account/mfa"), path
        page = strict_api.get("/account/mfa")
        assert page.status_code == 200
        assert parse(page.text).by_id("mfa-required")

    def test_a_form_elsewhere_is_refused_too(
        self, strict_api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        csrf = sign_in(strict_api, db, settings, user)
        response = strict_api.post(
            "/settings",
            data={"zone_vocabulary": "polyvagal", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/account/mfa"
        db.expire_all()
        assert db.get(User, user.id).zone_vocabulary is None  # type: ignore[union-attr]

    def test_logging_out_still_works(
        self, strict_api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        csrf = sign_in(strict_api, db, settings, user)
        response = strict_api.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert response.headers["location"] == "/login"
        assert all(login.ended_at for login in _logins(db, user))

    def test_once_set_up_everything_opens(
        self, strict_api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        csrf = sign_in(strict_api, db, settings, user)
        secret = parse(strict_api.get("/account/mfa").text).by_id("secret-key").words()
        code = pyotp.TOTP(secret.replace(" ", "")).now()
        assert (
            strict_api.post(
                "/account/mfa/confirm", data={"code": code, "csrf_token": csrf}
            ).status_code
            == 200
        )
        assert strict_api.get("/settings", follow_redirects=False).status_code == 200

    def test_an_enrolled_account_logs_in_with_its_code(
        self, strict_api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        _password_step(strict_api, user, next="/settings")
        response = _code_step(strict_api, setup.code())
        assert response.headers["location"] == "/settings"
        assert strict_api.get("/settings", follow_redirects=False).status_code == 200

    def test_the_check_costs_one_statement_per_page(
        self,
        api: TestClient,
        strict_api: TestClient,
        db: DbSession,
        settings: Settings,
        enrolled: tuple[User, MfaSetup],
        queries: QueryCounter,
    ) -> None:
        user, _ = enrolled
        counts = []
        for client in (api, strict_api):
            sign_in(client, db, settings, user)
            client.get("/settings")  # the login's first touch is written once
            queries.reset()
            assert client.get("/settings").status_code == 200
            counts.append(queries.count)
        assert counts[1] == counts[0] + 1, queries.statements


def _dependency_calls(dependant: Dependant) -> set[object]:
    found: set[object] = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _dependency_calls(sub)
    return found


# Pages open without a login, and the few a login may use before its second factor is set up.
PUBLIC_PAGES = {"/healthz", "/readyz", "/login", "/login/mfa", "/docs"}
BEFORE_SET_UP = {"/logout", "/account/mfa", "/account/mfa/confirm"}


def test_every_other_page_needs_the_second_factor_when_required(app: FastAPI) -> None:
    """Every page behind a login goes through `require_login`, which holds the requirement,
    so a new page cannot open to an account that has not set it up."""
    open_early, unguarded = set(), set()
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route.route, "dependant", None)
        if dependant is None or route.path.startswith(("/api/", "/c/")):
            continue  # the JSON API (bearer tokens) and the client's check-in pages
        calls = _dependency_calls(dependant)
        if require_login in calls:
            continue
        (open_early if require_any_login in calls else unguarded).add(route.path)
    assert open_early == BEFORE_SET_UP
    assert unguarded == PUBLIC_PAGES


class TestAdminReset:
    @pytest.fixture
    def admin(self, db: DbSession, settings: Settings) -> User:
        return make_user(db, settings, Role.ADMIN)

    def test_reset_from_the_account_page(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        admin: User,
        enrolled: tuple[User, MfaSetup],
    ) -> None:
        user, _ = enrolled
        their_cookies, _ = login_cookies(db, settings, user)
        csrf = sign_in(api, db, settings, admin)
        listed = parse(api.get("/admin/users").text)
        row = listed.by_id("accounts-table").find("tr", data_user=str(user.id))
        assert row.one("td", data_mfa="on").words() == "on"
        admin_row = listed.by_id("accounts-table").find("tr", data_user=str(admin.id))
        assert admin_row.one("td", data_mfa="off").words() == "not set up"
        page = parse(api.get(f"/admin/users/{user.id}").text)
        assert page.by_id("mfa-state").words().startswith("On since")
        form = page.by_id("mfa-reset-form")
        assert form.attrs["action"] == f"/admin/users/{user.id}/mfa/reset"
        response = api.post(form.attrs["action"], data={"csrf_token": csrf}, follow_redirects=False)
        assert response.status_code == 303
        done = parse(api.get(response.headers["location"]).text)
        assert done.by_id("mfa-reset-done")
        assert done.by_id("mfa-state").words() == "Not set up."
        assert not mfa.is_enrolled(db, user.id)
        assert all(login.ended_at for login in _logins(db, user))
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == mfa.RESET)).one()
        assert (event.actor_id, event.entity_id) == (admin.id, str(user.id))
        # Their browser login has ended.
        api.cookies.clear()
        api.cookies.update(their_cookies)
        assert api.get("/settings", follow_redirects=False).status_code == 303

    def test_reset_needs_the_csrf_token(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        admin: User,
        enrolled: tuple[User, MfaSetup],
    ) -> None:
        user, _ = enrolled
        sign_in(api, db, settings, admin)
        response = api.post(f"/admin/users/{user.id}/mfa/reset", data={"csrf_token": "x"})
        assert response.status_code == 403
        assert mfa.is_enrolled(db, user.id)

    def test_a_practitioner_cannot_reset(
        self, api: TestClient, db: DbSession, settings: Settings, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, _ = enrolled
        other = make_user(db, settings, Role.SUPERVISOR)
        csrf = sign_in(api, db, settings, other)
        response = api.post(f"/admin/users/{user.id}/mfa/reset", data={"csrf_token": csrf})
        assert response.status_code == 403
        assert mfa.is_enrolled(db, user.id)

    def test_an_admin_cannot_reset_their_own(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        make_mfa(db, settings, admin)
        csrf = sign_in(api, db, settings, admin)
        assert not parse(api.get(f"/admin/users/{admin.id}").text).find_all(id="mfa-reset-form")
        response = api.post(f"/admin/users/{admin.id}/mfa/reset", data={"csrf_token": csrf})
        assert response.status_code == 422
        assert parse(response.text).by_id("mfa-error")
        assert mfa.is_enrolled(db, admin.id)

    def test_anonymous_goes_to_login(
        self, api: TestClient, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, _ = enrolled
        response = api.post(f"/admin/users/{user.id}/mfa/reset", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
