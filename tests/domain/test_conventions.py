"""Reliable-change conventions (DOMAIN.md §3.1, §3.3, §3.4), with hand-computed numbers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from practice_dashboard.domain.conventions import (
    CONVENTIONS,
    UNVERIFIED_NOTE,
    change_rule,
    change_verdict,
    convention_name,
    validate_conventions,
)
from practice_dashboard.domain.instruments import CBI, GAD7, ORS, PHQ9, SRS

# Jacobson & Truax (DOMAIN.md §3.1), PHQ-9 with r = 0.84, SD_ref = 5.5 (registry):
# S_diff = sqrt(2) * 5.5 * sqrt(0.16) = 3.11127; minimum reliable change = 1.96 * 3.11127
PHQ9_JT_MINIMUM = 1.96 * 3.11127  # 6.0981


class TestNhsTalkingTherapies:
    """DOMAIN.md §3.3: reliable change is a change of at least 6 (PHQ-9) or 4 (GAD-7)."""

    def test_phq9_six_points_is_reliable_five_is_not(self) -> None:
        six = change_verdict(PHQ9, 4, 10, "nhs_talking_therapies")
        five = change_verdict(PHQ9, 4, 9, "nhs_talking_therapies")
        down_six = change_verdict(PHQ9, 16, 10, "nhs_talking_therapies")
        assert six is not None
        assert five is not None
        assert down_six is not None
        assert (six.change, six.reliable_change) == (6.0, "deteriorated")
        assert five.reliable_change == "no_reliable_change"
        assert down_six.reliable_change == "improved"
        assert six.minimum_reliable_change == 6
        assert six.convention == "nhs_talking_therapies"

    def test_gad7_four_points_is_reliable_three_is_not(self) -> None:
        four = change_verdict(GAD7, 12, 8, "nhs_talking_therapies")
        three = change_verdict(GAD7, 12, 9, "nhs_talking_therapies")
        assert four is not None
        assert three is not None
        assert four.reliable_change == "improved"
        assert three.reliable_change == "no_reliable_change"
        assert four.minimum_reliable_change == 4

    def test_fixed_thresholds_never_rest_on_an_unverified_constant(self) -> None:
        # PHQ-9's SD_ref is marked verify; the NHS threshold does not use it.
        verdict = change_verdict(PHQ9, 4, 10, "nhs_talking_therapies")
        assert verdict is not None
        assert verdict.unverified_constant is False

    def test_caseness_gives_clinical_significance(self) -> None:
        # GAD-7 caseness is >= 8 under the programme (DOMAIN.md §3.3), not the >= 10 screen:
        # 10 -> 6 is a 4-point improvement from a case to not a case.
        gad = change_verdict(GAD7, 10, 6, "nhs_talking_therapies")
        assert gad is not None
        assert gad.clinically_significant is True
        # PHQ-9 caseness >= 10: 12 -> 6 is reliable and leaves caseness; 20 -> 14 does not.
        left = change_verdict(PHQ9, 12, 6, "nhs_talking_therapies")
        stayed = change_verdict(PHQ9, 20, 14, "nhs_talking_therapies")
        worse = change_verdict(PHQ9, 4, 10, "nhs_talking_therapies")
        assert left is not None
        assert stayed is not None
        assert worse is not None
        assert (left.clinically_significant, stayed.clinically_significant) == (True, False)
        assert worse.clinically_significant is True  # into caseness

    def test_the_rci_is_still_reported(self) -> None:
        # 4 -> 10: RCI = 6 / 3.11127 = 1.928 (not reliable by Jacobson-Truax, but reported)
        verdict = change_verdict(PHQ9, 4, 10, "nhs_talking_therapies")
        assert verdict is not None
        assert verdict.rci == pytest.approx(1.9285, abs=1e-4)


class TestJacobsonTruax:
    def test_phq9_threshold_and_unverified_constant(self) -> None:
        # 6 points is under 6.098 (|RCI| 1.928 <= 1.96); 7 points is over (RCI 2.250).
        six = change_verdict(PHQ9, 4, 10, "jacobson_truax")
        seven = change_verdict(PHQ9, 4, 11, "jacobson_truax")
        assert six is not None
        assert seven is not None
        assert six.reliable_change == "no_reliable_change"
        assert seven.reliable_change == "deteriorated"
        assert seven.rci == pytest.approx(2.2499, abs=1e-4)
        assert seven.minimum_reliable_change == pytest.approx(PHQ9_JT_MINIMUM, abs=1e-4)
        # The registry marks PHQ-9's SD_ref "verify": the verdict says so.
        assert seven.unverified_constant is True

    def test_a_verified_constant_is_not_flagged(self) -> None:
        assert PHQ9.reliability is not None
        checked = replace(PHQ9, reliability=replace(PHQ9.reliability, verify=False))
        verdict = change_verdict(checked, 4, 11, "jacobson_truax")
        assert verdict is not None
        assert verdict.unverified_constant is False

    def test_ors_threshold_is_the_published_five_points(self) -> None:
        # sd_ref 4.034 is back-derived so that 1.96 * sqrt(2) * 4.034 * sqrt(0.2) = 5.00
        rule = change_rule(ORS, "jacobson_truax")
        assert rule is not None
        assert rule.minimum_reliable_change == pytest.approx(5.0, abs=1e-2)
        # ORS: higher is better, so a drop of 6 is a deterioration
        verdict = change_verdict(ORS, 30, 24, "jacobson_truax")
        assert verdict is not None
        assert verdict.reliable_change == "deteriorated"

    def test_cbi_scale_uses_its_own_reliability(self) -> None:
        # work-related: S_diff = sqrt(2) * 17 * sqrt(0.13) = 8.6683; 1.96 x = 16.99
        rule = change_rule(CBI, "jacobson_truax", scale="work_related")
        assert rule is not None
        assert rule.minimum_reliable_change == pytest.approx(16.99, abs=1e-2)

    def test_no_rule_without_reliability(self) -> None:
        assert change_rule(SRS, "jacobson_truax") is None
        assert change_verdict(SRS, 30, 20, "jacobson_truax") is None


class TestChoices:
    def test_default_choices_are_valid(self) -> None:
        assert validate_conventions({}) == []
        assert (
            validate_conventions({"phq9": "nhs_talking_therapies", "ors": "jacobson_truax"}) == []
        )

    def test_unknown_instrument_or_convention_or_coverage(self) -> None:
        assert validate_conventions({"phq10": "jacobson_truax"}) == [
            "unknown instrument 'phq10' (known: cbi, gad7, ors, phq9, srs)"
        ]
        assert validate_conventions({"phq9": "nhs"}) == [
            "phq9: unknown convention 'nhs' (known: jacobson_truax, nhs_talking_therapies)"
        ]
        assert validate_conventions({"ors": "nhs_talking_therapies"}) == [
            "ors: the NHS Talking Therapies convention does not cover ORS (it covers gad7, phq9)"
        ]
        assert validate_conventions({"srs": "jacobson_truax"}) == [
            "srs: the Jacobson–Truax convention does not cover SRS (it has no reliability data)"
        ]

    def test_names(self) -> None:
        assert [convention_name(c) for c in CONVENTIONS] == [
            "Jacobson–Truax",
            "NHS Talking Therapies",
        ]
        assert UNVERIFIED_NOTE == "reliable change threshold not yet verified against its source"
