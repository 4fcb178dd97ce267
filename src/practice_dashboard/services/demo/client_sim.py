"""One client's simulated care: the plan, course, timeline and generator every record draws on.

Noise is proportional (durations vary by a factor, not by minutes) and autocorrelated (a shared
day-to-day "mood" gives clients good and bad weeks, as real diaries show).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from practice_dashboard.models import Annotation, Client, Episode, Measure, Observation, Session
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.services.demo.courses import COURSES, Course
from practice_dashboard.services.demo.draws import clip, clip_index, mood_series, weekday
from practice_dashboard.services.demo.roster import GOALS, TRIGGERS, ClientPlan
from practice_dashboard.services.demo.state import State, blend, shift


@dataclass(slots=True)
class Rows:
    """Everything one load writes, in insertion order."""

    clients: list[Client] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        """Append every row of `other`, table by table."""
        for f in fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))


@dataclass(slots=True)
class ClientSim:
    """The simulation context of one client: its course, timeline and generator."""

    rng: random.Random
    plan: ClientPlan
    course: Course
    client: Client
    practitioner_id: uuid.UUID
    tz: ZoneInfo
    today: date
    end_day: date  # first day with nothing recorded (today, or the pause/discharge date + 1)
    quiet_from: date  # nothing observed or logged from this day on (stale data)
    span: int  # days from intake to the end of the course's change
    mood: list[float]
    offset: State  # the client's own level: course targets shifted per person
    slot: tuple[int, int]  # usual local session time
    modality_weights: tuple[float, float, float]
    categories: tuple[str, ...]  # what usually triggers this client
    states: dict[date, State] = field(default_factory=dict)

    def day_index(self, day: date) -> int:
        """Days since intake."""
        return (day - self.client.intake_date).days

    def progress(self, day: date) -> float:
        """How far the course's change has gone on `day`, from 0 to 1."""
        d = self.day_index(day)
        c = self.course
        if c.ramp == "whole":
            return clip(d / max(self.span, 1), 0, 1)
        if c.ramp == "early":
            return clip(d / c.ramp_days, 0, 1)
        done = self.span - c.ramp_done_days
        return clip((d - (done - c.ramp_days)) / c.ramp_days, 0, 1)

    def state(self, day: date) -> State:
        """The client's targets on `day` (cached: every record of a day shares them)."""
        state = self.states.get(day)
        if state is None:
            base = blend(self.course.start, self.course.end, self.progress(day))
            settling = math.exp(self.course.settling_per_year * self.day_index(day) / 365)
            base = replace(base, recovery_minutes=base.recovery_minutes * settling)
            state = self.states[day] = shift(base, self.offset)
        return state

    def mood_on(self, day: date) -> float:
        """The shared good-or-bad-week drift on `day`."""
        return self.mood[clip_index(self.day_index(day), len(self.mood))]

    def recorded_days(self, *, after_intake: int = 0) -> Iterator[date]:
        """Each day from intake (plus `after_intake`) until recording stops (end or quiet)."""
        day = self.client.intake_date + timedelta(days=after_intake)
        while day < min(self.end_day, self.quiet_from):
            yield day
            day += timedelta(days=1)


def _personal_offset(rng: random.Random) -> State:
    """Clients on one course differ: a person-level factor or shift on every target."""
    zero = {f.name: 0.0 for f in fields(State)}
    zero.update(recovery_minutes=rng.uniform(0.8, 1.25), recognition_minutes=rng.uniform(0.8, 1.25))
    zero.update(
        activation=rng.uniform(-0.4, 0.4),
        capacity=rng.uniform(-0.5, 0.5),
        engagement=rng.uniform(-0.4, 0.4),
        phq9=float(rng.randint(-2, 2)),
        gad7=float(rng.randint(-2, 2)),
        ors=rng.uniform(-2, 2),
        episodes_per_week=rng.uniform(-0.2, 0.2),
    )
    return State(**zero)


def new_client(
    rng: random.Random,
    plan: ClientPlan,
    index: int,
    name: str,
    practitioner_id: uuid.UUID,
    today: date,
) -> tuple[Client, date | None]:
    """A new client on `plan`, and the day their care paused or ended (None while active)."""
    course = COURSES[plan.course]
    intake = weekday(today - timedelta(weeks=rng.randint(*course.intake_weeks)))
    stopped: date | None = None
    if plan.status == ClientStatus.PAUSED:
        stopped = weekday(today - timedelta(days=rng.randint(28, 49)))
    elif plan.status == ClientStatus.DISCHARGED:
        stopped = weekday(today - timedelta(days=rng.randint(21, 63)))
    client = Client(
        id=uuid7(),
        practitioner_id=practitioner_id,
        display_name=name,
        # Some practices key clients to their record system; about half do here.
        external_ref=f"DP-{1040 + index * 37}" if rng.random() < 0.55 else None,
        status=plan.status,
        intake_date=intake,
        discharged_on=stopped if plan.status == ClientStatus.DISCHARGED else None,
        goals=rng.choice(GOALS[plan.course]),
        session_cadence_days=plan.cadence,
    )
    return client, stopped


def new_simulation(
    rng: random.Random,
    plan: ClientPlan,
    client: Client,
    stopped: date | None,
    tz: ZoneInfo,
    today: date,
) -> ClientSim:
    """The simulation of `client`: timeline, mood, personal offsets and habits, all drawn now."""
    course = COURSES[plan.course]
    end_day = stopped + timedelta(days=1) if stopped is not None else today
    quiet_from = end_day
    if course.quiet_days is not None:
        quiet_from = today - timedelta(days=rng.randint(*course.quiet_days))
    span = (end_day - client.intake_date).days
    hour = rng.choice((8, 9, 10, 11, 13, 14, 15, 16, 17, 18))
    modality_weights = rng.choice(((0.8, 0.15, 0.05), (0.2, 0.75, 0.05), (0.5, 0.45, 0.05)))
    categories = tuple(rng.sample(sorted(TRIGGERS), 3))
    if plan.course in ("burning_out", "strained"):
        categories = ("work", "work", *categories[:2])
    return ClientSim(
        rng=rng,
        plan=plan,
        course=course,
        client=client,
        practitioner_id=client.practitioner_id,
        tz=tz,
        today=today,
        end_day=end_day,
        quiet_from=quiet_from,
        span=span,
        mood=mood_series(rng, span + 60, course.mood_sd),
        offset=_personal_offset(rng),
        slot=(hour, rng.choice((0, 0, 30)) if hour < 18 else 0),
        modality_weights=modality_weights,
        categories=categories,
    )
