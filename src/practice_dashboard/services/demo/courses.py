"""The demo's courses of care: how a client's targets move, and what the dashboard should say.

Each client follows a *course* (improving, plateaued, burning out, …) that moves a small set of
targets (a `State`) over their care; the records are drawn around those targets. The courses
are designed so that every flag in DESIGN.md fires for at least one client, and so that clients
meant to be quiet stay quiet: the demo should show what the dashboard is for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from practice_dashboard.domain.instruments import ReliableChangeCategory
from practice_dashboard.domain.stats import TrendDirection
from practice_dashboard.models.annotation import AnnotationKind
from practice_dashboard.models.enums import Attendance
from practice_dashboard.services.demo.state import State

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
    "new_worry",
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


# Short names for attendance, so recent records read as a row: (A, NS, A, LC, …).
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
            "new_worry",
            "settled, but the latest GAD-7 rose sharply: a first reliable deterioration to "
            "talk over (a watch until the next administration confirms it)",
            start=replace(_BASE, recovery_minutes=70, phq9=8, gad7=5),
            end=replace(_BASE, recovery_minutes=68, phq9=9, gad7=13),
            ramp="late",
            ramp_days=21,
            intake_weeks=(20, 52),
            settling_per_year=-0.4,
            story=Story(flags=frozenset({("deterioration", "watch")})),
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
