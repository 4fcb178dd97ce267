"""The demo practice: five accounts and about forty clients on believable courses of care.

Every number is simulated from a seeded `random.Random`, relative to `today`, so the demo always
looks current and the same `today` always gives the same data. Each client follows a *course*
(improving, plateaued, burning out, …) that moves a small set of targets over their care; the
records (sessions, observations, activation episodes, measures) are drawn around those targets
with noise that is proportional (durations vary by a factor, not by minutes) and autocorrelated
(a shared day-to-day "mood" gives clients good and bad weeks, as real diaries show).

The courses are designed so that every flag in DESIGN.md fires for at least one client, and so
that clients meant to be quiet stay quiet: the demo should show what the dashboard is for.
"""

from __future__ import annotations

import math
import os
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import (
    ClientFacts,
    EpisodeFact,
    MeasureFact,
    ObservationFact,
    SessionFact,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.instruments import ReliableChangeCategory
from practice_dashboard.domain.metrics import compute_client_metrics
from practice_dashboard.domain.stats import TrendDirection
from practice_dashboard.errors import Invalid
from practice_dashboard.models import (
    Annotation,
    Client,
    Episode,
    Measure,
    Observation,
    SelfCheck,
    Session,
    Supervision,
    User,
)
from practice_dashboard.models.annotation import AnnotationKind
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import (
    Attendance,
    ClientStatus,
    HomeworkCompletion,
    Modality,
    Role,
    SessionKind,
    Source,
    Zone,
)
from practice_dashboard.security import hash_password
from practice_dashboard.services import audit
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.services.records.measure import scored_fields

DEMO_DOMAIN: Final = "demo.practice"
PASSWORD_ENV: Final = "PRACTICE_DASHBOARD_DEMO_PASSWORD"
# Well known on purpose (it is printed), so it is refused in production.
DEFAULT_DEMO_PASSWORD: Final = "window-of-tolerance"
MIN_PASSWORD_LENGTH: Final = 12
SEED: Final = 20_260_124
LOGIN_HINT: Final = (
    "Served at http://127.0.0.1:8000/ (unless PORT says otherwise): the API docs at /docs "
    "(Authorize with an e-mail and the password), tokens via POST /api/v1/auth/token"
)

# Durations by session kind (minutes).
DURATIONS: Final = {
    SessionKind.THERAPY: 50,
    SessionKind.COACHING: 45,
    SessionKind.CHECK_IN: 30,
    SessionKind.ASSESSMENT: 60,
}
MEASURE_INTERVAL_DAYS: Final = 28
# Longest recovery we simulate: "a few hours" at the tail; longer would read as a data error.
MAX_RECOVERY_MINUTES: Final = 480.0
# Draws per client before settling for the closest to its story (one or two usually suffice).
MAX_DRAWS: Final = 30


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo login; `key` names it in the roster below."""

    key: str
    email: str
    full_name: str
    role: Role
    sees: str


ACCOUNTS: Final = (
    DemoAccount(
        "admin",
        f"admin@{DEMO_DOMAIN}",
        "Alex Morgan",
        Role.ADMIN,
        "accounts and supervision links only; no clinical data",
    ),
    DemoAccount(
        "supervisor",
        f"supervisor@{DEMO_DOMAIN}",
        "Dr Ruth Adeyemi",
        Role.SUPERVISOR,
        "own clients, plus read-only all clients of both therapists and the coach",
    ),
    DemoAccount(
        "therapist1",
        f"therapist1@{DEMO_DOMAIN}",
        "Maya Lindqvist",
        Role.THERAPIST,
        "own clients only",
    ),
    DemoAccount(
        "therapist2",
        f"therapist2@{DEMO_DOMAIN}",
        "Daniel Osei",
        Role.THERAPIST,
        "own clients only",
    ),
    DemoAccount(
        "coach",
        f"coach@{DEMO_DOMAIN}",
        "Sofia Marín",
        Role.COACH,
        "own clients only",
    ),
)
ADMIN_EMAIL: Final = ACCOUNTS[0].email
SUPERVISEES: Final = ("therapist1", "therapist2", "coach")


# --------------------------------------------------------------------------------------------
# Courses of care
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class State:
    """Where a client stands at one point of their care: the targets records are drawn around."""

    recovery_minutes: float = 90.0  # median onset → back to baseline
    recognition_minutes: float = 25.0  # median onset → noticed
    episodes_per_week: float = 2.5
    peak: float = 7.0
    unrecovered: float = 0.08  # share of episodes with no return to baseline logged
    activation: float = 5.0  # typical activation in a check-in
    window_high: float = 5.5  # above this the client is in hyperarousal
    window_low: float = 2.0  # below this, hypoarousal
    capacity: float = 5.0
    felt_safety: float = 5.5
    body_connection: float = 5.0
    self_compassion: float = 5.0
    self_reports_per_week: float = 3.0
    engagement: float = 7.0
    homework: float = 0.78  # chance that assigned homework is fully done
    phq9: float = 12.0
    gad7: float = 10.0
    ors: float = 22.0
    cbi_personal: float = 40.0
    cbi_work: float = 40.0


# Durations change by factors, so they are blended on a log scale.
_GEOMETRIC: Final = frozenset({"recovery_minutes", "recognition_minutes"})


def blend(a: State, b: State, p: float) -> State:
    """The state a fraction `p` of the way from `a` to `b`."""
    values: dict[str, float] = {}
    for f in fields(State):
        x, y = getattr(a, f.name), getattr(b, f.name)
        values[f.name] = x * (y / x) ** p if f.name in _GEOMETRIC else x + (y - x) * p
    return State(**values)


CourseName = Literal[
    "improving",
    "slow_improver",
    "plateaued",
    "deteriorating",
    "disengaging",
    "wavering",
    "burning_out",
    "strained",
    "stale",
    "safety_concern",
    "completed",
]

FlagKey = tuple[str, str]  # (code, level)


@dataclass(frozen=True, slots=True)
class Story:
    """What the dashboard should say about an active client on a course (DESIGN.md "Flags").

    Each client is drawn until its records read this way, so the demo shows every flag for any
    `today` and the quiet clients stay quiet (a flat series can show a "trend" by chance).
    """

    flags: frozenset[FlagKey] = frozenset()  # must fire
    tolerated: frozenset[FlagKey] = frozenset()  # may also fire
    recovery: TrendDirection | None = None
    phq9: ReliableChangeCategory | None = None


A, NS, LC, CX = (
    Attendance.ATTENDED,
    Attendance.NO_SHOW,
    Attendance.LATE_CANCEL,
    Attendance.CANCELLED,
)


@dataclass(frozen=True, slots=True)
class Course:
    """How a client's targets move over care, and the few rules that make the course distinct.

    `ramp` says when the change happens: across the whole care, in the first `ramp_days`
    (then a plateau), or in the last `ramp_days` (a recent turn for the worse).
    """

    name: CourseName
    summary: str
    start: State
    end: State
    ramp: Literal["whole", "early", "late"]
    ramp_days: int = 0
    ramp_done_days: int = 0  # a late ramp is complete this many days before care ends
    intake_weeks: tuple[int, int] = (20, 70)
    recovery_noise: float = 0.35  # SD of log recovery per episode
    # Slow settling after the ramp (log change per year): a plateau still eases a little, which
    # also keeps chance runs of long recoveries from reading as a worsening trend.
    settling_per_year: float = 0.0
    mood_sd: float = 1.0  # SD of the slow day-to-day mood drift
    # The last past sessions, oldest first; None = a tidy recent record (no misses).
    recent_attendance: tuple[Attendance, ...] | None = None
    # Nothing observed or logged for this many days before today (stale data).
    quiet_days: tuple[int, int] | None = None
    cbi: bool = False
    # PHQ-9 item 9 answer in the latest administrations (thoughts of self-harm).
    safety_item: int = 0
    story: Story = Story()
    # A dated note on the client's charts, where the story turns: (days before care ends, …).
    annotation: tuple[int, AnnotationKind, str] | None = None


_BASE = State()

COURSES: Final[dict[CourseName, Course]] = {
    course.name: course
    for course in (
        Course(
            "improving",
            "steadily improving: faster recognition, shorter recovery, wider window",
            start=replace(
                _BASE,
                recovery_minutes=100,
                recognition_minutes=30,
                episodes_per_week=3.8,
                peak=8,
                unrecovered=0.12,
                activation=5.6,
                window_high=4.6,
                window_low=2.6,
                capacity=3,
                felt_safety=4,
                body_connection=3,
                self_compassion=3,
                engagement=6.5,
                homework=0.65,
                phq9=17,
                gad7=14,
                ors=17,
            ),
            end=replace(
                _BASE,
                recovery_minutes=50,
                recognition_minutes=7,
                episodes_per_week=2.6,
                peak=6,
                unrecovered=0.04,
                activation=3.8,
                window_high=7,
                window_low=1.2,
                capacity=7.5,
                felt_safety=8,
                body_connection=7,
                self_compassion=7,
                engagement=8,
                homework=0.88,
                phq9=5,
                gad7=4,
                ors=32,
            ),
            ramp="whole",
            intake_weeks=(13, 17),
            recovery_noise=0.2,
            mood_sd=0.8,
            story=Story(recovery="improving", phq9="improved"),
        ),
        Course(
            "slow_improver",
            "improving slowly, with good and bad weeks",
            start=replace(
                _BASE,
                recovery_minutes=120,
                recognition_minutes=35,
                episodes_per_week=3,
                peak=8,
                activation=6,
                window_high=4.6,
                window_low=2.5,
                capacity=3.5,
                felt_safety=4,
                body_connection=3,
                self_compassion=3,
                engagement=6.5,
                homework=0.72,
                phq9=15,
                gad7=13,
                ors=19,
            ),
            end=replace(
                _BASE,
                recovery_minutes=85,
                recognition_minutes=22,
                episodes_per_week=2.6,
                peak=7,
                activation=4.6,
                window_high=6,
                window_low=2,
                capacity=5,
                felt_safety=6,
                body_connection=5,
                self_compassion=5,
                engagement=7,
                homework=0.8,
                phq9=10,
                gad7=9,
                ors=25,
            ),
            ramp="whole",
            intake_weeks=(26, 70),
            recovery_noise=0.4,
            mood_sd=1.2,
        ),
        Course(
            "plateaued",
            "early gains, then a plateau",
            start=replace(
                _BASE,
                recovery_minutes=110,
                recognition_minutes=30,
                episodes_per_week=3,
                activation=5.5,
                window_high=4.6,
                capacity=4,
                phq9=14,
                gad7=12,
                ors=20,
            ),
            end=replace(
                _BASE,
                recovery_minutes=75,
                recognition_minutes=20,
                episodes_per_week=2.5,
                activation=4.8,
                window_high=5.6,
                capacity=5.5,
                phq9=10,
                gad7=9,
                ors=25,
            ),
            ramp="early",
            ramp_days=70,
            intake_weeks=(24, 78),
            settling_per_year=-0.4,
            story=Story(recovery="no_clear_trend"),
        ),
        Course(
            "deteriorating",
            "a recent turn for the worse: longer recovery, PHQ-9 rising reliably",
            start=replace(
                _BASE,
                recovery_minutes=55,
                recognition_minutes=12,
                episodes_per_week=1.8,
                peak=6,
                unrecovered=0.04,
                activation=4.4,
                window_high=6.2,
                window_low=1.8,
                capacity=6,
                felt_safety=7,
                body_connection=6,
                self_compassion=6,
                phq9=7,
                gad7=6,
                ors=28,
            ),
            end=replace(
                _BASE,
                recovery_minutes=140,
                recognition_minutes=30,
                episodes_per_week=3.4,
                peak=8,
                unrecovered=0.14,
                activation=6.0,
                window_high=5,
                window_low=2.5,
                capacity=3.5,
                felt_safety=4,
                body_connection=3.5,
                self_compassion=3,
                engagement=6.3,
                homework=0.7,
                phq9=18,
                gad7=15,
                ors=18,
            ),
            ramp="late",
            ramp_days=112,
            intake_weeks=(30, 60),
            recovery_noise=0.3,
            story=Story(
                flags=frozenset({("deterioration", "alert")}),
                tolerated=frozenset(
                    {
                        ("engagement_risk", "watch"),
                        ("burnout_risk", "watch"),
                        ("burnout_risk", "alert"),
                    }
                ),
                recovery="worsening",
                phq9="deteriorated",
            ),
            annotation=(105, AnnotationKind.LIFE_EVENT, "Redundancy announced at work"),
        ),
        Course(
            "disengaging",
            "drifting away: missed sessions, homework dropped, engagement falling",
            start=replace(_BASE, recovery_minutes=80, engagement=7.2, phq9=11),
            end=replace(
                _BASE,
                recovery_minutes=80,
                activation=4.6,
                window_high=6,
                engagement=2.5,
                homework=0.05,
                self_reports_per_week=1.2,
                episodes_per_week=1.6,
                phq9=12,
                gad7=11,
                ors=21,
            ),
            ramp="late",
            ramp_days=56,
            # Drifting away shows before the missed sessions do.
            ramp_done_days=21,
            intake_weeks=(20, 40),
            recent_attendance=(A, LC, A, NS, LC, NS),
            settling_per_year=-0.4,
            story=Story(flags=frozenset({("engagement_risk", "alert")})),
        ),
        Course(
            "wavering",
            "steady, but two recent sessions missed",
            start=replace(_BASE, recovery_minutes=90, phq9=12, ors=21),
            end=replace(_BASE, recovery_minutes=70, phq9=10, ors=24, capacity=5.5),
            ramp="early",
            ramp_days=70,
            intake_weeks=(18, 52),
            recent_attendance=(A, NS, A, LC, A, A),
            mood_sd=0.7,
            settling_per_year=-0.4,
            story=Story(flags=frozenset({("engagement_risk", "watch")})),
        ),
        Course(
            "burning_out",
            "burning out: rising activation, slower recovery, high CBI",
            start=replace(
                _BASE,
                recovery_minutes=60,
                recognition_minutes=15,
                episodes_per_week=2,
                peak=6,
                unrecovered=0.05,
                activation=4.8,
                window_high=6,
                capacity=6,
                felt_safety=6.5,
                phq9=9,
                gad7=9,
                ors=27,
                cbi_personal=40,
                cbi_work=44,
            ),
            end=replace(
                _BASE,
                recovery_minutes=150,
                recognition_minutes=35,
                episodes_per_week=4,
                peak=8.5,
                unrecovered=0.15,
                activation=8.2,
                window_high=5.4,
                window_low=2.2,
                capacity=3,
                felt_safety=4,
                body_connection=3.5,
                self_compassion=3,
                self_reports_per_week=5,
                engagement=6.6,
                homework=0.6,
                phq9=13,
                gad7=14,
                ors=17,
                cbi_personal=80,
                cbi_work=84,
            ),
            ramp="late",
            ramp_days=56,
            ramp_done_days=7,
            intake_weeks=(24, 52),
            cbi=True,
            story=Story(
                flags=frozenset({("burnout_risk", "alert")}),
                tolerated=frozenset({("deterioration", "alert"), ("engagement_risk", "watch")}),
            ),
            annotation=(60, AnnotationKind.LIFE_EVENT, "Took on a second team at work"),
        ),
        Course(
            "strained",
            "a heavy stretch: activation high, still bouncing back",
            start=replace(
                _BASE, recovery_minutes=70, activation=5, window_high=5.8, phq9=9, gad7=8, ors=25
            ),
            end=replace(
                _BASE,
                recovery_minutes=72,
                episodes_per_week=3.4,
                peak=7.5,
                activation=8.8,
                window_high=5.2,
                capacity=4.5,
                self_reports_per_week=5,
                phq9=10,
                gad7=11,
                ors=23,
            ),
            ramp="late",
            ramp_days=35,
            ramp_done_days=7,
            intake_weeks=(20, 52),
            recovery_noise=0.3,
            mood_sd=0.7,
            settling_per_year=-0.4,
            story=Story(flags=frozenset({("burnout_risk", "watch")})),
            annotation=(40, AnnotationKind.LIFE_EVENT, "Busy season started"),
        ),
        Course(
            "stale",
            "still attending, but nothing logged for over a month",
            start=replace(_BASE, recovery_minutes=95, phq9=13),
            end=replace(_BASE, recovery_minutes=75, phq9=11, capacity=5.5),
            ramp="early",
            ramp_days=70,
            intake_weeks=(30, 70),
            quiet_days=(38, 50),
            settling_per_year=-0.4,
            story=Story(flags=frozenset({("stale_data", "watch")})),
        ),
        Course(
            "safety_concern",
            "moderate depression; self-harm thoughts in the latest PHQ-9",
            start=replace(_BASE, recovery_minutes=100, phq9=13, gad7=11),
            end=replace(_BASE, recovery_minutes=85, phq9=13, gad7=10, capacity=4.5),
            ramp="early",
            ramp_days=70,
            intake_weeks=(16, 40),
            safety_item=1,
            settling_per_year=-0.4,
            story=Story(flags=frozenset({("safety", "alert")})),
        ),
        Course(
            "completed",
            "improved and discharged",
            start=replace(
                _BASE, recovery_minutes=90, recognition_minutes=25, phq9=15, gad7=12, ors=19
            ),
            end=replace(
                _BASE,
                recovery_minutes=45,
                recognition_minutes=8,
                episodes_per_week=1.8,
                activation=3.8,
                window_high=7,
                capacity=7.5,
                felt_safety=8,
                body_connection=7,
                self_compassion=7,
                engagement=8,
                phq9=5,
                gad7=4,
                ors=33,
            ),
            ramp="whole",
            intake_weeks=(30, 60),
            annotation=(21, AnnotationKind.CARE_CHANGE, "Ending planned together"),
        ),
    )
}


# --------------------------------------------------------------------------------------------
# The roster: who sees whom, on which course
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientPlan:
    practitioner: str  # account key
    course: CourseName
    status: ClientStatus = ClientStatus.ACTIVE
    cadence: int = 7
    ors: bool = False  # ORS total at every session (practices with a PCOMS licence)
    resolved_safety: bool = False  # PHQ-9 item 9 above 0 at intake only


_PAUSED, _DISCHARGED = ClientStatus.PAUSED, ClientStatus.DISCHARGED
# Alerts are kept to at most a sixth of each therapist's active caseload and a quarter of the
# supervisor's, while the coach carries four in eight: `practitioner_load` fires for the coach.
ROSTER: Final = (
    ClientPlan("therapist1", "improving", resolved_safety=True),
    ClientPlan("therapist1", "improving", ors=True),
    ClientPlan("therapist1", "improving"),
    ClientPlan("therapist1", "slow_improver"),
    ClientPlan("therapist1", "slow_improver", cadence=14, ors=True),
    ClientPlan("therapist1", "slow_improver"),
    ClientPlan("therapist1", "plateaued"),
    ClientPlan("therapist1", "plateaued", cadence=14),
    ClientPlan("therapist1", "plateaued", status=_PAUSED),
    ClientPlan("therapist1", "completed", status=_DISCHARGED, ors=True),
    ClientPlan("therapist1", "deteriorating", ors=True),
    ClientPlan("therapist1", "disengaging"),
    ClientPlan("therapist1", "wavering"),
    ClientPlan("therapist1", "stale"),
    ClientPlan("therapist2", "improving", ors=True),
    ClientPlan("therapist2", "improving"),
    ClientPlan("therapist2", "improving"),
    ClientPlan("therapist2", "slow_improver", cadence=14),
    ClientPlan("therapist2", "slow_improver", ors=True),
    ClientPlan("therapist2", "plateaued", ors=True),
    ClientPlan("therapist2", "plateaued", cadence=14),
    ClientPlan("therapist2", "plateaued", status=_PAUSED, cadence=14),
    ClientPlan("therapist2", "completed", status=_DISCHARGED),
    ClientPlan("therapist2", "deteriorating"),
    ClientPlan("therapist2", "burning_out", ors=True),
    ClientPlan("therapist2", "strained"),
    ClientPlan("therapist2", "wavering", cadence=14, ors=True),
    ClientPlan("therapist2", "stale", cadence=14),
    ClientPlan("coach", "burning_out", ors=True),
    ClientPlan("coach", "burning_out", ors=True),
    ClientPlan("coach", "disengaging", cadence=14, ors=True),
    ClientPlan("coach", "deteriorating", cadence=14, ors=True),
    ClientPlan("coach", "improving", ors=True),
    ClientPlan("coach", "improving", ors=True),
    ClientPlan("coach", "strained", cadence=14, ors=True),
    ClientPlan("coach", "plateaued", cadence=14, ors=True),
    ClientPlan("supervisor", "safety_concern"),
    ClientPlan("supervisor", "improving"),
    ClientPlan("supervisor", "slow_improver", cadence=14),
    ClientPlan("supervisor", "plateaued", ors=True),
)

# Pseudonyms: first name and last initial, drawn in a fixed shuffled order.
NAMES: Final = (
    "Aisha K.",
    "Mateo R.",
    "Siobhan D.",
    "Kwame A.",
    "Yuki T.",
    "Priya S.",
    "Lars N.",
    "Fatima Z.",
    "Tomás G.",
    "Mei L.",
    "Oluwaseun B.",
    "Hannah W.",
    "Rafael C.",
    "Ingrid H.",
    "Dev P.",
    "Amara O.",
    "Jonas F.",
    "Leilani K.",
    "Mohammed E.",
    "Chloe M.",
    "Arjun V.",
    "Zofia W.",
    "Kofi M.",
    "Elena P.",
    "Samir H.",
    "Nia J.",
    "Bjørn S.",
    "Ana Lucía F.",
    "Tariq Y.",
    "Grace O.",
    "Hiroshi N.",
    "Marisol V.",
    "Ewan McL.",
    "Thandiwe N.",
    "Lukas B.",
    "Noor A.",
    "Camille R.",
    "Kai H.",
    "Rosa D.",
    "Imran Q.",
    "Freya L.",
    "Diego A.",
)

GOALS: Final[dict[CourseName, tuple[str, ...]]] = {
    "improving": (
        "Notice activation earlier at work and come back to baseline without shutting down.",
        "Sleep through the night more often; feel anger without exploding or collapsing.",
    ),
    "slow_improver": (
        "Build capacity to feel sadness without getting stuck for days.",
        "Say no to family requests without panic.",
    ),
    "plateaued": (
        "Widen the window of tolerance around conflict with partner.",
        "Feel tension in the body without dissociating.",
    ),
    "deteriorating": (
        "Stay connected to friends while managing a health scare.",
        "Keep routines steady through a hard year at home.",
    ),
    "disengaging": (
        "Understand what sets off panic on the commute.",
        "Find a rhythm of rest that actually restores.",
    ),
    "wavering": ("Recover faster after arguments at home.",),
    "burning_out": (
        "Recover from exhaustion at work; set boundaries around evenings.",
        "Return to work sustainably after a period of overload.",
    ),
    "strained": ("Get through a demanding quarter without losing sleep or friendships.",),
    "stale": ("Notice body signals before overwhelm; practise orienting daily.",),
    "safety_concern": ("Feel less hopeless; rebuild safety in everyday routines.",),
    "completed": ("Reduce panic at work and feel able to rest again.",),
}

TRIGGERS: Final[dict[str, tuple[str, ...]]] = {
    "work": (
        "deadline moved up without warning",
        "critical email from manager",
        "performance review meeting",
        "presenting to the team",
        "inbox after a day off",
    ),
    "family": (
        "argument with partner about chores",
        "phone call with mother",
        "child's school meeting",
        "sibling cancelled plans again",
    ),
    "health": (
        "heart racing after coffee",
        "waiting for test results",
        "poor night's sleep",
        "headache that would not shift",
    ),
    "conflict": (
        "disagreement with a friend",
        "neighbour complained about noise",
        "tense exchange on the bus",
    ),
    "sensory": (
        "loud bang in the street",
        "crowded supermarket",
        "siren outside the window",
        "bright open-plan office",
    ),
    "memory": (
        "anniversary of the accident",
        "smell that brought back a hard time",
        "old photos while clearing a drawer",
    ),
}
STRATEGIES: Final = (
    "paced breathing",
    "orienting",
    "grounding",
    "movement",
    "called a friend",
    "self-talk",
    "cold water",
    "stepped outside",
    "humming",
)


# --------------------------------------------------------------------------------------------
# Small random helpers (all draws go through one seeded generator per client)
# --------------------------------------------------------------------------------------------


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _rating(value: float, low: int = 0, high: int = 10) -> int:
    return int(_clip(round(value), low, high))


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small daily rates used here."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _mood(rng: random.Random, days: int, sd: float, phi: float = 0.85) -> list[float]:
    """A stationary AR(1) series: the client's good and bad weeks, shared by every record."""
    innovation = sd * math.sqrt(1 - phi * phi)
    value, out = rng.gauss(0, sd), []
    for _ in range(days + 1):
        out.append(value)
        value = phi * value + rng.gauss(0, innovation)
    return out


def _spread(
    rng: random.Random, total: int, caps: Sequence[int], weights: Sequence[float]
) -> list[int]:
    """`total` points spread over items (each up to its cap), heavier where weights are."""
    items = [0] * len(caps)
    total = max(0, min(total, sum(caps)))
    for _ in range(total):
        open_items = [i for i, cap in enumerate(caps) if items[i] < cap]
        i = rng.choices(open_items, weights=[weights[j] for j in open_items])[0]
        items[i] += 1
    return items


def _at_local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def _weekday(day: date) -> date:
    """The same day, or the Friday before when it falls on a weekend."""
    return day - timedelta(days=max(0, day.weekday() - 4))


# --------------------------------------------------------------------------------------------
# One client's simulated care
# --------------------------------------------------------------------------------------------


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
        return (day - self.client.intake_date).days

    def progress(self, day: date) -> float:
        d = self.day_index(day)
        c = self.course
        if c.ramp == "whole":
            return _clip(d / max(self.span, 1), 0, 1)
        if c.ramp == "early":
            return _clip(d / c.ramp_days, 0, 1)
        done = self.span - c.ramp_done_days
        return _clip((d - (done - c.ramp_days)) / c.ramp_days, 0, 1)

    def state(self, day: date) -> State:
        state = self.states.get(day)
        if state is None:
            base = blend(self.course.start, self.course.end, self.progress(day))
            settling = math.exp(self.course.settling_per_year * self.day_index(day) / 365)
            base = replace(base, recovery_minutes=base.recovery_minutes * settling)
            state = self.states[day] = _shift(base, self.offset)
        return state

    def mood_on(self, day: date) -> float:
        return self.mood[_clip_index(self.day_index(day), len(self.mood))]


def _clip_index(i: int, n: int) -> int:
    return max(0, min(n - 1, i))


def _shift(state: State, offset: State) -> State:
    """Apply a client's personal offsets: factors for durations, points for the rest."""
    values: dict[str, float] = {}
    for f in fields(State):
        x, o = getattr(state, f.name), getattr(offset, f.name)
        values[f.name] = x * o if f.name in _GEOMETRIC else x + o
    return State(**values)


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


def _new_client(
    rng: random.Random,
    plan: ClientPlan,
    index: int,
    name: str,
    practitioner_id: uuid.UUID,
    today: date,
) -> tuple[Client, date | None]:
    course = COURSES[plan.course]
    intake = _weekday(today - timedelta(weeks=rng.randint(*course.intake_weeks)))
    stopped: date | None = None
    if plan.status == ClientStatus.PAUSED:
        stopped = _weekday(today - timedelta(days=rng.randint(28, 49)))
    elif plan.status == ClientStatus.DISCHARGED:
        stopped = _weekday(today - timedelta(days=rng.randint(21, 63)))
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


def _simulation(
    rng: random.Random,
    plan: ClientPlan,
    client: Client,
    stopped: date | None,
    tz: ZoneInfo,
    today: date,
) -> ClientSim:
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
        mood=_mood(rng, span + 60, course.mood_sd),
        offset=_personal_offset(rng),
        slot=(hour, rng.choice((0, 0, 30)) if hour < 18 else 0),
        modality_weights=modality_weights,
        categories=categories,
    )


