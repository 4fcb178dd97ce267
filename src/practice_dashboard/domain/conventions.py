"""Reliable-change conventions: the one home of "is this change real?" (DOMAIN.md §3.4).

A practice chooses, per instrument, how a change from the first administration is judged:

* ``jacobson_truax`` (the default; Jacobson & Truax 1991, DOMAIN.md §3.1): reliable when
  |RCI| > 1.96, with the instrument's reference SD and reliability. Each constant carries its
  citation and a ``verify`` mark; a verdict resting on a constant still marked ``verify`` says
  so wherever it is shown (``unverified_constant``).
* ``nhs_talking_therapies`` (PHQ-9 and GAD-7 only; DOMAIN.md §3.3): a change of at least 6
  PHQ-9 points or 4 GAD-7 points is reliable, and caseness is PHQ-9 >= 10 or GAD-7 >= 8.
  These are the programme's published fixed thresholds, not estimates, so they never rest on
  an unverified constant. The programme's cross-measure clause ("with no reliable worsening
  on the other measure") joins two instruments and is not applied per instrument here.

Everything here is pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, cast, get_args

from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    RCI_Z,
    Cutoff,
    Instrument,
    ReliableChangeCategory,
    rci_components,
    reliable_change,
)

ConventionCode = Literal["jacobson_truax", "nhs_talking_therapies"]

#: The convention an instrument follows unless the practice chooses another.
DEFAULT_CONVENTION: Final[ConventionCode] = "jacobson_truax"

#: What a verdict says when it rests on a reliability constant still marked **verify**.
UNVERIFIED_NOTE: Final = "reliable change threshold not yet verified against its source"

#: Share of stable clients (measurement error only) ever shown a measure-based deterioration
#: `alert` over a baseline and 12 monthly administrations, at the default confirmation rule,
#: from the latest run of ``python -m bench.flag_calibration.measures --seeds 1 2 3
#: --clients 1000`` (README "Measure deterioration: false alarms"); shown beside the flag.
FALSE_ALARMS: Final[Mapping[tuple[str, str], float]] = MappingProxyType(
    {
        ("phq9", "jacobson_truax"): 0.019,
        ("phq9", "nhs_talking_therapies"): 0.052,
        ("gad7", "jacobson_truax"): 0.039,
        ("gad7", "nhs_talking_therapies"): 0.166,
    }
)


@dataclass(frozen=True, slots=True)
class FixedThreshold:
    """A published fixed reliable-change threshold and caseness cutoff for one instrument."""

    minimum_change: float  # a change of at least this many points is reliable
    caseness: Cutoff


_NHS_CITATION: Final = (
    "NHS Talking Therapies for anxiety and depression manual (reliable change and caseness; "
    "DOMAIN.md §3.3)"
)


@dataclass(frozen=True, slots=True)
class Convention:
    """One reliable-change convention: its code, display name, source, instruments covered."""

    code: ConventionCode
    name: str
    citation: str
    # None: every instrument with reliability data; else only these instrument codes.
    fixed: Mapping[str, FixedThreshold] | None = None

    def covers(self, instrument: Instrument) -> bool:
        if self.fixed is None:
            return instrument.reliability is not None or any(
                s.reliability is not None for s in instrument.subscales
            )
        return instrument.code in self.fixed


JACOBSON_TRUAX: Final = Convention(
    code="jacobson_truax",
    name="Jacobson–Truax",
    citation="Jacobson & Truax 1991, J Consult Clin Psychol 59:12-19 (|RCI| > 1.96)",
)
NHS_TALKING_THERAPIES: Final = Convention(
    code="nhs_talking_therapies",
    name="NHS Talking Therapies",
    citation=_NHS_CITATION,
    fixed=MappingProxyType(
        {
            "phq9": FixedThreshold(6, Cutoff(10, ">=", "case", _NHS_CITATION)),
            "gad7": FixedThreshold(4, Cutoff(8, ">=", "case", _NHS_CITATION)),
        }
    ),
)

CONVENTIONS: Final[Mapping[str, Convention]] = MappingProxyType(
    {c.code: c for c in (JACOBSON_TRUAX, NHS_TALKING_THERAPIES)}
)
assert set(CONVENTIONS) == set(get_args(ConventionCode))


def convention_name(code: str) -> str:
    """The display name of a convention code ("NHS Talking Therapies")."""
    convention = CONVENTIONS.get(code)
    return convention.name if convention is not None else code.replace("_", " ")


def validate_conventions(
    choices: Mapping[str, str], *, registry: Mapping[str, Instrument] = INSTRUMENTS
) -> list[str]:
    """Every problem with a practice's ``{instrument code: convention code}`` choice."""
    problems: list[str] = []
    for code, convention_code in sorted(choices.items()):
        instrument = registry.get(code)
        convention = CONVENTIONS.get(convention_code)
        if instrument is None:
            known = ", ".join(sorted(registry))
            problems.append(f"unknown instrument {code!r} (known: {known})")
        elif convention is None:
            known = ", ".join(sorted(CONVENTIONS))
            problems.append(f"{code}: unknown convention {convention_code!r} (known: {known})")
        elif not convention.covers(instrument):
            problems.append(
                f"{code}: the {convention.name} convention does not cover "
                f"{instrument.short_name}"
                + (
                    f" (it covers {', '.join(sorted(convention.fixed))})"
                    if convention.fixed is not None
                    else " (it has no reliability data)"
                )
            )
    return problems


