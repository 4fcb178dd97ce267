"""Client metrics. All scenarios are built relative to END = Monday 2026-04-06 00:00 UTC, with
the default window [END - 28 d, END) and now = END unless a test says otherwise. Expected
figures are worked by hand in the comments."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from practice_dashboard.domain.facts import (
    AssignmentFact,
    Attendance,
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    HomeworkCompletion,
    ObservationFact,
    SessionFact,
    Source,
    Zone,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.metrics import (
    METRICS,
    MetricContext,
    client_metrics_and_checkpoint,
    compute_client_metrics,
)
from tests.domain.builders import END, at, client, ep, measure, metrics, obs, sess

A, NS, LC, CX, SCH = (
    Attendance.ATTENDED,
    Attendance.NO_SHOW,
    Attendance.LATE_CANCEL,
    Attendance.CANCELLED,
    Attendance.SCHEDULED,
)


class TestRegistry:
    def test_every_metric_is_named_and_defined(self) -> None:
        codes = [m.code for m in METRICS]
        assert codes == [
            "episodes_per_week",
            "recovery",
            "recognition",
            "capacity",
            "engagement",
            "measures",
            "baseline",
        ]
        for m in METRICS:
            assert m.display_name
            assert m.unit
            assert len(m.definition) > 40

    def test_definitions_compute_from_a_context(self) -> None:
        ctx = MetricContext.build(
            client(episodes=(ep(-3, 10),)),
            start=END - timedelta(days=28),
            end=END,
            now=END,
            thresholds=Thresholds(),
        )
        results = {m.code: m.compute(ctx) for m in METRICS}
        assert results["episodes_per_week"] == pytest.approx(0.25)


class TestNoData:
    def test_everything_is_none_not_zero(self) -> None:
        m = metrics(client(intake=date(2026, 3, 30)))
        assert m.episodes_per_week is None
        assert m.recovery.median_minutes is None
        assert m.recovery.unrecovered_share is None
        assert m.recovery.trend.direction == "insufficient_data"
        assert m.recovery.trend.slope_per_week is None
        assert m.recognition.median_minutes is None
        assert m.capacity.mean_rating is None
        assert m.capacity.tolerated_activation is None
        assert m.capacity.time_in_window is None
        assert m.capacity.trend.direction == "insufficient_data"
        assert m.engagement.attendance_rate is None
        assert m.engagement.days_since_last_attended is None
        assert m.engagement.homework_completion is None
        assert m.engagement.engagement_rating_delta is None
        assert m.measures == ()
        assert m.baseline.recovery_minutes.status == "insufficient_data"
        assert m.baseline.recovery_minutes.baseline_median is None
        assert m.baseline.activation.status == "insufficient_data"
        assert m.flags == ()  # intake 7 days ago: not stale yet

    def test_result_serialises_with_the_contract_keys(self) -> None:
        data = dataclasses.asdict(metrics(client()))
        assert set(data) >= {
            "start",
            "end",
            "episodes_per_week",
            "recovery",
            "recognition",
            "capacity",
            "engagement",
            "measures",
            "baseline",
            "flags",
        }
        assert set(data["recovery"]) == {"median_minutes", "unrecovered_share", "trend"}
        assert set(data["recognition"]) == {"median_minutes", "trend"}
        assert set(data["capacity"]) == {
            "mean_rating",
            "tolerated_activation",
            "time_in_window",
            "trend",
        }
        assert set(data["engagement"]) == {
            "attendance_rate",
            "days_since_last_attended",
            "homework_completion",
            "engagement_rating_delta",
        }
        assert set(data["recovery"]["trend"]) >= {"slope_per_week", "p_value", "n", "direction"}

    def test_rejects_naive_or_inverted_windows(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            compute_client_metrics(
                client(),
                start=datetime(2026, 1, 1),  # noqa: DTZ001
                end=END,
                now=END,
                thresholds=Thresholds(),
            )
        with pytest.raises(ValueError, match="before end"):
            metrics(client(), start=END)


class TestEpisodesPerWeek:
    def test_trailing_28_days_half_open(self) -> None:
        # onsets at -28 d (included: window start), -20, -10, -1; one exactly at END excluded
        # -> 4 episodes / 4 weeks = 1.0
        facts = client(episodes=(ep(-28, 5), ep(-20, 5), ep(-10, 5), ep(-1, 5), ep(0, 5)))
        assert metrics(facts).episodes_per_week == pytest.approx(1.0)

    def test_short_time_in_care_uses_exposure_since_intake(self) -> None:
        # intake 2026-03-23 = END - 14 d: 3 episodes over 2 weeks of care -> 1.5 per week
        facts = client(intake=date(2026, 3, 23), episodes=(ep(-10, 5), ep(-5, 5), ep(-1, 5)))
        assert metrics(facts).episodes_per_week == pytest.approx(1.5)

    def test_under_a_week_in_care_is_none(self) -> None:
        facts = client(intake=date(2026, 4, 3), episodes=(ep(-2, 5),))
        assert metrics(facts).episodes_per_week is None

    def test_logged_before_but_none_recently_is_a_real_zero(self) -> None:
        facts = client(episodes=(ep(-100, 5),))
        assert metrics(facts).episodes_per_week == 0.0

    def test_sessions_but_no_episodes(self) -> None:
        facts = client(sessions=(sess(-14), sess(-7)))
        m = metrics(facts)
        assert m.episodes_per_week is None
        assert m.recovery.median_minutes is None
        assert m.recovery.unrecovered_share is None
        assert m.engagement.attendance_rate == 1.0


class TestRecovery:
    def test_median_and_censored_share(self) -> None:
        # in window: 10, 20, 30 minutes and one never back to baseline (censored)
        # median of recovered = 20; unrecovered share = 1/4; the -40 d episode is outside
        facts = client(
            episodes=(ep(-40, 1000), ep(-20, 10), ep(-15, 30), ep(-10, None), ep(-5, 20))
        )
        m = metrics(facts)
        assert m.recovery.median_minutes == 20.0
        assert m.recovery.unrecovered_share == 0.25

    def test_one_episode(self) -> None:
        m = metrics(client(episodes=(ep(-3, 25),)))
        assert m.recovery.median_minutes == 25.0
        assert m.recovery.unrecovered_share == 0.0
        assert (m.recovery.trend.n, m.recovery.trend.direction) == (1, "insufficient_data")

    def test_return_before_onset_is_unknown_not_censored(self) -> None:
        # breaks started_at <= baseline_at: no made-up duration, and not "unrecovered" either
        bad = EpisodeFact(at(-4), 5, None, at(-4) - timedelta(minutes=5))
        m = metrics(client(episodes=(bad, ep(-3, 30))))
        assert m.recovery.median_minutes == 30.0
        assert m.recovery.unrecovered_share == 0.0

    def test_only_censored(self) -> None:
        m = metrics(client(episodes=(ep(-3, None), ep(-2, None))))
        assert m.recovery.median_minutes is None
        assert m.recovery.unrecovered_share == 1.0

    def test_worsening_trend(self) -> None:
        # weekly onsets -41, -34, ..., -6 d with recovery 10, 20, ..., 60 minutes:
        # every pairwise slope is 10 min / 7 d -> Theil-Sen +10 min/week. S = 15, n = 6:
        # p = 0.00853 (as in test_stats TestMannKendall) -> worsening (lower is better)
        episodes = tuple(ep(-(6 - j) * 7 + 1, 10.0 * (j + 1)) for j in range(6))
        censored = (ep(-30, None), ep(-9, None))  # excluded from the trend
        m = metrics(client(episodes=episodes + censored))
        assert m.recovery.trend.slope_per_week == pytest.approx(10.0)
        assert m.recovery.trend.n == 6
        assert m.recovery.trend.p_value == pytest.approx(0.00853, abs=1e-5)
        assert m.recovery.trend.direction == "worsening"

    def test_trend_window_is_12_weeks_before_end(self) -> None:
        # six points, but one is 13 weeks back: only 5 remain -> insufficient
        episodes = (ep(-91, 10), ep(-40, 20), ep(-30, 30), ep(-20, 40), ep(-10, 50), ep(-2, 60))
        assert metrics(client(episodes=episodes)).recovery.trend.direction == "insufficient_data"

    def test_daylight_saving_boundary(self) -> None:
        # Europe/London springs forward at 01:00 UTC on 2026-03-29 (01:00 GMT -> 02:00 BST).
        # Onset 00:30 GMT (= 00:30 UTC); recognised 02:10 BST (= 01:10 UTC) -> 40 min;
        # back to baseline 02:30 BST (= 01:30 UTC) -> 60 min. Wall-clock subtraction within
        # one tzinfo would wrongly give 100 and 120 minutes.
        london = ZoneInfo("Europe/London")
        episode = EpisodeFact(
            started_at=datetime(2026, 3, 29, 0, 30, tzinfo=london),
            peak_intensity=6,
            recognized_at=datetime(2026, 3, 29, 2, 10, tzinfo=london),
            baseline_at=datetime(2026, 3, 29, 2, 30, tzinfo=london),
        )
        m = metrics(client(episodes=(episode,)))
        assert m.recovery.median_minutes == pytest.approx(60.0)
        assert m.recognition.median_minutes == pytest.approx(40.0)


class TestRecognition:
    def test_median_ignores_unrecorded(self) -> None:
        facts = client(
            episodes=(
                ep(-9, 30, recognition=2),
                ep(-8, 30, recognition=9),
                ep(-7, 30),
                ep(-6, None, recognition=4),
            )
        )
        assert metrics(facts).recognition.median_minutes == 4.0  # median of 2, 4, 9


class TestCapacity:
    def test_window_figures(self) -> None:
        # window: within a2 c5, within a4 c7, hyper a8 (no rating), hypo a1 c3
        # mean rating (5+7+3)/3 = 5; time in window 2/4 = 0.5
        # tolerated activation: within activations [2, 4]; p90: h = 1*0.9 -> 2 + 0.9*2 = 3.8
        facts = client(
            observations=(
                obs(-20, Zone.WITHIN, 2, 5),
                obs(-15, Zone.WITHIN, 4, 7),
                obs(-10, Zone.HYPER, 8),
                obs(-5, Zone.HYPO, 1, 3),
            )
        )
        m = metrics(facts)
        assert m.capacity.mean_rating == pytest.approx(5.0)
        assert m.capacity.time_in_window == pytest.approx(0.5)
        assert m.capacity.tolerated_activation == pytest.approx(3.8)

    def test_tolerated_activation_uses_the_28_days_before_end(self) -> None:
        # window starts 56 d back; the -40 d `within` reading (activation 10) counts for
        # time in window (2/2) but not for tolerated activation (only activation 3 remains)
        facts = client(observations=(obs(-40, Zone.WITHIN, 10), obs(-5, Zone.WITHIN, 3)))
        m = metrics(facts, start=END - timedelta(days=56))
        assert m.capacity.time_in_window == 1.0
        assert m.capacity.tolerated_activation == 3.0

    def test_no_within_readings(self) -> None:
        m = metrics(client(observations=(obs(-3, Zone.HYPER, 9),)))
        assert m.capacity.time_in_window == 0.0
        assert m.capacity.tolerated_activation is None
        assert m.capacity.mean_rating is None

    def test_trend_of_weekly_mean_capacity(self) -> None:
        # one rating per week for the last 8 weeks: 2, 3, ..., 9 (plus a second "2" in the
        # first week, so its weekly mean stays 2). Week midpoints are 7 d apart, so every
        # pairwise slope is +1/week. n = 8 weeks: S = 28, Var = 8*7*21/18 = 65.333,
        # Z = 27/8.0829 = 3.3404, p = 0.00084 -> improving (higher is better)
        observations = tuple(obs(-(8 - j) * 7 + 3, capacity=2 + j) for j in range(8))
        observations += (obs(-53.5, capacity=2),)
        m = metrics(client(observations=observations))
        assert m.capacity.trend.n == 8
        assert m.capacity.trend.slope_per_week == pytest.approx(1.0)
        assert m.capacity.trend.p_value == pytest.approx(0.00084, abs=1e-5)
        assert m.capacity.trend.direction == "improving"
        # window mean: ratings 6, 7, 8, 9 at -25, -18, -11, -4 d -> 7.5
        assert m.capacity.mean_rating == pytest.approx(7.5)


def engagement_sessions() -> tuple[SessionFact, ...]:
    return (
        sess(-63, A, engagement=8, homework_assigned=True),
        sess(
            -56, A, engagement=7, homework_assigned=True, homework_completed=HomeworkCompletion.YES
        ),
        sess(-49, NS),
        sess(
            -42,
            A,
            engagement=8,
            homework_assigned=True,
            homework_completed=HomeworkCompletion.PARTIAL,
        ),
        sess(-35, CX),
        sess(-28, A, engagement=6, homework_completed=HomeworkCompletion.NO),
        sess(-21, LC),
        sess(-14, A, engagement=7, homework_completed=HomeworkCompletion.YES),
        sess(-7, A, engagement=4),
        sess(7, SCH),
    )


class TestEngagement:
    def test_worked_example(self) -> None:
        # Due before now (scheduled/cancelled excluded): -63 A, -56 A, -49 NS, -42 A, -28 A,
        # -21 LC, -14 A, -7 A. Last 6: NS, A, A, LC, A, A -> attendance 4/6.
        # Last attended -7 d -> 7 days.
        # Homework due at -56 (yes = 1; -63 assigned), -42 (partial = .5; -56 assigned),
        # -28 (no = 0; -42 assigned); -14 not due (-28 assigned nothing) -> (1+.5+0)/3 = .5
        # Ratings 8,7,8,6,7,4 -> median 7; latest 4 -> delta -3
        m = metrics(client(sessions=engagement_sessions()))
        assert m.engagement.attendance_rate == pytest.approx(4 / 6)
        assert m.engagement.days_since_last_attended == 7
        assert m.engagement.homework_completion == pytest.approx(0.5)
        assert m.engagement.engagement_rating_delta == pytest.approx(-3.0)
        # flags: 2 missed of the last 6 + rating 3 below median = 2 signals -> alert
        flag = next(f for f in m.flags if f.code == "engagement_risk")
        assert flag.level == "alert"
        assert set(flag.signals) == {"missed", "rating"}
        assert "2 of the last 6 due sessions were missed (no-show or late cancel)" in flag.reasons

    def test_now_cuts_sessions(self) -> None:
        # now = -10 d: the -7 d session is in the future. Last attended -14 d -> 4 days.
        # Last 6 due before now: -56 A, -49 NS, -42 A, -28 A, -21 LC, -14 A -> 4/6
        # Ratings before now 8,7,8,6,7 -> median 7, latest 7 -> delta 0
        m = metrics(client(sessions=engagement_sessions()), now=at(-10))
        assert m.engagement.days_since_last_attended == 4
        assert m.engagement.attendance_rate == pytest.approx(4 / 6)
        assert m.engagement.engagement_rating_delta == 0.0

    def test_too_few_ratings_for_a_personal_median(self) -> None:
        m = metrics(client(sessions=(sess(-14, engagement=8), sess(-7, engagement=3))))
        assert m.engagement.engagement_rating_delta is None

    def test_never_attended(self) -> None:
        m = metrics(client(sessions=(sess(-14, NS), sess(-7, LC), sess(-3, CX))))
        assert m.engagement.attendance_rate == 0.0
        assert m.engagement.days_since_last_attended is None
        assert m.engagement.homework_completion is None

    def test_only_scheduled_or_cancelled_is_none(self) -> None:
        m = metrics(client(sessions=(sess(-7, CX), sess(3, SCH))))
        assert m.engagement.attendance_rate is None


PHQ_18 = (2, 2, 2, 2, 2, 2, 2, 2, 2)  # 9 x 2 = 18, item 9 = 2
PHQ_8 = (1, 1, 1, 1, 1, 1, 1, 1, 0)  # 8 x 1 = 8, item 9 = 0


class TestMeasures:
    def test_phq9_progress(self) -> None:
        # baseline 18 (moderately severe 15-19), an invalid administration (3 missing) in
        # between is skipped, latest 8 (mild). RCI = -10 / 3.11127 = -3.214 (see
        # test_instruments TestReliableChange) -> improved; 18 >= 10 and 8 < 10 -> significant
        invalid = (None, None, None, 3, 3, 3, 3, 3, 3)
        facts = client(
            measures=(
                measure(-60, "phq9", PHQ_18),
                measure(-30, "phq9", invalid),
                measure(-5, "phq9", PHQ_8),
            )
        )
        (p,) = metrics(facts).measures
        assert p.instrument == "phq9"
        assert p.scale is None
        assert (p.baseline.total, p.baseline.severity) == (18.0, "moderately_severe")
        assert (p.latest.total, p.latest.severity) == (8.0, "mild")
        assert p.baseline.administered_at == at(-60)
        assert p.change == -10.0
        assert p.rci == pytest.approx(-3.2141, abs=1e-4)
        assert p.reliable_change == "improved"
        assert p.clinically_significant is True

    def test_single_administration_has_no_change(self) -> None:
        facts = client(measures=(measure(-5, "gad7", (3, 3, 2, 2, 1, 1, 0)),))
        (p,) = metrics(facts).measures
        assert p.baseline == p.latest
        assert p.change is None
        assert p.rci is None
        assert p.reliable_change is None
        assert p.clinically_significant is None

    def test_cbi_reports_each_scale(self) -> None:
        # first: personal all code 3 (75), work items 7-12 code 3 (75) + item 13 code 1
        # (reversed: 100 - 25 = 75) -> 75; client-related unanswered -> no entry.
        # latest: everything code 1 (25), item 13 code 3 (100 - 75 = 25) -> 25 each.
        # Work RCI = -50 / (sqrt(2) * 17 * sqrt(0.13)) = -50 / 8.6683 = -5.768 -> improved
        first = (3,) * 6 + (3,) * 6 + (1,) + (None,) * 6
        last = (1,) * 6 + (1,) * 6 + (3,) + (None,) * 6
        facts = client(measures=(measure(-60, "cbi", first), measure(-3, "cbi", last)))
        progress = metrics(facts).measures
        assert [(p.instrument, p.scale) for p in progress] == [
            ("cbi", "personal"),
            ("cbi", "work_related"),
        ]
        work = progress[1]
        assert (work.baseline.total, work.latest.total) == (75.0, 25.0)
        assert work.rci == pytest.approx(-5.768, abs=1e-3)
        assert work.reliable_change == "improved"
        assert work.clinically_significant is True

    def test_srs_without_reliability_reports_change_only(self) -> None:
        facts = client(measures=(measure(-20, "srs", total=30), measure(-6, "srs", total=38)))
        (p,) = metrics(facts).measures
        assert p.change == 8.0
        assert p.rci is None
        assert p.reliable_change is None

    def test_future_and_unknown_measures_are_ignored(self) -> None:
        facts = client(
            measures=(
                measure(-20, "ors", total=18),
                measure(5, "ors", total=35),
                measure(-4, "xyz", total=3),
            )
        )
        (p,) = metrics(facts).measures
        assert p.instrument == "ors"
        assert p.latest.total == 18.0


class TestMeasureConventionsAndSignals:
    """Issue 10 parts 2-3: the convention in force and the latest administration's signals."""

    def test_jacobson_truax_by_default_with_its_unverified_constant(self) -> None:
        # PHQ-9 18 -> 8 (see TestMeasures): Jacobson-Truax threshold 1.96 * 3.11127 = 6.098,
        # resting on SD_ref 5.5 marked "verify" in the registry.
        facts = client(measures=(measure(-60, "phq9", PHQ_18), measure(-5, "phq9", PHQ_8)))
        (p,) = metrics(facts).measures
        assert p.convention == "jacobson_truax"
        assert p.minimum_reliable_change == pytest.approx(6.0981, abs=1e-4)
        assert p.unverified_constant is True
        assert p.confirmed is False  # improved, not deteriorated
        # latest 8 < 10: not a positive screen; nothing missing; item 9 answered
        assert (p.positive_screen, p.prorated, p.item9_unanswered) == (False, False, False)
        assert p.concern is None  # PHQ-9 has no concern cutoff

    def test_nhs_convention_from_the_thresholds(self) -> None:
        # 4 -> 10 is exactly 6 points: reliable under NHS Talking Therapies (DOMAIN.md §3.3),
        # not under Jacobson-Truax (RCI 1.928).
        four = (1, 1, 1, 1, 0, 0, 0, 0, 0)
        ten = (2, 2, 2, 1, 1, 1, 1, 0, 0)
        facts = client(measures=(measure(-60, "phq9", four), measure(-5, "phq9", ten)))
        (jt,) = metrics(facts).measures
        nhs_th = dataclasses.replace(
            Thresholds(), rci_conventions=(("phq9", "nhs_talking_therapies"),)
        )
        (nhs,) = metrics(facts, thresholds=nhs_th).measures
        assert jt.reliable_change == "no_reliable_change"
        assert (nhs.reliable_change, nhs.convention) == ("deteriorated", "nhs_talking_therapies")
        assert (nhs.minimum_reliable_change, nhs.unverified_constant) == (6, False)
        assert nhs.positive_screen is True  # 10 >= 10
        assert nhs.confirmed is False  # seen once
        flag = next(f for f in metrics(facts, thresholds=nhs_th).flags if f.code == "deterioration")
        assert flag.level == "watch"

    def test_confirmed_needs_the_two_latest_both_reliably_worse(self) -> None:
        # 4 -> 11 -> 5 -> 11 -> 12 (Jacobson-Truax, threshold 6.098 from baseline 4):
        # the 3rd is not worse, so confirmation needs the 4th and 5th both >= 10.1.
        def phq(total: int) -> tuple[int, ...]:
            return (*(min(3, max(0, total - 3 * k)) for k in range(8)), 0)

        totals = (4, 11, 5, 11, 12)
        history = [measure(-100 + 20 * k, "phq9", phq(v)) for k, v in enumerate(totals)]
        assert [sum(phq(v)) for v in totals] == list(totals)
        after_2 = metrics(client(measures=tuple(history[:2]))).measures[0]
        after_4 = metrics(client(measures=tuple(history[:4]))).measures[0]
        after_5 = metrics(client(measures=tuple(history))).measures[0]
        assert (after_2.reliable_change, after_2.confirmed) == ("deteriorated", False)
        assert (after_4.reliable_change, after_4.confirmed) == ("deteriorated", False)
        assert (after_5.reliable_change, after_5.confirmed) == ("deteriorated", True)
        # With one confirmation required, the first deterioration is already confirmed.
        first_rule = dataclasses.replace(Thresholds(), deterioration_confirmations=1)
        assert (
            metrics(client(measures=tuple(history[:2])), thresholds=first_rule)
            .measures[0]
            .confirmed
        )

    def test_a_change_of_twice_the_reliable_change_confirms_at_once(self) -> None:
        # 0 -> 13: +13 >= 2 x 6.098 = 12.196, confirmed by one administration (DOMAIN.md
        # §3.4: "or a larger change"); 0 -> 12 is not (12 < 12.196).
        zero = (0,) * 9
        thirteen = (3, 3, 3, 2, 2, 0, 0, 0, 0)
        twelve = (3, 3, 3, 2, 1, 0, 0, 0, 0)
        large = metrics(
            client(measures=(measure(-60, "phq9", zero), measure(-5, "phq9", thirteen)))
        )
        short = metrics(client(measures=(measure(-60, "phq9", zero), measure(-5, "phq9", twelve))))
        assert (large.measures[0].confirmed, short.measures[0].confirmed) == (True, False)
        levels = [
            next(f.level for f in m.flags if f.code == "deterioration") for m in (large, short)
        ]
        assert levels == ["alert", "watch"]

    def test_single_administration_has_a_rule_but_no_verdict(self) -> None:
        (p,) = metrics(client(measures=(measure(-5, "gad7", (3, 3, 2, 2, 1, 1, 0)),))).measures
        # GAD-7 12 >= 10: positive screen (Spitzer et al. 2006)
        assert (p.reliable_change, p.confirmed, p.positive_screen) == (None, None, True)
        assert p.convention == "jacobson_truax"
        # 1.96 * sqrt(2) * 5.0 * sqrt(1 - 0.83) = 5.7143 (registry: r 0.83, SD_ref 5.0)
        assert p.minimum_reliable_change == pytest.approx(5.7143, abs=1e-4)
        assert p.item9_unanswered is None  # GAD-7 has no item 9 rule

    def test_prorated_total_and_unanswered_item9(self) -> None:
        # items 1-8 answered 2, item 9 missing: 16 x 9 / 8 = 18 (prorated, DOMAIN.md §2.2)
        items = (2, 2, 2, 2, 2, 2, 2, 2, None)
        (p,) = metrics(client(measures=(measure(-5, "phq9", items),))).measures
        assert p.latest.total == 18.0
        assert (p.prorated, p.item9_unanswered, p.positive_screen) == (True, True, True)

    def test_ors_clinical_range_and_srs_concern(self) -> None:
        # ORS < 25 is the adult clinical range (Miller et al. 2003); SRS <= 36 a concern.
        facts = client(measures=(measure(-5, "ors", total=24), measure(-4, "srs", total=36)))
        ors, srs = metrics(facts).measures
        assert (ors.instrument, ors.positive_screen, ors.concern) == ("ors", True, None)
        assert (srs.instrument, srs.concern, srs.positive_screen) == ("srs", True, None)
        assert (srs.convention, srs.minimum_reliable_change, srs.unverified_constant) == (
            None,
            None,
            None,
        )
        strictly_below = dataclasses.replace(Thresholds(), srs_concern_operator="<")
        srs_strict = metrics(facts, thresholds=strictly_below).measures[1]
        assert srs_strict.concern is False

    def test_cbi_scale_screen_is_its_high_burnout_line(self) -> None:
        items = (2,) * 6 + (1,) * 6 + (3,) + (None,) * 6  # personal 50, work 25
        personal, work = metrics(client(measures=(measure(-3, "cbi", items),))).measures
        assert (personal.positive_screen, work.positive_screen) == (True, False)


