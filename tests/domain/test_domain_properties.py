"""Property tests for the analytics (Hypothesis)."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practice_dashboard.domain.facts import (
    Attendance,
    ClientFacts,
    EpisodeFact,
    HomeworkCompletion,
    MeasureFact,
    ObservationFact,
    SessionFact,
    Zone,
)
from practice_dashboard.domain.metrics import ClientMetrics
from practice_dashboard.domain.stats import median, trend
from tests.domain.builders import END, client, metrics

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
WINDOW_START = END - timedelta(days=28)

# Whole minutes before END (up to ~120 days back): integral epoch seconds keep arithmetic exact.
minutes_back = st.integers(min_value=1, max_value=120 * 24 * 60)


def _at(minutes: int) -> datetime:
    return END - timedelta(minutes=minutes)


episodes_st = st.lists(
    st.builds(
        lambda m, rec, rcg, peak: EpisodeFact(
            started_at=_at(m),
            peak_intensity=peak,
            recognized_at=None if rcg is None else _at(m) + timedelta(minutes=rcg),
            baseline_at=None if rec is None else _at(m) + timedelta(minutes=rec),
        ),
        minutes_back,
        st.none() | st.integers(0, 600),
        st.none() | st.integers(0, 60),
        st.integers(0, 10),
    ),
    max_size=30,
)
observations_st = st.lists(
    st.builds(
        lambda m, zone, act, cap: ObservationFact(_at(m), zone, act, cap),
        minutes_back,
        st.sampled_from(list(Zone)),
        st.integers(0, 10),
        st.none() | st.integers(0, 10),
    ),
    max_size=40,
)
sessions_st = st.lists(
    st.builds(
        lambda d, att, eng, hw, done: SessionFact(
            END + timedelta(days=d), att, eng, homework_assigned=hw, homework_completed=done
        ),
        st.integers(-120, 14),
        st.sampled_from(list(Attendance)),
        st.none() | st.integers(0, 10),
        st.booleans(),
        st.none() | st.sampled_from(list(HomeworkCompletion)),
    ),
    max_size=20,
)
measures_st = st.lists(
    st.one_of(
        st.builds(
            lambda d, items: MeasureFact("phq9", END - timedelta(days=d), tuple(items)),
            st.integers(1, 120),
            st.lists(st.none() | st.integers(0, 3), min_size=9, max_size=9),
        ),
        st.builds(
            lambda d, items: MeasureFact("cbi", END - timedelta(days=d), tuple(items)),
            st.integers(1, 120),
            st.lists(st.none() | st.integers(0, 4), min_size=19, max_size=19),
        ),
        st.builds(
            lambda d, total: MeasureFact("ors", END - timedelta(days=d), None, total),
            st.integers(1, 120),
            st.integers(0, 40),
        ),
    ),
    max_size=6,
)


@st.composite
def client_facts(draw: st.DrawFn) -> ClientFacts:
    return client(
        intake=date(2026, 4, 6) - timedelta(days=draw(st.integers(1, 150))),
        cadence=draw(st.integers(1, 28)),
        episodes=tuple(draw(episodes_st)),
        observations=tuple(draw(observations_st)),
        sessions=tuple(draw(sessions_st)),
        measures=tuple(draw(measures_st)),
    )


# --------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.floats(-1e3, 1e3, allow_nan=False)),
        max_size=5,
    ),
    st.booleans(),
)
def test_no_trend_from_fewer_than_six_points(raw: list[tuple[int, float]], lower: bool) -> None:
    points = [(END + timedelta(hours=h), v) for h, v in raw]
    result = trend(points, lower_is_better=lower)
    assert result.direction == "insufficient_data"
    assert result.slope_per_week is None
    assert result.p_value is None


@PROPERTY_SETTINGS
@given(client_facts())
def test_trend_verdicts_need_six_points_and_significance(facts: ClientFacts) -> None:
    m = metrics(facts)
    for t in (m.recovery.trend, m.recognition.trend, m.capacity.trend):
        if t.direction in ("improving", "worsening"):
            assert t.n >= 6
            assert t.p_value is not None
            assert t.p_value < 0.05
        if t.n < 6:
            assert t.direction == "insufficient_data"


def _normalise(value: Any, shift_seconds: float) -> Any:
    """Comparable form of a result: datetimes as seconds relative to the shift."""
    if isinstance(value, datetime):
        return round(value.timestamp() - shift_seconds, 6)
    if isinstance(value, dict):
        return {k: _normalise(v, shift_seconds) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v, shift_seconds) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _comparable(m: ClientMetrics, shift_seconds: float) -> Any:
    data = dataclasses.asdict(m)
    # Reasons and evidence may quote calendar dates; the flag's identity is what must hold.
    # (the safety signal names its PHQ-9's date, so only the signal's name is compared).
    data["flags"] = [(f.code, f.level, tuple(x.split("@")[0] for x in f.signals)) for f in m.flags]
    return _normalise(data, shift_seconds)


def _shift(facts: ClientFacts, delta: timedelta) -> ClientFacts:
    return dataclasses.replace(
        facts,
        intake_date=facts.intake_date + delta,
        episodes=tuple(
            dataclasses.replace(
                e,
                started_at=e.started_at + delta,
                recognized_at=None if e.recognized_at is None else e.recognized_at + delta,
                baseline_at=None if e.baseline_at is None else e.baseline_at + delta,
            )
            for e in facts.episodes
        ),
        observations=tuple(
            dataclasses.replace(o, observed_at=o.observed_at + delta) for o in facts.observations
        ),
        sessions=tuple(
            dataclasses.replace(s, starts_at=s.starts_at + delta) for s in facts.sessions
        ),
        measures=tuple(
            dataclasses.replace(x, administered_at=x.administered_at + delta)
            for x in facts.measures
        ),
    )


@PROPERTY_SETTINGS
@given(client_facts(), st.integers(-3000, 3000), st.integers(0, 20))
def test_shifting_all_times_keeps_every_metric(
    facts: ClientFacts, shift_days: int, now_lag_days: int
) -> None:
    delta = timedelta(days=shift_days)
    now = END - timedelta(days=now_lag_days)
    before = metrics(facts, now=now)
    after = metrics(
        _shift(facts, delta), start=WINDOW_START + delta, end=END + delta, now=now + delta
    )
    assert _same(_comparable(before, 0.0), _comparable(after, delta.total_seconds()))


@PROPERTY_SETTINGS
@given(
    st.lists(st.integers(0, 600), min_size=1, max_size=25),
    st.integers(0, 600),
    st.integers(1, 27 * 24 * 60),
)
def test_a_longer_recovery_never_lowers_the_median(
    recoveries: list[int], extra: int, onset_minutes: int
) -> None:
    episodes = tuple(
        EpisodeFact(_at(60 * (i + 1)), 5, None, _at(60 * (i + 1)) + timedelta(minutes=r))
        for i, r in enumerate(recoveries)
    )
    before = metrics(client(episodes=episodes)).recovery.median_minutes
    assert before is not None
    longer = before + extra  # at least as long as the current median
    added = EpisodeFact(_at(onset_minutes), 5, None, _at(onset_minutes) + timedelta(minutes=longer))
    after = metrics(client(episodes=(*episodes, added))).recovery.median_minutes
    assert after is not None
    assert after >= before


@PROPERTY_SETTINGS
@given(client_facts())
def test_shares_and_rates_are_bounded(facts: ClientFacts) -> None:
    m = metrics(facts)
    for share in (
        m.capacity.time_in_window,
        m.recovery.unrecovered_share,
        m.engagement.attendance_rate,
        m.engagement.homework_completion,
    ):
        assert share is None or 0.0 <= share <= 1.0
    tolerated = m.capacity.tolerated_activation
    assert tolerated is None or 0.0 <= tolerated <= 10.0
    assert m.episodes_per_week is None or m.episodes_per_week >= 0.0


@PROPERTY_SETTINGS
@given(client_facts())
def test_missing_data_is_none_never_zero(facts: ClientFacts) -> None:
    m = metrics(facts)
    in_window = [e for e in facts.episodes if WINDOW_START <= e.started_at < END]
    if not in_window:
        assert m.recovery.median_minutes is None
        assert m.recovery.unrecovered_share is None
    if not any(e.baseline_at is not None for e in in_window):
        assert m.recovery.median_minutes is None
    if not any(e.recognized_at is not None for e in in_window):
        assert m.recognition.median_minutes is None
    if not any(e.started_at < END for e in facts.episodes):
        assert m.episodes_per_week is None
    obs_window = [o for o in facts.observations if WINDOW_START <= o.observed_at < END]
    if not obs_window:
        assert m.capacity.time_in_window is None
    if not any(o.capacity is not None for o in obs_window):
        assert m.capacity.mean_rating is None
    past = [s for s in facts.sessions if s.starts_at < END]
    due = {Attendance.ATTENDED, Attendance.NO_SHOW, Attendance.LATE_CANCEL}
    if not any(s.attendance in due for s in past):
        assert m.engagement.attendance_rate is None
    if not any(s.attendance == Attendance.ATTENDED for s in past):
        assert m.engagement.days_since_last_attended is None
        assert m.engagement.homework_completion is None
    if sum(1 for s in past if s.engagement is not None) < 3:
        assert m.engagement.engagement_rating_delta is None
    for t in (m.recovery.trend, m.recognition.trend, m.capacity.trend):
        if t.direction == "insufficient_data":
            assert t.slope_per_week is None
            assert t.p_value is None


@PROPERTY_SETTINGS
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=30), st.floats(0, 1e4))
def test_median_monotone_in_added_value(values: list[float], extra: float) -> None:
    before = median(values)
    assert before is not None
    after = median([*values, before + extra])
    assert after is not None
    assert after >= before
