"""Standardized instruments as data: scoring, bands, cutoffs, reliability, licences.

The registry is plain frozen data, so a practice can add an instrument without new code.
Every rule is cited where it is defined; values we could not confirm against the primary
source are marked **verify** (see DOMAIN.md §2 and §3).

Conventions
-----------
* ``items`` are the item answers in the instrument's own order; ``None`` marks an unanswered
  item. Item numbers in messages are 1-based; ``FieldProblem.loc`` indices are 0-based.
* Severity codes are lower-case words with underscores (``minimal`` … ``severe``). Only
  bands an instrument publishes are shipped: GAD-7 has no ``moderately_severe``, the CBI has
  no bands at all (only the 50-point "high burnout" line), ORS/SRS have none.
* Reliable change follows Jacobson & Truax (1991) with z = 1.96 (not 1.959964): the two
  differ only in the fourth significant digit and 1.96 is what the published anchors use.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal

from practice_dashboard.domain.facts import MeasureFact

Direction = Literal["lower_is_better", "higher_is_better"]
Comparison = Literal["<", "<=", ">=", ">"]
ReliabilityType = Literal["test_retest", "cronbach_alpha"]
Scoring = Literal["sum", "scale_means", "entered_total"]
ReliableChangeCategory = Literal["improved", "deteriorated", "no_reliable_change"]

#: Two-sided 95 % critical value used for the Reliable Change Index (Jacobson & Truax 1991).
RCI_Z: Final = 1.96


# --------------------------------------------------------------------------------------------
# Registry data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeverityBand:
    """A published severity band: ``low <= total <= high`` (inclusive)."""

    code: str
    label: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Cutoff:
    """A threshold with its comparison operator; both are configuration, not constants.

    ``met(score)`` is true when the score lies on the named side, e.g. PHQ-9 ``>= 10``
    ("positive screen") or ORS ``< 25`` ("adult clinical range").
    """

    value: float
    operator: Comparison
    label: str
    citation: str

    def met(self, score: float) -> bool:
        if self.operator == "<":
            return score < self.value
        if self.operator == "<=":
            return score <= self.value
        if self.operator == ">=":
            return score >= self.value
        return score > self.value


@dataclass(frozen=True, slots=True)
class Reliability:
    """Inputs of the Reliable Change Index for one score (Jacobson & Truax 1991).

    ``sd_ref`` is the SD of a pre-treatment / reference sample, never the client's own series.
    """

    r: float
    r_type: ReliabilityType
    sd_ref: float
    citation: str
    verify: bool = False  # True when r or sd_ref still needs checking against the source


@dataclass(frozen=True, slots=True)
class Subscale:
    """A scale scored from a subset of items (1-based item numbers)."""

    code: str
    name: str
    items: tuple[int, ...]
    reversed_items: tuple[int, ...] = ()
    min_answered: int = 0  # fewer answered items => the scale score is None
    reliability: Reliability | None = None
    cutoff: Cutoff | None = None


@dataclass(frozen=True, slots=True)
class Instrument:
    """One standardized instrument. ``total_min``/``total_max`` bound the total, or each
    scale score when the instrument has no total (CBI: 0-100)."""

    code: str
    name: str  # the full title, e.g. "PHQ-9 (Patient Health Questionnaire, depression)"
    short_name: str  # its one display name everywhere: "PHQ-9", "CBI"
    item_count: int  # 0 = total-only (practitioner-entered total)
    item_min: int
    item_max: int
    direction: Direction
    total_min: float
    total_max: float
    scoring: Scoring
    licence: str
    citation: str
    subscales: tuple[Subscale, ...] = ()
    severity_bands: tuple[SeverityBand, ...] = ()
    clinical_cutoff: Cutoff | None = None  # met = in the clinical / case range
    concern_cutoff: Cutoff | None = None  # met = a concern to discuss (SRS alliance)
    reliability: Reliability | None = None  # for the total; subscales carry their own
    max_missing_items: int = 0  # prorate the sum when 1..max items are missing
    safety_item: int | None = None  # 1-based item whose answer > 0 raises the safety flag
    headline_scale: str | None = None  # for instruments without a total
    reliable_change_anchor: float | None = None  # published anchor, shown beside the RCI
    item_text: tuple[str, ...] | None = None  # only where the licence allows
    response_labels: tuple[str, ...] | None = None  # index = item answer
    stem: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def has_total(self) -> bool:
        return self.scoring != "scale_means"

    @property
    def total_only(self) -> bool:
        return self.item_count == 0

    def subscale(self, code: str) -> Subscale | None:
        return next((s for s in self.subscales if s.code == code), None)

    def label(self, scale: str | None = None) -> str:
        """The short name, with the scale's name for one scale: "CBI work-related burnout"."""
        if scale is None:
            return self.short_name
        sub = self.subscale(scale)
        return f"{self.short_name} {sub.name.lower() if sub else scale}"

    def severity_for(self, total: float | None) -> str | None:
        """The published band containing ``total`` (None without bands or total)."""
        if total is None:
            return None
        for band in self.severity_bands:
            if band.low <= total <= band.high:
                return band.code
        return None


