"""Login, bearer tokens, password storage and the admin-only user routes (throttling:
test_login_throttle.py)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy import func, select

from practice_dashboard.config import ARGON2_MIN_MEMORY_KIB, ARGON2_MIN_TIME_COST, Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, LoginSession, Supervision, User
from practice_dashboard.models.enums import Role
from practice_dashboard.security import create_access_token
from tests.builders import PASSWORD, auth_headers, login_cookies, make_client, make_user

TOKEN = "/api/v1/auth/token"
BAD_LOGIN = {"detail": "Incorrect e-mail or password"}
ARGON2_PREFIX = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+$")


def _login(api: TestClient, email: str, password: str) -> Response:
    return api.post(TOKEN, data={"username": email, "password": password})


def _user_count(db: DbSession) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def _reload(db: DbSession, user: User) -> User:
    db.expire_all()
    fresh = db.get(User, user.id)
    assert fresh is not None
    return fresh


@pytest.fixture
def user(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings, Role.THERAPIST, email="Robin@example.org".lower())
    db.commit()
    return user


@pytest.fixture
def admin(db: DbSession, settings: Settings) -> User:
    admin = make_user(db, settings, Role.ADMIN)
    db.commit()
    return admin


class TestLogin:
    def test_correct_password_returns_a_working_bearer_token(
        self, api: TestClient, settings: Settings, user: User
    ) -> None:
        response = _login(api, user.email, PASSWORD)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == settings.access_token_minutes * 60
        me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert (me.json()["id"], me.json()["email"]) == (str(user.id), user.email)

    def test_email_is_case_insensitive(self, api: TestClient, user: User) -> None:
        assert _login(api, "  ROBIN@Example.ORG ", PASSWORD).status_code == 200

    def test_wrong_password_is_401(self, api: TestClient, user: User) -> None:
        response = _login(api, user.email, PASSWORD + "!")
        assert response.status_code == 401
        assert response.json() == BAD_LOGIN
        assert response.headers["www-authenticate"] == "Bearer"

    def test_unknown_email_is_401_with_the_same_answer(self, api: TestClient, user: User) -> None:
        unknown = _login(api, "nobody@example.org", PASSWORD)
        wrong = _login(api, user.email, "not the password")
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() == wrong.json() == BAD_LOGIN
        assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]

    def test_inactive_user_is_401_even_with_the_right_password(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        inactive = make_user(db, settings, is_active=False)
        db.commit()
        response = _login(api, inactive.email, PASSWORD)
        assert response.status_code == 401
        assert response.json() == BAD_LOGIN

    def test_missing_password_is_422(self, api: TestClient, user: User) -> None:
        response = api.post(TOKEN, data={"username": user.email})
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "password"]]


class TestBearerToken:
    ROUTES = ["/api/v1/me", "/api/v1/clients"]

    @pytest.mark.parametrize("route", ROUTES)
    def test_no_token_is_401(self, api: TestClient, route: str) -> None:
        response = api.get(route)
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated"}
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("route", ROUTES)
    @pytest.mark.parametrize(
        "token", ["garbage", "a.b.c", ""], ids=["garbage", "three-dots", "empty"]
    )
    def test_garbage_token_is_401(self, api: TestClient, route: str, token: str) -> None:
        response = api.get(route, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    def test_expired_token_is_401(self, api: TestClient, settings: Settings, user: User) -> None:
        issued = datetime.now(UTC) - timedelta(minutes=settings.access_token_minutes + 1)
        token = create_access_token(settings, user.id, issued, generation=user.token_generation)
        response = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid or expired token"}

    def test_token_signed_with_another_key_is_401(
        self, api: TestClient, settings: Settings, user: User
    ) -> None:
        other = settings.model_copy(update={"secret_key": SecretStr("another-key-" + "y" * 40)})
        token = create_access_token(
            other, user.id, datetime.now(UTC), generation=user.token_generation
        )
        response = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    def test_token_of_an_unknown_user_is_401(self, api: TestClient, settings: Settings) -> None:
        token = create_access_token(settings, uuid.uuid4(), datetime.now(UTC), generation=0)
        response = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    def test_token_of_a_deactivated_user_is_401(
        self, api: TestClient, db: DbSession, settings: Settings, user: User
    ) -> None:
        headers = auth_headers(settings, user)
        assert api.get("/api/v1/me", headers=headers).status_code == 200
        user.is_active = False
        db.commit()
        assert api.get("/api/v1/me", headers=headers).status_code == 401

    def test_other_scheme_is_401(self, api: TestClient, settings: Settings, user: User) -> None:
        token = create_access_token(
            settings, user.id, datetime.now(UTC), generation=user.token_generation
        )
        response = api.get("/api/v1/me", headers={"Authorization": f"Basic {token}"})
        assert response.status_code == 401


class TestAccountChangesEndLogins:
    """A password change or reset, or a deactivation, ends every login session of the account
    and makes every API token issued before it fail; other edits leave them working."""

    NEW_PASSWORD = "a brand new passphrase"

    def _logged_in(
        self, api: TestClient, db: DbSession, settings: Settings, user: User
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(bearer headers, browser cookies) for `user`, both shown to work."""
        headers = auth_headers(settings, user)
        cookies, _ = login_cookies(db, settings, user)
        db.commit()
        assert api.get("/api/v1/me", headers=headers).status_code == 200
        assert self._page(api, cookies).status_code == 200
        return headers, cookies

    def _page(self, api: TestClient, cookies: dict[str, str]) -> Response:
        api.cookies.clear()
        api.cookies.update(cookies)
        try:
            return api.get("/settings", follow_redirects=False)
        finally:
            api.cookies.clear()

    def _patch(
        self, api: TestClient, settings: Settings, admin: User, user: User, **change: object
    ) -> Response:
        response = api.patch(
            f"/api/v1/users/{user.id}",
            json={**change, "version": user.version},
            headers=auth_headers(settings, admin),
        )
        assert response.status_code == 200, response.text
        return response

    def _assert_logged_out(
        self,
        api: TestClient,
        db: DbSession,
        user: User,
        headers: dict[str, str],
        cookies: dict[str, str],
    ) -> None:
        response = api.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid or expired token"}
        page = self._page(api, cookies)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")
        db.expire_all()
        logins = db.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).all()
        assert logins
        assert all(login.ended_at is not None for login in logins)

    def test_a_password_reset_by_an_admin_ends_logins_and_older_tokens(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, admin: User
    ) -> None:
        headers, cookies = self._logged_in(api, db, settings, user)
        self._patch(api, settings, admin, user, password=self.NEW_PASSWORD)
        self._assert_logged_out(api, db, user, headers, cookies)
        # The new password gives a token that works; the old one gives nothing.
        assert _login(api, user.email, PASSWORD).status_code == 401
        fresh = _login(api, user.email, self.NEW_PASSWORD)
        assert fresh.status_code == 200
        bearer = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
        assert api.get("/api/v1/me", headers=bearer).status_code == 200

    def test_a_deactivation_ends_logins_and_older_tokens_for_good(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, admin: User
    ) -> None:
        headers, cookies = self._logged_in(api, db, settings, user)
        self._patch(api, settings, admin, user, is_active=False)
        self._assert_logged_out(api, db, user, headers, cookies)
        # Reactivating the account does not bring the old logins or tokens back.
        self._patch(api, settings, admin, _reload(db, user), is_active=True)
        self._assert_logged_out(api, db, user, headers, cookies)
        assert _login(api, user.email, PASSWORD).status_code == 200

    def test_an_admin_changing_their_own_password_must_log_in_again(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        headers, cookies = self._logged_in(api, db, settings, admin)
        response = api.patch(
            f"/api/v1/users/{admin.id}",
            json={"password": self.NEW_PASSWORD, "version": admin.version},
            headers=headers,
        )
        assert response.status_code == 200
        self._assert_logged_out(api, db, admin, headers, cookies)

    def test_other_changes_keep_logins_and_tokens(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, admin: User
    ) -> None:
        headers, cookies = self._logged_in(api, db, settings, user)
        self._patch(api, settings, admin, user, full_name="Renamed", role="coach")
        # Role and name are read from the account on every request, so nothing needs ending.
        assert api.get("/api/v1/me", headers=headers).json()["role"] == "coach"
        assert self._page(api, cookies).status_code == 200
        assert _reload(db, user).token_generation == 0


class TestPasswordStorage:
    def test_created_users_get_an_argon2id_hash_at_least_at_the_owasp_floor(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        response = api.post(
            "/api/v1/users",
            json={
                "email": "new@example.org",
                "full_name": "New Person",
                "role": "coach",
                "password": "a long enough passphrase",
            },
            headers=auth_headers(settings, admin),
        )
        assert response.status_code == 201
        body = response.json()
        assert not {"password", "password_hash"} & set(body)

        stored = db.scalars(select(User).where(User.id == uuid.UUID(body["id"]))).one()
        match = ARGON2_PREFIX.match(stored.password_hash)
        assert match is not None, stored.password_hash
        memory, time_cost, parallelism = map(int, match.groups())
        assert memory >= ARGON2_MIN_MEMORY_KIB == 19_456
        assert time_cost >= ARGON2_MIN_TIME_COST == 2
        assert (memory, time_cost, parallelism) == (
            settings.argon2_memory_kib,
            settings.argon2_time_cost,
            settings.argon2_parallelism,
        )
        assert _login(api, "new@example.org", "a long enough passphrase").status_code == 200

    def test_hashes_are_salted(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        for email in ("a@example.org", "b@example.org"):
            response = api.post(
                "/api/v1/users",
                json={
                    "email": email,
                    "full_name": "X",
                    "role": "therapist",
                    "password": "the same passphrase",
                },
                headers=auth_headers(settings, admin),
            )
            assert response.status_code == 201
        hashes = set(
            db.scalars(
                select(User.password_hash).where(User.email.in_(["a@example.org", "b@example.org"]))
            )
        )
        assert len(hashes) == 2

    def test_settings_refuse_weaker_hashing(self, database_url: str) -> None:
        with pytest.raises(ValueError, match="argon2 memory"):
            Settings(
                environment="test",
                database_url=database_url,
                argon2_memory_kib=ARGON2_MIN_MEMORY_KIB - 1,
            )
        with pytest.raises(ValueError, match="argon2 time cost"):
            Settings(environment="test", database_url=database_url, argon2_time_cost=1)


class TestAdminOnlyUserRoutes:
    NEW_USER = {
        "email": "someone@example.org",
        "full_name": "Some One",
        "role": "therapist",
        "password": "a long enough passphrase",
    }

    @pytest.mark.parametrize("role", [Role.THERAPIST, Role.COACH, Role.SUPERVISOR])
    @pytest.mark.parametrize(
        "route", ["create-user", "list-users", "add-supervisee", "list-supervisees", "edit-user"]
    )
    def test_practitioners_get_403_and_nothing_changes(
        self, api: TestClient, db: DbSession, settings: Settings, role: Role, route: str
    ) -> None:
        caller = make_user(db, settings, role)
        other = make_user(db, settings, Role.THERAPIST)
        db.commit()
        users_before = _user_count(db)
        request = {
            "create-user": ("POST", "/api/v1/users", self.NEW_USER),
            "list-users": ("GET", "/api/v1/users", None),
            "add-supervisee": (
                "POST",
                f"/api/v1/users/{caller.id}/supervisees",
                {"supervisee_id": str(other.id)},
            ),
            "list-supervisees": ("GET", f"/api/v1/users/{caller.id}/supervisees", None),
            "edit-user": ("PATCH", f"/api/v1/users/{other.id}", {"role": "admin", "version": 1}),
        }[route]
        method, url, body = request
        response = api.request(method, url, json=body, headers=auth_headers(settings, caller))
        assert response.status_code == 403
        assert response.json() == {"detail": "Only an admin can manage accounts"}
        assert _user_count(db) == users_before
        assert db.scalar(select(func.count()).select_from(Supervision)) == 0
        assert _reload(db, other).role == Role.THERAPIST

    def test_anonymous_gets_401(self, api: TestClient) -> None:
        assert api.post("/api/v1/users", json=self.NEW_USER).status_code == 401
        assert api.get("/api/v1/users").status_code == 401

    def test_admin_creates_lists_and_links(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        headers = auth_headers(settings, admin)
        boss = make_user(db, settings, Role.SUPERVISOR)
        db.commit()
        created = api.post("/api/v1/users", json=self.NEW_USER, headers=headers)
        assert created.status_code == 201
        new_id = created.json()["id"]
        assert {k: created.json()[k] for k in ("email", "role", "is_active")} == {
            "email": "someone@example.org",
            "role": "therapist",
            "is_active": True,
        }

        listed = api.get("/api/v1/users", headers=headers).json()
        assert new_id in {u["id"] for u in listed["items"]}
        assert listed["total"] == 3

        link = api.post(
            f"/api/v1/users/{boss.id}/supervisees", json={"supervisee_id": new_id}, headers=headers
        )
        assert link.status_code == 201
        assert (link.json()["supervisor_id"], link.json()["supervisee_id"]) == (
            str(boss.id),
            new_id,
        )
        links = api.get(f"/api/v1/users/{boss.id}/supervisees", headers=headers).json()
        assert [item["supervisee_id"] for item in links] == [new_id]


class TestAnAdminsOwnAccount:
    """The page refuses it, and so does the API: one rule, in services/accounts."""

    @pytest.mark.parametrize(
        ("change", "field"), [({"role": "therapist"}, "role"), ({"is_active": False}, "is_active")]
    )
    def test_an_admin_cannot_demote_or_deactivate_themselves(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        admin: User,
        change: dict[str, object],
        field: str,
    ) -> None:
        headers = auth_headers(settings, admin)
        response = api.patch(
            f"/api/v1/users/{admin.id}", json={**change, "version": admin.version}, headers=headers
        )
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", field]
        assert "ask another admin" in problem["msg"]
        stored = _reload(db, admin)
        assert (stored.role, stored.is_active, stored.version) == (Role.ADMIN, True, 1)
        assert api.get("/api/v1/me", headers=headers).status_code == 200

    def test_other_changes_to_their_own_account_are_fine(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        response = api.patch(
            f"/api/v1/users/{admin.id}",
            json={"full_name": "Renamed", "role": "admin", "is_active": True, "version": 1},
            headers=auth_headers(settings, admin),
        )
        assert response.status_code == 200
        assert _reload(db, admin).full_name == "Renamed"

    def test_another_admin_may_demote_them(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        second = make_user(db, settings, Role.ADMIN)
        db.commit()
        response = api.patch(
            f"/api/v1/users/{admin.id}",
            json={"role": "supervisor", "version": admin.version},
            headers=auth_headers(settings, second),
        )
        assert response.status_code == 200
        assert _reload(db, admin).role == Role.SUPERVISOR


class TestNewUserValidation:
    @pytest.mark.parametrize("email", ["user@example.org", "  USER@Example.ORG  "])
    def test_duplicate_email_is_422_whatever_the_case(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User, email: str
    ) -> None:
        make_user(db, settings, email="user@example.org")
        db.commit()
        before = _user_count(db)
        response = api.post(
            "/api/v1/users",
            json={**TestAdminOnlyUserRoutes.NEW_USER, "email": email},
            headers=auth_headers(settings, admin),
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {
                "loc": ["body", "email"],
                "msg": "an account with this e-mail already exists",
                "type": "value_error",
            }
        ]
        assert _user_count(db) == before

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            ({"email": "not-an-email"}, "email"),
            ({"password": "short"}, "password"),
            ({"role": "superuser"}, "role"),
            ({"full_name": ""}, "full_name"),
            ({"is_admin": True}, "is_admin"),
        ],
    )
    def test_bad_new_user_is_422_naming_the_field(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        admin: User,
        change: dict[str, object],
        loc: str,
    ) -> None:
        before = _user_count(db)
        response = api.post(
            "/api/v1/users",
            json={**TestAdminOnlyUserRoutes.NEW_USER, **change},
            headers=auth_headers(settings, admin),
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", loc]]
        assert _user_count(db) == before


class TestAdminsSeeNoClinicalData:
    @pytest.fixture
    def client(self, db: DbSession, settings: Settings) -> Client:
        client = make_client(db, make_user(db, settings))
        db.commit()
        return client

    def test_admin_cannot_create_a_client(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User, client: Client
    ) -> None:
        response = api.post(
            "/api/v1/clients", json={"display_name": "X"}, headers=auth_headers(settings, admin)
        )
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "practitioner_id"]]
        assert db.scalar(select(func.count()).select_from(Client)) == 1

    def test_admin_lists_no_clients(
        self, api: TestClient, settings: Settings, admin: User, client: Client
    ) -> None:
        response = api.get("/api/v1/clients", headers=auth_headers(settings, admin))
        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
        archived = api.get(
            "/api/v1/clients", params={"archived": "true"}, headers=auth_headers(settings, admin)
        )
        assert archived.json()["total"] == 0

    @pytest.mark.parametrize("path", ["", "/sessions", "/observations", "/episodes", "/measures"])
    def test_admin_gets_404_for_a_client_and_its_records(
        self, api: TestClient, settings: Settings, admin: User, client: Client, path: str
    ) -> None:
        response = api.get(
            f"/api/v1/clients/{client.id}{path}", headers=auth_headers(settings, admin)
        )
        assert response.status_code == 404
        assert response.json() == {"detail": "Client not found"}
