"""Fact loading (services/analytics/fact_loading.py): what reaches the analytics."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from practice_dashboard import db as db_module
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import ClientFacts, facts_as_of, facts_from_source
from practice_dashboard.domain.metrics import compute_client_metrics
from practice_dashboard.models import AnnotationKind, Assignment, Client
from practice_dashboard.models.enums import Source, Zone
from practice_dashboard.services.analytics.fact_loading import (
    Reach,
    _sqlite_time,
    episode_bounds,
    load_facts,
)
from tests.builders import (
    NOW,
    make_annotation,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
)


def test_a_recent_load_keeps_the_exact_time_of_older_data(
    db: DbSession, settings: Settings
) -> None:
    # The caseload loads observations of the last weeks only; "days since last data" must
    # still see an observation from before then (regression: it was looked up under the
    # wrong key and lost, so the stale-data flag counted from intake).
    owner = make_user(db, settings)
    quiet = make_client(db, owner)
    busy = make_client(db, owner)
    long_ago = NOW - timedelta(weeks=20)
    make_observation(db, quiet, observed_at=long_ago)
    make_observation(db, busy, observed_at=NOW - timedelta(days=1))
    db.flush()
    facts = load_facts(
        db,
        [quiet, busy],
        [quiet.id, busy.id],
        timezone=settings.timezone,
        since=NOW - timedelta(weeks=13),
    )
    assert facts[quiet.id].observations == ()
    assert facts[quiet.id].last_data_at == long_ago
    assert facts[busy.id].last_data_at == NOW - timedelta(days=1)


def test_care_change_notes_restart_the_monitoring(db: DbSession, settings: Settings) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    change = NOW - timedelta(days=10)
    make_annotation(db, client, at=change, kind=AnnotationKind.CARE_CHANGE, label="new plan")
    make_annotation(db, client, at=NOW - timedelta(days=5), label="moved house")
    archived = make_annotation(db, client, kind=AnnotationKind.CARE_CHANGE, label="typo")
    archived.archived_at = NOW
    db.flush()
    facts = load_facts(db, [client], [client.id], timezone=settings.timezone)[client.id]
    assert facts.care_changes == (change,)


def test_live_assignments_episode_sources_and_the_practice_zone(
    db: DbSession, settings: Settings
) -> None:
    owner = make_user(db, settings)
    client = make_client(db, owner)
    other = make_client(db, owner)
    for target, code, archived in (
        (client, "phq9", None),
        (client, "gad7", NOW),
        (other, "cbi", None),
    ):
        db.add(
            Assignment(
                client_id=target.id,
                instrument=code,
                every_days=14,
                starts_on=NOW.date(),
                created_by_id=owner.id,
                archived_at=archived,
            )
        )
    make_episode(db, client, started_at=NOW - timedelta(hours=3), source=Source.CLIENT)
    db.flush()
    facts = load_facts(db, [client, other], [client.id, other.id], timezone=settings.timezone)
    assert [a.instrument for a in facts[client.id].assignments] == ["phq9"]  # archived: left out
    assert [a.instrument for a in facts[other.id].assignments] == ["cbi"]
    assert [e.source for e in facts[client.id].episodes] == [Source.CLIENT]
    assert facts[client.id].timezone == settings.timezone


def _quiet_then_back_course(db: DbSession, settings: Settings) -> Client:
    """Three years in care: a dense start (the personal baseline runs to the 8th episode, past
    day 28), two years of check-ins from both sources, the client's own check-ins stopping 14
    months ago, a practitioner's note 10 months ago, a client-reported episode 9 months ago and
    a few recent practitioner check-ins."""
    owner = make_user(db, settings)
    intake = (NOW - timedelta(days=3 * 365)).date()
    client = make_client(db, owner, intake_date=intake)
    start = datetime.combine(intake, time(9), tzinfo=UTC)
    for day in range(0, 60, 6):  # the 8th episode on day 42
        make_episode(db, client, started_at=start + timedelta(days=day, hours=2))
    for day in range(0, 2 * 365 - 60, 2):
        make_observation(
            db,
            client,
            observed_at=start + timedelta(days=day, hours=day % 5),
            zone=(Zone.WITHIN, Zone.HYPER, Zone.HYPO)[day % 3],
            activation=day % 11,
            capacity=day % 7 or None,
            source=(Source.CLIENT, Source.PRACTITIONER)[day % 4 == 0],
        )
    for day in range(28):  # the client's last month of check-ins, 14 months ago
        make_observation(
            db,
            client,
            observed_at=NOW - timedelta(days=14 * 30 + day, hours=3),
            activation=4,
            source=Source.CLIENT,
        )
    make_observation(db, client, observed_at=NOW - timedelta(days=300), source=Source.PRACTITIONER)
    make_episode(db, client, started_at=NOW - timedelta(days=270), source=Source.CLIENT)
    for day in (50, 20, 3):
        make_observation(db, client, observed_at=NOW - timedelta(days=day), activation=7)
    db.flush()
    return client


def test_reads_bounded_by_the_view_give_the_whole_history_figures(
    db: DbSession, settings: Settings
) -> None:
    """Every figure and flag computed from the bounded read equals the one from the whole
    history: current and past windows, a replay, each source, a quiet client."""
    client = _quiet_then_back_course(db, settings)
    th = settings.thresholds
    whole = load_facts(db, [client], [client.id], timezone=settings.timezone)[client.id]
    day = timedelta(days=1)
    windows = [
        (NOW - 28 * day, NOW, NOW),  # the metrics API's default
        (NOW - 182 * day, NOW, NOW),  # six months
        (NOW - 400 * day, NOW - 330 * day, NOW),  # a past period around the client's last month
        (NOW - 500 * day, NOW - 420 * day, NOW - 420 * day),  # a replay: "now" was then
        (NOW - 128 * day, NOW - 100 * day, NOW - 100 * day),  # quiet for months by then
    ]
    for window in windows:
        start, end, now = window
        bounded = load_facts(
            db,
            [client],
            [client.id],
            timezone=settings.timezone,
            reach=Reach(windows=(window,)),
            thresholds=th,
        )[client.id]
        assert len(bounded.observations) < len(whole.observations)
        for source in (None, Source.CLIENT, Source.PRACTITIONER):
            full, part = whole, bounded
            if now < NOW:
                full, part = facts_as_of(full, now), facts_as_of(part, now)
            if source is not None:
                full, part = facts_from_source(full, source), facts_from_source(part, source)
            expected = compute_client_metrics(full, start=start, end=end, now=now, thresholds=th)
            got = compute_client_metrics(part, start=start, end=end, now=now, thresholds=th)
            assert repr(got) == repr(expected), (window, source)


def test_kept_statements_read_each_client_their_own_records(
    db: DbSession, settings: Settings
) -> None:
    """A one-client view's statements are built once per shape and kept
    (`db.kept_statement`): loading one client after another reuses them, with each load's own
    client and bounds bound, and gives what a many-client load (statements built afresh)
    gives for that client."""
    owner = make_user(db, settings)
    first = _quiet_then_back_course(db, settings)
    second = make_client(db, owner)
    make_observation(db, second, observed_at=NOW - timedelta(days=2), zone=Zone.HYPER)
    make_episode(db, second, started_at=NOW - timedelta(days=40))
    make_session(db, second, starts_at=NOW - timedelta(days=6))
    make_measure(db, second, administered_at=NOW - timedelta(days=1))
    db.flush()
    th = settings.thresholds
    reach = Reach(windows=((NOW - timedelta(days=28), NOW, NOW),))
    together = load_facts(db, [first, second], [first.id, second.id], timezone=settings.timezone)

    def alone(client: Client) -> ClientFacts:
        bounds = episode_bounds(db, client, reach, th)
        return load_facts(
            db,
            [client],
            [client.id],
            timezone=settings.timezone,
            reach=reach,
            thresholds=th,
            bounds=bounds,
        )[client.id]

    def read_whole(facts: ClientFacts) -> tuple[object, ...]:
        # What a bounded read reads whole (it leaves out observations the window never needs).
        return (facts.sessions, facts.measures, facts.care_changes, facts.assignments)

    alone(first)
    kept = dict(db_module._KEPT)
    for client in (second, first, second):
        facts = alone(client)
        assert read_whole(facts) == read_whole(together[client.id])
        assert facts.episodes == together[client.id].episodes
        assert set(facts.observations) <= set(together[client.id].observations)
    assert db_module._KEPT == kept  # the same statements, not one built per client
    assert all(db_module._KEPT[key] is kept[key] for key in kept)


def test_sqlite_times_read_as_the_orm_reads_them() -> None:
    """The column reader's SQLite path gives what models/base.py UTCDateTime gives: UTC-aware
    times from SQLAlchemy's naive UTC text, and the same instant from text with an offset."""
    assert _sqlite_time("2025-06-04 12:30:00.000250") == datetime(
        2025, 6, 4, 12, 30, 0, 250, tzinfo=UTC
    )
    assert _sqlite_time("2025-06-04 12:30:00.000250").tzinfo is UTC
    assert _sqlite_time("2025-06-04 14:30:00+02:00") == datetime(2025, 6, 4, 12, 30, tzinfo=UTC)
    assert _sqlite_time("2025-06-04 14:30:00+02:00").tzinfo is UTC