# --------------------------------------------------------------------------------------------
# The shipped instruments
# --------------------------------------------------------------------------------------------

_PHQ_GAD_RESPONSES: Final = (
    "Not at all",
    "Several days",
    "More than half the days",
    "Nearly every day",
)
_PHQ_GAD_STEM: Final = (
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
)
_PFIZER_LICENCE: Final = (
    "Free to reproduce, translate, display and distribute; no permission required. "
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
    "with an educational grant from Pfizer Inc."
)

# Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity
# measure. J Gen Intern Med. 2001;16(9):606-613. Bands 0-4/5-9/10-14/15-19/20-27 and the
# >= 10 cutoff are from this paper (DOMAIN.md §2.2).
PHQ9: Final = Instrument(
    code="phq9",
    name="PHQ-9 (Patient Health Questionnaire, depression)",
    short_name="PHQ-9",
    item_count=9,
    item_min=0,
    item_max=3,
    direction="lower_is_better",
    total_min=0,
    total_max=27,
    scoring="sum",
    licence=_PFIZER_LICENCE,
    citation="Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606-613",
    severity_bands=(
        SeverityBand("minimal", "None-minimal", 0, 4),
        SeverityBand("mild", "Mild", 5, 9),
        SeverityBand("moderate", "Moderate", 10, 14),
        SeverityBand("moderately_severe", "Moderately severe", 15, 19),
        SeverityBand("severe", "Severe", 20, 27),
    ),
    clinical_cutoff=Cutoff(
        10, ">=", "positive screen", "Kroenke et al. 2001 (sensitivity 88 %, specificity 88 %)"
    ),
    # r = 0.84: agreement of the self-administered PHQ-9 with a telephone re-administration
    # within 48 h (Kroenke et al. 2001), used as test-retest reliability.
    # sd_ref = 5.5 is a placeholder in the range reported for baseline PHQ-9 totals in
    # treatment-seeking samples. **verify** against a published clinical sample (or the
    # practice's own service norms) before release. It gives a minimum reliable change of
    # 1.96 * sqrt(2) * 5.5 * sqrt(1 - 0.84) = 6.10 points, in line with the NHS Talking
    # Therapies anchor of 6 (DOMAIN.md §3.1).
    reliability=Reliability(
        r=0.84,
        r_type="test_retest",
        sd_ref=5.5,
        citation="r: Kroenke et al. 2001; SD_ref: placeholder clinical SD (verify)",
        verify=True,
    ),
    # **verify** against the PHQ manual: prorate only if at most 2 of 9 items are missing.
    max_missing_items=2,
    safety_item=9,
    reliable_change_anchor=5,  # DOMAIN.md §3.1: minimal individual change 5; NHS TT uses 6
    item_text=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or "
        "your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    response_labels=_PHQ_GAD_RESPONSES,
    stem=_PHQ_GAD_STEM,
    notes=(
        "Prorated total = sum of answered items x 9 / answered, rounded half up to a whole "
        "number, when 1 or 2 items are missing (verify against the PHQ manual); with 3 or "
        "more missing the total is invalid.",
        "Item 9 above 0 raises the safety flag whatever the total.",
    ),
)

# Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized
# anxiety disorder: the GAD-7. Arch Intern Med. 2006;166(10):1092-1097. Bands 0-4/5-9/
# 10-14/15-21, cutoff >= 10, test-retest ICC 0.83 (DOMAIN.md §2.3).
GAD7: Final = Instrument(
    code="gad7",
    name="GAD-7 (Generalized Anxiety Disorder 7)",
    short_name="GAD-7",
    item_count=7,
    item_min=0,
    item_max=3,
    direction="lower_is_better",
    total_min=0,
    total_max=21,
    scoring="sum",
    licence=_PFIZER_LICENCE,
    citation="Spitzer, Kroenke, Williams & Löwe 2006, Arch Intern Med 166:1092-1097",
    severity_bands=(
        SeverityBand("minimal", "Minimal", 0, 4),
        SeverityBand("mild", "Mild", 5, 9),
        SeverityBand("moderate", "Moderate", 10, 14),
        SeverityBand("severe", "Severe", 15, 21),
    ),
    clinical_cutoff=Cutoff(10, ">=", "positive screen", "Spitzer et al. 2006"),
    # r = 0.83 test-retest ICC (Spitzer et al. 2006). sd_ref = 5.0 is a placeholder clinical
    # SD: **verify** against a published clinical sample. Minimum reliable change
    # = 1.96 * sqrt(2) * 5.0 * sqrt(0.17) = 5.71 points (one RCI study reports 6).
    reliability=Reliability(
        r=0.83,
        r_type="test_retest",
        sd_ref=5.0,
        citation="r: Spitzer et al. 2006; SD_ref: placeholder clinical SD (verify)",
        verify=True,
    ),
    # No published prorating rule is shipped for GAD-7: any missing item makes the total
    # invalid (conservative; a practice may configure prorating).
    max_missing_items=0,
    reliable_change_anchor=4,  # minimal important change; NHS Talking Therapies uses 4
    item_text=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    response_labels=_PHQ_GAD_RESPONSES,
    stem=_PHQ_GAD_STEM,
)

# Kristensen TS, Borritz M, Villadsen E, Christensen KB. The Copenhagen Burnout Inventory:
# a new tool for the assessment of burnout. Work & Stress. 2005;19(3):192-207.
#
# Item order is the appendix order of Kristensen et al. 2005 (also reproduced, e.g., in
# Table 1 of doi:10.1002/emp2.12797): items 1-6 personal; 7-13 work-related (7 emotionally
# exhausting, 8 burnt out, 9 frustrate, 10 worn out at end of day, 11 exhausted in the
# morning, 12 every working hour tiring, 13 enough energy for family and friends during
# leisure time = the only reversed item); 14-19 client-related. Some reproductions list the
# work-related items in another order (reversed item 10): enter answers in THIS order.
#
# Response coding (our decision): each item answer is a code 0-4 counted from the
# "no burnout" end, and points = 25 x code:
#   4 = Always / To a very high degree       -> 100
#   3 = Often / To a high degree             ->  75
#   2 = Sometimes / Somewhat                 ->  50
#   1 = Seldom / To a low degree             ->  25
#   0 = Never, almost never / To a very low degree -> 0
# Item 13 keeps the same code meaning (4 = "Always" has enough energy) and scores
# 100 - 25 x code. Scale score = mean points of the answered items, needing at least half
# the scale's items (3 of 6, 4 of 7); **verify** the official minimum. No total score.
# Reliability: Cronbach's alpha per scale from the PUMA baseline (Kristensen et al. 2005).
# SD_ref 17 for each scale: the PUMA baseline SDs were roughly 16-18 points; **verify**
# per scale against Kristensen et al. 2005 (Table of means and SDs).
_CBI_HIGH: Final = Cutoff(50, ">=", "high burnout", "Kristensen et al. 2005, PUMA study (verify)")


