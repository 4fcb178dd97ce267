"""The demo practice loader against fresh SQLite files (standalone: no shared fixtures)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from practice_dashboard import migrate
from practice_dashboard.config import Settings
from practice_dashboard.db import (
    DbSession,
    create_db_engine,
    create_session_factory,
    session_scope,
)
from practice_dashboard.domain.facts import MeasureFact
from practice_dashboard.domain.flags import PractitionerLoadFacts, practitioner_load
from practice_dashboard.domain.instruments import score_measure
from practice_dashboard.domain.metrics import ClientMetrics, compute_client_metrics
from practice_dashboard.errors import Invalid
from practice_dashboard.models import (
    Annotation,
    AuditEvent,
    Client,
    Episode,
    Measure,
    Observation,
    SelfCheck,
    Session,
    Supervision,
    User,
)
from practice_dashboard.models.enums import Attendance, ClientStatus, Role, Source
from practice_dashboard.services import demo
from practice_dashboard.services.analytics.fact_loading import load_facts
from practice_dashboard.services.demo.care import MAX_RECOVERY_MINUTES
from practice_dashboard.services.demo.courses import COURSES, CourseName, Story
from practice_dashboard.services.demo.roster import TRIGGERS

# A fixed day in the past: measures may not be dated in the future, and the same day must give
# the same data.
TODAY = date(2025, 6, 4)
ROW_MODELS: tuple[type[Any], ...] = (
    User,
    Supervision,
    Client,
    Session,
    Observation,
    Episode,
    Measure,
    Annotation,
    SelfCheck,
    AuditEvent,
)


@dataclass
class DemoDb:
    settings: Settings
    engine: Engine
    factory: sessionmaker[DbSession]
    report: str


def _settings(path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": f"sqlite:///{path}",
        "secret_key": "t" * 40,
        "argon2_memory_kib": 19456,
        "argon2_time_cost": 2,
    }
    values.update(overrides)
    return Settings(**values)


def _fresh(path: Path, **overrides: Any) -> tuple[Settings, Engine, sessionmaker[DbSession]]:
    settings = _settings(path, **overrides)
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    return settings, engine, create_session_factory(engine)


def _load(path: Path) -> DemoDb:
    settings, engine, factory = _fresh(path)
    # How long this takes is measured by `python -m bench.demo_load`, not asserted here.
    with session_scope(factory) as db:
        report = demo.load_demo(db, settings, today=TODAY)
    return DemoDb(settings, engine, factory, report)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDb]:
    demo_db = _load(tmp_path_factory.mktemp("demo") / "demo.db")
    yield demo_db
    demo_db.engine.dispose()


@pytest.fixture
def db(loaded: DemoDb) -> Iterator[DbSession]:
    with session_scope(loaded.factory) as session:
        yield session


def _counts(db: DbSession) -> dict[str, int]:
    return {
        m.__tablename__: db.scalar(select(func.count()).select_from(m)) or 0 for m in ROW_MODELS
    }


def _digest(db: DbSession) -> str:
    """A digest of every row's meaningful fields (ids and created_at differ between loads)."""
    names = dict(db.execute(select(Client.id, Client.display_name)).all())
    emails = dict(db.execute(select(User.id, User.email)).all())
    parts: list[tuple[Any, ...]] = []
    parts += [
        (u.email, u.full_name, u.role, u.password_hash != "") for u in db.scalars(select(User))
    ]
    parts += [
        (emails[s.supervisor_id], emails[s.supervisee_id]) for s in db.scalars(select(Supervision))
    ]
    parts += [
        (
            c.display_name,
            emails[c.practitioner_id],
            c.external_ref,
            c.status,
            c.intake_date,
            c.discharged_on,
            c.goals,
            c.session_cadence_days,
        )
        for c in db.scalars(select(Client))
    ]
    parts += [
        (
            names[s.client_id],
            s.starts_at,
            s.duration_minutes,
            s.kind,
            s.modality,
            s.attendance,
            s.engagement,
            s.homework_assigned,
            s.homework_completed,
        )
        for s in db.scalars(select(Session))
    ]
    parts += [
        (
            names[o.client_id],
            o.observed_at,
            o.source,
            o.zone,
            o.activation,
            o.capacity,
            o.safety,
            o.body_connection,
            o.session_id is not None,
        )
        for o in db.scalars(select(Observation))
    ]
    parts += [
        (
            names[e.client_id],
            e.started_at,
            e.recognized_at,
            e.baseline_at,
            e.peak_intensity,
            e.trigger,
            e.trigger_category,
            tuple(e.strategies),
            e.self_compassion,
        )
        for e in db.scalars(select(Episode))
    ]
    parts += [
        (names[m.client_id], m.instrument, m.administered_at, tuple(m.items or ()), m.total)
        for m in db.scalars(select(Measure))
    ]
    parts += [(names[a.client_id], a.at, a.kind, a.label) for a in db.scalars(select(Annotation))]
    parts += [
        (emails[s.practitioner_id], s.administered_at, tuple(s.items or ()))
        for s in db.scalars(select(SelfCheck))
    ]
    text = "\n".join(sorted(repr(p) for p in parts))
    return hashlib.sha256(text.encode()).hexdigest()


