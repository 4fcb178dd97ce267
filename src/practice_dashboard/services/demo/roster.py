"""The demo roster: who sees whom, on which course, under which pseudonym, with what goals.

Also the words the records are drawn from: triggers by category and regulation strategies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.services.demo.courses import CourseName
from practice_dashboard.services.demo.draws import SEED


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """One client to draw: their practitioner, course, status and what is recorded for them."""

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
    ClientPlan("supervisor", "new_worry"),
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
    "new_worry": ("Keep the steadiness built so far through a change at home.",),
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


def pseudonyms() -> list[str]:
    """The client names in roster order: a fixed shuffle of NAMES."""
    names = list(NAMES)
    random.Random(SEED).shuffle(names)
    return names


def client_courses() -> dict[str, CourseName]:
    """Each demo client's display name with the course it follows (for tests and tours)."""
    return {name: plan.course for name, plan in zip(pseudonyms(), ROSTER, strict=False)}
