"""Monitoring charts (domain/monitoring.py): worked examples and properties."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise
from statistics import NormalDist
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import monitoring_settings
from practice_dashboard.domain.monitoring import (
    EXACT_T_MAX_DF,
    EpisodeSeries,
    EpisodeTimes,
    MonitoringChart,
    _t_cdf,
    duration_chart,
    duration_state,
    page_step,
    self_starting_score,
    unrecovered_chart,
    unrecovered_state,
)

SETTINGS = monitoring_settings(Thresholds())
HOUR = 3600.0
DAY = 86_400.0

# Montgomery, Introduction to Statistical Quality Control (6th ed.), Example 9.1 / Table 9.1:
# mu0 = 10, sigma = 1, k = 0.5, h = 5; the last ten samples come from N(11, 1).
MONTGOMERY_X = (
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
)  # fmt: skip


class TestPageCusum:
    def test_montgomery_example(self) -> None:
        # Table 9.2: C+_4 = 1.16, C+_5 = 2.82, C+_28 = 4.47, C+_29 = 5.28 (> h = 5: the
        # signal), C+_30 = 5.30.
        path = []
        s = 0.0
        for x in MONTGOMERY_X:
            s = page_step(s, x - 10.0, 0.5)
            path.append(s)
        assert path[3] == pytest.approx(1.16, abs=0.005)
        assert path[4] == pytest.approx(2.82, abs=0.005)
        assert path[27] == pytest.approx(4.47, abs=0.005)
        assert path[28] == pytest.approx(5.28, abs=0.005)
        assert path[29] == pytest.approx(5.30, abs=0.005)
        assert next(i for i, v in enumerate(path, 1) if v > 5) == 29


class TestSelfStartingScore:
    def test_t_cdf_closed_forms(self) -> None:
        # df = 1 is the Cauchy: F(t) = 1/2 + atan(t)/pi; df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
        for t in (-3.0, -0.4, 0.0, 1.1, 5.0):
            assert _t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
            assert _t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)

    def test_hand_computed(self) -> None:
        # Earlier values 1, 2, 3: mean 2, SD 1, n = 3. New value 4:
        # T = (4 - 2) / (1 * sqrt(1 + 1/3)) = 1.7320508; df 2: F = 1/2 + T / (2 sqrt(2 + T^2))
        #   = 0.5 + 1.7320508 / (2 * 2.2360680) = 0.8872983; Phi^-1(0.8872983) = 1.2123 (Hawkins
        # 1987, eq. 2-3: the t-statistic mapped to a normal score).
        assert self_starting_score(4.0, 2.0, 1.0, 3) == pytest.approx(1.2123, abs=1e-4)
        assert self_starting_score(2.0, 2.0, 1.0, 3) == pytest.approx(0.0, abs=1e-12)

    def test_long_references_use_wallace_within_its_error(self) -> None:
        # Beyond EXACT_T_MAX_DF the score uses Wallace's (1959) closed form; it stays within
        # 0.002 of the exact t-to-normal transform over the winsorised range.
        for df in (EXACT_T_MAX_DF + 1, 250, 600):
            n = df + 1
            for value in (-3.0, -1.0, 0.3, 1.7, 3.0):
                t = value / math.sqrt(1 + 1 / n)
                exact = NormalDist().inv_cdf(_t_cdf(t, df))
                assert self_starting_score(value, 0.0, 1.0, n) == pytest.approx(exact, abs=0.002)

    def test_too_little_reference_scores_zero(self) -> None:
        assert self_starting_score(9.0, 2.0, 1.0, 1) == 0.0
        assert self_starting_score(9.0, 2.0, 0.0, 5) == 0.0


def _episodes(minutes: list[float | None], *, start: float = 0.0, every: float = 3.5 * DAY):
    return [
        EpisodeTimes(start + i * every, math.nan if m is None else m, m is None)
        for i, m in enumerate(minutes)
    ]


USUAL = [45.0, 30.0, 60.0, 40.0, 50.0, 35.0, 55.0, 45.0, 38.0, 52.0] * 3


class TestRecoveryChart:
    def test_a_clear_slowing_crosses_and_says_when(self) -> None:
        eps = _episodes(USUAL + [240.0] * 6)
        chart = duration_chart(
            "recovery", eps, monitoring_from=eps[8].onset, restart_at=None, settings=SETTINGS
        )
        assert chart.status == "signal"
        assert chart.signal_at is not None
        assert chart.signal_at.timestamp() >= eps[30].onset
        assert chart.reference_median_minutes is not None
        assert 40 <= chart.reference_median_minutes <= 50

    def test_restart_keeps_the_crossing_as_previous(self) -> None:
        eps = _episodes(USUAL + [240.0] * 6)
        restart = eps[-1].onset + HOUR
        chart = duration_chart(
            "recovery", eps, monitoring_from=eps[8].onset, restart_at=restart, settings=SETTINGS
        )
        assert chart.signal_at is None
        assert chart.previous_signal_at is not None
        assert chart.statistic == 0.0

    def test_young_baseline_is_insufficient(self) -> None:
        eps = _episodes([45.0, 50.0, 40.0])
        chart = duration_chart(
            "recovery", eps, monitoring_from=eps[0].onset, restart_at=None, settings=SETTINGS
        )
        assert chart.status == "insufficient_data"


class TestUnrecoveredChart:
    def test_rising_non_recovery_crosses(self) -> None:
        minutes: list[float | None] = list(USUAL)
        minutes += [None, 45.0, None, None, 50.0, None, None, 40.0, None, None]
        eps = _episodes(minutes)
        chart = unrecovered_chart(
            eps,
            as_of=eps[-1].onset + 2 * DAY,
            monitoring_from=eps[8].onset,
            restart_at=None,
            settings=SETTINGS,
        )
        assert chart.status == "signal"

    def test_a_recent_open_episode_is_pending(self) -> None:
        eps = _episodes([*USUAL, None])
        as_of = eps[-1].onset + 10 * 60  # ten minutes after onset: it may still return
        chart = unrecovered_chart(
            eps, as_of=as_of, monitoring_from=eps[8].onset, restart_at=None, settings=SETTINGS
        )
        assert chart.points[-1].at.timestamp() == eps[-2].onset


values = st.lists(
    st.one_of(st.none(), st.floats(min_value=1.0, max_value=2_000.0)), min_size=0, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(values, st.floats(min_value=-5e8, max_value=5e8))
def test_shifting_all_times_changes_nothing(minutes: list[float | None], shift: float) -> None:
    eps = _episodes(minutes)
    moved = [replace(e, onset=e.onset + shift) for e in eps]
    end = (eps[-1].onset if eps else 0.0) + 30 * DAY
    for a, b in (
        (
            duration_chart(
                "recovery", eps, monitoring_from=8 * DAY, restart_at=None, settings=SETTINGS
            ),
            duration_chart(
                "recovery",
                moved,
                monitoring_from=8 * DAY + shift,
                restart_at=None,
                settings=SETTINGS,
            ),
        ),
        (
            unrecovered_chart(
                eps, as_of=end, monitoring_from=8 * DAY, restart_at=None, settings=SETTINGS
            ),
            unrecovered_chart(
                moved,
                as_of=end + shift,
                monitoring_from=8 * DAY + shift,
                restart_at=None,
                settings=SETTINGS,
            ),
        ),
    ):
        assert [p.statistic for p in a.points] == pytest.approx([p.statistic for p in b.points])
        assert a.status == b.status


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=20.0, max_value=90.0), min_size=6, max_size=12),
    st.lists(st.floats(min_value=0.3, max_value=1.0), min_size=1, max_size=60),
)
def test_recoveries_never_slower_than_usual_never_alert(
    early: list[float], fractions: list[float]
) -> None:
    # After a varied start, every recovery is at most the geometric mean of the earlier ones
    # (the chart's "usual", on log minutes): each score is <= 0, so the statistic stays at 0.
    minutes = list(early)
    for f in fractions:
        usual = math.exp(sum(math.log(m) for m in minutes) / len(minutes))
        minutes.append(usual * f)
    eps = _episodes(minutes)
    chart = duration_chart(
        "recovery", eps, monitoring_from=eps[len(early)].onset, restart_at=None, settings=SETTINGS
    )
    assert chart.signal_at is None
    assert all(p.statistic == 0.0 for p in chart.points)


@settings(max_examples=80, deadline=None)
@given(values, st.integers(min_value=0, max_value=60))
def test_a_long_unrecovered_episode_never_lowers_the_statistic(
    minutes: list[float | None], position: int
) -> None:
    eps = _episodes(minutes)
    end = (eps[-1].onset if eps else 0.0) + 30 * DAY
    # Monitoring from the start: the usual share is the prior's, fixed when monitoring starts;
    # an episode added while monitoring can only add evidence.
    start = -1e9
    onset = min(position, len(eps)) * 3.5 * DAY - 1.0  # just before that episode
    added = sorted([*eps, EpisodeTimes(onset, math.nan, True)], key=lambda e: e.onset)
    before = unrecovered_chart(
        eps, as_of=end, monitoring_from=start, restart_at=None, settings=SETTINGS
    )
    after = unrecovered_chart(
        added, as_of=end, monitoring_from=start, restart_at=None, settings=SETTINGS
    )
    assert after.statistic >= before.statistic - 1e-12
    # ...and the recovery chart does not move at all: an open episode has no duration.
    rec_before = duration_chart(
        "recovery", eps, monitoring_from=start, restart_at=None, settings=SETTINGS
    )
    rec_after = duration_chart(
        "recovery", added, monitoring_from=start, restart_at=None, settings=SETTINGS
    )
    assert rec_after.statistic == rec_before.statistic


@settings(max_examples=60, deadline=None)
@given(values, st.integers(min_value=0, max_value=70))
def test_points_from_trims_the_points_and_nothing_else(
    minutes: list[float | None], first_kept: int
) -> None:
    # A view asks only for the points of its period; the statistic, the crossings, the usual
    # and the status are the chart's over the whole course either way.
    eps = _episodes(minutes)
    keep = first_kept * 3.5 * DAY
    end = (eps[-1].onset if eps else 0.0) + 30 * DAY
    start, restart = 8 * DAY, 40 * DAY

    def recovery(points_from: float | None) -> MonitoringChart:
        return duration_chart(
            "recovery",
            eps,
            monitoring_from=start,
            restart_at=restart,
            settings=SETTINGS,
            points_from=points_from,
        )

    def unrecovered(points_from: float | None) -> MonitoringChart:
        return unrecovered_chart(
            eps,
            as_of=end,
            monitoring_from=start,
            restart_at=restart,
            settings=SETTINGS,
            points_from=points_from,
        )

    for chart in (recovery, unrecovered):
        whole, trimmed = chart(None), chart(keep)
        assert trimmed.points == tuple(p for p in whole.points if p.at.timestamp() >= keep)
        assert replace(trimmed, points=whole.points) == whole


@settings(max_examples=40, deadline=None)
@given(values)
def test_columns_and_their_datetimes_give_the_same_chart(minutes: list[float | None]) -> None:
    # What monitoring_charts passes (columns, with the facts' own onset datetimes) charts the
    # same as one EpisodeTimes per episode.
    eps = _episodes(minutes, start=1.7e9 + 0.25)
    series = EpisodeSeries(
        [e.onset for e in eps],
        [e.minutes for e in eps],
        [e.censored for e in eps],
        [datetime.fromtimestamp(e.onset, UTC) for e in eps],
    )
    start, end = 1.7e9 + 8 * DAY, 1.7e9 + 400 * DAY
    assert duration_chart(
        "recovery", series, monitoring_from=start, restart_at=None, settings=SETTINGS
    ) == duration_chart("recovery", eps, monitoring_from=start, restart_at=None, settings=SETTINGS)
    assert unrecovered_chart(
        series, as_of=end, monitoring_from=start, restart_at=None, settings=SETTINGS
    ) == unrecovered_chart(
        eps, as_of=end, monitoring_from=start, restart_at=None, settings=SETTINGS
    )


def _textbook_recovery_scores(minutes: list[float], settings: Any) -> list[float | None]:
    """Each value's score, as DOMAIN.md §5.5 and the module's docstring say, the slow way:
    mean and SD of all earlier log values by `statistics`, the lag-1 autocorrelation of the
    first window of them (Kendall's bias correction), Hawkins' score, winsorised, divided by
    the AR(1) inflation."""
    logs = [math.log(m) for m in minutes]
    scores: list[float | None] = []
    for i, y in enumerate(logs):
        earlier = logs[:i]
        if len(earlier) < settings.min_reference:
            scores.append(None)
            continue
        first = earlier[: settings.autocorrelation_window]
        phi = 0.0
        if len(first) >= 6:
            m = statistics.fmean(first)
            total = sum((x - m) ** 2 for x in first)
            if total > 0:
                r1 = sum((a - m) * (b - m) for a, b in pairwise(first)) / total
                phi = min(max(r1 + (1 + 4 * r1) / len(first), 0.0), settings.max_autocorrelation)
        z = self_starting_score(y, statistics.fmean(earlier), statistics.stdev(earlier), i)
        z = max(-settings.winsor, min(settings.winsor, z))
        scores.append(z / math.sqrt((1 + phi) / (1 - phi)))
    return scores


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(min_value=1.0, max_value=2_000.0), min_size=0, max_size=260),
    st.sampled_from([6, 20, 40]),
)
@example([float(20 + (i * 37) % 200) for i in range(180)], 20)  # Wallace's form past 100
def test_the_recovery_chart_scores_as_the_textbook_does(minutes: list[float], window: int) -> None:
    # duration_chart writes the running mean, SD and score out by hand for speed (thousands of
    # episodes a page); past EXACT_T_MAX_DF earlier values the score takes Wallace's form.
    chart_settings = replace(SETTINGS, autocorrelation_window=window)
    chart = duration_chart(
        "recovery",
        _episodes(minutes),
        monitoring_from=0.0,
        restart_at=None,
        settings=chart_settings,
    )
    expected = _textbook_recovery_scores(minutes, chart_settings)
    assert [p.score is None for p in chart.points] == [s is None for s in expected]
    statistic = 0.0
    for point, score in zip(chart.points, expected, strict=True):
        if score is not None:
            assert point.score == pytest.approx(score, rel=1e-9, abs=1e-9)
            statistic = page_step(statistic, score, chart_settings.allowance)
        assert point.statistic == pytest.approx(statistic, rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.just(0.0), st.floats(min_value=1.0, max_value=2_000.0)),
        min_size=0,
        max_size=140,
    ),
    st.integers(min_value=0, max_value=140),
    st.integers(min_value=0, max_value=80),
    st.integers(min_value=0, max_value=80),
)
@example([45.0] * 20 + [400.0] * 20, 30, 5, 25)  # crosses after the cut
@example([45.0] * 20 + [400.0] * 20, 38, 5, 45)  # crosses before the cut, restarts later
def test_a_chart_resumed_from_its_state_is_the_chart_from_the_start(
    minutes: list[float | None], cut_at: int, baseline_end: int, restart: int
) -> None:
    """The charts after the episodes before a cut (``duration_state``, ``unrecovered_state``)
    resumed with the episodes from the cut give the very chart of the whole course, bit for
    bit: statistic, crossings, the usual, phi and the points kept from the cut."""
    every = 3.5 * DAY
    eps = _episodes(minutes, every=every)
    end = len(eps) * every + 200 * DAY  # long after the last: no episode pending
    start, restart_at = baseline_end * every, restart * every
    cut = min(cut_at, len(eps))
    before, after = eps[:cut], eps[cut:]
    keep = cut * every
    for quantity in ("recovery", "recognition"):
        common: dict[str, Any] = {
            "monitoring_from": start,
            "restart_at": restart_at,
            "settings": SETTINGS,
        }
        state = duration_state(before, **common)
        whole = duration_chart(quantity, eps, points_from=keep, **common)
        resumed = duration_chart(quantity, after, points_from=keep, resume=state, **common)
        assert repr(resumed) == repr(whole)
    common = {
        "as_of": end,
        "monitoring_from": start,
        "restart_at": restart_at,
        "settings": SETTINGS,
    }
    state_u = unrecovered_state(before, **common)
    assert state_u.pending == 0
    whole = unrecovered_chart(eps, points_from=keep, **common)
    resumed = unrecovered_chart(after, points_from=keep, resume=state_u, **common)
    assert repr(resumed) == repr(whole)


def test_an_unrecovered_state_with_pending_episodes_is_refused() -> None:
    # An open episode younger than the wait is left out as maybe still returning; a later as-of
    # would count it, so a state that left one out holds for its own moment only.
    eps = _episodes([45.0] * 10 + [None], every=DAY)
    as_of = eps[-1].onset + 600.0  # 10 minutes on; their recoveries take 45
    state = unrecovered_state(
        eps, as_of=as_of, monitoring_from=0.0, restart_at=None, settings=SETTINGS
    )
    assert state.pending == 1
    with pytest.raises(ValueError, match="pending"):
        unrecovered_chart(
            [], as_of=as_of, monitoring_from=0.0, restart_at=None, settings=SETTINGS, resume=state
        )
