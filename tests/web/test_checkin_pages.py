"""The client's check-in pages (/c/<token>): code, home, episodes, daily check-in, corrections,
and their security: links that no longer work, sessions, CSRF, throttling, no leaks."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    AuditEvent,
    CheckinLink,
    Client,
    Episode,
    Observation,
    Revision,
    User,
)
from practice_dashboard.models.enums import ClientStatus, Source, Zone
from practice_dashboard.security import install_log_redaction
from tests.builders import (
    CHECKIN_CODE,
    auth_headers,
    make_checkin_link,
    make_client,
    make_user,
)
from tests.html import parse

ROUTES = "practice_dashboard.web.routes.checkin_pages"


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    return make_client(db, owner)


@pytest.fixture
def link(db: DbSession, settings: Settings, client: Client) -> tuple[str, CheckinLink]:
    token, row = make_checkin_link(db, settings, client)
    db.commit()
    return token, row


def _code_csrf(api: TestClient, token: str) -> str:
    page = api.get(f"/c/{token}")
    assert page.status_code == 200, page.text
    return parse(page.text).one("input", name="csrf_token").attrs["value"]


def _enter_code(api: TestClient, token: str, code: str = CHECKIN_CODE) -> int:
    csrf = _code_csrf(api, token)
    response = api.post(
        f"/c/{token}/code", data={"code": code, "csrf_token": csrf}, follow_redirects=False
    )
    return response.status_code


def _open(api: TestClient, token: str) -> str:
    """Enter the code; returns the check-in session's CSRF token from the home page."""
    assert _enter_code(api, token) == 303
    home = api.get(f"/c/{token}")
    assert home.status_code == 200
    return parse(home.text).find("input", name="csrf_token").attrs["value"]


def _count(db: DbSession, model: type[Episode] | type[Observation], client: Client) -> int:
    return (
        db.scalar(select(func.count()).select_from(model).where(model.client_id == client.id)) or 0
    )