def _cbi_reliability(alpha: float) -> Reliability:
    return Reliability(
        r=alpha,
        r_type="cronbach_alpha",
        sd_ref=17.0,
        citation="alpha: Kristensen et al. 2005 (PUMA baseline); SD_ref approx. (verify)",
        verify=True,
    )


CBI: Final = Instrument(
    code="cbi",
    name="Copenhagen Burnout Inventory",
    short_name="CBI",
    item_count=19,
    item_min=0,
    item_max=4,
    direction="lower_is_better",
    total_min=0,
    total_max=100,
    scoring="scale_means",
    licence=(
        "Free, open access; cite Kristensen et al. 2005, whose appendix publishes the items "
        "shown here. Explicit licence text not found (verify before release)."
    ),
    citation="Kristensen, Borritz, Villadsen & Christensen 2005, Work & Stress 19:192-207",
    subscales=(
        Subscale(
            "personal",
            "Personal burnout",
            items=(1, 2, 3, 4, 5, 6),
            min_answered=3,
            reliability=_cbi_reliability(0.87),
            cutoff=_CBI_HIGH,
        ),
        Subscale(
            "work_related",
            "Work-related burnout",
            items=(7, 8, 9, 10, 11, 12, 13),
            reversed_items=(13,),
            min_answered=4,
            reliability=_cbi_reliability(0.87),
            cutoff=_CBI_HIGH,
        ),
        Subscale(
            "client_related",
            "Client-related burnout",
            items=(14, 15, 16, 17, 18, 19),
            min_answered=3,
            reliability=_cbi_reliability(0.85),
            cutoff=_CBI_HIGH,
        ),
    ),
    # The 50-point line is the instrument's one published threshold; we treat meeting it
    # as the "clinical" side for clinically significant change on each scale.
    clinical_cutoff=_CBI_HIGH,
    headline_scale="work_related",
    # The published wording (Kristensen et al. 2005, appendix), in the registry's item order
    # (see above). Items 7-9 and 14-17 are answered "to a ... degree", the others "how often".
    item_text=(
        "How often do you feel tired?",
        "How often are you physically exhausted?",
        "How often are you emotionally exhausted?",
        "How often do you think: “I can’t take it anymore”?",
        "How often do you feel worn out?",
        "How often do you feel weak and susceptible to illness?",
        "Is your work emotionally exhausting?",
        "Do you feel burnt out because of your work?",
        "Does your work frustrate you?",
        "Do you feel worn out at the end of the working day?",
        "Are you exhausted in the morning at the thought of another day at work?",
        "Do you feel that every working hour is tiring for you?",
        "Do you have enough energy for family and friends during leisure time?",
        "Do you find it hard to work with clients?",
        "Do you find it frustrating to work with clients?",
        "Does it drain your energy to work with clients?",
        "Do you feel that you give more than you get back when you work with clients?",
        "Are you tired of working with clients?",
        "Do you sometimes wonder how long you will be able to continue working with clients?",
    ),
    response_labels=(
        "Never, almost never / To a very low degree",
        "Seldom / To a low degree",
        "Sometimes / Somewhat",
        "Often / To a high degree",
        "Always / To a very high degree",
    ),
    notes=(
        "Answer codes 0-4, points = 25 x code; item 13 reversed (100 - 25 x code).",
        "Scale score = mean of answered items; at least half the scale's items (verify).",
        "Client-related scale only for people who work with clients; leave its items empty.",
    ),
)

