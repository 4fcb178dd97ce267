"""Flag definitions over hand-built signals; thresholds from DESIGN.md "Flags"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import get_args

import pytest

from practice_dashboard.domain.facts import ClientStatus
from practice_dashboard.domain.flags import (
    CLIENT_FLAGS,
    FINGERPRINT_MAX_LENGTH,
    FLAG_NAMES,
    ClientSignals,
    Flag,
    FlagCode,
    MeasureChangeSignal,
    OverdueAssessment,
    PractitionerLoadFacts,
    Thresholds,
    burnout_risk_flag,
    deterioration_flag,
    engagement_risk_flag,
    evaluate_client_flags,
    flag_fingerprint,
    flag_name,
    flag_rank,
    flag_sort_key,
    is_acknowledged,
    large_change,
    practitioner_load,
    safety_flag,
    stale_data_flag,
)
from practice_dashboard.domain.monitoring import ChartQuantity, MonitoringChart

T = Thresholds()
ACTIVE = ClientSignals(status=ClientStatus.ACTIVE)
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def chart(
    quantity: ChartQuantity = "recovery",
    *,
    signal_at: datetime | None = None,
    previous_signal_at: datetime | None = None,
) -> MonitoringChart:
    """A chart as domain/monitoring.py returns it, with or without a crossing."""
    return MonitoringChart(
        quantity=quantity,
        limit=T.monitoring_limit,
        allowance=T.monitoring_allowance,
        monitoring_from=datetime(2026, 1, 1, tzinfo=UTC),
        restarted_at=None if previous_signal_at is None else datetime(2026, 2, 1, tzinfo=UTC),
        points=(),
        statistic=7.5 if signal_at else 0.0,
        signal_at=signal_at,
        previous_signal_at=previous_signal_at,
        reference_n=20,
        reference_median_minutes=45.0 if quantity != "unrecovered" else None,
        reference_share=0.05 if quantity == "unrecovered" else None,
        serial_correlation=0.1,
        status="signal" if signal_at else "in_control",
    )


CROSSED = datetime(2026, 2, 20, 14, 0, tzinfo=UTC)
SLOWER = chart(signal_at=CROSSED)


def signals(**changes: object) -> ClientSignals:
    return replace(ACTIVE, **changes)  # type: ignore[arg-type]


class TestThresholdDefaults:
    def test_design_defaults(self) -> None:
        # DESIGN.md "Flags"
        assert (T.engagement_missed_min, T.attendance_window) == (2, 6)
        assert T.engagement_gap_cadence_multiple == 2.0
        assert T.homework_completion_min == 0.40
        assert T.engagement_rating_drop == 3.0
        assert (T.cbi_high, T.burnout_window_days) == (50.0, 14)
        assert (T.burnout_activation_median_min, T.burnout_time_in_window_max) == (7.0, 0.40)
        assert T.stale_days == 30
        assert (T.max_caseload, T.max_sessions_7d, T.max_alert_share) == (35, 28, 0.30)
        assert T.practitioner_cbi_high == 50.0

    def test_registry_order_puts_safety_first(self) -> None:
        assert [d.code for d in CLIENT_FLAGS] == [
            "safety",
            "engagement_risk",
            "burnout_risk",
            "deterioration",
            "stale_data",
        ]


class TestSafety:
    def test_item9_above_zero_is_an_alert(self) -> None:
        flag = safety_flag(
            signals(latest_phq9_item9=1, latest_phq9_at=datetime(2026, 4, 1, tzinfo=UTC)), T
        )
        assert flag is not None
        assert flag.level == "alert"
        assert "2026-04-01" in flag.reasons[0]
        assert "risk-assessment protocol" in flag.suggestion
        assert flag.evidence["phq9_item9"] == 1

    def test_zero_or_unanswered_is_quiet(self) -> None:
        assert safety_flag(signals(latest_phq9_item9=0), T) is None
        assert safety_flag(signals(latest_phq9_item9=None), T) is None

    def test_acknowledgement_covers_only_that_administration(self) -> None:
        first = safety_flag(
            signals(latest_phq9_item9=2, latest_phq9_at=datetime(2026, 4, 1, tzinfo=UTC)), T
        )
        later = safety_flag(
            signals(latest_phq9_item9=1, latest_phq9_at=datetime(2026, 4, 29, tzinfo=UTC)), T
        )
        assert first is not None
        assert later is not None
        assert is_acknowledged(first, "alert", first.fingerprint)
        # A new PHQ-9 with item 9 above 0 is new evidence, even at a lower answer.
        assert not is_acknowledged(later, "alert", first.fingerprint)

    def test_fires_for_any_status(self) -> None:
        flag = safety_flag(signals(status=ClientStatus.DISCHARGED, latest_phq9_item9=2), T)
        assert flag is not None


class TestItem9Unanswered:
    """Issue 10 part 3: an unanswered PHQ-9 item 9 is noted, never silently taken as 0."""

    AT = datetime(2026, 5, 6, 9, 30, tzinfo=UTC)

    def test_is_a_watch_asking_directly(self) -> None:
        flag = safety_flag(signals(phq9_item9_unanswered_at=self.AT), T)
        assert flag is not None
        assert flag.level == "watch"
        assert flag.reasons == (
            "In the latest PHQ-9, item 9 (thoughts of being better off dead or of self-harm) "
            "was left unanswered on 2026-05-06; ask directly",
        )
        assert flag.signals == ("phq9_item9_unanswered@2026-05-06T09:30",)
        assert flag.evidence == {"phq9_item9_unanswered_at": "2026-05-06"}

    def test_never_lowers_an_alert_from_an_answer_above_zero(self) -> None:
        earlier = datetime(2026, 4, 1, tzinfo=UTC)
        flag = safety_flag(
            signals(latest_phq9_item9=2, latest_phq9_at=earlier, phq9_item9_unanswered_at=self.AT),
            T,
        )
        assert flag is not None
        assert flag.level == "alert"
        assert len(flag.reasons) == 2
        assert "risk-assessment protocol" in flag.suggestion


class TestEngagementRisk:
    def test_one_signal_is_watch(self) -> None:
        flag = engagement_risk_flag(signals(due_sessions=6, missed_due_sessions=2), T)
        assert flag is not None
        assert flag.level == "watch"
        assert flag.reasons == (
            "2 of the last 6 due sessions were missed (no-show or late cancel)",
        )
        assert flag.suggestion.startswith("Check in about what gets in the way of attending")

    def test_one_missed_is_not_a_signal(self) -> None:
        assert engagement_risk_flag(signals(due_sessions=6, missed_due_sessions=1), T) is None

    def test_gap_over_twice_cadence_for_active_clients_only(self) -> None:
        # cadence 7: 14 days is not > 2 x 7, 15 days is
        assert engagement_risk_flag(signals(days_since_last_attended=14), T) is None
        flag = engagement_risk_flag(signals(days_since_last_attended=15), T)
        assert flag is not None
        assert flag.signals == ("gap",)
        assert "15 days since the last attended session" in flag.reasons[0]
        paused = signals(status=ClientStatus.PAUSED, days_since_last_attended=40)
        assert engagement_risk_flag(paused, T) is None

    def test_homework_below_40_percent(self) -> None:
        assert (
            engagement_risk_flag(signals(homework_completion=0.4, homework_sessions=5), T) is None
        )
        flag = engagement_risk_flag(signals(homework_completion=0.3, homework_sessions=5), T)
        assert flag is not None
        assert flag.reasons == (
            "Homework completion was 30% over the last 5 sessions with homework due",
        )

    def test_rating_three_below_median(self) -> None:
        flag = engagement_risk_flag(
            signals(latest_engagement_rating=4.0, engagement_rating_median=7.0), T
        )
        assert flag is not None
        assert flag.signals == ("rating",)
        small_drop = signals(latest_engagement_rating=5.0, engagement_rating_median=7.0)
        assert engagement_risk_flag(small_drop, T) is None

    def test_two_or_more_signals_is_alert_and_lists_every_reason(self) -> None:
        flag = engagement_risk_flag(
            signals(
                due_sessions=6,
                missed_due_sessions=3,
                days_since_last_attended=30,
                homework_completion=0.0,
                homework_sessions=2,
                latest_engagement_rating=2.0,
                engagement_rating_median=8.0,
            ),
            T,
        )
        assert flag is not None
        assert flag.level == "alert"
        assert len(flag.reasons) == 4
        assert flag.signals == ("missed", "gap", "homework", "rating")

    def test_thresholds_are_configurable(self) -> None:
        strict = replace(T, engagement_missed_min=1)
        flag = engagement_risk_flag(signals(due_sessions=6, missed_due_sessions=1), strict)
        assert flag is not None


class TestAllianceConcern:
    """SRS total around 36 or below: an alliance concern (DOMAIN.md §2.10), an engagement
    signal whose number and operator are configuration."""

    AT = datetime(2026, 5, 6, tzinfo=UTC)

    def test_at_36_is_a_watch_with_its_evidence(self) -> None:
        flag = engagement_risk_flag(signals(latest_srs_total=36.0, latest_srs_at=self.AT), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("watch", ("alliance",))
        assert flag.reasons == (
            "The latest SRS total on 2026-05-06 was 36: alliance concern (<= 36)",
        )
        assert flag.evidence == {
            "srs_total": 36.0,
            "srs_administered_at": "2026-05-06",
            "srs_concern_cutoff": "<= 36",
        }

    def test_above_36_is_quiet(self) -> None:
        assert engagement_risk_flag(signals(latest_srs_total=36.5), T) is None

    def test_operator_is_configurable(self) -> None:
        strictly_below = replace(T, srs_concern_operator="<")
        assert engagement_risk_flag(signals(latest_srs_total=36.0), strictly_below) is None
        assert engagement_risk_flag(signals(latest_srs_total=35.0), strictly_below) is not None

    def test_counts_as_one_engagement_signal(self) -> None:
        flag = engagement_risk_flag(
            signals(latest_srs_total=30.0, due_sessions=6, missed_due_sessions=2), T
        )
        assert flag is not None
        assert (flag.level, flag.signals) == ("alert", ("missed", "alliance"))

    def test_unknown_operator_is_refused(self) -> None:
        with pytest.raises(ValueError, match="srs_concern_operator must be one of"):
            replace(T, srs_concern_operator="==")


GAD7_LATE = OverdueAssessment("gad7", "GAD-7", date(2026, 2, 20), 9)


class TestEngagementFromTheCheckinLink:
    """Issue 11: an overdue assigned questionnaire and a usual checker gone quiet."""

    def test_defaults(self) -> None:
        assert T.assessment_grace_days == 3
        assert (T.checkins_quiet_days, T.checkins_usual_window_days) == (7, 28)
        assert T.checkins_usual_share == 0.5

    def test_an_overdue_questionnaire_is_a_signal_with_its_evidence(self) -> None:
        flag = engagement_risk_flag(signals(overdue_assessments=(GAD7_LATE,)), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("watch", ("assessment_overdue",))
        assert flag.reasons == (
            "The assigned GAD-7 was due on 2026-02-20 and is 9 days overdue (grace period: 3 days)",
        )
        assert flag.suggestion.startswith("Check in about what gets in the way of the check-ins")
        assert flag.evidence == {
            "assessment_instrument": "GAD-7",
            "assessment_due_on": "2026-02-20",
            "assessment_days_overdue": 9,
        }

    def test_several_overdue_questionnaires_are_one_signal(self) -> None:
        phq9 = OverdueAssessment("phq9", "PHQ-9", date(2026, 2, 25), 4)
        flag = engagement_risk_flag(signals(overdue_assessments=(GAD7_LATE, phq9)), T)
        assert flag is not None
        assert flag.level == "watch"
        assert len(flag.reasons) == 2
        assert flag.evidence["assessments_overdue"] == 2

    @pytest.mark.parametrize(
        ("quiet", "usual", "fires"),
        [
            (7, 14, True),  # 7 days quiet after check-ins on 14 of 28 days (half): fires
            (6, 28, False),  # not quiet long enough
            (7, 13, False),  # checked in on fewer than half of the days: not "usually"
            (30, 28, True),
        ],
    )
    def test_a_usual_checker_gone_quiet(self, quiet: int, usual: int, fires: bool) -> None:
        flag = engagement_risk_flag(
            signals(days_since_last_checkin=quiet, usual_checkin_days=usual), T
        )
        assert (flag is not None) == fires
        if flag is not None:
            assert flag.signals == ("checkins_quiet",)
            assert flag.evidence == {
                "days_since_last_checkin": quiet,
                "usual_checkin_days": usual,
            }
            assert f"checked in on {usual} of the 28 days before" in flag.reasons[0]

    def test_quiet_only_for_active_clients_and_never_without_a_checkin(self) -> None:
        paused = signals(
            status=ClientStatus.PAUSED, days_since_last_checkin=10, usual_checkin_days=20
        )
        assert engagement_risk_flag(paused, T) is None
        assert engagement_risk_flag(signals(days_since_last_checkin=None), T) is None

    def test_both_are_two_signals_an_alert(self) -> None:
        flag = engagement_risk_flag(
            signals(
                overdue_assessments=(GAD7_LATE,),
                days_since_last_checkin=8,
                usual_checkin_days=20,
            ),
            T,
        )
        assert flag is not None
        assert flag.level == "alert"
        assert flag.signals == ("assessment_overdue", "checkins_quiet")

    def test_configurable(self) -> None:
        lenient = replace(T, checkins_quiet_days=14)
        assert (
            engagement_risk_flag(signals(days_since_last_checkin=8, usual_checkin_days=20), lenient)
            is None
        )


class TestBurnoutRisk:
    def test_cbi_at_50_is_alert(self) -> None:
        # Kristensen et al. 2005: a scale score of 50 or more is "high burnout"
        flag = burnout_risk_flag(signals(latest_cbi_personal=50.0), T)
        assert flag is not None
        assert flag.level == "alert"
        assert flag.signals == ("cbi_personal",)
        assert burnout_risk_flag(signals(latest_cbi_work_related=49.9), T) is None

    def test_high_activation_low_window_is_watch(self) -> None:
        s = signals(recent_activation_median=7.0, recent_time_in_window=0.39, recent_observations=3)
        flag = burnout_risk_flag(s, T)
        assert flag is not None
        assert flag.level == "watch"
        assert flag.signals == ("activation",)

    def test_with_worsening_recovery_is_alert(self) -> None:
        s = signals(
            recent_activation_median=8.0,
            recent_time_in_window=0.2,
            recent_observations=5,
            recovery_chart=SLOWER,
            as_of=AS_OF,
        )
        flag = burnout_risk_flag(s, T)
        assert flag is not None
        assert flag.level == "alert"
        assert flag.signals == ("activation", "recovery")

    def test_edges_and_too_few_observations(self) -> None:
        base = {"recent_activation_median": 7.0, "recent_time_in_window": 0.2}
        assert burnout_risk_flag(signals(**base, recent_observations=2), T) is None
        at_40 = signals(
            recent_activation_median=8.0, recent_time_in_window=0.4, recent_observations=4
        )
        assert burnout_risk_flag(at_40, T) is None
        low = signals(
            recent_activation_median=6.5, recent_time_in_window=0.1, recent_observations=4
        )
        assert burnout_risk_flag(low, T) is None
        # worsening recovery alone is the deterioration flag's business, not burnout's
        assert burnout_risk_flag(signals(recovery_chart=SLOWER, as_of=AS_OF), T) is None


class TestDeterioration:
    def test_measure_and_recovery(self) -> None:
        # An unconfirmed measure signal is a watch on its own; recovery worsening is an alert,
        # and the flag's level is the highest of its signals.
        s = signals(
            deteriorations=(MeasureChangeSignal("phq9", None, "PHQ-9", 8.0, 6.1),),
            recovery_chart=SLOWER,
            as_of=AS_OF,
        )
        flag = deterioration_flag(s, T)
        assert flag is not None
        assert flag.level == "alert"
        assert flag.signals == ("phq9", "recovery@2026-02-20")
        assert flag.evidence["recovery_signal_at"] == "2026-02-20"
        assert flag.evidence["recovery_limit"] == T.monitoring_limit
        assert flag.reasons[0] == (
            "PHQ-9 changed by +8.0 since the first administration, reliable by the "
            "Jacobson–Truax threshold of 6.1 points; seen once so far: an alert follows if the "
            "next administration confirms it"
        )

    def test_cbi_scale_signal_name(self) -> None:
        d = MeasureChangeSignal("cbi", "work_related", "CBI work-related", 25.0, 17.0)
        flag = deterioration_flag(signals(deteriorations=(d,)), T)
        assert flag is not None
        assert flag.signals == ("cbi_work_related",)

    def test_quiet_otherwise(self) -> None:
        quiet = chart()
        s = signals(recovery_chart=quiet, unrecovered_chart=chart("unrecovered"), as_of=AS_OF)
        assert deterioration_flag(s, T) is None

    def test_chart_alerts_state_their_operating_characteristics(self) -> None:
        flag = deterioration_flag(signals(recovery_chart=SLOWER, as_of=AS_OF), T)
        assert flag is not None
        assert flag.level == "alert"
        assert "their usual: about 45 minutes" in flag.reasons[0]
        assert "stable clients" in flag.reasons[0]  # the false-alarm rate, in plain words

    def test_non_recovery_alerts_and_recognition_watches(self) -> None:
        unrecovered = chart("unrecovered", signal_at=CROSSED)
        flag = deterioration_flag(signals(unrecovered_chart=unrecovered, as_of=AS_OF), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("alert", ("unrecovered@2026-02-20",))
        assert "their usual: about 5%" in flag.reasons[0]
        noticing = chart("recognition", signal_at=CROSSED)
        flag = deterioration_flag(signals(recognition_chart=noticing, as_of=AS_OF), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("watch", ("recognition@2026-02-20",))

    def test_an_acknowledged_crossing_stays_on_view_for_a_while(self) -> None:
        # The chart restarted at the acknowledgement; the crossing it answered stays visible
        # (as acknowledged, by its unchanged signal name) for monitoring_acknowledged_weeks.
        restarted = chart(previous_signal_at=CROSSED)
        s = signals(recovery_chart=restarted, as_of=AS_OF)
        flag = deterioration_flag(s, T)
        assert flag is not None
        assert flag.signals == ("recovery@2026-02-20",)
        later = replace(s, as_of=CROSSED + timedelta(weeks=T.monitoring_acknowledged_weeks, days=1))
        assert deterioration_flag(later, T) is None

    def test_a_new_crossing_is_a_new_signal(self) -> None:
        first = deterioration_flag(signals(recovery_chart=SLOWER, as_of=AS_OF), T)
        again = chart(signal_at=CROSSED + timedelta(days=30), previous_signal_at=CROSSED)
        second = deterioration_flag(signals(recovery_chart=again, as_of=AS_OF), T)
        assert first is not None
        assert second is not None
        assert first.level == second.level
        assert not is_acknowledged(second, first.level, first.fingerprint)


class TestMeasureDeteriorationConfirmation:
    """DOMAIN.md §3.4: alert only once confirmed at two consecutive administrations."""

    FIRST = MeasureChangeSignal("phq9", None, "PHQ-9", 7.0, 6.0, convention="nhs_talking_therapies")

    def test_first_unconfirmed_is_a_watch_and_names_the_rule(self) -> None:
        flag = deterioration_flag(signals(deteriorations=(self.FIRST,)), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("watch", ("phq9",))
        assert "NHS Talking Therapies threshold of 6.0 points" in flag.reasons[0]
        assert flag.evidence["phq9_confirmed"] == "no"
        assert flag.evidence["phq9_minimum_reliable_change"] == 6.0
        # the measured false-alarm rate of this rule, stated beside the flag (README)
        assert flag.evidence["phq9_false_alarms"] == (
            "about 5% of stable clients measured monthly for a year (simulated, measurement "
            "error only)"
        )
        assert flag.evidence["deterioration_rule"] == (
            "alert when seen at 2 consecutive administrations, or at once for a change of at "
            "least 2 times the reliable change; watch on a first unconfirmed one"
        )

    def test_confirmed_is_an_alert(self) -> None:
        confirmed = replace(self.FIRST, confirmed=True)
        flag = deterioration_flag(signals(deteriorations=(confirmed,)), T)
        assert flag is not None
        assert flag.level == "alert"
        assert "confirmed at 2 consecutive administrations" in flag.reasons[0]
        assert flag.evidence["phq9_confirmed"] == "yes"

    def test_a_change_of_twice_the_threshold_confirms_at_once(self) -> None:
        # 2 x 6 = 12 points: 12 confirms at once, 11 does not; 0 turns the route off.
        assert large_change(12.0, 6.0, T)
        assert large_change(-12.0, 6.0, T)
        assert not large_change(11.0, 6.0, T)
        assert not large_change(12.0, 6.0, replace(T, deterioration_immediate_multiple=0.0))
        flag = deterioration_flag(
            signals(deteriorations=(replace(self.FIRST, change=12.0, confirmed=True),)), T
        )
        assert flag is not None
        assert flag.level == "alert"
        assert flag.reasons[0].endswith("; at least 2 times the reliable change at once")

    def test_one_confirmation_rule_alerts_on_the_first(self) -> None:
        # With deterioration_confirmations = 1 the metrics mark every deterioration confirmed.
        first_rule = replace(T, deterioration_confirmations=1)
        flag = deterioration_flag(
            signals(deteriorations=(replace(self.FIRST, confirmed=True),)), first_rule
        )
        assert flag is not None
        assert flag.level == "alert"
        assert flag.evidence["deterioration_rule"] == (
            "alert on a first reliable deterioration, or at once for a change of at least 2 "
            "times the reliable change"
        )
        # no measured rate for a rule other than the default
        assert "phq9_false_alarms" not in flag.evidence

    def test_level_is_the_highest_over_measures(self) -> None:
        gad = MeasureChangeSignal("gad7", None, "GAD-7", 5.0, 4.0, confirmed=True)
        flag = deterioration_flag(signals(deteriorations=(self.FIRST, gad)), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("alert", ("phq9", "gad7"))

    def test_an_unverified_constant_is_said(self) -> None:
        d = MeasureChangeSignal("gad7", None, "GAD-7", 6.0, 5.71, unverified_constant=True)
        flag = deterioration_flag(signals(deteriorations=(d,)), T)
        assert flag is not None
        assert (
            "(reliable change threshold not yet verified against its source)" in (flag.reasons[0])
        )

    def test_watch_then_alert_speaks_again_after_acknowledging_the_watch(self) -> None:
        watch = deterioration_flag(signals(deteriorations=(self.FIRST,)), T)
        alert = deterioration_flag(
            signals(deteriorations=(replace(self.FIRST, confirmed=True),)), T
        )
        assert watch is not None
        assert alert is not None
        assert not is_acknowledged(alert, watch.level, watch.fingerprint)


class TestStaleData:
    def test_more_than_30_days(self) -> None:
        assert stale_data_flag(signals(days_since_last_data=30), T) is None
        flag = stale_data_flag(signals(days_since_last_data=31), T)
        assert flag is not None
        assert flag.level == "watch"

    def test_only_active_clients(self) -> None:
        s = signals(status=ClientStatus.DISCHARGED, days_since_last_data=300)
        assert stale_data_flag(s, T) is None


class TestPractitionerLoad:
    def test_quiet_under_limits(self) -> None:
        facts = PractitionerLoadFacts(35, 28, 10, 49.0)  # 10/35 = 28.6 % <= 30 %
        assert practitioner_load(facts, T) is None

    def test_each_signal(self) -> None:
        flag = practitioner_load(PractitionerLoadFacts(36, 0, 0), T)
        assert flag is not None
        assert (flag.level, flag.signals) == ("watch", ("caseload",))
        flag = practitioner_load(PractitionerLoadFacts(20, 29, 0), T)
        assert flag is not None
        assert flag.signals == ("sessions",)
        # 7 of 20 = 35 % > 30 %
        flag = practitioner_load(PractitionerLoadFacts(20, 10, 7), T)
        assert flag is not None
        assert flag.signals == ("alerts",)
        assert flag.evidence["alert_share"] == pytest.approx(0.35)
        flag = practitioner_load(PractitionerLoadFacts(20, 10, 0, 50.0), T)
        assert flag is not None
        assert flag.signals == ("cbi_work",)

    def test_two_signals_alert_and_empty_caseload(self) -> None:
        flag = practitioner_load(PractitionerLoadFacts(40, 30, 0), T)
        assert flag is not None
        assert flag.level == "alert"
        assert practitioner_load(PractitionerLoadFacts(0, 0, 0), T) is None


def engagement(*active: str, level: str | None = None) -> Flag:
    flag = Flag(
        code="engagement_risk",
        level="alert" if len(active) >= 2 else "watch",
        reasons=tuple(active),
        evidence={"days_since_last_attended": 17},
        suggestion="",
        signals=tuple(active),
    )
    return replace(flag, level=level) if level else flag  # type: ignore[arg-type]


class TestFingerprintAndAcknowledgement:
    def test_fingerprint_is_readable_and_ignores_numbers_and_order(self) -> None:
        a = engagement("missed", "homework")
        b = replace(engagement("homework", "missed"), evidence={"days_since_last_attended": 40})
        assert flag_fingerprint(a) == "engagement_risk|alert|homework,missed"
        assert flag_fingerprint(a) == flag_fingerprint(b) == a.fingerprint

    def test_same_evidence_stays_quiet(self) -> None:
        ack = engagement("missed", "homework")
        assert is_acknowledged(engagement("homework", "missed"), "alert", ack.fingerprint)

    def test_a_new_signal_speaks_again(self) -> None:
        ack = engagement("missed", "homework")
        now = engagement("missed", "homework", "gap")
        assert not is_acknowledged(now, "alert", ack.fingerprint)

    def test_a_higher_level_speaks_again(self) -> None:
        ack = engagement("missed")
        assert ack.level == "watch"
        assert not is_acknowledged(engagement("missed", "gap"), "watch", ack.fingerprint)
        # the same signal alone at a higher level also speaks (e.g. a threshold change)
        assert not is_acknowledged(engagement("missed", level="alert"), "watch", ack.fingerprint)

    def test_fewer_signals_or_lower_level_stay_quiet(self) -> None:
        ack = engagement("missed", "homework")
        assert is_acknowledged(engagement("missed"), "alert", ack.fingerprint)

    def test_other_code_or_garbage_is_not_covered(self) -> None:
        ack = engagement("missed")
        other = replace(ack, code="stale_data")
        assert not is_acknowledged(other, "watch", ack.fingerprint)
        assert not is_acknowledged(ack, "watch", "nonsense")
        assert not is_acknowledged(ack, "severe", ack.fingerprint)

    def test_fingerprint_fits_the_column_even_with_many_signals(self) -> None:
        many = tuple(
            f"{code}"
            for code in (
                "phq9",
                "gad7",
                "ors",
                "cbi_personal",
                "cbi_work_related",
                "cbi_client_related",
                "recovery",
            )
        )
        flag = Flag("deterioration", "alert", many, {}, "", signals=many)
        assert len(flag.fingerprint) <= FINGERPRINT_MAX_LENGTH
        assert flag.fingerprint.startswith("deterioration|alert|#")
        assert is_acknowledged(flag, "alert", flag.fingerprint)
        fewer = replace(flag, signals=many[:-1])
        # a digest covers only the identical set
        assert not is_acknowledged(fewer, "alert", flag.fingerprint)

    def test_every_ordinary_client_fingerprint_fits(self) -> None:
        worst = signals(
            due_sessions=6,
            missed_due_sessions=6,
            days_since_last_attended=60,
            homework_completion=0.0,
            homework_sessions=5,
            latest_engagement_rating=0.0,
            engagement_rating_median=9.0,
            latest_phq9_item9=3,
            latest_cbi_personal=90.0,
            latest_cbi_work_related=90.0,
            recent_activation_median=9.0,
            recent_time_in_window=0.0,
            recent_observations=10,
            recovery_chart=SLOWER,
            as_of=AS_OF,
            days_since_last_data=90,
        )
        flags = evaluate_client_flags(worst, T)
        assert [f.code for f in flags] == [
            "safety",
            "engagement_risk",
            "burnout_risk",
            "deterioration",
            "stale_data",
        ]
        for flag in flags:
            assert len(flag.fingerprint) <= FINGERPRINT_MAX_LENGTH
            assert "#" not in flag.fingerprint


class TestOrderAndNames:
    def test_safety_first_then_alerts_then_watches(self) -> None:
        listed = [
            ("stale_data", "watch"),
            ("engagement_risk", "alert"),
            ("burnout_risk", "watch"),
            ("safety", "alert"),
            ("deterioration", "alert"),
        ]
        ordered = sorted(listed, key=lambda f: flag_sort_key(*f))
        assert ordered == [
            ("safety", "alert"),
            ("engagement_risk", "alert"),
            ("deterioration", "alert"),  # equal urgency keeps the given order
            ("stale_data", "watch"),
            ("burnout_risk", "watch"),
        ]
        assert [flag_rank(*f) for f in ordered] == [3, 2, 2, 1, 1]
        assert flag_rank("engagement_risk", "unknown") == 0

    def test_every_flag_has_one_display_name(self) -> None:
        assert set(FLAG_NAMES) == set(get_args(FlagCode))
        assert len(set(FLAG_NAMES.values())) == len(FLAG_NAMES)
        assert {d.code: d.display_name for d in CLIENT_FLAGS}.items() <= FLAG_NAMES.items()
        assert flag_name("stale_data") == "No recent data"  # the caseload's word, now everywhere
        assert flag_name("practitioner_load") == "Workload"
        assert flag_name("new_kind") == "new kind"
