"""Account pages: list, create, edit, deactivate, supervision links; admins only; CSRF."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, LoginSession, Supervision, User
from practice_dashboard.models.enums import Role
from tests.builders import auth_headers, login_cookies, make_user, supervise
from tests.conftest import QueryCounter
from tests.html import Node, parse
from tests.web.test_caseload_page import get, page

NEW_PASSWORD = "a long enough secret phrase"


def _post(
    api: TestClient, db: DbSession, settings: Settings, user: User, url: str, data: dict[str, str]
) -> Any:
    """POST a form as `user` with their login's CSRF token (unless `data` brings its own)."""
    cookies, csrf = login_cookies(db, settings, user)
    db.commit()
    api.cookies.clear()
    api.cookies.update(cookies)
    return api.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)


def _account_rows(doc: Node) -> dict[str, list[str]]:
    table = doc.by_id("accounts-table").find("tbody")
    return {
        tr.attrs["data-user"]: [td.words() for td in tr.find_all("td")]
        for tr in table.find_all("tr")
    }


def _audited(db: DbSession, action: str, entity: str) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.entity == entity)
        )
    )


class TestAccess:
    def test_only_admins(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        target = make_user(db, settings)
        for role in (Role.THERAPIST, Role.COACH, Role.SUPERVISOR):
            user = make_user(db, settings, role)
            for url in ("/admin/users", f"/admin/users/{target.id}"):
                response = get(api, db, settings, user, url)
                assert response.status_code == 403, url
                assert parse(response.text).find("h1").words() == "You do not have access to this"
            response = _post(
                api,
                db,
                settings,
                user,
                "/admin/users",
                {
                    "email": "x@example.org",
                    "full_name": "X",
                    "role": "admin",
                    "password": NEW_PASSWORD,
                },
            )
            assert response.status_code == 403
        assert db.scalars(select(User).where(User.email == "x@example.org")).first() is None

    def test_a_post_without_the_csrf_token_is_refused(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        target = make_user(db, settings, full_name="Unchanged")
        form = {
            "email": "new@example.org",
            "full_name": "N",
            "role": "coach",
            "password": NEW_PASSWORD,
        }
        for url, data in (
            ("/admin/users", form),
            (
                f"/admin/users/{target.id}",
                {"full_name": "Changed", "role": "coach", "version": "1"},
            ),
            (
                "/admin/supervision",
                {"supervisor_id": str(admin.id), "supervisee_id": str(target.id)},
            ),
        ):
            for token in ("", "forged"):
                response = _post(api, db, settings, admin, url, {**data, "csrf_token": token})
                assert response.status_code == 403, url
        db.refresh(target)
        assert target.full_name == "Unchanged"
        assert db.scalars(select(User).where(User.email == "new@example.org")).first() is None

    def test_an_unknown_account_is_a_404_page(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        for url in ("/admin/users/not-a-uuid", "/admin/users/01900000-0000-7000-8000-000000000000"):
            response = get(api, db, settings, admin, url)
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("text/html")


class TestList:
    def test_accounts_with_role_and_state(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN, full_name="Ann Admin")
        boss = make_user(db, settings, Role.SUPERVISOR, full_name="Sue Supervisor")
        gone = make_user(db, settings, Role.COACH, full_name="<b>Gone</b>", is_active=False)
        supervise(db, boss, gone)
        doc = page(api, db, settings, admin, "/admin/users")
        accounts = _account_rows(doc)
        assert accounts[str(admin.id)][:4] == ["Ann Admin (you)", admin.email, "Admin", "active"]
        assert accounts[str(boss.id)][2:5] == ["Supervisor", "active", "<b>Gone</b>"]
        assert accounts[str(gone.id)][2:4] == ["Coach", "deactivated"]
        edit = doc.by_id("accounts-table").find("tr", data_user=str(gone.id)).find("a")
        assert edit.attrs["href"] == f"/admin/users/{gone.id}"
        # The nav shows accounts, not the caseload.
        nav = doc.find("nav", aria_label="Main")
        assert [a.words() for a in nav.find_all("a")] == ["Accounts", "Audit log", "Settings"]

    def test_fixed_number_of_queries(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        boss = make_user(db, settings, Role.SUPERVISOR)
        counts = []
        for n in (3, 30):
            for _ in range(n):
                supervise(db, boss, make_user(db, settings))
            cookies, _ = login_cookies(db, settings, admin)
            db.commit()
            api.cookies.update(cookies)
            queries.reset()
            response = api.get("/admin/users")
            assert response.status_code == 200
            counts.append(queries.count)
        assert len(_account_rows(parse(response.text))) == 35
        assert counts[0] == counts[1], queries.statements


class TestCreate:
    def test_create_an_account(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        response = _post(
            api,
            db,
            settings,
            admin,
            "/admin/users",
            {
                "email": " New.Person@Example.org ",
                "full_name": "New Person",
                "role": "coach",
                "password": NEW_PASSWORD,
            },
        )
        assert response.status_code == 303
        created = db.scalars(select(User).where(User.email == "new.person@example.org")).one()
        assert (created.full_name, created.role, created.is_active) == (
            "New Person",
            Role.COACH,
            True,
        )
        assert response.headers["location"] == f"/admin/users?created={created.id}"
        assert [e.entity_id for e in _audited(db, "create", "user")] == [str(created.id)]
        doc = page(api, db, settings, admin, response.headers["location"])
        assert doc.by_id("created-notice").words() == (
            "Account created for New Person (new.person@example.org)."
        )

    def test_problems_are_shown_by_their_fields_and_entries_kept(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        response = _post(
            api,
            db,
            settings,
            admin,
            "/admin/users",
            {
                "email": "not-an-email",
                "full_name": "Kept <Name>",
                "role": "supervisor",
                "password": "short",
            },
        )
        assert response.status_code == 422
        form = parse(response.text).by_id("create-form")
        email = form.find("input", name="email")
        assert email.attrs["value"] == "not-an-email"
        assert email.attrs["aria-invalid"] == "true"
        assert form.by_id(email.attrs["aria-describedby"]).words().startswith("Enter an e-mail")
        assert form.find("input", name="full_name").attrs["value"] == "Kept <Name>"
        assert "aria-invalid" not in form.find("input", name="full_name").attrs
        assert (
            form.find("select", name="role")
            .find("option", value="supervisor")
            .attrs.get("selected")
            == ""
        )
        password = form.find("input", name="password")
        assert "value" not in password.attrs  # never echoed
        assert "short" not in response.text
        assert form.by_id("password-error").words().startswith("Use at least 12 characters")
        assert _audited(db, "create", "user") == []

    def test_a_taken_email_and_a_blank_role(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        taken = make_user(db, settings)
        response = _post(
            api,
            db,
            settings,
            admin,
            "/admin/users",
            {
                "email": taken.email.upper(),
                "full_name": "Someone",
                "role": "therapist",
                "password": NEW_PASSWORD,
            },
        )
        assert response.status_code == 422
        assert parse(response.text).by_id("email-error").words() == (
            "An account with this e-mail already exists."
        )
        response = _post(
            api,
            db,
            settings,
            admin,
            "/admin/users",
            {"email": "fresh@example.org", "full_name": " ", "role": "", "password": NEW_PASSWORD},
        )
        assert response.status_code == 422
        doc = parse(response.text)
        assert doc.by_id("role-error").words() == "Choose a role."
        assert doc.by_id("full_name-error").words().startswith("Enter a name")


class TestEdit:
    def _form(self, doc: Node) -> dict[str, str]:
        form = doc.by_id("edit-form")
        checkbox = form.find("input", name="is_active")
        return {
            "full_name": form.find("input", name="full_name").attrs["value"],
            "role": next(
                o.attrs["value"]
                for o in form.find("select", name="role").find_all("option")
                if "selected" in o.attrs
            ),
            "version": form.find("input", name="version").attrs["value"],
            **({"is_active": "on"} if "checked" in checkbox.attrs else {}),
        }

    def test_edit_name_and_role_then_deactivate(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        person = make_user(db, settings, Role.THERAPIST, full_name="Old Name")
        url = f"/admin/users/{person.id}"
        form = self._form(page(api, db, settings, admin, url))
        assert form == {
            "full_name": "Old Name",
            "role": "therapist",
            "version": "1",
            "is_active": "on",
        }

        response = _post(
            api, db, settings, admin, url, {**form, "full_name": "New Name", "role": "supervisor"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"{url}?saved=1"
        db.refresh(person)
        assert (person.full_name, person.role, person.version) == ("New Name", Role.SUPERVISOR, 2)
        doc = page(api, db, settings, admin, f"{url}?saved=1")
        assert doc.find("p", role="status").words() == "Changes saved."

        form = self._form(doc)
        del form["is_active"]  # an unticked checkbox is not sent
        assert _post(api, db, settings, admin, url, form).status_code == 303
        db.refresh(person)
        assert person.is_active is False
        assert len(_audited(db, "update", "user")) == 2
        # A deactivated account cannot use the dashboard any more.
        assert get(api, db, settings, person, "/").status_code == 303

    def test_deactivating_ends_every_login_and_older_token_for_good(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        person = make_user(db, settings, full_name="Leaving")
        headers = auth_headers(settings, person)
        cookies, _ = login_cookies(db, settings, person)
        db.commit()
        url = f"/admin/users/{person.id}"
        form = {"full_name": "Leaving", "role": "therapist", "version": "1"}
        assert _post(api, db, settings, admin, url, form).status_code == 303  # deactivated
        # Ended on the server in the same change, before the person makes another request.
        db.expire_all()
        logins = db.scalars(select(LoginSession).where(LoginSession.user_id == person.id)).all()
        assert [login.ended_at is not None for login in logins] == [True]
        reactivate = {**form, "version": "2", "is_active": "on"}
        assert _post(api, db, settings, admin, url, reactivate).status_code == 303
        db.refresh(person)
        assert person.is_active is True
        # Reactivated, yet the browser login and the API token from before stay dead.
        api.cookies.clear()
        api.cookies.update(cookies)
        response = api.get("/settings", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        api.cookies.clear()
        assert api.get("/api/v1/me", headers=headers).status_code == 401

    def test_a_stale_version_is_a_clear_conflict(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        person = make_user(db, settings, full_name="First")
        url = f"/admin/users/{person.id}"
        stale_form = self._form(page(api, db, settings, admin, url))
        # Someone else saves first.
        assert (
            _post(api, db, settings, admin, url, {**stale_form, "full_name": "Second"}).status_code
            == 303
        )

        response = _post(
            api, db, settings, admin, url, {**stale_form, "full_name": "Third", "role": "coach"}
        )
        assert response.status_code == 409
        doc = parse(response.text)
        conflict = doc.by_id("conflict")
        assert "Someone else changed this account" in conflict.words()
        assert "Your changes were not saved" in conflict.words()
        stored = dict(
            zip(
                [dt.words() for dt in conflict.find_all("dt")],
                [dd.words() for dd in conflict.find_all("dd")],
                strict=True,
            )
        )
        assert stored == {"Name": "Second", "Role": "Therapist", "State": "active"}
        # The form keeps this admin's entries, now based on the current version.
        assert self._form(doc) == {
            "full_name": "Third",
            "role": "coach",
            "version": "2",
            "is_active": "on",
        }
        db.refresh(person)
        assert (person.full_name, person.version) == ("Second", 2)

    def test_validation_keeps_the_version_it_was_based_on(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        person = make_user(db, settings, full_name="Named")
        url = f"/admin/users/{person.id}"
        form = self._form(page(api, db, settings, admin, url))
        response = _post(api, db, settings, admin, url, {**form, "full_name": ""})
        assert response.status_code == 422
        doc = parse(response.text)
        assert doc.by_id("full_name-error").words().startswith("Enter a name")
        assert self._form(doc)["version"] == "1"

    def test_an_admin_cannot_lock_themselves_out(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        url = f"/admin/users/{admin.id}"
        for change in ({"role": "therapist", "is_active": "on"}, {"role": "admin"}):
            response = _post(
                api, db, settings, admin, url, {"full_name": "Me", "version": "1", **change}
            )
            assert response.status_code == 422
            assert "ask another admin" in parse(response.text).find("p", role="alert").words()
        db.refresh(admin)
        assert (admin.role, admin.is_active) == (Role.ADMIN, True)


class TestSupervisionLinks:
    def test_add_and_remove_a_link(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        boss = make_user(db, settings, Role.SUPERVISOR, full_name="Sue Supervisor")
        worker = make_user(db, settings, Role.COACH, full_name="Cole Coach")
        doc = page(api, db, settings, admin, "/admin/users")
        options = [o.attrs["value"] for o in doc.by_id("supervisor_id").find_all("option")]
        assert options == ["", str(boss.id)]

        pair = {"supervisor_id": str(boss.id), "supervisee_id": str(worker.id)}
        response = _post(api, db, settings, admin, "/admin/supervision", pair)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/users?done=linked"
        assert db.scalars(select(Supervision)).one().supervisee_id == worker.id
        doc = page(api, db, settings, admin, response.headers["location"])
        assert doc.find("p", role="status").words() == "Supervision link added."
        item = doc.by_id("links").find("li", data_supervisor=str(boss.id))
        assert item.find("span").words() == "Sue Supervisor supervises Cole Coach"
        remove = item.find("form")
        assert remove.attrs["action"] == "/admin/supervision/remove"

        response = _post(api, db, settings, admin, "/admin/supervision/remove", pair)
        assert response.status_code == 303
        assert db.scalars(select(Supervision)).all() == []
        assert len(_audited(db, "create", "supervision")) == 1
        assert len(_audited(db, "delete", "supervision")) == 1

    def test_problems_with_a_link(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        boss = make_user(db, settings, Role.SUPERVISOR)
        therapist = make_user(db, settings)
        cases = [
            (
                {"supervisor_id": "", "supervisee_id": ""},
                "supervisor_id-error",
                "Choose a supervisor.",
            ),
            (
                {"supervisor_id": str(therapist.id), "supervisee_id": str(boss.id)},
                "supervisor_id-error",
                "Only a supervisor account can supervise; change its role first.",
            ),
            (
                {"supervisor_id": str(boss.id), "supervisee_id": str(admin.id)},
                "supervisee_id-error",
                "Only practitioners can be supervised.",
            ),
            (
                {"supervisor_id": str(boss.id), "supervisee_id": str(boss.id)},
                "supervisee_id-error",
                "A practitioner cannot supervise themselves.",
            ),
        ]
        for data, error_id, message in cases:
            response = _post(api, db, settings, admin, "/admin/supervision", data)
            assert response.status_code == 422, data
            assert parse(response.text).by_id(error_id).words() == message
        assert db.scalars(select(Supervision)).all() == []

    def test_removing_a_missing_link_is_a_404(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        boss = make_user(db, settings, Role.SUPERVISOR)
        data = {"supervisor_id": str(boss.id), "supervisee_id": str(admin.id)}
        assert _post(api, db, settings, admin, "/admin/supervision/remove", data).status_code == 404