class TestNewSignalsAsFlags:
    def test_unanswered_item9_in_the_latest_phq9_is_a_safety_watch(self) -> None:
        items = (1, 1, 1, 1, 1, 1, 1, 1, None)
        flags = metrics(client(measures=(measure(-2, "phq9", items),))).flags
        assert [(f.code, f.level) for f in flags if f.code == "safety"] == [("safety", "watch")]
        assert "left unanswered on " + at(-2).date().isoformat() in flags[0].reasons[0]

    def test_an_earlier_item9_above_zero_keeps_the_alert(self) -> None:
        unanswered = (1, 1, 1, 1, 1, 1, 1, 1, None)
        facts = client(measures=(measure(-30, "phq9", PHQ_18), measure(-2, "phq9", unanswered)))
        safety = metrics(facts).flags[0]
        assert (safety.code, safety.level, len(safety.reasons)) == ("safety", "alert", 2)

    def test_an_answered_latest_phq9_clears_the_unanswered_note(self) -> None:
        unanswered = (1, 1, 1, 1, 1, 1, 1, 1, None)
        facts = client(measures=(measure(-30, "phq9", unanswered), measure(-2, "phq9", PHQ_8)))
        assert all(f.code != "safety" for f in metrics(facts).flags)

    def test_srs_concern_is_an_engagement_signal(self) -> None:
        facts = client(measures=(measure(-20, "srs", total=39), measure(-3, "srs", total=33)))
        flag = next(f for f in metrics(facts).flags if f.code == "engagement_risk")
        assert (flag.level, flag.signals) == ("watch", ("alliance",))
        assert flag.evidence["srs_total"] == 33.0