def as_convention_code(code: str) -> ConventionCode:
    """A checked convention code (ValueError for an unknown one)."""
    if code not in CONVENTIONS:
        raise ValueError(f"unknown reliable-change convention {code!r}")
    return cast(ConventionCode, code)


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeVerdict:
    """Baseline versus one later administration, judged by a convention.

    ``rci`` is the Jacobson–Truax index whenever the instrument has reliability data (it is a
    figure in its own right), even when another convention gives the verdict.
    """

    convention: ConventionCode
    change: float
    rci: float | None
    reliable_change: ReliableChangeCategory
    clinically_significant: bool | None
    minimum_reliable_change: float
    unverified_constant: bool


@dataclass(frozen=True, slots=True)
class ChangeRule:
    """How one instrument (or CBI scale) is judged: the threshold before any scores."""

    convention: ConventionCode
    minimum_reliable_change: float
    unverified_constant: bool


def change_rule(
    instrument: Instrument, convention: ConventionCode, *, scale: str | None = None
) -> ChangeRule | None:
    """The rule in force for one instrument (scale); None when it has no rule at all.

    A convention that does not cover the instrument falls back to Jacobson–Truax (settings
    refuse such a choice at start; this keeps the function total).
    """
    chosen = CONVENTIONS[convention]
    if chosen.fixed is not None and scale is None and instrument.code in chosen.fixed:
        threshold = chosen.fixed[instrument.code]
        return ChangeRule(chosen.code, threshold.minimum_change, unverified_constant=False)
    reliability = (
        instrument.reliability
        if scale is None
        else getattr(instrument.subscale(scale), "reliability", None)
    )
    if reliability is None:
        return None
    _, s_diff = rci_components(reliability.r, reliability.sd_ref)
    return ChangeRule("jacobson_truax", RCI_Z * s_diff, unverified_constant=reliability.verify)


def change_verdict(
    instrument: Instrument,
    baseline_score: float,
    score: float,
    convention: ConventionCode,
    *,
    scale: str | None = None,
) -> ChangeVerdict | None:
    """The verdict on ``score`` versus ``baseline_score``; None when no rule applies.

    Jacobson–Truax: reliable when |RCI| > 1.96 (strictly). NHS Talking Therapies: reliable
    when the change is at least the fixed threshold (PHQ-9 6, GAD-7 4), clinically
    significant when it also crosses caseness (a case at the start and not at the end, or
    the reverse for a deterioration).
    """
    rule = change_rule(instrument, convention, scale=scale)
    if rule is None:
        return None
    jt = None
    has_reliability = (
        instrument.reliability is not None
        if scale is None
        else getattr(instrument.subscale(scale), "reliability", None) is not None
    )
    if has_reliability:
        jt = reliable_change(instrument, baseline_score, score, scale=scale)
    if rule.convention == "jacobson_truax":
        assert jt is not None  # a Jacobson-Truax rule exists only with reliability data
        return ChangeVerdict(
            convention=rule.convention,
            change=jt.change,
            rci=jt.rci,
            reliable_change=jt.reliable_change,
            clinically_significant=jt.clinically_significant,
            minimum_reliable_change=rule.minimum_reliable_change,
            unverified_constant=rule.unverified_constant,
        )
    fixed = NHS_TALKING_THERAPIES.fixed
    assert fixed is not None
    threshold = fixed[instrument.code]
    change = float(score) - float(baseline_score)
    category: ReliableChangeCategory = "no_reliable_change"
    if abs(change) >= threshold.minimum_change:
        better = change < 0 if instrument.direction == "lower_is_better" else change > 0
        category = "improved" if better else "deteriorated"
    was, now = threshold.caseness.met(baseline_score), threshold.caseness.met(score)
    significant = False
    if category == "improved":
        significant = was and not now
    elif category == "deteriorated":
        significant = (not was) and now
    return ChangeVerdict(
        convention=rule.convention,
        change=change,
        rci=jt.rci if jt is not None else None,
        reliable_change=category,
        clinically_significant=significant,
        minimum_reliable_change=rule.minimum_reliable_change,
        unverified_constant=False,
    )