class TestFlow:
    def test_code_then_one_tap_episode_then_back_to_baseline(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, row = link
        csrf = _open(api, token)
        response = api.post(
            f"/c/{token}/activated",
            data={"csrf_token": csrf, "peak_intensity": "6"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        episode = db.scalars(select(Episode).where(Episode.client_id == client.id)).one()
        assert (episode.source, episode.peak_intensity, episode.recorded_by_id) == (
            Source.CLIENT,
            6,
            None,
        )
        home = parse(api.get(f"/c/{token}").text)
        assert "Did you get back to baseline? When?" in home.words()

        # Back to baseline 40 minutes after a start typed as local time 50 minutes ago.
        episode.started_at = _minute(datetime.now(UTC) - timedelta(minutes=50))
        db.commit()
        back = (episode.started_at + timedelta(minutes=40)).astimezone(ZONE)
        response = api.post(
            f"/c/{token}/back",
            data={
                "csrf_token": csrf,
                "baseline_at_date": back.strftime("%Y-%m-%d"),
                "baseline_at_time": back.strftime("%H:%M"),
                "strategies": "breathing, a walk",
                "self_compassion": "7",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        db.refresh(episode)
        assert episode.recovery_minutes == 40
        assert episode.strategies == ["breathing", "a walk"]
        assert episode.self_compassion == 7
        # The history keeps the change; the audit trail names the link, never a user or token.
        revision = db.scalars(select(Revision).where(Revision.record_id == episode.id)).one()
        assert revision.actor_id is None
        events = db.scalars(select(AuditEvent).where(AuditEvent.client_id == client.id)).all()
        by_link = [e for e in events if e.checkin_link_id == row.id]
        assert {(e.action, e.entity) for e in by_link} >= {
            ("open", "checkin_link"),
            ("create", "episode"),
            ("update", "episode"),
        }
        assert all(e.actor_id is None for e in by_link)
        assert all(token not in (e.detail or "") for e in events)
        db.refresh(row)
        assert row.last_used_at is not None

    def test_opening_the_home_page_later_notes_the_use_after_the_read(
        self, api: TestClient, db: DbSession, link: tuple[str, CheckinLink]
    ) -> None:
        """The home page is a read: the "last used" note is written after it (a write inside
        the read transaction would be refused), and the page still answers."""
        token, row = link
        _open(api, token)
        stale = datetime.now(UTC) - timedelta(days=2)
        row.last_used_at = stale
        db.commit()
        assert api.get(f"/c/{token}").status_code == 200
        db.refresh(row)
        assert row.last_used_at is not None
        assert row.last_used_at > stale

    def test_the_practitioner_sees_the_link_as_the_actor(
        self,
        api: TestClient,
        settings: Settings,
        owner: User,
        client: Client,
        link: tuple[str, CheckinLink],
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        api.post(f"/c/{token}/activated", data={"csrf_token": csrf, "peak_intensity": "4"})
        events = api.get(
            f"/api/v1/audit-events?client_id={client.id}", headers=auth_headers(settings, owner)
        ).json()["items"]
        created = next(e for e in events if (e["action"], e["entity"]) == ("create", "episode"))
        assert created["actor_name"] == "client via check-in link"
        assert created["actor_id"] is None
        assert all(token not in str(e) for e in events)

    def test_daily_check_in_in_the_practitioners_words(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        owner: User,
        link: tuple[str, CheckinLink],
    ) -> None:
        owner.zone_vocabulary = "polyvagal"
        db.commit()
        token, _ = link
        csrf = _open(api, token)
        page = parse(api.get(f"/c/{token}/daily").text)
        assert "ventral" in page.words()
        response = api.post(
            f"/c/{token}/daily",
            data={"csrf_token": csrf, "zone": "hyper", "activation": "7", "capacity": "4"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        observation = db.scalars(
            select(Observation).where(Observation.client_id == client.id)
        ).one()
        assert (
            observation.source,
            observation.zone,
            observation.activation,
            observation.capacity,
        ) == (
            Source.CLIENT,
            Zone.HYPER,
            7,
            4,
        )

    def test_a_second_activation_offers_to_close_the_first(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        for expected in (303, 409):
            response = api.post(
                f"/c/{token}/activated",
                data={"csrf_token": csrf, "peak_intensity": "5"},
                follow_redirects=False,
            )
            assert response.status_code == expected
        assert "I'm back to baseline" in parse(response.text).words()
        assert _count(db, Episode, client) == 1

    def test_bad_input_is_named_and_nothing_is_saved(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        future = (datetime.now(UTC) + timedelta(hours=3)).astimezone(ZONE)
        cases = [
            ("activated", {"peak_intensity": "11"}, "peak_intensity"),
            (
                "activated",
                {
                    "peak_intensity": "4",
                    "started_at_date": future.strftime("%Y-%m-%d"),
                    "started_at_time": future.strftime("%H:%M"),
                },
                "started_at",
            ),
            ("activated", {"peak_intensity": "4", "notes": "a\x00b"}, "notes"),
            ("back", {}, "baseline_at"),  # nothing open to close
            ("daily", {"zone": "sideways", "activation": "3"}, "zone"),
            ("daily", {"zone": "within", "activation": "-1"}, "activation"),
        ]
        for form, data, field in cases:
            response = api.post(f"/c/{token}/{form}", data={"csrf_token": csrf, **data})
            assert response.status_code == 422, (form, data, response.text)
            page = parse(response.text)
            assert page.find(id=f"{field}-error"), (form, data, page.words())
        assert _count(db, Episode, client) == 0
        assert _count(db, Observation, client) == 0

    def test_baseline_before_the_start_is_refused(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        api.post(f"/c/{token}/activated", data={"csrf_token": csrf, "peak_intensity": "5"})
        episode = db.scalars(select(Episode).where(Episode.client_id == client.id)).one()
        before = (episode.started_at - timedelta(minutes=30)).astimezone(ZONE)
        response = api.post(
            f"/c/{token}/back",
            data={
                "csrf_token": csrf,
                "baseline_at_date": before.strftime("%Y-%m-%d"),
                "baseline_at_time": before.strftime("%H:%M"),
            },
        )
        assert response.status_code == 422
        assert parse(response.text).find(id="baseline_at-error")
        db.refresh(episode)
        assert episode.baseline_at is None

    def test_own_times_can_be_corrected(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        api.post(f"/c/{token}/activated", data={"csrf_token": csrf, "peak_intensity": "5"})
        episode = db.scalars(select(Episode).where(Episode.client_id == client.id)).one()
        form = parse(api.get(f"/c/{token}/episodes/{episode.id}").text)
        version = form.one("input", name="version").attrs["value"]
        earlier = (episode.started_at - timedelta(minutes=20)).astimezone(ZONE)
        response = api.post(
            f"/c/{token}/episodes/{episode.id}",
            data={
                "csrf_token": csrf,
                "version": version,
                "started_at_date": earlier.strftime("%Y-%m-%d"),
                "started_at_time": earlier.strftime("%H:%M"),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        db.refresh(episode)
        assert episode.started_at == earlier.replace(second=0, microsecond=0).astimezone(UTC)
        # From a page opened before that change: refused, nothing overwritten.
        later = episode.started_at + timedelta(minutes=5)
        local = later.astimezone(ZONE)
        stale = api.post(
            f"/c/{token}/episodes/{episode.id}",
            data={
                "csrf_token": csrf,
                "version": version,
                "started_at_date": local.strftime("%Y-%m-%d"),
                "started_at_time": local.strftime("%H:%M"),
            },
        )
        assert stale.status_code == 409
        db.refresh(episode)
        assert episode.started_at == earlier.replace(second=0, microsecond=0).astimezone(UTC)

    def test_pages_are_plain_and_local(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        for path in ("", "/activated", "/back", "/daily"):
            response = api.get(f"/c/{token}{path}")
            assert response.status_code == 200
            assert response.headers["referrer-policy"] == "no-referrer"
            page = parse(response.text)
            assert "not monitored in real time" in page.words()
            assert "failure" not in page.words().lower()
            for node in page.find_all():
                for attr in ("src", "href", "action"):
                    value = node.attrs.get(attr)
                    assert value is None or value.startswith(("/", "#", "data:")), value


ZONE = Settings.model_construct(practice_timezone="Europe/London").timezone  # conftest default


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


LinkChange = Callable[[DbSession, CheckinLink, Client], None]


def _revoke(db: DbSession, link: CheckinLink, client: Client) -> None:
    link.revoked_at = datetime.now(UTC)


def _expire(db: DbSession, link: CheckinLink, client: Client) -> None:
    link.expires_at = datetime.now(UTC) - timedelta(seconds=1)


def _discharge(db: DbSession, link: CheckinLink, client: Client) -> None:
    client.status = ClientStatus.DISCHARGED
    client.discharged_on = datetime.now(UTC).date()


def _archive(db: DbSession, link: CheckinLink, client: Client) -> None:
    client.archived_at = datetime.now(UTC)


class TestLinksThatNoLongerWork:
    @pytest.mark.parametrize(
        "change", [_revoke, _expire, _discharge, _archive], ids=lambda f: f.__name__[1:]
    )
    def test_stop_working_and_write_nothing(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        link: tuple[str, CheckinLink],
        change: LinkChange,
    ) -> None:
        token, row = link
        csrf = _open(api, token)  # a live session from before the change
        change(db, row, client)
        db.commit()
        for method, path, data in [
            ("GET", "", None),
            ("GET", "/daily", None),
            ("POST", "/activated", {"csrf_token": csrf, "peak_intensity": "5"}),
            ("POST", "/daily", {"csrf_token": csrf, "zone": "within", "activation": "2"}),
            ("POST", "/code", {"csrf_token": csrf, "code": CHECKIN_CODE}),
        ]:
            response = api.request(method, f"/c/{token}{path}", data=data, follow_redirects=False)
            assert response.status_code == 404, (method, path)
            assert parse(response.text).one("h1").words() == "This link no longer works"
        assert _count(db, Episode, client) == 0
        assert _count(db, Observation, client) == 0

    def test_an_altered_or_unknown_token_gets_the_same_page(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        expected = None
        for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "a" * 300):
            response = api.get(f"/c/{bad}")
            assert response.status_code == 404
            page = parse(response.text).one("main").words()
            assert expected in (None, page)
            expected = page

    def test_another_clients_session_opens_nothing_here(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        client: Client,
        link: tuple[str, CheckinLink],
    ) -> None:
        other = make_client(db, owner)
        other_token, _ = make_checkin_link(db, settings, other)
        db.commit()
        token, _ = link
        csrf = _open(api, token)
        # The session from this client's link, on the other client's link: the code page.
        page = api.get(f"/c/{other_token}")
        assert page.status_code == 200
        assert parse(page.text).one("h1").words() == "Enter your code"
        response = api.post(
            f"/c/{other_token}/activated",
            data={"csrf_token": csrf, "peak_intensity": "5"},
            follow_redirects=False,
        )
        assert response.status_code == 200
        assert parse(response.text).one("h1").words() == "Enter your code"
        assert _count(db, Episode, other) == 0


class TestSessionAndCsrf:
    def test_no_session_no_pages(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        for path in ("", "/activated", "/back", "/daily"):
            page = api.get(f"/c/{token}{path}")
            assert parse(page.text).one("h1").words() == "Enter your code"
        response = api.post(f"/c/{token}/activated", data={"peak_intensity": "5"})
        assert parse(response.text).one("h1").words() == "Enter your code"
        assert _count(db, Episode, client) == 0

    def test_the_cookie_is_httponly_strict_and_scoped_to_check_in_pages(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _code_csrf(api, token)
        response = api.post(
            f"/c/{token}/code",
            data={"code": CHECKIN_CODE, "csrf_token": csrf},
            follow_redirects=False,
        )
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("pd_checkin=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/c/" in cookie
        assert token not in cookie

    def test_every_form_needs_its_csrf_token(
        self, api: TestClient, db: DbSession, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        api.post(f"/c/{token}/activated", data={"csrf_token": csrf, "peak_intensity": "5"})
        episode = db.scalars(select(Episode).where(Episode.client_id == client.id)).one()
        forms = {
            "/activated": {"peak_intensity": "5"},
            "/back": {},
            "/daily": {"zone": "within", "activation": "2"},
            f"/episodes/{episode.id}": {"version": str(episode.version)},
            "/leave": {},
        }
        for path, data in forms.items():
            for bad in ({}, {"csrf_token": "forged"}):
                response = api.post(f"/c/{token}{path}", data={**data, **bad})
                assert response.status_code == 403, (path, bad)
        db.refresh(episode)
        assert episode.baseline_at is None
        assert _count(db, Observation, client) == 0
        # The code form: a double-submit token from its own cookie.
        api.cookies.clear()
        response = api.post(f"/c/{token}/code", data={"code": CHECKIN_CODE, "csrf_token": "x"})
        assert response.status_code == 400

    def test_closing_on_this_phone_needs_the_code_again(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        csrf = _open(api, token)
        api.post(f"/c/{token}/leave", data={"csrf_token": csrf})
        assert parse(api.get(f"/c/{token}").text).one("h1").words() == "Enter your code"

    def test_the_session_expires(
        self, api: TestClient, settings: Settings, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        later = datetime.now(UTC) + timedelta(minutes=settings.checkin_session_minutes + 1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(f"{ROUTES}.utcnow", lambda: later)
            page = api.get(f"/c/{token}")
        assert parse(page.text).one("h1").words() == "Enter your code"


class TestNoWayIntoTheDashboard:
    def test_a_check_in_session_opens_no_practitioner_page_or_api_route(
        self, api: TestClient, client: Client, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        session = api.cookies.get("pd_checkin")
        assert session
        for path in ("/", f"/clients/{client.id}", "/settings", "/audit"):
            response = api.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login")
        headers = {"Authorization": f"Bearer {session}"}
        for path in ("/api/v1/clients", f"/api/v1/clients/{client.id}/episodes"):
            assert api.get(path).status_code == 401
            assert api.get(path, headers=headers).status_code == 401
        # Nor does the link's token work as a login cookie or a bearer token.
        api.cookies.set("pd_session", token)
        assert api.get("/", follow_redirects=False).status_code == 303
        assert (
            api.get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )


class TestCodeThrottling:
    def test_wrong_codes_wait_doubling_then_the_link_ends(
        self, api: TestClient, db: DbSession, settings: Settings, link: tuple[str, CheckinLink]
    ) -> None:
        token, row = link
        free = settings.checkin_code_free_attempts
        statuses = [_enter_code(api, token, "0000") for _ in range(free)]
        # The free attempts are answered at once, the last one starting a 1 s wait.
        assert statuses[:-1] == [400] * (free - 1)
        db.refresh(row)
        assert row.failed_code_attempts == free
        assert row.locked_until is not None
        # While it waits, even the right code is not checked.
        assert _enter_code(api, token) == 429
        db.refresh(row)
        assert row.failed_code_attempts == free
        # After the wait, the right code opens the link and the count starts again.
        later = row.locked_until + timedelta(seconds=1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(f"{ROUTES}.utcnow", lambda: later)
            assert _enter_code(api, token) == 303
        db.refresh(row)
        assert (row.failed_code_attempts, row.locked_until) == (0, None)

    def test_too_many_wrong_codes_end_the_link(
        self, api: TestClient, db: DbSession, settings: Settings, link: tuple[str, CheckinLink]
    ) -> None:
        token, row = link
        row.failed_code_attempts = settings.checkin_code_max_failures - 1
        db.commit()
        csrf = _code_csrf(api, token)
        response = api.post(f"/c/{token}/code", data={"code": "0000", "csrf_token": csrf})
        assert response.status_code == 404
        db.refresh(row)
        assert row.revoked_at is not None
        assert _enter_code_status(api, token) == 404


def _enter_code_status(api: TestClient, token: str) -> int:
    return api.get(f"/c/{token}").status_code


class TestNoTokenLeaks:
    def test_the_access_log_never_shows_a_token(self, caplog: pytest.LogCaptureFixture) -> None:
        install_log_redaction()
        token = "s3cr3t-Token_value"
        logger = logging.getLogger("uvicorn.access")
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            logger.info(
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "POST", f"/c/{token}/activated", "1.1", 303
            )
        assert token not in caplog.text
        assert "/c/[redacted]/activated" in caplog.text

    def test_pages_never_carry_the_token_anywhere_but_their_own_links(
        self, api: TestClient, link: tuple[str, CheckinLink]
    ) -> None:
        token, _ = link
        _open(api, token)
        response = api.get(f"/c/{token}")
        assert response.headers["referrer-policy"] == "no-referrer"
        page = parse(response.text)
        assert page.one("meta", name="referrer").attrs["content"] == "no-referrer"
        # The token appears only in this site's own relative links and form actions.
        without_links = re.sub(r'(href|action)="/c/[^"]*"', "", response.text)
        assert token not in without_links