class TestPersonalBaseline:
    # intake 2026-01-05 = END - 91 d; baseline episodes on days 1-5 after intake
    INTAKE = date(2026, 1, 5)

    def facts(
        self, current: tuple[float, ...], activation_now: tuple[int, ...] = ()
    ) -> ClientFacts:
        base_eps = tuple(ep(-90 + i, r) for i, r in enumerate((30, 40, 50, 60, 70)))
        now_eps = tuple(ep(-20 + i, r) for i, r in enumerate(current))
        base_obs = tuple(obs(-90 + i, activation=a) for i, a in enumerate((6, 7, 8, 5, 4)))
        now_obs = tuple(obs(-20 + i, activation=a) for i, a in enumerate(activation_now))
        return client(
            intake=self.INTAKE, episodes=base_eps + now_eps, observations=base_obs + now_obs
        )

    def test_better(self) -> None:
        # baseline recovery 30..70: median 50, IQR 40-60 (h = 1 and 3), sample SD sqrt(250)
        # = 15.811, smallest worthwhile change 0.5 * 15.811 = 7.906. Current 35, 40, 45:
        # median 40, difference -10 beyond 7.906 -> better.
        # Activation baseline 6,7,8,5,4: median 6, SD sqrt(10/4) = 1.5811, SWC 0.7906;
        # current 3,4,5 -> median 4, difference -2 -> better.
        b = metrics(self.facts((35, 40, 45), (3, 4, 5))).baseline
        r = b.recovery_minutes
        assert b.period_start == datetime(2026, 1, 5, tzinfo=UTC)
        # 8 episodes in all, the 8th at -18 d, inside the window: the baseline stops at the
        # window start (-28 d) so that it never overlaps what it is compared with.
        assert b.period_end == at(-28)
        assert (r.baseline_median, r.normal_low, r.normal_high) == (50.0, 40.0, 60.0)
        assert r.baseline_sd == pytest.approx(math.sqrt(250))
        assert r.smallest_worthwhile_change == pytest.approx(0.5 * math.sqrt(250))
        assert (r.baseline_n, r.current_n, r.current_median, r.difference) == (5, 3, 40.0, -10.0)
        assert r.status == "better"
        a = b.activation
        assert a.baseline_median == 6.0
        assert a.smallest_worthwhile_change == pytest.approx(0.5 * math.sqrt(2.5))
        assert a.status == "better"

    def test_within_and_worse(self) -> None:
        # current median 50 -> difference 0 -> within; current median 80 -> +30 -> worse
        within = metrics(self.facts((45, 50, 55))).baseline.recovery_minutes
        assert within.status == "within_normal_range"
        worse = metrics(self.facts((70, 80, 90))).baseline.recovery_minutes
        assert worse.status == "worse"

    def test_no_current_data(self) -> None:
        b = metrics(self.facts(())).baseline
        assert b.recovery_minutes.status == "insufficient_data"
        assert b.recovery_minutes.baseline_median == 50.0  # still shown
        assert b.activation.current_median is None

    def test_day_28_end(self) -> None:
        # fewer than 8 episodes before the window: the baseline is intake + 28 d = 2026-02-02
        b = metrics(self.facts((40,))).baseline
        assert b.period_end == datetime(2026, 2, 2, tzinfo=UTC)

    def test_new_client_has_no_baseline_yet(self) -> None:
        # intake 10 days ago: the whole baseline period lies inside the window
        facts = client(
            intake=date(2026, 3, 27),
            episodes=tuple(ep(-9 + i, 30.0 + i) for i in range(8)),
        )
        b = metrics(facts).baseline
        assert b.recovery_minutes.baseline_n == 0
        assert b.recovery_minutes.status == "insufficient_data"

    def test_too_few_baseline_values(self) -> None:
        facts = client(
            intake=self.INTAKE, episodes=(ep(-90, 30), ep(-89, 40), ep(-88, 50), ep(-5, 20))
        )
        r = metrics(facts).baseline.recovery_minutes
        assert r.baseline_n == 3
        assert r.baseline_median is None
        assert r.status == "insufficient_data"

    def test_first_eight_episodes_when_they_give_more_data(self) -> None:
        # 3 episodes in the first 28 days (days 1, 6, 11 after intake), 5 more at -50..-30 d,
        # a 9th at -25 d. The first 8 episodes give more data, so the baseline runs to the
        # 8th onset (-30 d, inclusive): 8 values; the 9th is not part of it.
        days = (-90, -85, -80, -50, -45, -40, -35, -30, -25)
        facts = client(intake=self.INTAKE, episodes=tuple(ep(d, 30.0) for d in days))
        b = metrics(facts).baseline
        assert b.period_end == at(-30)
        assert b.recovery_minutes.baseline_n == 8


