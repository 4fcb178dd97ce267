"""Two-factor authentication in the JSON API: the token's second factor and the admin reset."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, MfaAuthenticator, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.accounts import mfa
from tests.builders import PASSWORD, MfaSetup, auth_headers, make_mfa, make_user
from tests.conftest import make_settings

TOKEN = "/api/v1/auth/token"


def _token(api: TestClient, user: User, otp: str | None = None) -> Response:
    form = {"username": user.email, "password": PASSWORD}
    if otp is not None:
        form["otp"] = otp
    return api.post(TOKEN, data=form)


def _works(api: TestClient, response: Response) -> bool:
    bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return api.get("/api/v1/me", headers=bearer).status_code == 200


@pytest.fixture
def enrolled(db: DbSession, settings: Settings) -> tuple[User, MfaSetup]:
    user = make_user(db, settings, Role.COACH)
    setup = make_mfa(db, settings, user)
    db.commit()
    return user, setup


class TestTokenWithSecondFactor:
    def test_without_otp_it_says_a_second_factor_is_needed(
        self, api: TestClient, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, _ = enrolled
        response = _token(api, user)
        assert response.status_code == 401
        assert response.json() == {"detail": mfa.NEEDS_SECOND_FACTOR}
        assert response.headers["www-authenticate"] == "Bearer"

    def test_with_the_app_code_it_gives_a_working_token(
        self, api: TestClient, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        response = _token(api, user, setup.code())
        assert response.status_code == 200
        assert _works(api, response)

    def test_a_wrong_or_replayed_code_is_401_and_counted(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        wrong = _token(api, user, "000000")
        assert wrong.status_code == 401
        assert wrong.json() == {"detail": mfa.WRONG_CODE}
        code = setup.code()
        assert _token(api, user, code).status_code == 200
        assert _token(api, user, code).status_code == 401
        db.expire_all()
        found = db.scalars(select(MfaAuthenticator)).one()
        assert found.failed_count == 1  # the replay; the right code cleared the first
        failed = db.scalars(select(AuditEvent).where(AuditEvent.action == mfa.FAILED)).all()
        assert len(failed) == 2

    def test_a_recovery_code_works_once(
        self, api: TestClient, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        assert _token(api, user, setup.recovery_codes[0]).status_code == 200
        assert _token(api, user, setup.recovery_codes[0]).status_code == 401

    def test_wrong_codes_are_throttled(
        self, api: TestClient, settings: Settings, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        for _ in range(settings.mfa_code_free_attempts):
            assert _token(api, user, "000000").status_code == 401
        throttled = _token(api, user, setup.code())
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1

    def test_a_wrong_password_is_refused_before_the_code(
        self, api: TestClient, db: DbSession, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        response = api.post(
            TOKEN, data={"username": user.email, "password": "nope", "otp": setup.code()}
        )
        assert response.status_code == 401
        assert response.json() == {"detail": "Incorrect e-mail or password"}
        # The code was not spent: it still works with the right password.
        assert _token(api, user, setup.code()).status_code == 200

    def test_an_account_without_mfa_needs_no_code(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        assert _works(api, _token(api, user))
        assert _token(api, user, "123456").status_code == 200

    def test_the_field_is_documented(self, api: TestClient) -> None:
        schema = api.get("/openapi.json").json()
        operation = schema["paths"][TOKEN]["post"]
        body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
        otp = schema["components"]["schemas"][ref]["properties"]["otp"]
        assert "recovery code" in otp["description"]
        assert {"401", "403", "429"} <= set(operation["responses"])


@pytest.fixture
def strict_api(
    database_url: str, session_factory: sessionmaker[OrmSession]
) -> Iterator[TestClient]:
    """The app of a practice that requires two-factor authentication."""
    app = create_app(make_settings(database_url, require_mfa=True))
    app.state.session_factory = session_factory
    with TestClient(app) as client:
        yield client


class TestPracticeRequiresMfa:
    def test_no_token_before_set_up(
        self, strict_api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        user = make_user(db, settings)
        db.commit()
        response = _token(strict_api, user)
        assert response.status_code == 403
        assert response.json() == {"detail": mfa.ENROL_FIRST}

    def test_a_token_with_the_code_once_set_up(
        self, strict_api: TestClient, enrolled: tuple[User, MfaSetup]
    ) -> None:
        user, setup = enrolled
        assert _token(strict_api, user).status_code == 401
        assert _works(strict_api, _token(strict_api, user, setup.code()))


class TestAdminReset:
    @pytest.fixture
    def admin(self, db: DbSession, settings: Settings) -> User:
        admin = make_user(db, settings, Role.ADMIN)
        db.commit()
        return admin

    def _reset(self, api: TestClient, settings: Settings, caller: User, target: object) -> Response:
        return api.post(f"/api/v1/users/{target}/mfa/reset", headers=auth_headers(settings, caller))

    def test_an_admin_resets_and_the_old_tokens_stop(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        admin: User,
        enrolled: tuple[User, MfaSetup],
    ) -> None:
        user, setup = enrolled
        old = _token(api, user, setup.code())
        assert _works(api, old)
        response = self._reset(api, settings, admin, user.id)
        assert response.status_code == 204
        assert not _works(api, old)
        assert not mfa.is_enrolled(db, user.id)
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == mfa.RESET)).one()
        assert (event.actor_id, event.entity, event.entity_id) == (admin.id, "user", str(user.id))
        # With no second factor left, the password alone gives a token again (practice
        # without the requirement).
        assert _works(api, _token(api, user))

    @pytest.mark.parametrize("role", [Role.THERAPIST, Role.COACH, Role.SUPERVISOR])
    def test_others_are_refused(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        enrolled: tuple[User, MfaSetup],
        role: Role,
    ) -> None:
        user, _ = enrolled
        caller = make_user(db, settings, role)
        db.commit()
        assert self._reset(api, settings, caller, user.id).status_code == 403
        # Not even their own: a stolen token cannot strip the account's second factor.
        make_mfa(db, settings, caller)
        db.commit()
        assert self._reset(api, settings, caller, caller.id).status_code == 403
        assert mfa.is_enrolled(db, user.id)
        assert mfa.is_enrolled(db, caller.id)

    def test_anonymous_is_401(self, api: TestClient, enrolled: tuple[User, MfaSetup]) -> None:
        user, _ = enrolled
        assert api.post(f"/api/v1/users/{user.id}/mfa/reset").status_code == 401

    def test_unknown_account_is_404(self, api: TestClient, settings: Settings, admin: User) -> None:
        assert self._reset(api, settings, admin, uuid.uuid4()).status_code == 404

    def test_an_admin_cannot_reset_their_own(
        self, api: TestClient, db: DbSession, settings: Settings, admin: User
    ) -> None:
        make_mfa(db, settings, admin)
        db.commit()
        response = self._reset(api, settings, admin, admin.id)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "user_id"]
        assert mfa.is_enrolled(db, admin.id)
