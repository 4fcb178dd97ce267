"""Fact loading (services/analytics/fact_loading.py): what reaches the analytics."""

from __future__ import annotations

from datetime import timedelta

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AnnotationKind, Assignment
from practice_dashboard.models.enums import Source
from practice_dashboard.services.analytics.fact_loading import load_facts
from tests.builders import (
    NOW,
    make_annotation,
    make_client,
    make_episode,
    make_observation,
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