class TestFlagsFromFacts:
    def test_safety_whatever_the_total(self) -> None:
        # total 1 (minimal) but item 9 = 1 -> safety alert
        facts = client(measures=(measure(-2, "phq9", (0, 0, 0, 0, 0, 0, 0, 0, 1)),))
        flags = metrics(facts).flags
        assert flags[0].code == "safety"
        assert flags[0].level == "alert"

    def test_safety_reads_latest_answer_before_now_even_for_a_past_window(self) -> None:
        facts = client(measures=(measure(-60, "phq9", PHQ_8), measure(-5, "phq9", PHQ_18)))
        past = metrics(facts, start=at(-90), end=at(-30), now=END)
        assert [f.code for f in past.flags if f.code == "safety"] == ["safety"]
        # ...and a later item 9 = 0 clears it
        cleared = client(measures=(measure(-60, "phq9", PHQ_18), measure(-5, "phq9", PHQ_8)))
        assert all(f.code != "safety" for f in metrics(cleared).flags)

    def test_stale_data(self) -> None:
        # last observation 31 days before now -> stale (watch); paused clients are not
        stale = client(observations=(obs(-31),))
        assert [f.code for f in metrics(stale).flags] == ["stale_data"]
        fresh = client(observations=(obs(-29),))
        assert metrics(fresh).flags == ()
        paused = client(status=ClientStatus.PAUSED, observations=(obs(-31),))
        assert metrics(paused).flags == ()

    def test_burnout_and_deterioration_from_activation_and_recovery(self) -> None:
        # last 14 days: activations 8, 8, 9, 7 (hyper) and 3 (within): median 8 >= 7 and
        # time in window 1/5 = 20 % < 40 % -> watch; the recovery chart crossing -> alert.
        observations = (
            obs(-12, Zone.HYPER, 8),
            obs(-9, Zone.HYPER, 8),
            obs(-6, Zone.HYPER, 9),
            obs(-4, Zone.HYPER, 7),
            obs(-2, Zone.WITHIN, 3),
        )
        # 30 episodes of 30-60 minutes every 3 days, then 6 of 4 hours: far above usual.
        usual = tuple(ep(-110 + 3 * j, 30.0 + 10.0 * (j % 4)) for j in range(30))
        slow = tuple(ep(-18 + 3 * j, 240.0) for j in range(6))
        m = metrics(client(observations=observations, episodes=usual + slow))
        by_code = {f.code: f for f in m.flags}
        assert by_code["burnout_risk"].level == "alert"
        assert set(by_code["burnout_risk"].signals) == {"activation", "recovery"}
        assert by_code["burnout_risk"].evidence["recent_time_in_window"] == pytest.approx(0.2)
        assert by_code["deterioration"].signals == (
            f"recovery@{m.monitoring.recovery.signal_at:%Y-%m-%d}",
        )
        # It crossed on one of the slow episodes, not before them.
        assert m.monitoring.recovery.signal_at is not None
        assert m.monitoring.recovery.signal_at >= at(-18)

    def test_a_care_change_note_restarts_the_monitoring(self) -> None:
        # DOMAIN.md §5.5: after a change of plan the chart restarts, so the next alert means
        # new evidence; the crossing before it stays on view for a while as the previous one.
        usual = tuple(ep(-110 + 3 * j, 30.0 + 10.0 * (j % 4)) for j in range(30))
        slow = tuple(ep(-18 + 3 * j, 240.0) for j in range(6))
        crossed = metrics(client(episodes=usual + slow)).monitoring.recovery
        assert crossed.signal_at is not None
        restarted = metrics(client(episodes=usual + slow, care_changes=(at(-1),)))
        chart = restarted.monitoring.recovery
        assert chart.signal_at is None
        assert chart.previous_signal_at == crossed.signal_at
        assert chart.restarted_at == at(-1)
        # A note after the as-of time is not known yet.
        later = metrics(client(episodes=usual + slow, care_changes=(at(5),)))
        assert later.monitoring.recovery.signal_at == crossed.signal_at

    def test_reliable_deterioration_on_a_measure(self) -> None:
        # PHQ-9 2 -> 12: RCI = +10 / 3.11127 = 3.21 -> deteriorated. Seen once, and 10 is
        # under twice the 6.098-point reliable change: a watch (DOMAIN.md §3.4).
        low = (1, 1, 0, 0, 0, 0, 0, 0, 0)
        high = (2, 2, 2, 2, 2, 1, 1, 0, 0)
        facts = client(measures=(measure(-50, "phq9", low), measure(-3, "phq9", high)))
        flag = next(f for f in metrics(facts).flags if f.code == "deterioration")
        assert flag.signals == ("phq9",)
        assert flag.level == "watch"
        assert flag.evidence["phq9_change"] == 10.0
        # ...confirmed by a second administration still reliably worse: an alert
        again = client(
            measures=(
                measure(-50, "phq9", low),
                measure(-20, "phq9", high),
                measure(-3, "phq9", high),
            )
        )
        flag = next(f for f in metrics(again).flags if f.code == "deterioration")
        assert flag.level == "alert"
        assert flag.evidence["phq9_confirmed"] == "yes"

    def test_cbi_burnout(self) -> None:
        items = (2,) * 6 + (3,) * 6 + (1,) + (None,) * 6  # personal 50, work 75
        flag = next(
            f
            for f in metrics(client(measures=(measure(-3, "cbi", items),))).flags
            if f.code == "burnout_risk"
        )
        assert flag.level == "alert"
        assert set(flag.signals) == {"cbi_personal", "cbi_work"}

    def test_check_in_link_signals(self) -> None:
        # END is Monday 6 April 2026 00:00 UTC, so "today" is 5 April (the window ends at
        # midnight). GAD-7 every 28 days from 1 March, answered 1 March: due 29 March, 7 days
        # overdue > 3. Daily client check-ins from 27 Feb to 26 March (28 days), nothing
        # since: 5 April - 26 March = 10 days quiet >= 7.
        checkins = tuple(dataclasses.replace(obs(-38 + d), source=Source.CLIENT) for d in range(28))
        facts = dataclasses.replace(
            client(
                observations=checkins,
                measures=(measure(-36, "gad7", (1,) * 7),),
            ),
            assignments=(AssignmentFact("gad7", 28, date(2026, 3, 1)),),
        )
        flag = next(f for f in metrics(facts).flags if f.code == "engagement_risk")
        assert flag.level == "alert"
        assert flag.signals == ("assessment_overdue", "checkins_quiet")
        assert flag.evidence["assessment_due_on"] == "2026-03-29"
        assert flag.evidence["assessment_days_overdue"] == 7
        assert flag.evidence["days_since_last_checkin"] == 10
        assert flag.evidence["usual_checkin_days"] == 28
        # The same client at the end of 29 March: GAD-7 due that day, 3 days quiet: no flag.
        earlier = metrics(facts, start=at(-35), end=at(-7), now=END)
        assert all(f.code != "engagement_risk" for f in earlier.flags)