# --- sessions ---------------------------------------------------------------------------------


def _session_days(sim: ClientSim) -> tuple[list[date], list[date]]:
    """Past meeting days (intake first) and 1–2 upcoming ones, on the client's cadence."""
    rng, cadence = sim.rng, sim.client.session_cadence_days
    booked = 0 if sim.plan.status != ClientStatus.ACTIVE else rng.choice((1, 2, 2))
    past: list[date] = []
    future: list[date] = []
    k = 0
    while True:
        planned = sim.client.intake_date + timedelta(days=k * cadence)
        k += 1
        if planned >= sim.end_day:
            # Paused and discharged clients have nothing booked; active ones have 1–2 meetings.
            if len(future) == booked:
                return past, future
            future.append(planned)
            continue
        day = planned
        if past and rng.random() < 0.08:
            # Now and then a meeting moves a day (still on a weekday, still before today).
            day = _weekday(planned + timedelta(days=rng.choice((-1, 1))))
            if day >= sim.today or day <= past[-1]:
                day = planned
        past.append(day)


def _attendance(sim: ClientSim, n_past: int) -> list[Attendance]:
    """Mostly attended, with the occasional miss; the course decides the recent record."""
    rng = sim.rng
    out = [A] * n_past
    recent = sim.course.recent_attendance
    tidy_from = n_past - (len(recent) if recent else 6)
    for i in range(1, max(1, tidy_from)):  # the intake itself is always attended
        r = rng.random()
        if r < 0.025:
            out[i] = NS
        elif r < 0.045:
            out[i] = LC
        elif r < 0.08:
            out[i] = CX
    if recent is not None:
        keep = min(len(recent), n_past - 1)
        out[n_past - keep :] = recent[len(recent) - keep :]
    elif n_past > 8 and rng.random() < 0.3:
        # A session cancelled in good time (not a miss), never one of the last two.
        out[n_past - rng.choice((3, 4, 5))] = CX
    return out


