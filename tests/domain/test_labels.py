"""Display words: one word for every stored value a person reads."""

from __future__ import annotations

from typing import get_args

import pytest

from practice_dashboard.domain.facts import Attendance, ClientStatus, Zone
from practice_dashboard.domain.instruments import ReliableChangeCategory
from practice_dashboard.domain.labels import (
    ANNOTATION_KIND_WORDS,
    ATTENDANCE_WORDS,
    RELIABLE_CHANGE_WORDS,
    STATUS_WORDS,
    TREND_ARROWS,
    TREND_WORDS,
    ZONE_HINTS,
    ZONE_WORDS,
    duration_words,
    evidence_label,
    zone_word,
)
from practice_dashboard.domain.stats import TrendDirection
from practice_dashboard.models.annotation import AnnotationKind


class TestEveryValueHasAWord:
    def test_each_stored_value_is_named(self) -> None:
        assert set(TREND_WORDS) == set(TREND_ARROWS) == set(get_args(TrendDirection))
        assert set(RELIABLE_CHANGE_WORDS) == set(get_args(ReliableChangeCategory))
        assert set(ATTENDANCE_WORDS) == {a.value for a in Attendance}
        assert set(STATUS_WORDS) == {s.value for s in ClientStatus}
        assert set(ANNOTATION_KIND_WORDS) == {k.value for k in AnnotationKind}
        for vocabulary in ("window", "polyvagal"):
            assert set(ZONE_WORDS[vocabulary]) == set(ZONE_HINTS[vocabulary])
            assert set(ZONE_WORDS[vocabulary]) == {z.value for z in Zone}

    def test_zone_words_fall_back_to_the_window_vocabulary(self) -> None:
        assert zone_word("hyper", "polyvagal") == "sympathetic"
        assert zone_word("hyper", "unknown") == "hyperarousal"


class TestEvidence:
    def test_instrument_codes_read_as_their_names(self) -> None:
        assert evidence_label("phq9_change") == "PHQ-9 change"
        assert evidence_label("cbi_work_related_change") == "CBI work related change"
        assert evidence_label("days_since_last_data") == "days since last data"


class TestDurationWords:
    """One rule for durations on pages, charts and hovers: hours from 120 minutes on."""

    @pytest.mark.parametrize(
        ("minutes", "short", "long"),
        [
            (0, "0 min", "0 minutes"),
            (25.4, "25 min", "25 minutes"),
            (119, "119 min", "119 minutes"),
            (120, "2.0 h", "2.0 hours"),
            (150, "2.5 h", "2.5 hours"),
        ],
    )
    def test_short_and_long(self, minutes: float, short: str, long: str) -> None:
        assert duration_words(minutes) == short
        assert duration_words(minutes, long=True) == long
