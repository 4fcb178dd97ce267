"""A time stored before the plausible-range rule (year 1, year 9999) never breaks a read.

Rows are written straight to the database, bypassing validation, as an old release let them in:
every page, figure and export of that client (and of the caseload) must still answer 200.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    Annotation,
    Client,
    Episode,
    Measure,
    Observation,
    RecordKind,
    Session,
    User,
)
from practice_dashboard.models.enums import Attendance, Role
from practice_dashboard.web.routes.record_pages import PATHS as RECORD_PATHS
from tests.builders import (
    CHECKIN_CODE,
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
from tests.conftest import make_settings
from tests.html import parse

# The first minute of year 1 has no local time west of Greenwich, the last of year 9999 none
# east of it: each is read by a practice on the side where it overflows.
EXTREMES = {
    "year_1": (datetime(1, 1, 1, tzinfo=UTC), "America/New_York"),
    "year_9999": (datetime(9999, 12, 31, 23, 0, tzinfo=UTC), "Asia/Tokyo"),
}


@pytest.fixture(params=EXTREMES.values(), ids=EXTREMES.keys())
def extreme(request: pytest.FixtureRequest) -> tuple[datetime, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def at(extreme: tuple[datetime, str]) -> datetime:
    return extreme[0]


@pytest.fixture
def reader(
    extreme: tuple[datetime, str], database_url: str, session_factory: sessionmaker[OrmSession]
) -> Iterator[TestClient]:
    """The app in a zone where the stored time has no local time; a server error is a 500 to
    count, not an exception."""
    app = create_app(make_settings(database_url, practice_timezone=extreme[1]))
    app.state.session_factory = session_factory
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


def poison(db: DbSession, owner: User, at: datetime) -> Client:
    """A client with one record of every kind at `at`, beside ordinary ones."""
    client = make_client(db, owner, display_name=f"Poisoned {at.year}")
    make_observation(db, client)
    make_observation(db, client, observed_at=at)
    make_episode(db, client)
    make_episode(db, client, started_at=at, recognized_at=at, baseline_at=at)
    make_measure(db, client)
    make_measure(db, client, administered_at=at)
    make_session(db, client)
    make_session(db, client, starts_at=at, attendance=Attendance.ATTENDED)
    make_annotation(db, client, at=at)
    db.commit()
    return client


def _failures(reader: TestClient, paths: list[str], **kwargs: object) -> list[tuple[str, str]]:
    """The paths that did not answer 200 with a whole body, and what they did instead."""
    failed = []
    for path in paths:
        try:
            response = reader.get(path, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:  # a stream cut off mid-way
            failed.append((path, type(exc).__name__))
            continue
        if response.status_code != 200 or not response.content:
            failed.append((path, str(response.status_code)))
    return failed


def _poisoned_records(db: DbSession, client: Client, at: datetime) -> list[tuple[str, str]]:
    """(page path kind, id) of each record stored at `at`."""
    columns = {
        "observation": Observation.observed_at,
        "episode": Episode.started_at,
        "measure": Measure.administered_at,
        "session": Session.starts_at,
        "annotation": Annotation.at,
    }
    found = []
    for kind, column in columns.items():
        model = column.class_
        record_id = db.scalar(select(model.id).where(model.client_id == client.id, column == at))
        assert record_id is not None
        found.append((RECORD_PATHS[RecordKind(kind)], str(record_id)))
    return found


class TestStoredExtremeTimes:
    def test_api_reads_and_exports_answer_200(
        self, reader: TestClient, db: DbSession, settings: Settings, owner: User, at: datetime
    ) -> None:
        client = poison(db, owner, at)
        base = f"/api/v1/clients/{client.id}"
        kinds = ("clients", "sessions", "observations", "episodes", "measures", "annotations")
        paths = [
            base,
            f"{base}/metrics",
            f"{base}/observations",
            f"{base}/episodes",
            f"{base}/measures",
            f"{base}/sessions",
            f"{base}/annotations",
            f"{base}/export.fhir.json",
            f"{base}/summary.pdf",
            "/api/v1/caseload",
            *(f"{base}/export.csv?kind={kind}" for kind in kinds),
            *(f"/api/v1/export.csv?kind={kind}" for kind in kinds),
        ]
        assert _failures(reader, paths, headers=auth_headers(settings, owner)) == []

    def test_pages_answer_200(
        self, reader: TestClient, db: DbSession, settings: Settings, owner: User, at: datetime
    ) -> None:
        client = poison(db, owner, at)
        cookies, _csrf = login_cookies(db, settings, owner)
        db.commit()
        reader.cookies.update(cookies)
        base = f"/clients/{client.id}"
        paths = [
            "/",
            "/schedule",
            base,
            f"{base}/record",
            f"{base}/summary",
            f"{base}/summary.pdf",
            f"{base}/export.csv",
            f"{base}/export.fhir.json",
            "/export.csv",
            *(
                path
                for kind, record_id in _poisoned_records(db, client, at)
                for path in (
                    f"{base}/record/{kind}/{record_id}",
                    f"{base}/record/{kind}/{record_id}/edit",
                )
            ),
        ]
        assert _failures(reader, paths) == []

    def test_supervision_pages_answer_200(
        self, reader: TestClient, db: DbSession, settings: Settings, owner: User, at: datetime
    ) -> None:
        client = poison(db, owner, at)
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, owner)
        cookies, _csrf = login_cookies(db, settings, supervisor)
        db.commit()
        reader.cookies.update(cookies)
        paths = [
            "/supervision",
            "/supervision/packet.pdf",
            "/supervision/packet.csv",
            f"/clients/{client.id}",
        ]
        assert _failures(reader, paths) == []

    def test_the_clients_check_in_pages_answer_200(
        self, reader: TestClient, db: DbSession, settings: Settings, owner: User, at: datetime
    ) -> None:
        client = poison(db, owner, at)
        token, _link = make_checkin_link(db, settings, client, show_progress=True)
        db.commit()
        page = reader.get(f"/c/{token}")
        csrf = parse(page.text).one("input", name="csrf_token").attrs["value"]
        entered = reader.post(
            f"/c/{token}/code",
            data={"code": CHECKIN_CODE, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert entered.status_code == 303
        paths = [f"/c/{token}{page}" for page in ("", "/progress", "/daily", "/questionnaires")]
        assert _failures(reader, paths) == []

    def test_the_stored_time_is_shown_as_its_iso_text(
        self, reader: TestClient, db: DbSession, settings: Settings, owner: User, at: datetime
    ) -> None:
        client = poison(db, owner, at)
        response = reader.get(
            f"/api/v1/clients/{client.id}/export.csv?kind=measures",
            headers=auth_headers(settings, owner),
        )
        assert response.status_code == 200
        assert at.isoformat()[:10] in response.text