def _session_kind(sim: ClientSim, first: bool) -> SessionKind:
    if first:
        return SessionKind.ASSESSMENT
    if sim.rng.random() < 0.06:
        return SessionKind.CHECK_IN
    return SessionKind.COACHING if sim.plan.practitioner == "coach" else SessionKind.THERAPY


def _session_start(sim: ClientSim, day: date) -> datetime:
    hour, minute = sim.slot
    if sim.rng.random() < 0.1:
        # The odd different slot, still inside 08:00–19:00 local.
        hour, minute = sim.rng.choice((8, 10, 12, 16, 17)), 0
    return _at_local(day, hour, minute, sim.tz)


def _homework_review(sim: ClientSim, state: State) -> HomeworkCompletion:
    r = sim.rng.random()
    if r < state.homework:
        return HomeworkCompletion.YES
    if r < state.homework + (1 - state.homework) * 0.7:
        return HomeworkCompletion.PARTIAL
    return HomeworkCompletion.NO


def _build_sessions(sim: ClientSim, rows: Rows) -> list[Session]:
    """Sessions from intake to today, plus what is booked; returns the attended ones."""
    rng = sim.rng
    past, future = _session_days(sim)
    attendance = _attendance(sim, len(past))
    attended: list[Session] = []
    homework_due = False
    modalities = (Modality.IN_PERSON, Modality.VIDEO, Modality.PHONE)
    schedule = [*zip(past, attendance, strict=True), *((d, Attendance.SCHEDULED) for d in future)]
    for i, (day, status) in enumerate(schedule):
        kind = _session_kind(sim, first=i == 0)
        modality = rng.choices(modalities, weights=sim.modality_weights)[0]
        if kind == SessionKind.CHECK_IN and modality == Modality.IN_PERSON:
            modality = Modality.PHONE
        session = Session(
            id=uuid7(),
            client_id=sim.client.id,
            practitioner_id=sim.practitioner_id,
            starts_at=_session_start(sim, day),
            duration_minutes=DURATIONS[kind],
            kind=kind,
            modality=modality,
            attendance=status,
        )
        # Engagement and the homework review exist only for a meeting that took place (the
        # API enforces the same rule).
        if status == A:
            state = sim.state(day)
            session.engagement = _rating(
                state.engagement + 0.3 * sim.mood_on(day) + rng.gauss(0, 0.6)
            )
            if homework_due:
                session.homework_completed = _homework_review(sim, state)
            coaching = sim.plan.practitioner == "coach"
            session.homework_assigned = kind != SessionKind.CHECK_IN and (
                rng.random() < (0.85 if coaching else 0.7)
            )
            homework_due = session.homework_assigned
            attended.append(session)
        else:
            session.homework_assigned = False
        rows.sessions.append(session)
    return attended


