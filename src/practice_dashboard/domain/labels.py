"""Display words: each stored value's one name on pages, printed reports and exports.

Flag names live with the flag definitions (``flags.flag_name``) and instrument names in the
registry (``Instrument.short_name``); every other word a person reads for a stored value is
here, so a page, a PDF and a chart can never call one thing by two names.

Zones are offered in two vocabularies. Polyvagal theory's physiological claims are contested
(DOMAIN.md §4.2), so its words are the practitioner's observation vocabulary, never a
measurement; the stored values stay within / hyper / hypo.
"""

from __future__ import annotations

from typing import Final

from practice_dashboard.domain.conventions import UNVERIFIED_NOTE, convention_name
from practice_dashboard.domain.instruments import INSTRUMENTS, Cutoff, instrument_name
from practice_dashboard.domain.metrics import MeasureProgress

ZONE_WORDS: Final[dict[str, dict[str, str]]] = {
    "window": {"within": "within window", "hyper": "hyperarousal", "hypo": "hypoarousal"},
    "polyvagal": {"within": "ventral", "hyper": "sympathetic", "hypo": "dorsal"},
}
ZONE_HINTS: Final[dict[str, dict[str, str]]] = {
    "window": {
        "within": "regulated: able to think, feel and act at once",
        "hyper": "above the window: fight/flight, agitation, panic",
        "hypo": "below the window: numbing, shutdown, collapse",
    },
    "polyvagal": {
        "within": "safe and social (observed, not measured)",
        "hyper": "mobilised: fight or flight (observed, not measured)",
        "hypo": "shutdown, freeze or collapse (observed, not measured)",
    },
}

#: A trend's direction (DESIGN.md "Metrics": Theil–Sen slope with a Mann–Kendall test).
TREND_WORDS: Final[dict[str, str]] = {
    "improving": "improving",
    "worsening": "worsening",
    "no_clear_trend": "no clear trend",
    "insufficient_data": "not enough data",
}
#: Arrows beside a recovery trend: down is faster recovery.
TREND_ARROWS: Final[dict[str, str]] = {
    "improving": "↓",
    "no_clear_trend": "→",
    "worsening": "↑",
    "insufficient_data": "",
}
#: The Reliable Change Index's verdict on a measure (Jacobson & Truax 1991).
RELIABLE_CHANGE_WORDS: Final[dict[str, str]] = {
    "improved": "reliable improvement",
    "deteriorated": "reliable deterioration",
    "no_reliable_change": "no reliable change",
}
#: Who reported a record: the practitioner, or the client themselves (check-in link, forms).
SOURCE_WORDS: Final[dict[str, str]] = {"practitioner": "practitioner", "client": "self-report"}
#: The actor of entries made through a client's check-in link, in the audit trail.
CHECKIN_ACTOR: Final = "client via check-in link"
#: A measure's latest administration, as its remarks say (issue 10: no signal dropped).
PRORATED_WORDS: Final = "prorated total (items missing)"
ITEM9_UNANSWERED_WORDS: Final = "item 9 left unanswered: ask directly"
#: Whether a reliable deterioration was seen at consecutive administrations (DOMAIN.md §3.4).
CONFIRMED_WORDS: Final[dict[bool, str]] = {
    True: "deterioration confirmed",
    False: "deterioration not yet confirmed",
}
ATTENDANCE_WORDS: Final[dict[str, str]] = {
    "scheduled": "scheduled",
    "attended": "attended",
    "no_show": "no-show",
    "late_cancel": "late cancel",
    "cancelled": "cancelled",
}
STATUS_WORDS: Final[dict[str, str]] = {
    "active": "Active",
    "paused": "Paused",
    "discharged": "Discharged",
}
ANNOTATION_KIND_WORDS: Final[dict[str, str]] = {
    "life_event": "Life event",
    "medication": "Medication",
    "care_change": "Change in care",
    "other": "Note",
}


#: The record kinds of a CSV file (exchange.csv.spec.CsvKind values), as download links say.
RECORD_KIND_WORDS: Final[dict[str, str]] = {
    "clients": "client details",
    "sessions": "sessions",
    "observations": "observations",
    "episodes": "activation episodes",
    "measures": "measures",
    "annotations": "timeline notes",
}


def _cutoff_words(cutoff: Cutoff) -> str:
    value = f"{cutoff.value:g}"
    return f"{cutoff.label} ({cutoff.operator} {value})"


def latest_remarks(p: MeasureProgress) -> tuple[str, ...]:
    """What the latest administration signals on its own: "positive screen (>= 10)",
    "alliance concern", "prorated total (items missing)", an unanswered PHQ-9 item 9."""
    instrument = INSTRUMENTS.get(p.instrument)
    remarks: list[str] = []
    if p.positive_screen and instrument is not None:
        sub = instrument.subscale(p.scale) if p.scale is not None else None
        cutoff = sub.cutoff if sub is not None and sub.cutoff else instrument.clinical_cutoff
        if cutoff is not None:
            remarks.append(_cutoff_words(cutoff))
    if p.concern and instrument is not None and instrument.concern_cutoff is not None:
        remarks.append(instrument.concern_cutoff.label)
    if p.prorated:
        remarks.append(PRORATED_WORDS)
    if p.item9_unanswered:
        remarks.append(ITEM9_UNANSWERED_WORDS)
    return tuple(remarks)


def verdict_remarks(p: MeasureProgress) -> tuple[str, ...]:
    """How the change was judged: the convention and its threshold, an unverified constant,
    and whether a deterioration is confirmed."""
    remarks: list[str] = []
    if p.convention is not None and p.minimum_reliable_change is not None:
        remarks.append(
            f"{convention_name(p.convention)}: reliable from "
            f"±{f'{p.minimum_reliable_change:.1f}'.removesuffix('.0')} points"
        )
    if p.unverified_constant:
        remarks.append(UNVERIFIED_NOTE)
    if p.reliable_change == "deteriorated" and p.confirmed is not None:
        remarks.append(CONFIRMED_WORDS[p.confirmed])
    return tuple(remarks)


def zone_word(zone: str, vocabulary: str) -> str:
    """A zone in the chosen vocabulary (window-of-tolerance words for an unknown one)."""
    return ZONE_WORDS.get(vocabulary, ZONE_WORDS["window"]).get(zone, zone)


def evidence_label(name: str) -> str:
    """A flag's evidence key in words, instrument codes by their names: "PHQ-9 change"."""
    return " ".join(instrument_name(word) for word in name.split("_"))


#: A duration of at least this many minutes reads in hours.
HOURS_FROM_MINUTES: Final = 120


def duration_words(minutes: float, *, long: bool = False) -> str:
    """A duration as words: "25 min" / "2.5 h", or with `long` "25 minutes" / "2.5 hours"."""
    if minutes >= HOURS_FROM_MINUTES:
        return f"{minutes / 60:.1f} {'hours' if long else 'h'}"
    return f"{minutes:.0f} {'minutes' if long else 'min'}"