def _courses_by_client(db: DbSession) -> dict[Any, CourseName]:
    courses = demo.client_courses()
    return {c.id: courses[c.display_name] for c in db.scalars(select(Client))}


class TestLoad:
    def test_accounts_and_supervision(self, db: DbSession) -> None:
        users = {u.email: u for u in db.scalars(select(User))}
        assert len(users) == 5
        assert all(email.endswith("@demo.practice") for email in users)
        assert Counter(u.role for u in users.values()) == {
            Role.ADMIN: 1,
            Role.SUPERVISOR: 1,
            Role.THERAPIST: 2,
            Role.COACH: 1,
        }
        supervisor = users["supervisor@demo.practice"]
        supervised = set(
            db.scalars(
                select(Supervision.supervisee_id).where(Supervision.supervisor_id == supervisor.id)
            )
        )
        expected = {u.id for u in users.values() if u.role in (Role.THERAPIST, Role.COACH)}
        assert supervised == expected

    def test_counts_in_expected_ranges(self, db: DbSession) -> None:
        counts = _counts(db)
        assert 35 <= counts["client"] <= 45
        clients = counts["client"]
        # Weekly or fortnightly sessions over 3-18 months of care.
        assert 15 * clients <= counts["session"] <= 60 * clients
        assert counts["observation"] > 2 * counts["session"]
        assert counts["episode"] > counts["session"]
        assert counts["measure"] > 10 * clients
        assert counts["audit_event"] == 1

    def test_caseloads(self, db: DbSession) -> None:
        per_practitioner = Counter(
            email
            for (email,) in db.execute(
                select(User.email).join(Client, Client.practitioner_id == User.id)
            )
        )
        assert 12 <= per_practitioner["therapist1@demo.practice"] <= 16
        assert 12 <= per_practitioner["therapist2@demo.practice"] <= 16
        assert 6 <= per_practitioner["coach@demo.practice"] <= 10
        assert 3 <= per_practitioner["supervisor@demo.practice"] <= 5
        assert per_practitioner["admin@demo.practice"] == 0

    def test_statuses(self, db: DbSession) -> None:
        clients = list(db.scalars(select(Client)))
        statuses = Counter(c.status for c in clients)
        assert statuses[ClientStatus.ACTIVE] >= 0.8 * len(clients)
        assert statuses[ClientStatus.PAUSED] >= 1
        assert statuses[ClientStatus.DISCHARGED] >= 1
        for client in clients:
            assert (client.discharged_on is not None) == (client.status == ClientStatus.DISCHARGED)
            months = (TODAY - client.intake_date).days / 30.4
            assert 2.9 <= months <= 18.5
            assert client.session_cadence_days in (7, 14)

    def test_audit_event(self, db: DbSession) -> None:
        event = db.scalars(select(AuditEvent)).one()
        assert (event.action, event.entity, event.actor_id) == ("demo_load", "practice", None)

    def test_report(self, loaded: DemoDb, db: DbSession) -> None:
        counts = _counts(db)
        assert f"{counts['client']} clients" in loaded.report
        assert f"{counts['session']} sessions" in loaded.report
        assert f"{counts['episode']} activation episodes" in loaded.report
        for account in demo.ACCOUNTS:
            assert account.email in loaded.report
        assert demo.DEFAULT_DEMO_PASSWORD in loaded.report
        assert "POST /api/v1/auth/token" in loaded.report
        assert "/docs" in loaded.report


class TestRepeatable:
    def test_second_call_writes_nothing(self, loaded: DemoDb) -> None:
        with session_scope(loaded.factory) as session:
            before = _counts(session)
            report = demo.load_demo(session, loaded.settings, today=TODAY)
            session.flush()
            assert _counts(session) == before
        assert "already loaded" in report
        assert "admin@demo.practice" in report

    def test_same_today_same_data(self, loaded: DemoDb, tmp_path: Path) -> None:
        other = _load(tmp_path / "again.db")
        try:
            with session_scope(loaded.factory) as a, session_scope(other.factory) as b:
                assert _digest(a) == _digest(b)
        finally:
            other.engine.dispose()