_PCOMS_LICENCE: Final = (
    "Collected under the user's own licence. Free only for individual clinicians on paper; "
    "electronic versions need a paid licence. Practitioner-entered total only: no item "
    "wording, no visual analogue widget, no PCOMS branding."
)

# Miller SD, Duncan BL, Brown J, Sparks JA, Claud DA. The Outcome Rating Scale: a
# preliminary study of the reliability, validity, and feasibility of a brief visual analog
# measure. J Brief Therapy. 2003;2(2):91-100. Adult clinical cutoff 25, reliable change 5.
ORS: Final = Instrument(
    code="ors",
    name="ORS (Outcome Rating Scale)",
    short_name="ORS",
    item_count=0,
    item_min=0,
    item_max=0,
    direction="higher_is_better",
    total_min=0,
    total_max=40,
    scoring="entered_total",
    licence=_PCOMS_LICENCE,
    citation="Miller, Duncan, Brown, Sparks & Claud 2003, J Brief Therapy 2:91-100",
    clinical_cutoff=Cutoff(25, "<", "adult clinical range", "Miller et al. 2003"),
    # r = 0.80 (**verify**: Miller et al. 2003 report several reliability figures). sd_ref is
    # back-derived so that the minimum reliable change equals the published 5 points:
    # 5 / (1.96 * sqrt(2) * sqrt(1 - 0.80)) = 4.034. **verify**.
    reliability=Reliability(
        r=0.80,
        r_type="test_retest",
        sd_ref=4.034,
        citation="Miller et al. 2003; SD_ref back-derived from the 5-point anchor (verify)",
        verify=True,
    ),
    reliable_change_anchor=5,
)

# Duncan BL, Miller SD, Sparks JA, et al. The Session Rating Scale: preliminary psychometric
# properties of a "working" alliance measure. J Brief Therapy. 2003;3(1):3-12.
# A total around 36 or below signals an alliance concern (threshold and operator are
# configuration; **verify** for the practice's population). No RCI figures are shipped.
SRS: Final = Instrument(
    code="srs",
    name="SRS (Session Rating Scale)",
    short_name="SRS",
    item_count=0,
    item_min=0,
    item_max=0,
    direction="higher_is_better",
    total_min=0,
    total_max=40,
    scoring="entered_total",
    licence=_PCOMS_LICENCE,
    citation="Duncan, Miller, Sparks et al. 2003, J Brief Therapy 3:3-12",
    concern_cutoff=Cutoff(36, "<=", "alliance concern", "Duncan et al. 2003 (verify)"),
)


def build_registry(*instruments: Instrument) -> Mapping[str, Instrument]:
    """A read-only code → instrument mapping; duplicate codes are an error."""
    registry: dict[str, Instrument] = {}
    for instrument in instruments:
        if instrument.code in registry:
            raise ValueError(f"duplicate instrument code {instrument.code!r}")
        registry[instrument.code] = instrument
    return MappingProxyType(registry)


INSTRUMENTS: Final[Mapping[str, Instrument]] = build_registry(PHQ9, GAD7, CBI, ORS, SRS)


def get_instrument(code: str) -> Instrument | None:
    """The shipped instrument with this code, or None."""
    return INSTRUMENTS.get(code)


def instrument_name(code: str) -> str:
    """The display name of an instrument code; an unknown code is shown as it is."""
    instrument = INSTRUMENTS.get(code)
    return instrument.short_name if instrument is not None else code