def _five_years_of_episodes(slower_from: int | None = None) -> tuple[EpisodeFact, ...]:
    """600 episodes, one every 73 hours up to END; from episode ``slower_from`` on, recovery
    takes four times as long."""
    start = END - timedelta(days=5 * 365)
    return tuple(
        EpisodeFact(
            start + timedelta(hours=73 * i),
            5,
            None,
            start
            + timedelta(
                hours=73 * i,
                minutes=(10 + i % 50) * (4 if slower_from is not None and i >= slower_from else 1),
            ),
        )
        for i in range(600)
    )


class TestLargeClient:
    def test_five_years_of_data_is_handled(self) -> None:
        start = END - timedelta(days=5 * 365)
        episodes = _five_years_of_episodes()
        observations = tuple(
            ObservationFact(
                start + timedelta(hours=24 * i + 3),
                Zone.WITHIN if i % 3 else Zone.HYPER,
                i % 11,
                i % 7,
            )
            for i in range(1800)
        )
        m = metrics(client(episodes=episodes, observations=observations))
        assert m.recovery.median_minutes is not None
        assert 0.0 <= (m.capacity.time_in_window or 0.0) <= 1.0

    def test_monitoring_points_from_trims_only_the_chart_points(self) -> None:
        # A view keeps the points of the period it draws; flags, figures and each chart's
        # statistic, crossings and status come from the whole course either way.
        # Recovery slows in the last year: the charts cross, and the flag is raised.
        facts = client(episodes=_five_years_of_episodes(slower_from=481))
        period_start = END - timedelta(days=182)
        whole = metrics(facts)
        trimmed = metrics(facts, monitoring_points_from=period_start)
        assert whole.monitoring.recovery.signal_at is not None
        assert trimmed.flags == whole.flags
        for name in ("recovery", "unrecovered", "recognition"):
            a, b = getattr(whole.monitoring, name), getattr(trimmed.monitoring, name)
            assert b.points == tuple(p for p in a.points if p.at >= period_start)
            assert dataclasses.replace(b, points=a.points) == a
        assert dataclasses.replace(trimmed, monitoring=whole.monitoring) == whole


