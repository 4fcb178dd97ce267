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

from practice_dashboard.domain.instruments import instrument_name

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