# --------------------------------------------------------------------------------------------
# Validation (used by the API before anything is written)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field: ``loc`` as in a 422 body (e.g. ``("items", 3)``), ``msg`` for people."""

    loc: tuple[str | int, ...]
    msg: str


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_measure(
    code: str,
    items: Sequence[int | None] | None,
    total: float | None,
    *,
    registry: Mapping[str, Instrument] = INSTRUMENTS,
) -> list[FieldProblem]:
    """Every problem with one measure's input; an empty list means it may be stored.

    ``None`` inside ``items`` is an unanswered item and is accepted: whether the total can
    still be scored is the scorer's decision (PHQ-9 prorates, CBI needs half of each scale),
    and an incomplete PHQ-9 must still be stored so that item 9 can raise the safety flag.
    """
    instrument = registry.get(code)
    if instrument is None:
        return [FieldProblem(("instrument",), f"unknown instrument {code!r}")]
    name = instrument.short_name
    problems: list[FieldProblem] = []
    if instrument.total_only:
        if items is not None:
            problems.append(
                FieldProblem(
                    ("items",),
                    f"{name} is stored as a total only; item answers are not accepted",
                )
            )
        lo, hi = _fmt(instrument.total_min), _fmt(instrument.total_max)
        if total is None:
            problems.append(FieldProblem(("total",), f"{name} needs a total between {lo} and {hi}"))
        elif (
            not _is_number(total)
            or not math.isfinite(total)
            or not instrument.total_min <= total <= instrument.total_max
        ):
            problems.append(FieldProblem(("total",), f"{name} total must be between {lo} and {hi}"))
        return problems

    if total is not None:
        problems.append(
            FieldProblem(("total",), f"{name} is scored from its items; do not send a total")
        )
    if items is None:
        problems.append(
            FieldProblem(("items",), f"{name} needs {instrument.item_count} item answers")
        )
        return problems
    if len(items) != instrument.item_count:
        problems.append(
            FieldProblem(("items",), f"{name} has {instrument.item_count} items, got {len(items)}")
        )
        return problems
    for index, value in enumerate(items):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(
                FieldProblem(("items", index), f"item {index + 1} must be a whole number")
            )
        elif not instrument.item_min <= value <= instrument.item_max:
            problems.append(
                FieldProblem(
                    ("items", index),
                    f"item {index + 1} must be between {instrument.item_min} "
                    f"and {instrument.item_max}",
                )
            )
    return problems


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasureScore:
    """The server's scoring of one administration. Anything not computable is None."""

    instrument: str
    valid: bool
    total: float | None
    subscales: dict[str, float | None] = field(default_factory=dict)
    severity: str | None = None
    positive_screen: bool | None = None  # clinical cutoff met (None: no cutoff / no score)
    concern: bool | None = None  # concern cutoff met (SRS)
    subscale_high: dict[str, bool | None] = field(default_factory=dict)  # scale cutoff met
    answered_items: int = 0
    missing_items: int = 0
    prorated: bool = False
    safety_item_score: int | None = None  # PHQ-9 item 9 answer, when answered
    problems: tuple[str, ...] = ()


def _round_half_up(value: float) -> float:
    return float(math.floor(value + 0.5))


def _safety_item_score(instrument: Instrument, items: Sequence[int | None] | None) -> int | None:
    if instrument.safety_item is None or items is None:
        return None
    index = instrument.safety_item - 1
    if index >= len(items):
        return None
    value = items[index]
    if isinstance(value, int) and not isinstance(value, bool):
        if instrument.item_min <= value <= instrument.item_max:
            return value
    return None


def _score_sum(instrument: Instrument, items: Sequence[int | None]) -> MeasureScore:
    answered = [v for v in items if v is not None]
    missing = len(items) - len(answered)
    safety = _safety_item_score(instrument, items)
    name = instrument.short_name
    if not answered or missing > instrument.max_missing_items:
        return MeasureScore(
            instrument=instrument.code,
            valid=False,
            total=None,
            answered_items=len(answered),
            missing_items=missing,
            safety_item_score=safety,
            problems=(
                f"{name}: {missing} of {instrument.item_count} items missing; at most "
                f"{instrument.max_missing_items} may be missing for a valid total",
            ),
        )
    raw = float(sum(answered))
    prorated = missing > 0
    # Prorating: mean of the answered items scaled to the full length, rounded half up to a
    # whole number so that published integer bands apply (PHQ-9: verify against manual).
    total = _round_half_up(raw * instrument.item_count / len(answered)) if prorated else raw
    cutoff = instrument.clinical_cutoff
    return MeasureScore(
        instrument=instrument.code,
        valid=True,
        total=total,
        severity=instrument.severity_for(total),
        positive_screen=cutoff.met(total) if cutoff is not None else None,
        answered_items=len(answered),
        missing_items=missing,
        prorated=prorated,
        safety_item_score=safety,
    )