# --- observations -----------------------------------------------------------------------------


def _zone(sim: ClientSim, state: State, activation: int) -> tuple[Zone, int]:
    """Zone from activation against the client's window; overwhelm sometimes ends in shutdown."""
    high = state.window_high + sim.rng.gauss(0, 0.4)
    low = state.window_low + sim.rng.gauss(0, 0.3)
    if activation > high:
        if sim.rng.random() < 0.12:
            # Hypoarousal after overwhelm: low arousal, numb, collapsed.
            return Zone.HYPO, sim.rng.randint(0, 2)
        return Zone.HYPER, activation
    if activation < low:
        return Zone.HYPO, activation
    return Zone.WITHIN, activation


def _observation(
    sim: ClientSim, at: datetime, day: date, *, in_session: Session | None, settle: float = 0.0
) -> Observation:
    rng, state, mood = sim.rng, sim.state(day), sim.mood_on(day)
    raw = state.activation + 0.5 * mood - settle + rng.gauss(0, 0.9)
    zone, activation = _zone(sim, state, _rating(raw))
    by_practitioner = in_session is not None
    # Practitioners rate more of the optional scales than clients do between sessions.
    chances = (1.0, 0.6, 0.7) if by_practitioner else (0.7, 0.4, 0.3)

    def maybe(value: float, chance: float) -> int | None:
        return _rating(value) if rng.random() < chance else None

    return Observation(
        client_id=sim.client.id,
        session_id=in_session.id if in_session is not None else None,
        recorded_by_id=sim.practitioner_id if by_practitioner else None,
        observed_at=at,
        source=Source.PRACTITIONER if by_practitioner else Source.CLIENT,
        zone=zone,
        activation=activation,
        capacity=maybe(state.capacity - 0.4 * mood + rng.gauss(0, 0.8), chances[0]),
        safety=maybe(state.felt_safety - 0.3 * mood + rng.gauss(0, 0.8), chances[1]),
        body_connection=maybe(state.body_connection + rng.gauss(0, 0.9), chances[2]),
    )


