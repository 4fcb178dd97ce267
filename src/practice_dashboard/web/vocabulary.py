"""Display words for zones: window-of-tolerance words or polyvagal words (display only).

Polyvagal theory's physiological claims are contested (DOMAIN.md §4.2), so its words are
offered as the practitioner's observation vocabulary, never as a measurement; the stored
values stay within / hyper / hypo.
"""

from __future__ import annotations

from typing import Final, Literal

Vocabulary = Literal["window", "polyvagal"]

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


def zone_word(zone: str, vocabulary: str) -> str:
    return ZONE_WORDS.get(vocabulary, ZONE_WORDS["window"]).get(zone, zone)