def scale_item_points(instrument: Instrument, item_number: int, code: int) -> float:
    """Points (0-100) for one scale-means item answer; reversed items count 100 - points."""
    step = 100.0 / (instrument.item_max - instrument.item_min)
    points = (code - instrument.item_min) * step
    for scale in instrument.subscales:
        if item_number in scale.reversed_items:
            return 100.0 - points
    return points


def _score_scale_means(instrument: Instrument, items: Sequence[int | None]) -> MeasureScore:
    scales: dict[str, float | None] = {}
    high: dict[str, bool | None] = {}
    for scale in instrument.subscales:
        points = [
            scale_item_points(instrument, number, value)
            for number in scale.items
            if (value := items[number - 1]) is not None
        ]
        score = sum(points) / len(points) if points and len(points) >= scale.min_answered else None
        scales[scale.code] = score
        high[scale.code] = (
            None if score is None or scale.cutoff is None else scale.cutoff.met(score)
        )
    answered = sum(1 for v in items if v is not None)
    valid = any(v is not None for v in scales.values())
    return MeasureScore(
        instrument=instrument.code,
        valid=valid,
        total=None,
        subscales=scales,
        subscale_high=high,
        answered_items=answered,
        missing_items=len(items) - answered,
        problems=() if valid else ("no scale has at least half of its items answered",),
    )


def _score_entered_total(instrument: Instrument, total: float) -> MeasureScore:
    clinical, concern = instrument.clinical_cutoff, instrument.concern_cutoff
    return MeasureScore(
        instrument=instrument.code,
        valid=True,
        total=float(total),
        severity=instrument.severity_for(total),
        positive_screen=clinical.met(total) if clinical is not None else None,
        concern=concern.met(total) if concern is not None else None,
    )


def score_of(measure: MeasureFact) -> MeasureScore:
    """``score_measure`` of a client's measure, worked out once for the same answers (a page
    asks for each several times: figures, flags, charts; the next page asks again)."""
    return _score_answers(measure.instrument, measure.items, measure.total)


#: Answers scored lately, whoever gave them: each page of a long course scores hundreds of
#: questionnaires again. A score is a function of the instrument and the answers alone (never
#: of who or when), and is frozen; the bound keeps a worker's memory flat.
SCORED_ANSWERS_KEPT: Final = 4096
_NO_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)  # scoring never reads the time


@functools.lru_cache(maxsize=SCORED_ANSWERS_KEPT)
def _score_answers(
    instrument: str, items: tuple[int | None, ...] | None, total: float | None
) -> MeasureScore:
    return score_measure(MeasureFact(instrument, _NO_TIME, items, total))


def score_measure(
    fact: MeasureFact, *, registry: Mapping[str, Instrument] = INSTRUMENTS
) -> MeasureScore:
    """Score one administration. Bad input gives ``valid=False`` rather than an exception,
    but an answered safety item is still reported so it can never be lost."""
    instrument = registry.get(fact.instrument)
    if instrument is None:
        return MeasureScore(
            instrument=fact.instrument,
            valid=False,
            total=None,
            problems=(f"unknown instrument {fact.instrument!r}",),
        )
    problems = validate_measure(fact.instrument, fact.items, fact.total, registry=registry)
    if problems:
        return MeasureScore(
            instrument=instrument.code,
            valid=False,
            total=None,
            safety_item_score=_safety_item_score(instrument, fact.items),
            problems=tuple(p.msg for p in problems),
        )
    if instrument.scoring == "entered_total":
        assert fact.total is not None  # guaranteed by validate_measure
        return _score_entered_total(instrument, fact.total)
    assert fact.items is not None  # guaranteed by validate_measure
    if instrument.scoring == "scale_means":
        return _score_scale_means(instrument, fact.items)
    return _score_sum(instrument, fact.items)