def _session_observations(sim: ClientSim, attended: Sequence[Session], rows: Rows) -> None:
    """One check-in as the session opens, often a second as it closes (co-regulated, calmer)."""
    for session in attended:
        day = session.starts_at.astimezone(sim.tz).date()
        if day >= sim.quiet_from:
            continue
        opening = session.starts_at + timedelta(minutes=5)
        rows.observations.append(_observation(sim, opening, day, in_session=session))
        if sim.rng.random() < 0.5:
            closing = session.starts_at + timedelta(minutes=session.duration_minutes - 8)
            rows.observations.append(
                _observation(sim, closing, day, in_session=session, settle=0.6)
            )


def _self_reports(sim: ClientSim, rows: Rows) -> None:
    """Between-session check-ins from the client, a few times a week at waking hours."""
    day = sim.client.intake_date + timedelta(days=1)
    while day < min(sim.end_day, sim.quiet_from):
        state = sim.state(day)
        for _ in range(_poisson(sim.rng, state.self_reports_per_week / 7)):
            at = _at_local(day, sim.rng.randint(7, 21), sim.rng.randrange(0, 60, 5), sim.tz)
            rows.observations.append(_observation(sim, at, day, in_session=None))
        day += timedelta(days=1)


# --- activation episodes ----------------------------------------------------------------------


