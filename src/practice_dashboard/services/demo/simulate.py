"""Draw the demo's clients until each one's records read as its course's story.

A flat series can show a "trend" by chance, so each client is drawn (with its own seeded
generator) and read by the dashboard's own metrics; a draw that misreads is tried again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from practice_dashboard.domain.facts import (
    ClientFacts,
    EpisodeFact,
    MeasureFact,
    ObservationFact,
    SessionFact,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import compute_client_metrics
from practice_dashboard.models import User
from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.services.demo.care import draw_client
from practice_dashboard.services.demo.client_sim import ClientSim, Rows, new_client, new_simulation
from practice_dashboard.services.demo.courses import Story
from practice_dashboard.services.demo.draws import SEED
from practice_dashboard.services.demo.roster import ROSTER, pseudonyms

# Draws per client before settling for the closest to its story (one or two usually suffice).
MAX_DRAWS: Final = 30


def _facts(rows: Rows) -> ClientFacts:
    """The domain's view of one drawn client (the same shape fact loading reads)."""
    client = rows.clients[0]
    return ClientFacts(
        status=client.status,
        intake_date=client.intake_date,
        session_cadence_days=client.session_cadence_days,
        episodes=tuple(
            EpisodeFact(e.started_at, e.peak_intensity, e.recognized_at, e.baseline_at)
            for e in sorted(rows.episodes, key=lambda e: e.started_at)
        ),
        observations=tuple(
            ObservationFact(
                o.observed_at,
                o.zone,
                o.activation,
                o.capacity,
                o.safety,
                o.body_connection,
                o.source,
            )
            for o in sorted(rows.observations, key=lambda o: o.observed_at)
        ),
        sessions=tuple(
            SessionFact(
                s.starts_at, s.attendance, s.engagement, s.homework_assigned, s.homework_completed
            )
            for s in rows.sessions
        ),
        measures=tuple(
            MeasureFact(
                m.instrument,
                m.administered_at,
                tuple(m.items) if m.items is not None else None,
                m.total if m.items is None else None,
            )
            for m in rows.measures
        ),
    )


def _misreadings(sim: ClientSim, rows: Rows, moments: Sequence[datetime], th: Thresholds) -> int:
    """How far the dashboard's reading of this draw is from its course's story (0 = exact)."""
    story = sim.course.story if sim.plan.status == ClientStatus.ACTIVE else Story()
    facts = _facts(rows)
    misses = 0
    for now in moments:
        metrics = compute_client_metrics(
            facts,
            start=now - timedelta(days=28),
            end=now,
            now=now,
            thresholds=th,
            monitoring_points_from=now,  # flags and figures only
        )
        fired = {(f.code, f.level) for f in metrics.flags}
        misses += len(story.flags - fired) + len(fired - story.flags - story.tolerated)
        if story.recovery is not None and metrics.recovery.trend.direction != story.recovery:
            misses += 1
        phq9 = next((m for m in metrics.measures if m.instrument == "phq9"), None)
        if story.phq9 is not None and (phq9 is None or phq9.reliable_change != story.phq9):
            misses += 1
    return misses


def simulate_clients(users: dict[str, User], tz: ZoneInfo, today: date, th: Thresholds) -> Rows:
    """Every roster client with their records, each the closest draw to its story."""
    rows = Rows()
    names = pseudonyms()
    # Episodes cannot end in the future: anything still running at midnight is "not yet back".
    cutoff = datetime.combine(today, time.min, tzinfo=tz).astimezone(UTC)
    # The story must hold all day: read it at the first and the last minute of `today`.
    moments = (cutoff + timedelta(minutes=1), cutoff + timedelta(days=1, minutes=-1))
    for index, plan in enumerate(ROSTER):
        best: tuple[int, Rows] | None = None
        for attempt in range(MAX_DRAWS):
            # A generator per client and draw: tuning one course never reshuffles the others.
            rng = random.Random(f"{SEED}:{index}:{attempt}")
            client, stopped = new_client(
                rng, plan, index, names[index], users[plan.practitioner].id, today
            )
            sim = new_simulation(rng, plan, client, stopped, tz, today)
            drawn = draw_client(sim, cutoff)
            misses = _misreadings(sim, drawn, moments, th)
            if best is None or misses < best[0]:
                best = (misses, drawn)
            if misses == 0:
                break
        assert best is not None
        rows.extend(best[1])
    return rows
