"""One demo client's records of care, drawn around the targets of their course.

Sessions, check-in observations, activation episodes, measures and a dated note. Every draw
comes from the client's own generator, in a fixed order, so the same seed gives the same records.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Final

from practice_dashboard.models import Annotation, Episode, Measure, Observation, Session
from practice_dashboard.models.base import uuid7
from practice_dashboard.models.enums import (
    Attendance,
    ClientStatus,
    HomeworkCompletion,
    Modality,
    SessionKind,
    Source,
    Zone,
)
from practice_dashboard.services.demo.client_sim import ClientSim, Rows
from practice_dashboard.services.demo.courses import CX, LC, NS, A
from practice_dashboard.services.demo.draws import at_local, clip, poisson, rating, spread, weekday
from practice_dashboard.services.demo.roster import STRATEGIES, TRIGGERS
from practice_dashboard.services.demo.state import State
from practice_dashboard.services.records.measure import scored_fields

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
            day = weekday(planned + timedelta(days=rng.choice((-1, 1))))
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
    return at_local(day, hour, minute, sim.tz)


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
            session.engagement = rating(
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
    zone, activation = _zone(sim, state, rating(raw))
    by_practitioner = in_session is not None
    # Practitioners rate more of the optional scales than clients do between sessions.
    chances = (1.0, 0.6, 0.7) if by_practitioner else (0.7, 0.4, 0.3)

    def maybe(value: float, chance: float) -> int | None:
        return rating(value) if rng.random() < chance else None

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
    for day in sim.recorded_days(after_intake=1):
        state = sim.state(day)
        for _ in range(poisson(sim.rng, state.self_reports_per_week / 7)):
            at = at_local(day, sim.rng.randint(7, 21), sim.rng.randrange(0, 60, 5), sim.tz)
            rows.observations.append(_observation(sim, at, day, in_session=None))


# --- activation episodes ----------------------------------------------------------------------


def _episode(sim: ClientSim, day: date, cutoff: datetime) -> Episode:
    """One activation episode on `day`: onset, peak, recognition, return to baseline."""
    rng, state, mood = sim.rng, sim.state(day), sim.mood_on(day)
    # Evenings are when a day's load tends to land.
    hour = rng.choices(range(7, 23), weights=[1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 2, 1])[0]
    started = at_local(day, hour, rng.randrange(0, 60), sim.tz)
    peak = rating(state.peak + 0.4 * mood + rng.gauss(0, 1.0), 1, 10)
    # Recovery is log-normal around the course's median: bigger peaks take a little longer.
    recovery = state.recovery_minutes * math.exp(
        rng.gauss(0, sim.course.recovery_noise) + 0.06 * mood + 0.06 * (peak - state.peak)
    )
    recovery = clip(recovery, 4, MAX_RECOVERY_MINUTES)
    recognition = clip(state.recognition_minutes * math.exp(rng.gauss(0, 0.5)), 0.5, recovery * 0.8)
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
        self_compassion=rating(state.self_compassion - 0.3 * mood + rng.gauss(0, 1.2)),
    )


def _episodes(sim: ClientSim, cutoff: datetime, rows: Rows) -> None:
    """About 1–4 activations a week, more on bad-mood days."""
    for day in sim.recorded_days():
        rate = sim.state(day).episodes_per_week / 7 * math.exp(0.2 * sim.mood_on(day))
        for _ in range(poisson(sim.rng, max(rate, 0.0))):
            rows.episodes.append(_episode(sim, day, cutoff))


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
    total = rating(target, 0, 24 + item9) - item9
    # The weights only give answers a plausible profile (sleep and tiredness a little heavier);
    # the total is what the course sets.
    weights = (1.0, 1.3, 1.4, 1.5, 0.8, 1.0, 0.9, 0.5)
    return [*spread(sim.rng, total, [3] * 8, weights), item9]


def _gad7_items(sim: ClientSim, target: float) -> list[int | None]:
    return list(
        spread(sim.rng, rating(target, 0, 21), [3] * 7, (1.3, 1.1, 1.2, 1.2, 0.7, 1.0, 0.8))
    )


def cbi_items(
    rng: random.Random, personal: float, work: float, client_related: float | None = None
) -> list[int | None]:
    """Codes 0–4 counted from the no-burnout end; item 13 (energy for family) is reversed."""

    def scale(score: float, n: int) -> list[int]:
        return spread(rng, round(clip(score, 0, 100) / 25 * n), [4] * n, [1.0] * n)

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
                items = cbi_items(rng, personal, work)
                rows.measures.append(_scored(sim, "cbi", waiting_room, items=items))
        if sim.plan.ors:
            ors = clip(state.ors - 0.8 * mood + rng.gauss(0, 1.3), 0, 40)
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


def _annotations(sim: ClientSim, rows: Rows) -> None:
    """The course's dated note on the client's charts, where its story turns."""
    note = sim.course.annotation
    if note is None:
        return
    days_before, kind, label = note
    day = sim.end_day - timedelta(days=days_before)
    rows.annotations.append(
        Annotation(
            client_id=sim.client.id,
            created_by_id=sim.practitioner_id,
            at=at_local(day, 12, 0, sim.tz),
            kind=kind,
            label=label,
        )
    )


def draw_client(sim: ClientSim, cutoff: datetime) -> Rows:
    """One client's records: sessions, check-ins, activation episodes, measures, notes."""
    rows = Rows([sim.client])
    attended = _build_sessions(sim, rows)
    _session_observations(sim, attended, rows)
    _self_reports(sim, rows)
    _episodes(sim, cutoff, rows)
    _measures(sim, attended, rows)
    _annotations(sim, rows)
    return rows