def _episode(sim: ClientSim, day: date, cutoff: datetime) -> Episode:
    rng, state, mood = sim.rng, sim.state(day), sim.mood_on(day)
    # Evenings are when a day's load tends to land.
    hour = rng.choices(range(7, 23), weights=[1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 2, 1])[0]
    started = _at_local(day, hour, rng.randrange(0, 60), sim.tz)
    peak = _rating(state.peak + 0.4 * mood + rng.gauss(0, 1.0), 1, 10)
    # Recovery is log-normal around the course's median: bigger peaks take a little longer.
    recovery = state.recovery_minutes * math.exp(
        rng.gauss(0, sim.course.recovery_noise) + 0.06 * mood + 0.06 * (peak - state.peak)
    )
    recovery = _clip(recovery, 4, MAX_RECOVERY_MINUTES)
    recognition = _clip(
        state.recognition_minutes * math.exp(rng.gauss(0, 0.5)), 0.5, recovery * 0.8
    )
    recognized_at = (
        started + timedelta(minutes=round(recognition, 1)) if rng.random() > 0.07 else None
    )
    baseline_at = started + timedelta(minutes=round(recovery))
    # Some episodes have no logged return to baseline, and one still running at midnight is
    # not known yet: both are kept without a baseline time, never given a guessed one.
    recovered = rng.random() >= state.unrecovered and baseline_at < cutoff
    category = rng.choice(sim.categories)
    n_strategies = rng.choices((1, 2, 3), weights=(3, 3 + 4 * sim.progress(day), 1))[0]
    return Episode(
        client_id=sim.client.id,
        recorded_by_id=sim.practitioner_id,
        started_at=started,
        recognized_at=recognized_at,
        peak_intensity=peak,
        baseline_at=baseline_at if recovered else None,
        trigger=rng.choice(TRIGGERS[category]),
        trigger_category=category,
        strategies=rng.sample(STRATEGIES, n_strategies),
        self_compassion=_rating(state.self_compassion - 0.3 * mood + rng.gauss(0, 1.2)),
    )


def _episodes(sim: ClientSim, cutoff: datetime, rows: Rows) -> None:
    """About 1–4 activations a week, more on bad-mood days."""
    day = sim.client.intake_date
    while day < min(sim.end_day, sim.quiet_from):
        rate = sim.state(day).episodes_per_week / 7 * math.exp(0.2 * sim.mood_on(day))
        for _ in range(_poisson(sim.rng, max(rate, 0.0))):
            rows.episodes.append(_episode(sim, day, cutoff))
        day += timedelta(days=1)


# --- measures ---------------------------------------------------------------------------------


def _scored(
    sim: ClientSim,
    instrument: str,
    at: datetime,
    *,
    items: list[int | None] | None = None,
    total: float | None = None,
) -> Measure:
    """A measure row validated and scored by the registry, as the measure service writes one."""
    return Measure(
        client_id=sim.client.id,
        recorded_by_id=sim.practitioner_id,
        source=Source.CLIENT,
        **scored_fields(instrument, at, items, total),
    )


