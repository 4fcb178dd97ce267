"""Logging in and out of the dashboard, CSRF, security headers and error pages."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import LoginSession
from practice_dashboard.models.enums import Role
from practice_dashboard.services.accounts.login_session import COOKIE_NAME
from practice_dashboard.web.templating import plotly_url
from tests.builders import PASSWORD, login_cookies, make_user
from tests.html import parse


def _login_form(api: TestClient) -> str:
    page = api.get("/login")
    assert page.status_code == 200
    token = parse(page.text).one("input", name="csrf_token").attrs["value"]
    assert token
    return token


class TestLogin:
    def test_log_in_and_out(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        user = make_user(db, settings, Role.THERAPIST)
        db.commit()
        token = _login_form(api)
        response = api.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": token, "next": "/docs"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/docs"
        cookie = response.headers["set-cookie"]
        assert f"{COOKIE_NAME}=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        login = db.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).one()
        assert login.ended_at is None

        response = api.post(
            "/logout", data={"csrf_token": login.csrf_token}, follow_redirects=False
        )
        assert response.status_code == 303
        db.refresh(login)
        assert login.ended_at is not None
        # The old cookie is dead on the server, even if someone kept a copy of it.
        assert api.get("/settings", follow_redirects=False).status_code == 303

    def test_wrong_password_shows_the_form_again(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        token = _login_form(api)
        response = api.post(
            "/login", data={"email": user.email, "password": "nope", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "do not match" in response.text
        assert user.email in response.text  # the entered e-mail is kept

    def test_login_without_its_csrf_cookie_is_refused(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        response = api.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
        )
        assert response.status_code == 400
        assert db.scalars(select(LoginSession)).all() == []

    def test_next_never_leaves_the_site(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        token = _login_form(api)
        response = api.post(
            "/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/",
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


class TestLoginSessionLimits:
    def test_idle_login_expires(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        user = make_user(db, settings)
        cookies, _ = login_cookies(db, settings, user)
        login = db.scalars(select(LoginSession)).one()
        login.last_seen_at -= timedelta(minutes=settings.session_idle_minutes + 1)
        db.commit()
        api.cookies.update(cookies)
        assert api.get("/settings", follow_redirects=False).status_code == 303

    def test_absolute_limit(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        user = make_user(db, settings)
        cookies, _ = login_cookies(db, settings, user)
        login = db.scalars(select(LoginSession)).one()
        login.expires_at = login.last_seen_at  # as if 12 hours had passed
        db.commit()
        api.cookies.update(cookies)
        assert api.get("/settings", follow_redirects=False).status_code == 303

    def test_logout_needs_the_csrf_token(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        cookies, _ = login_cookies(db, settings, user)
        db.commit()
        api.cookies.update(cookies)
        response = api.post("/logout", data={"csrf_token": "forged"})
        assert response.status_code == 403
        assert db.scalars(select(LoginSession)).one().ended_at is None


class TestHeadersAndErrors:
    def test_security_headers_on_pages(self, api: TestClient) -> None:
        response = api.get("/login")
        csp = response.headers["content-security-policy"]
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert directive in csp
        assert "script-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"

    def test_api_responses_are_not_cached_either(self, api: TestClient) -> None:
        assert api.get("/healthz").headers["cache-control"] == "no-store"

    def test_versioned_assets_are_cached(self, api: TestClient) -> None:
        page = parse(api.get("/login").text)
        hrefs = [node.attrs.get("href", "") for node in page.iter()]
        css = [h for h in hrefs if re.fullmatch(r"/static/css/app\.css\?v=[0-9a-f]+", h)]
        assert css
        response = api.get(css[0])
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]

    def test_plotly_is_served_locally(self, api: TestClient) -> None:
        response = api.get(plotly_url())
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.content.startswith(b"/**\n* plotly.js (basic - minified)")
        assert "immutable" in response.headers["cache-control"]

    def test_docs_use_local_assets(self, api: TestClient) -> None:
        page = api.get("/docs").text
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
        assert "cdn" not in page.lower()
        assert "<script>" not in page  # no inline script: CSP allows 'self' only

    def test_html_404_is_a_page_without_a_trace(self, api: TestClient) -> None:
        response = api.get("/no/such/page")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "We could not find that page" in response.text
        assert "Traceback" not in response.text

    def test_api_404_stays_json(self, api: TestClient) -> None:
        response = api.get("/api/v1/no-such-route")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}

    def test_pages_need_a_login(self, api: TestClient) -> None:
        response = api.get("/settings?x=1", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/settings%3Fx%3D1"


class TestLoginThrottle:
    def _answers(self, app: FastAPI, address: str, email: str, attempts: int) -> list[Response]:
        with TestClient(app, client=(address, 50000)) as client:
            out = []
            for n in range(attempts):
                out.append(
                    client.post(
                        "/login",
                        data={
                            "email": email,
                            "password": f"guess {n}",
                            "csrf_token": _login_form(client),
                        },
                        follow_redirects=False,
                    )
                )
            return out

    def _alert(self, response: Response) -> str:
        alert = parse(response.text).find("p", role="alert")
        return alert.words() if alert else ""

    def test_unknown_and_known_emails_get_the_same_pages(
        self, app: FastAPI, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        attempts = settings.login_free_attempts + 2
        known = self._answers(app, "203.0.113.66", user.email, attempts)
        unknown = self._answers(app, "198.51.100.7", "nobody@example.org", attempts)
        assert [(r.status_code, self._alert(r)) for r in known] == [
            (r.status_code, self._alert(r)) for r in unknown
        ]
        assert [r.status_code for r in known][-3:] == [401, 429, 429]

    def test_another_source_logs_in_while_the_guessing_one_waits(
        self, app: FastAPI, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        self._answers(app, "203.0.113.66", user.email, settings.login_free_attempts)
        with TestClient(app, client=("203.0.113.66", 50000)) as attacker:
            response = attacker.post(
                "/login",
                data={
                    "email": user.email,
                    "password": PASSWORD,
                    "csrf_token": _login_form(attacker),
                },
                follow_redirects=False,
            )
            assert response.status_code == 429
            assert "try again in" in self._alert(response)
        with TestClient(app, client=("198.51.100.7", 50000)) as owner:
            response = owner.post(
                "/login",
                data={"email": user.email, "password": PASSWORD, "csrf_token": _login_form(owner)},
                follow_redirects=False,
            )
            assert response.status_code == 303

    def test_a_login_posted_with_a_live_login_cookie_still_works(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        # The page context reads the cookie's login first; the password check then runs in
        # transactions of its own.
        first, second = make_user(db, settings), make_user(db, settings)
        cookies, _ = login_cookies(db, settings, first)
        db.commit()
        token = _login_form(api)  # e.g. a second tab, opened before the first login
        api.cookies.update(cookies)
        for password, status in (("wrong", 401), (PASSWORD, 303)):
            response = api.post(
                "/login",
                data={"email": second.email, "password": password, "csrf_token": token},
                follow_redirects=False,
            )
            assert response.status_code == status
            if status == 401:  # the form comes back with a fresh token
                token = response.cookies["pd_login_csrf"]
