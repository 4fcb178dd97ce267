"""Instrument registry: validation, scoring, bands, reliable change.

Expected numbers come from the instrument papers (cited per test) or from arithmetic shown in
the comments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from practice_dashboard.domain.facts import MeasureFact, Source
from practice_dashboard.domain.instruments import (
    CBI,
    GAD7,
    INSTRUMENTS,
    ORS,
    PHQ9,
    SRS,
    FieldProblem,
    Reliability,
    get_instrument,
    instrument_name,
    rci_components,
    reliable_change,
    score_measure,
    score_of,
    validate_measure,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def phq(*items: int | None) -> MeasureFact:
    return MeasureFact("phq9", T0, tuple(items))


class TestRegistry:
    def test_shipped_codes(self) -> None:
        assert set(INSTRUMENTS) == {"phq9", "gad7", "cbi", "ors", "srs"}
        assert get_instrument("phq9") is PHQ9
        assert get_instrument("nope") is None

    def test_registry_is_read_only(self) -> None:
        with pytest.raises(TypeError):
            INSTRUMENTS["x"] = PHQ9  # type: ignore[index]

    def test_ors_srs_never_carry_item_wording(self) -> None:
        # PCOMS licence (DOMAIN.md §2.1): no item wording, practitioner-entered total only.
        for inst in (ORS, SRS):
            assert inst.item_count == 0
            assert inst.item_text is None
            assert "user's own licence" in inst.licence

    def test_item_text_lengths_match(self) -> None:
        for inst in INSTRUMENTS.values():
            if inst.item_text is not None:
                assert len(inst.item_text) == inst.item_count

    def test_cbi_structure(self) -> None:
        # Kristensen et al. 2005: 19 items, personal 6, work-related 7, client-related 6.
        sizes = {s.code: len(s.items) for s in CBI.subscales}
        assert sizes == {"personal": 6, "work_related": 7, "client_related": 6}
        all_items = sorted(i for s in CBI.subscales for i in s.items)
        assert all_items == list(range(1, 20))
        work = CBI.subscale("work_related")
        assert work is not None
        assert work.reversed_items == (13,)  # last work-related item, appendix order

    def test_shipped_reliability_is_valid(self) -> None:
        for inst in INSTRUMENTS.values():
            rels = [inst.reliability] + [s.reliability for s in inst.subscales]
            for rel in rels:
                if rel is not None:
                    rci_components(rel.r, rel.sd_ref)  # raises if invalid


class TestSeverity:
    @pytest.mark.parametrize(
        ("total", "band"),
        [
            # PHQ-9 bands, Kroenke et al. 2001: 0-4, 5-9, 10-14, 15-19, 20-27
            (0, "minimal"),
            (4, "minimal"),
            (5, "mild"),
            (9, "mild"),
            (10, "moderate"),
            (14, "moderate"),
            (15, "moderately_severe"),
            (19, "moderately_severe"),
            (20, "severe"),
            (27, "severe"),
        ],
    )
    def test_phq9_bands(self, total: float, band: str) -> None:
        assert PHQ9.severity_for(total) == band

    @pytest.mark.parametrize(
        ("total", "band"),
        # GAD-7 bands, Spitzer et al. 2006: 0-4, 5-9, 10-14, 15-21 (no moderately severe)
        [(4, "minimal"), (5, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe")],
    )
    def test_gad7_bands(self, total: float, band: str) -> None:
        assert GAD7.severity_for(total) == band

    def test_no_invented_bands(self) -> None:
        assert CBI.severity_bands == ()
        assert ORS.severity_bands == ()
        assert SRS.severity_bands == ()


class TestValidate:
    def test_unknown_instrument(self) -> None:
        assert validate_measure("xyz", [1], None) == [
            FieldProblem(("instrument",), "unknown instrument 'xyz'")
        ]

    def test_wrong_item_count(self) -> None:
        assert validate_measure("phq9", [0] * 8, None) == [
            FieldProblem(("items",), "PHQ-9 has 9 items, got 8")
        ]

    def test_item_out_of_range_names_item_and_range(self) -> None:
        problems = validate_measure("phq9", [0, 0, 0, 4, 0, 0, 0, 0, -1], None)
        assert problems == [
            FieldProblem(("items", 3), "item 4 must be between 0 and 3"),
            FieldProblem(("items", 8), "item 9 must be between 0 and 3"),
        ]

    def test_non_integer_item(self) -> None:
        problems = validate_measure("gad7", [0, 1, 2, True, 0, 0, 0], None)
        assert problems == [FieldProblem(("items", 3), "item 4 must be a whole number")]

    def test_missing_items_are_accepted(self) -> None:
        assert validate_measure("phq9", [None] * 9, None) == []

    def test_itemised_needs_items_and_rejects_total(self) -> None:
        problems = validate_measure("phq9", None, 12)
        assert [p.loc for p in problems] == [("total",), ("items",)]

    def test_total_only_instrument(self) -> None:
        assert validate_measure("ors", None, 22.5) == []
        assert validate_measure("srs", None, 0) == []
        assert validate_measure("srs", None, 40) == []
        assert [p.loc for p in validate_measure("ors", [1, 2], 20)] == [("items",)]
        assert validate_measure("ors", None, None) == [
            FieldProblem(("total",), "ORS needs a total between 0 and 40")
        ]
        assert validate_measure("srs", None, 40.1) == [
            FieldProblem(("total",), "SRS total must be between 0 and 40")
        ]
        assert [p.loc for p in validate_measure("ors", None, math.nan)] == [("total",)]

    def test_cbi_range_is_codes_0_to_4(self) -> None:
        items: list[int | None] = [2] * 19
        assert validate_measure("cbi", items, None) == []
        items[18] = 5
        assert validate_measure("cbi", items, None) == [
            FieldProblem(("items", 18), "item 19 must be between 0 and 4")
        ]


class TestPhq9Scoring:
    def test_complete(self) -> None:
        # 1+2+1+0+1+2+1+1+0 = 9 -> mild (5-9), below the >= 10 screen
        score = score_measure(phq(1, 2, 1, 0, 1, 2, 1, 1, 0))
        assert score.valid
        assert score.total == 9.0
        assert score.severity == "mild"
        assert score.positive_screen is False
        assert score.prorated is False
        assert score.safety_item_score == 0

    def test_prorate_one_missing(self) -> None:
        # answered 8 items sum 1+2+1+0+2+1+1+0 = 8; 8 * 9 / 8 = 9.0 -> 9 (mild)
        score = score_measure(phq(1, 2, 1, 0, None, 2, 1, 1, 0))
        assert score.valid
        assert score.prorated
        assert score.total == 9.0
        assert score.missing_items == 1

    def test_prorate_two_missing_rounds_half_up(self) -> None:
        # answered 7 items: 2+2+2+1+1+1+0 = 9; 9 * 9 / 7 = 11.571 -> 12 (moderate, positive)
        score = score_measure(phq(2, 2, 2, None, 1, 1, None, 1, 0))
        assert score.total == 12.0
        assert score.severity == "moderate"
        assert score.positive_screen is True

    def test_three_missing_is_invalid_but_item9_survives(self) -> None:
        # DOMAIN.md §2.2: more than 2 missing -> invalid total; §1.5 safety still visible
        score = score_measure(phq(None, None, None, 1, 1, 1, 1, 1, 2))
        assert not score.valid
        assert score.total is None
        assert score.severity is None
        assert score.safety_item_score == 2

    def test_item9_missing(self) -> None:
        score = score_measure(phq(1, 1, 1, 1, 1, 1, 1, 1, None))
        assert score.safety_item_score is None
        assert score.total == 9.0  # 8 * 9 / 8

    def test_invalid_input_scores_invalid_without_raising(self) -> None:
        score = score_measure(phq(1, 1, 9, 1, 1, 1, 1, 1, 3))
        assert not score.valid
        assert score.total is None
        assert score.safety_item_score == 3
        assert score.problems == ("item 3 must be between 0 and 3",)

    def test_unknown_instrument(self) -> None:
        score = score_measure(MeasureFact("xyz", T0, (1,)))
        assert not score.valid


class TestGad7Scoring:
    def test_total_and_band(self) -> None:
        # 3+3+2+2+1+1+0 = 12 -> moderate (10-14), positive screen (>= 10)
        score = score_measure(MeasureFact("gad7", T0, (3, 3, 2, 2, 1, 1, 0)))
        assert score.total == 12.0
        assert score.severity == "moderate"
        assert score.positive_screen is True

    def test_missing_item_invalidates(self) -> None:
        score = score_measure(MeasureFact("gad7", T0, (3, 3, 2, 2, 1, 1, None)))
        assert not score.valid
        assert score.total is None


def cbi(items: Sequence[int | None]) -> MeasureFact:
    assert len(items) == 19
    return MeasureFact("cbi", T0, tuple(items))


class TestCbiScoring:
    def test_scale_means_and_reversed_item(self) -> None:
        # codes -> points 25 x code (4 = Always/very high degree = 100).
        # personal items 1-6 codes 4,3,2,1,0,4 -> 100,75,50,25,0,100: mean 350/6 = 58.333
        # work items 7-12 code 3 -> 75 each; item 13 (reversed) code 4 -> 100 - 100 = 0:
        #   mean (6*75 + 0)/7 = 450/7 = 64.2857
        # client items 14-19 code 1 -> 25 each: mean 25
        items = [4, 3, 2, 1, 0, 4] + [3] * 6 + [4] + [1] * 6
        score = score_measure(cbi(items))
        assert score.valid
        assert score.total is None  # no total score (Kristensen et al. 2005)
        assert score.severity is None
        assert score.subscales["personal"] == pytest.approx(350 / 6)
        assert score.subscales["work_related"] == pytest.approx(450 / 7)
        assert score.subscales["client_related"] == pytest.approx(25.0)
        assert score.subscale_high == {
            "personal": True,
            "work_related": True,
            "client_related": False,
        }

    def test_reversed_item_low_answer_is_high_burnout(self) -> None:
        # item 13 code 0 ("never" enough energy) -> 100 - 0 = 100 points
        items = [0] * 12 + [0] + [0] * 6
        score = score_measure(cbi(items))
        assert score.subscales["work_related"] == pytest.approx(100 / 7)

    def test_half_items_rule(self) -> None:
        # personal: 3 of 6 answered (exactly half) -> scored, mean of (100, 50, 0) = 50
        # work: 3 of 7 answered (< 3.5) -> None; client: none answered -> None
        items: list[int | None] = [4, 2, 0, None, None, None]
        items += [2, 2, 2, None, None, None, None]
        items += [None] * 6
        score = score_measure(cbi(items))
        assert score.valid
        assert score.subscales == {"personal": 50.0, "work_related": None, "client_related": None}
        assert score.subscale_high["personal"] is True  # 50 >= 50
        assert score.subscale_high["work_related"] is None

    def test_four_of_seven_work_items_is_enough(self) -> None:
        # 4 >= 3.5: mean of 25, 25, 25 and item 13 code 1 -> 100 - 25 = 75: (25*3 + 75)/4
        items: list[int | None] = [None] * 6 + [1, 1, 1, None, None, None, 1] + [None] * 6
        score = score_measure(cbi(items))
        assert score.subscales["work_related"] == pytest.approx(150 / 4)
        assert score.subscales["personal"] is None

    def test_nothing_scoreable_is_invalid(self) -> None:
        score = score_measure(cbi([None] * 19))
        assert not score.valid


class TestTotalOnly:
    def test_ors_clinical_range(self) -> None:
        # Miller et al. 2003: below 25 = adult clinical range
        assert score_measure(MeasureFact("ors", T0, None, 24.9)).positive_screen is True
        assert score_measure(MeasureFact("ors", T0, None, 25)).positive_screen is False

    def test_srs_concern_at_or_below_36(self) -> None:
        assert score_measure(MeasureFact("srs", T0, None, 36)).concern is True
        assert score_measure(MeasureFact("srs", T0, None, 36.1)).concern is False

    def test_srs_operator_is_configuration(self) -> None:
        assert SRS.concern_cutoff is not None
        strict = replace(SRS, concern_cutoff=replace(SRS.concern_cutoff, operator="<"))
        registry = {"srs": strict}
        score = score_measure(MeasureFact("srs", T0, None, 36), registry=registry)
        assert score.concern is False


class TestReliableChange:
    def test_phq9_worked_example(self) -> None:
        # Jacobson & Truax 1991 (DOMAIN.md §3.1) with r = 0.84, SD_ref = 5.5:
        # SE = 5.5 * sqrt(0.16) = 2.2; Sdiff = sqrt(2) * 2.2 = 3.11127
        # 18 -> 8: change -10, RCI = -10 / 3.11127 = -3.2141 -> |RCI| > 1.96, improved
        # 18 is >= 10 (clinical), 8 is not -> clinically significant
        rc = reliable_change(PHQ9, 18, 8)
        assert rc.change == -10.0
        assert rc.s_diff == pytest.approx(3.11127, abs=1e-5)
        assert rc.rci == pytest.approx(-3.2141, abs=1e-4)
        assert rc.reliable_change == "improved"
        assert rc.clinically_significant is True
        assert rc.minimum_reliable_change == pytest.approx(1.96 * 3.11127, abs=1e-4)

    def test_not_reliable_below_threshold(self) -> None:
        # 16 -> 11: RCI = -5 / 3.11127 = -1.607 -> no reliable change, so not significant
        rc = reliable_change(PHQ9, 16, 11)
        assert rc.reliable_change == "no_reliable_change"
        assert rc.clinically_significant is False

    def test_reliable_but_no_crossing(self) -> None:
        # 27 -> 19: RCI = -8 / 3.11127 = -2.571 improved, but 19 still >= 10
        rc = reliable_change(PHQ9, 27, 19)
        assert rc.reliable_change == "improved"
        assert rc.clinically_significant is False

    def test_deterioration_into_clinical_range(self) -> None:
        # 2 -> 12: RCI = +10 / 3.11127 = +3.214 worse on a symptom scale; crosses 10
        rc = reliable_change(PHQ9, 2, 12)
        assert rc.reliable_change == "deteriorated"
        assert rc.clinically_significant is True

    def test_ors_higher_is_better(self) -> None:
        # SD_ref back-derived so 1.96 * Sdiff = 5.00 (DOMAIN.md §2.10 anchor 5 points):
        # Sdiff = sqrt(2) * 4.034 * sqrt(0.2) = 2.55133; 18 -> 26: RCI = 8 / 2.55133 = 3.136
        rc = reliable_change(ORS, 18, 26)
        assert rc.minimum_reliable_change == pytest.approx(5.0, abs=0.01)
        assert rc.rci == pytest.approx(3.1356, abs=1e-3)
        assert rc.reliable_change == "improved"
        assert rc.clinically_significant is True  # from < 25 to >= 25
        assert reliable_change(ORS, 26, 18).reliable_change == "deteriorated"

    def test_cbi_needs_a_scale(self) -> None:
        # alpha 0.87, SD 17: Sdiff = sqrt(2) * 17 * sqrt(0.13) = 8.6683; 60 -> 30 RCI -3.461
        rc = reliable_change(CBI, 60, 30, scale="work_related")
        assert rc.rci == pytest.approx(-3.4609, abs=1e-3)
        assert rc.reliable_change == "improved"
        assert rc.clinically_significant is True
        with pytest.raises(ValueError, match="no total"):
            reliable_change(CBI, 60, 30)
        with pytest.raises(ValueError, match="no scale"):
            reliable_change(CBI, 60, 30, scale="family")

    def test_no_reliability_configured(self) -> None:
        with pytest.raises(ValueError, match="no reliability"):
            reliable_change(SRS, 30, 38)

    @pytest.mark.parametrize(
        ("r", "sd"),
        [(1.0, 5.0), (1.2, 5.0), (0.0, 5.0), (-0.3, 5.0), (0.8, 0.0), (0.8, -1.0), (math.nan, 5)],
    )
    def test_invalid_inputs_raise(self, r: float, sd: float) -> None:
        # DOMAIN.md §3.1: r >= 1, r <= 0 or SD <= 0 is an error, not infinity
        bad = replace(PHQ9, reliability=Reliability(r, "test_retest", sd, "test"))
        with pytest.raises(ValueError, match="must be"):
            reliable_change(bad, 10, 5)
        with pytest.raises(ValueError, match="must be"):
            rci_components(r, sd)

    def test_non_finite_scores_raise(self) -> None:
        with pytest.raises(ValueError, match="finite"):
            reliable_change(PHQ9, math.inf, 5)


class TestNames:
    def test_each_instrument_has_one_short_name(self) -> None:
        assert {code: i.short_name for code, i in INSTRUMENTS.items()} == {
            "phq9": "PHQ-9",
            "gad7": "GAD-7",
            "cbi": "CBI",
            "ors": "ORS",
            "srs": "SRS",
        }
        assert instrument_name("gad7") == "GAD-7"
        assert instrument_name("who5") == "who5"  # not shipped: shown as stored

    def test_a_scale_is_named_after_its_instrument(self) -> None:
        assert CBI.label("work_related") == "CBI work-related burnout"
        assert CBI.label("family") == "CBI family"
        assert PHQ9.label() == "PHQ-9"

    def test_messages_use_the_short_name(self) -> None:
        problems = validate_measure("cbi", [0] * 18, None)
        assert [p.msg for p in problems] == ["CBI has 19 items, got 18"]


class TestScoreOf:
    def test_scores_each_measure_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # A page asks for each questionnaire's score for its figures, flags and charts.
        import practice_dashboard.domain.instruments as instruments

        calls: list[tuple[str, object]] = []

        def counting(fact: MeasureFact) -> object:
            calls.append((fact.instrument, fact.items))
            return score_measure(fact)

        monkeypatch.setattr(instruments, "score_measure", counting)
        instruments._score_answers.cache_clear()
        first, second = phq(1, 2, 1, 0, 2, 1, 0, 1, 0), phq(3, 3, 2, 2, 3, 2, 2, 1, 1)
        second = replace(second, administered_at=T0.replace(month=2))
        for _ in range(3):
            assert score_of(first) == score_measure(first)
            assert score_of(second).total == 19  # Kroenke et al. 2001: the item sum
        assert calls == [("phq9", first.items), ("phq9", second.items)]

    def test_the_same_answers_are_scored_once_whoever_gave_them_and_when(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Scores of recent answers are kept across pages and clients (bounded): a score depends
        # on the instrument and the answers alone.
        import practice_dashboard.domain.instruments as instruments

        calls: list[MeasureFact] = []

        def counting(fact: MeasureFact) -> object:
            calls.append(fact)
            return score_measure(fact)

        monkeypatch.setattr(instruments, "score_measure", counting)
        instruments._score_answers.cache_clear()
        answers = phq(2, 2, 1, 1, 2, 1, 1, 0, 1)
        later = replace(answers, administered_at=T0.replace(month=5), source=Source.PRACTITIONER)
        assert score_of(answers) == score_of(later) == score_measure(answers)
        assert len(calls) == 1
        # An unanswered safety item and a different answer are different keys.
        changed = phq(2, 2, 1, 1, 2, 1, 1, 0, None)
        assert score_of(changed).safety_item_score is None
        assert len(calls) == 2
        assert instruments._score_answers.cache_info().maxsize == instruments.SCORED_ANSWERS_KEPT