def _phq9_items(sim: ClientSim, target: float, item9: int) -> list[int | None]:
    total = _rating(target, 0, 24 + item9) - item9
    # The weights only give answers a plausible profile (sleep and tiredness a little heavier);
    # the total is what the course sets.
    weights = (1.0, 1.3, 1.4, 1.5, 0.8, 1.0, 0.9, 0.5)
    return [*_spread(sim.rng, total, [3] * 8, weights), item9]


def _gad7_items(sim: ClientSim, target: float) -> list[int | None]:
    return list(
        _spread(sim.rng, _rating(target, 0, 21), [3] * 7, (1.3, 1.1, 1.2, 1.2, 0.7, 1.0, 0.8))
    )


def _cbi_items(
    rng: random.Random, personal: float, work: float, client_related: float | None = None
) -> list[int | None]:
    """Codes 0–4 counted from the no-burnout end; item 13 (energy for family) is reversed."""

    def scale(score: float, n: int) -> list[int]:
        return _spread(rng, round(_clip(score, 0, 100) / 25 * n), [4] * n, [1.0] * n)

    work_codes = scale(work, 7)
    work_codes[6] = 4 - work_codes[6]  # item 13: "Always enough energy" is the no-burnout end
    # The client-related scale is only for people who work with clients; others leave it empty.
    client_codes: list[int | None] = (
        [None] * 6 if client_related is None else list(scale(client_related, 6))
    )
    return [*scale(personal, 6), *work_codes, *client_codes]


def _measures(sim: ClientSim, attended: Sequence[Session], rows: Rows) -> None:
    """PHQ-9 and GAD-7 at intake and every four weeks; ORS each session; CBI when burning out."""
    next_due = 0
    phq9_days: list[tuple[Session, date]] = []
    for session in attended:
        day = session.starts_at.astimezone(sim.tz).date()
        state, mood, rng = sim.state(day), sim.mood_on(day), sim.rng
        waiting_room = session.starts_at - timedelta(minutes=10)
        if sim.day_index(day) >= next_due:
            next_due = (sim.day_index(day) // MEASURE_INTERVAL_DAYS + 1) * MEASURE_INTERVAL_DAYS
            phq9_days.append((session, day))
            gad7 = state.gad7 + 0.5 * mood + rng.gauss(0, 0.8)
            rows.measures.append(_scored(sim, "gad7", waiting_room, items=_gad7_items(sim, gad7)))
            if sim.course.cbi:
                personal = state.cbi_personal + 2 * mood + rng.gauss(0, 3)
                work = state.cbi_work + 2 * mood + rng.gauss(0, 3)
                items = _cbi_items(rng, personal, work)
                rows.measures.append(_scored(sim, "cbi", waiting_room, items=items))
        if sim.plan.ors:
            ors = _clip(state.ors - 0.8 * mood + rng.gauss(0, 1.3), 0, 40)
            rows.measures.append(_scored(sim, "ors", session.starts_at, total=round(ors, 1)))
    for n, (session, day) in enumerate(phq9_days):
        rows.measures.append(_phq9(sim, session, day, latest=n >= len(phq9_days) - 2, first=n == 0))


def _phq9(sim: ClientSim, session: Session, day: date, *, latest: bool, first: bool) -> Measure:
    state, mood = sim.state(day), sim.mood_on(day)
    item9 = sim.course.safety_item if latest else 0
    if first and sim.plan.resolved_safety:
        # Thoughts of self-harm at intake that later resolved: the safety flag looks only at
        # the latest PHQ-9, so this client is (rightly) not flagged today.
        item9 = 1
    target = state.phq9 + 0.5 * mood + sim.rng.gauss(0, 0.8)
    items = _phq9_items(sim, target, item9)
    return _scored(sim, "phq9", session.starts_at - timedelta(minutes=10), items=items)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def demo_password(settings: Settings, password: str | None) -> tuple[str, bool]:
    """The password for every demo account, and whether it is the well-known default."""
    secret = password or os.environ.get(PASSWORD_ENV)
    if not secret:
        if settings.environment == "production":
            raise Invalid(
                [
                    (
                        ("password",),
                        "demo accounts in production need a password: pass --password or set "
                        f"{PASSWORD_ENV} (the default demo password is public)",
                    )
                ]
            )
        return DEFAULT_DEMO_PASSWORD, True
    if len(secret) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            [(("password",), f"the demo password needs at least {MIN_PASSWORD_LENGTH} characters")]
        )
    return secret, False


def _accounts(db: DbSession, settings: Settings, password: str) -> dict[str, User]:
    # All demo accounts share one password, so one argon2 hash (the slow part) serves them all.
    password_hash = hash_password(settings, password)
    users = {
        a.key: User(
            id=uuid7(),
            email=a.email,
            full_name=a.full_name,
            role=a.role,
            password_hash=password_hash,
            is_active=True,
            failed_login_count=0,
        )
        for a in ACCOUNTS
    }
    db.add_all(users.values())
    # Without ORM relationships the unit of work cannot order tables by foreign key, so each
    # parent table is flushed before its children.
    db.flush()
    db.add_all(
        Supervision(supervisor_id=users["supervisor"].id, supervisee_id=users[key].id)
        for key in SUPERVISEES
    )
    return users


def _annotations(sim: ClientSim, rows: Rows) -> None:
    note = sim.course.annotation
    if note is None:
        return
    days_before, kind, label = note
    day = sim.end_day - timedelta(days=days_before)
    rows.annotations.append(
        Annotation(
            client_id=sim.client.id,
            created_by_id=sim.practitioner_id,
            at=_at_local(day, 12, 0, sim.tz),
            kind=kind,
            label=label,
        )
    )


def _draw_client(sim: ClientSim, cutoff: datetime) -> Rows:
    """One client's records: sessions, check-ins, activation episodes, measures, notes."""
    rows = Rows([sim.client])
    attended = _build_sessions(sim, rows)
    _session_observations(sim, attended, rows)
    _self_reports(sim, rows)
    _episodes(sim, cutoff, rows)
    _measures(sim, attended, rows)
    _annotations(sim, rows)
    return rows


def _facts(rows: Rows) -> ClientFacts:
    """The domain's view of one drawn client (the same shape services/facts.py reads)."""
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
            facts, start=now - timedelta(days=28), end=now, now=now, thresholds=th
        )
        fired = {(f.code, f.level) for f in metrics.flags}
        misses += len(story.flags - fired) + len(fired - story.flags - story.tolerated)
        if story.recovery is not None and metrics.recovery.trend.direction != story.recovery:
            misses += 1
        phq9 = next((m for m in metrics.measures if m.instrument == "phq9"), None)
        if story.phq9 is not None and (phq9 is None or phq9.reliable_change != story.phq9):
            misses += 1
    return misses