def test_facts_read_from_a_cut_are_refused_without_that_cut_s_checkpoint() -> None:
    """Facts whose episodes start at a monitoring checkpoint's cut (``episodes_from``) lack
    the course before it: without that checkpoint, or with one cut elsewhere, they are
    refused rather than charted as if the course began there."""
    course = client(episodes=tuple(ep(-day, 30 + day % 7) for day in range(200, 0, -3)))
    cut = at(-60)
    window = {"start": END - timedelta(days=28), "end": END, "now": END}
    _, checkpoint = client_metrics_and_checkpoint(
        course,
        **window,
        thresholds=Thresholds(),
        monitoring_points_from=window["start"],  # a view's: a checkpoint lies before its points
        checkpoint_at=cut,
    )
    assert checkpoint is not None
    assert checkpoint.cut == cut.timestamp()
    partial = dataclasses.replace(
        course,
        episodes=tuple(e for e in course.episodes if e.started_at >= cut),
        episodes_from=cut,
    )
    with pytest.raises(ValueError, match="need its checkpoint"):
        metrics(partial)
    elsewhere = dataclasses.replace(partial, episodes_from=at(-59))
    with pytest.raises(ValueError, match="need its checkpoint"):
        client_metrics_and_checkpoint(
            elsewhere, **window, thresholds=Thresholds(), monitoring_resume=checkpoint
        )