class TestPassword:
    def test_production_needs_a_password(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(demo.PASSWORD_ENV, raising=False)
        settings, engine, factory = _fresh(tmp_path / "prod.db", environment="production")
        try:
            with pytest.raises(Invalid, match="password"), session_scope(factory) as session:
                demo.load_demo(session, settings, today=TODAY)
            with session_scope(factory) as session:
                assert session.scalar(select(func.count()).select_from(User)) == 0
        finally:
            engine.dispose()

    def test_short_password_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(Invalid, match="12 characters"):
            demo.demo_password(_settings(tmp_path / "x.db"), "short")

    def test_environment_password(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(demo.PASSWORD_ENV, "a-long-enough-secret")
        settings = _settings(tmp_path / "x.db", environment="production")
        assert demo.demo_password(settings, None) == ("a-long-enough-secret", False)
        assert demo.demo_password(settings, "given-password-wins") == ("given-password-wins", False)

    def test_default_password_outside_production(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(demo.PASSWORD_ENV, raising=False)
        settings = _settings(tmp_path / "x.db")
        assert demo.demo_password(settings, None) == (demo.DEFAULT_DEMO_PASSWORD, True)


class TestRecords:
    def test_times_are_utc_aware(self, db: DbSession) -> None:
        session = db.scalars(select(Session).limit(1)).one()
        episode = db.scalars(select(Episode).limit(1)).one()
        assert session.starts_at.utcoffset() == timedelta(0)
        assert episode.started_at.tzinfo is not None

    def test_episode_time_order(self, db: DbSession) -> None:
        episodes = list(db.scalars(select(Episode)))
        for e in episodes:
            assert e.recognized_at is None or e.started_at <= e.recognized_at
            assert e.baseline_at is None or e.started_at <= e.baseline_at
            if e.recognized_at is not None and e.baseline_at is not None:
                assert e.recognized_at <= e.baseline_at
            assert 0 <= e.peak_intensity <= 10
            assert e.strategies
            assert e.trigger_category in TRIGGERS
        recovered = [e.recovery_minutes for e in episodes if e.recovery_minutes is not None]
        unrecovered_share = 1 - len(recovered) / len(episodes)
        assert 0.03 <= unrecovered_share <= 0.15
        # Recovery: tens of minutes to a few hours.
        recovered.sort()
        assert 20 <= recovered[len(recovered) // 2] <= 180
        assert max(recovered) <= MAX_RECOVERY_MINUTES

    def test_engagement_and_homework_review_only_when_attended(self, db: DbSession) -> None:
        for s in db.scalars(select(Session).where(Session.attendance != Attendance.ATTENDED)):
            assert s.engagement is None
            assert s.homework_completed is None
        attended = list(
            db.scalars(select(Session).where(Session.attendance == Attendance.ATTENDED))
        )
        assert all(s.engagement is not None for s in attended)
        assert any(s.homework_completed is not None for s in attended)

    def test_sessions_past_and_booked(self, loaded: DemoDb, db: DbSession) -> None:
        tz = loaded.settings.timezone
        midnight = datetime.combine(TODAY, time.min, tzinfo=tz)
        attendance: Counter[Attendance] = Counter()
        for s in db.scalars(select(Session)):
            local = s.starts_at.astimezone(tz)
            assert local.weekday() < 5
            assert local.time() >= time(8)
            assert local + timedelta(minutes=s.duration_minutes) <= local.replace(hour=19, minute=0)
            assert (s.attendance == Attendance.SCHEDULED) == (s.starts_at >= midnight)
            attendance[s.attendance] += 1
        past = sum(attendance.values()) - attendance[Attendance.SCHEDULED]
        assert attendance[Attendance.ATTENDED] >= 0.85 * past
        assert attendance[Attendance.NO_SHOW] > 0
        assert attendance[Attendance.LATE_CANCEL] > 0
        assert attendance[Attendance.CANCELLED] > 0
        active = db.scalar(
            select(func.count()).select_from(Client).where(Client.status == ClientStatus.ACTIVE)
        )
        assert active is not None
        assert active <= attendance[Attendance.SCHEDULED] <= 2 * active

    def test_observations(self, db: DbSession) -> None:
        observations = list(db.scalars(select(Observation)))
        sources = Counter(o.source for o in observations)
        assert sources[Source.PRACTITIONER] > 0
        assert sources[Source.CLIENT] > 0
        for o in observations:
            assert (o.session_id is not None) == (o.source == Source.PRACTITIONER)
            assert 0 <= o.activation <= 10
        assert {o.zone for o in observations} == {"within", "hyper", "hypo"}

    def test_measures_are_scored_by_the_registry(self, db: DbSession) -> None:
        measures = list(db.scalars(select(Measure)))
        assert {m.instrument for m in measures} == {"phq9", "gad7", "ors", "cbi"}
        for m in measures:
            score = score_measure(
                MeasureFact(
                    m.instrument,
                    m.administered_at,
                    tuple(m.items) if m.items is not None else None,
                    m.total if m.items is None else None,
                )
            )
            assert score.valid
            assert (m.total, m.severity) == (score.total, score.severity)
            assert (m.subscales or {}) == score.subscales

    def test_safety_client_latest_phq9_item9(self, db: DbSession) -> None:
        courses = _courses_by_client(db)
        latest: dict[Any, Measure] = {}
        for m in db.scalars(
            select(Measure).where(Measure.instrument == "phq9").order_by(Measure.administered_at)
        ):
            latest[m.client_id] = m
        flagged = {courses[cid] for cid, m in latest.items() if m.items and (m.items[8] or 0) > 0}
        assert flagged == {"safety_concern"}

    def test_burning_out_clients_have_high_cbi(self, db: DbSession) -> None:
        courses = _courses_by_client(db)
        latest: dict[Any, Measure] = {}
        for m in db.scalars(
            select(Measure).where(Measure.instrument == "cbi").order_by(Measure.administered_at)
        ):
            latest[m.client_id] = m
        assert latest
        for client_id, m in latest.items():
            assert courses[client_id] == "burning_out"
            scales = m.subscales or {}
            assert max(scales["personal"], scales["work_related"]) >= 50

    def test_every_course_present(self, db: DbSession) -> None:
        assert set(_courses_by_client(db).values()) == set(COURSES)


def _metrics(loaded: DemoDb, db: DbSession) -> dict[Any, tuple[Client, ClientMetrics]]:
    """Every client's metrics and flags as the dashboard computes them, at noon on TODAY."""
    now = datetime.combine(TODAY, time(12), tzinfo=loaded.settings.timezone)
    clients = list(db.scalars(select(Client)))
    facts = load_facts(db, clients, [c.id for c in clients], timezone=loaded.settings.timezone)
    return {
        c.id: (
            c,
            compute_client_metrics(
                facts[c.id],
                start=now - timedelta(days=28),
                end=now,
                now=now,
                thresholds=loaded.settings.thresholds,
            ),
        )
        for c in clients
    }


class TestTheDashboardTellsEachStory:
    def test_every_client_flag_and_level_fires(self, loaded: DemoDb, db: DbSession) -> None:
        fired = {(f.code, f.level) for _, m in _metrics(loaded, db).values() for f in m.flags}
        assert fired >= {
            ("safety", "alert"),
            ("engagement_risk", "watch"),
            ("engagement_risk", "alert"),
            ("burnout_risk", "watch"),
            ("burnout_risk", "alert"),
            ("deterioration", "alert"),
            ("deterioration", "watch"),
            ("stale_data", "watch"),
        }

    def test_each_course_reads_as_designed(self, loaded: DemoDb, db: DbSession) -> None:
        courses = _courses_by_client(db)
        for client_id, (client, metrics) in _metrics(loaded, db).items():
            course = COURSES[courses[client_id]]
            story = course.story if client.status == ClientStatus.ACTIVE else Story()
            fired = {(f.code, f.level) for f in metrics.flags}
            assert story.flags <= fired, (client.display_name, course.name, fired)
            assert not fired - story.flags - story.tolerated, (client.display_name, fired)

    def test_improving_clients_recover_faster(self, loaded: DemoDb, db: DbSession) -> None:
        courses = _courses_by_client(db)
        improving = [
            (client, metrics)
            for client_id, (client, metrics) in _metrics(loaded, db).items()
            if courses[client_id] == "improving"
        ]
        assert len(improving) >= 5
        for client, metrics in improving:
            trend = metrics.recovery.trend
            assert trend.n >= 10, client.display_name
            assert trend.direction == "improving", (client.display_name, trend)
            phq9 = next(p for p in metrics.measures if p.instrument == "phq9")
            assert phq9.reliable_change == "improved", client.display_name

    def test_practitioner_load_fires_for_the_coach_only(
        self, loaded: DemoDb, db: DbSession
    ) -> None:
        active: Counter[str] = Counter()
        with_alert: Counter[str] = Counter()
        emails = dict(db.execute(select(User.id, User.email)).all())
        for client, metrics in _metrics(loaded, db).values():
            if client.status != ClientStatus.ACTIVE:
                continue
            email = emails[client.practitioner_id]
            active[email] += 1
            with_alert[email] += any(f.level == "alert" for f in metrics.flags)
        loaded_flags = {
            email: practitioner_load(
                PractitionerLoadFacts(active[email], 0, with_alert[email]),
                loaded.settings.thresholds,
            )
            for email in active
        }
        assert {email for email, flag in loaded_flags.items() if flag is not None} == {
            "coach@demo.practice"
        }
