"""Days since a client's last check-in and their check-in days before it; hand-counted from
the rule in domain/checkin_activity.py (client-sourced observations and episodes, practice
calendar days, a 28-day window ending on the last check-in's day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from practice_dashboard.domain.checkin_activity import checkin_activity
from practice_dashboard.domain.facts import (
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    ObservationFact,
    Source,
    Zone,
)

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
TODAY = date(2026, 3, 20)


def facts(
    *, observations: tuple[ObservationFact, ...] = (), episodes: tuple[EpisodeFact, ...] = ()
) -> ClientFacts:
    return ClientFacts(
        status=ClientStatus.ACTIVE,
        intake_date=date(2026, 1, 5),
        observations=observations,
        episodes=episodes,
    )


def obs(at: datetime, source: Source = Source.CLIENT) -> ObservationFact:
    return ObservationFact(at, Zone.WITHIN, 3, source=source)


def test_no_checkin_yet() -> None:
    activity = checkin_activity(facts(), NOW, today=TODAY, window_days=28)
    assert (activity.days_since_last, activity.usual_days) == (None, 0)


def test_practitioner_entries_are_not_checkins() -> None:
    activity = checkin_activity(
        facts(observations=(obs(NOW - timedelta(days=1), Source.PRACTITIONER),)),
        NOW,
        today=TODAY,
        window_days=28,
    )
    assert activity.days_since_last is None


def test_days_counted_in_the_window_ending_on_the_last_checkin() -> None:
    # Daily check-ins from 1 Feb to 10 March (38 days), twice on some days; last one 10 March.
    # Quiet since: 20 March - 10 March = 10 days. Window: 12 Feb..10 March = 28 days, all
    # with a check-in.
    days = [datetime(2026, 2, 1, 9, tzinfo=UTC) + timedelta(days=i) for i in range(38)]
    twice = [d + timedelta(hours=8) for d in days[::3]]
    activity = checkin_activity(
        facts(observations=tuple(obs(d) for d in sorted(days + twice))),
        NOW,
        today=TODAY,
        window_days=28,
    )
    assert activity.days_since_last == 10
    assert activity.usual_days == 28


def test_episodes_count_and_later_entries_are_not_seen() -> None:
    # Episodes every other day from 1 to 27 Feb (14 days); an observation after `as_of` is
    # ignored. Last: 27 Feb; window 31 Jan..27 Feb holds all 14. Quiet: 20 Mar - 27 Feb = 21.
    episodes = tuple(
        EpisodeFact(
            datetime(2026, 2, 1, 18, tzinfo=UTC) + timedelta(days=2 * i), 5, source=Source.CLIENT
        )
        for i in range(14)
    )
    activity = checkin_activity(
        facts(episodes=episodes, observations=(obs(NOW + timedelta(hours=1)),)),
        NOW,
        today=TODAY,
        window_days=28,
    )
    assert (activity.days_since_last, activity.usual_days) == (21, 14)


def test_practice_calendar_days() -> None:
    # 23:30 UTC on 9 March is 9 March in London (GMT until 29 March) but 10 March in Berlin.
    late = obs(datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    london = ClientFacts(
        ClientStatus.ACTIVE,
        date(2026, 1, 5),
        observations=(late,),
        timezone=ZoneInfo("Europe/London"),
    )
    berlin = ClientFacts(
        ClientStatus.ACTIVE,
        date(2026, 1, 5),
        observations=(late,),
        timezone=ZoneInfo("Europe/Berlin"),
    )
    assert checkin_activity(london, NOW, today=TODAY, window_days=28).days_since_last == 11
    assert checkin_activity(berlin, NOW, today=TODAY, window_days=28).days_since_last == 10