# --------------------------------------------------------------------------------------------
# Reliable change (Jacobson & Truax 1991; DOMAIN.md §3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReliableChange:
    """Change from baseline to latest with its Reliable Change Index.

    ``change`` = latest - baseline in the instrument's units; ``rci`` = change / S_diff.
    """

    change: float
    rci: float
    reliable_change: ReliableChangeCategory
    clinically_significant: bool | None
    s_diff: float
    minimum_reliable_change: float
    z: float = RCI_Z


def rci_components(r: float, sd_ref: float) -> tuple[float, float]:
    """``(SE, S_diff)`` with SE = SD·√(1 - r) and S_diff = √2·SE (Jacobson & Truax 1991).

    Raises ValueError for r ≤ 0, r ≥ 1, SD ≤ 0 or non-finite inputs (never infinity).
    """
    if not (math.isfinite(r) and 0.0 < r < 1.0):
        raise ValueError(f"reliability r must be strictly between 0 and 1, got {r!r}")
    if not (math.isfinite(sd_ref) and sd_ref > 0.0):
        raise ValueError(f"reference SD must be a positive number, got {sd_ref!r}")
    se = sd_ref * math.sqrt(1.0 - r)
    return se, math.sqrt(2.0) * se


def reliable_change(
    instrument: Instrument,
    baseline_score: float,
    latest_score: float,
    *,
    scale: str | None = None,
) -> ReliableChange:
    """Jacobson & Truax (1991) Reliable Change Index, reliable when |RCI| > 1.96.

    For an instrument without a total (CBI) pass ``scale``: reliability and cutoff are then
    the scale's own. The direction of improvement follows ``instrument.direction``.
    ``clinically_significant`` is True when the change is reliable and the score crossed the
    cutoff in the same direction (clinical → non-clinical for an improvement, the reverse
    for a deterioration), False when it did not, None when there is no cutoff.
    """
    if scale is not None:
        sub = instrument.subscale(scale)
        if sub is None:
            raise ValueError(f"{instrument.code} has no scale {scale!r}")
        reliability, cutoff = sub.reliability, sub.cutoff
    else:
        if not instrument.has_total:
            raise ValueError(f"{instrument.code} has no total; pass a scale")
        reliability, cutoff = instrument.reliability, instrument.clinical_cutoff
    if reliability is None:
        raise ValueError(f"no reliability data configured for {instrument.code}")
    if not (math.isfinite(baseline_score) and math.isfinite(latest_score)):
        raise ValueError("scores must be finite numbers")
    _, s_diff = rci_components(reliability.r, reliability.sd_ref)
    change = float(latest_score) - float(baseline_score)
    rci = change / s_diff
    category: ReliableChangeCategory = "no_reliable_change"
    if abs(rci) > RCI_Z:
        better = rci < 0 if instrument.direction == "lower_is_better" else rci > 0
        category = "improved" if better else "deteriorated"
    significant: bool | None = None
    if cutoff is not None:
        was, now = cutoff.met(baseline_score), cutoff.met(latest_score)
        if category == "improved":
            significant = was and not now
        elif category == "deteriorated":
            significant = (not was) and now
        else:
            significant = False
    return ReliableChange(
        change=change,
        rci=rci,
        reliable_change=category,
        clinically_significant=significant,
        s_diff=s_diff,
        minimum_reliable_change=RCI_Z * s_diff,
    )
