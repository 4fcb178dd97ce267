"""How a client uses their check-in link: days since their last check-in, and how many days
they checked in on before it (the `checkins_quiet` engagement signal, domain/flags.py).

Our definition (issue 11; every number is configuration in `Thresholds`): a *check-in* is any
self-reported observation or activation episode (`source = client`). A client *usually checks
in* when they checked in on at least `checkins_usual_share` (default half) of the
`checkins_usual_window_days` (28) calendar days ending on the day of their last check-in; they
*have gone quiet* when `checkins_quiet_days` (7) or more calendar days have passed since that
day. Days are the practice's calendar days. Pure: "now" is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from practice_dashboard.domain.facts import ClientFacts, Source


@dataclass(frozen=True, slots=True)
class CheckinActivity:
    days_since_last: int | None  # None: no check-in before `as_of`
    usual_days: int  # days with a check-in in the window ending on the last one's day


def checkin_activity(
    facts: ClientFacts, as_of: datetime, *, today: date, window_days: int
) -> CheckinActivity:
    """Days from the client's last check-in before `as_of` to `today` (a practice calendar
    day), and their check-in days in the `window_days` days up to it (module docstring)."""
    zone = facts.timezone
    times = [o.observed_at for o in facts.observations if o.source == Source.CLIENT]
    times += [e.started_at for e in facts.episodes if e.source == Source.CLIENT]
    days = {t.astimezone(zone).date() for t in times if t < as_of}
    if not days:
        return CheckinActivity(None, 0)
    last = max(days)
    first = last - timedelta(days=window_days - 1)
    return CheckinActivity(
        days_since_last=(today - last).days,
        usual_days=sum(1 for d in days if first <= d <= last),
    )