# Practitioners' own CBI (personal, work-related, client-related) at the start and the latest
# check; all below the 50-point line, so `practitioner_load` fires only on the coach's alerts.
SELF_CHECK_LEVELS: Final = {
    "supervisor": ((30, 28, 22), (32, 30, 24)),
    "therapist1": ((34, 30, 26), (36, 33, 30)),
    "therapist2": ((28, 26, 20), (33, 31, 27)),
    "coach": ((32, 30, 28), (44, 42, 46)),
}
SELF_CHECK_INTERVAL_WEEKS: Final = 8
SELF_CHECKS_EACH: Final = 5


def _self_checks(users: dict[str, User], tz: ZoneInfo, today: date) -> list[SelfCheck]:
    """A CBI self-check every eight weeks for each practitioner, the latest last week."""
    rng = random.Random(f"{SEED}:self-checks")
    checks: list[SelfCheck] = []
    last = SELF_CHECKS_EACH - 1
    for key, (first, latest) in SELF_CHECK_LEVELS.items():
        for n in range(SELF_CHECKS_EACH):
            day = _weekday(today - timedelta(weeks=1 + SELF_CHECK_INTERVAL_WEEKS * (last - n)))
            p = n / last
            personal, work, client_related = (
                a + (b - a) * p + rng.gauss(0, 2.5) for a, b in zip(first, latest, strict=True)
            )
            items = _cbi_items(rng, personal, work, client_related)
            at = _at_local(day, 17, 30, tz)
            checks.append(
                SelfCheck(practitioner_id=users[key].id, **scored_fields("cbi", at, items, None))
            )
    return checks


def _simulate(users: dict[str, User], tz: ZoneInfo, today: date, th: Thresholds) -> Rows:
    rows = Rows()
    names = _pseudonyms()
    # Episodes cannot end in the future: anything still running at midnight is "not yet back".
    cutoff = datetime.combine(today, time.min, tzinfo=tz).astimezone(UTC)
    # The story must hold all day: read it at the first and the last minute of `today`.
    moments = (cutoff + timedelta(minutes=1), cutoff + timedelta(days=1, minutes=-1))
    for index, plan in enumerate(ROSTER):
        best: tuple[int, Rows] | None = None
        for attempt in range(MAX_DRAWS):
            # A generator per client and draw: tuning one course never reshuffles the others.
            rng = random.Random(f"{SEED}:{index}:{attempt}")
            client, stopped = _new_client(
                rng, plan, index, names[index], users[plan.practitioner].id, today
            )
            sim = _simulation(rng, plan, client, stopped, tz, today)
            drawn = _draw_client(sim, cutoff)
            misses = _misreadings(sim, drawn, moments, th)
            if best is None or misses < best[0]:
                best = (misses, drawn)
            if misses == 0:
                break
        assert best is not None
        rows.extend(best[1])
    return rows


def _pseudonyms() -> list[str]:
    names = list(NAMES)
    random.Random(SEED).shuffle(names)
    return names


def _accounts_table(counts: Counter[str]) -> list[str]:
    lines = [f"  {'email':<28} {'role':<11} clients  can see"]
    for a in ACCOUNTS:
        lines.append(f"  {a.email:<28} {a.role.value:<11} {counts[a.key]:>7}  {a.sees}")
    return lines


def _stories(rows: Rows, users: dict[str, User]) -> list[str]:
    """Where each course's story can be seen: a short tour for whoever gives the demo."""
    owners = {u.id: key for key, u in users.items()}
    by_course: dict[CourseName, list[str]] = {}
    for client, plan in zip(rows.clients, ROSTER, strict=True):
        by_course.setdefault(plan.course, []).append(
            f"{client.display_name} ({owners[client.practitioner_id]})"
        )
    return [
        f"  {COURSES[name].summary}: {', '.join(clients)}" for name, clients in by_course.items()
    ]


def _password_line(password: str, is_default: bool) -> str:
    if is_default:
        return f"Password for every demo account: {password}"
    return "Password for every demo account: the one you supplied"


def _already_loaded_report() -> str:
    lines = [
        "The demo practice is already loaded; nothing was written.",
        "",
        "Accounts:",
        *(f"  {a.email:<28} {a.role.value}" for a in ACCOUNTS),
        "",
        "Password: the one given when the demo was loaded "
        f"(outside production the default is {DEFAULT_DEMO_PASSWORD}).",
        LOGIN_HINT,
    ]
    return "\n".join(lines)


def load_demo(
    db: DbSession,
    settings: Settings,
    *,
    password: str | None = None,
    today: date | None = None,
) -> str:
    """Load the demo practice (safe to run twice) and return a report of what was created.

    Everything is dated relative to `today` (default: today in the practice's time zone), which
    must not be in the future: measures cannot be. Flushes, never commits.
    """
    if user_service.get_by_email(db, ADMIN_EMAIL) is not None:
        return _already_loaded_report()
    secret, is_default = demo_password(settings, password)
    tz = settings.timezone
    today = today or datetime.now(tz).date()
    users = _accounts(db, settings, secret)
    rows = _simulate(users, tz, today, settings.thresholds)
    self_checks = _self_checks(users, tz, today)
    db.add_all(rows.clients)
    db.flush()
    db.add_all(rows.sessions)
    db.flush()
    db.add_all(rows.observations)
    db.add_all(rows.episodes)
    db.add_all(rows.measures)
    db.add_all(rows.annotations)
    db.add_all(self_checks)
    audit.record(
        db,
        None,
        "demo_load",
        "practice",
        detail=f"demo practice as of {today.isoformat()}: {len(rows.clients)} clients",
    )
    db.flush()

    caseloads = Counter(plan.practitioner for plan in ROSTER)
    counts = (
        f"{len(users)} users, {len(SUPERVISEES)} supervision links, {len(rows.clients)} clients, "
        f"{len(rows.sessions)} sessions, {len(rows.observations)} observations, "
        f"{len(rows.episodes)} activation episodes, {len(rows.measures)} measures, "
        f"{len(rows.annotations)} annotations, {len(self_checks)} practitioner self-checks"
    )
    lines = [
        f"Demo practice loaded as of {today.isoformat()} ({settings.practice_timezone}).",
        f"Created {counts}.",
        "",
        "Accounts:",
        *_accounts_table(caseloads),
        "",
        "Stories to look for:",
        *_stories(rows, users),
        "",
        _password_line(secret, is_default),
        LOGIN_HINT,
    ]
    return "\n".join(lines)


def client_courses() -> dict[str, CourseName]:
    """Each demo client's display name with the course it follows (for tests and tours)."""
    return {name: plan.course for name, plan in zip(_pseudonyms(), ROSTER, strict=False)}
