"""The form registry: every field names a schema field, and ranges are the schema's own."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from practice_dashboard.domain.instruments import INSTRUMENTS
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.schemas.session import SessionCreate
from practice_dashboard.schemas.user import UserCreate
from practice_dashboard.web.forms import FieldSpec, parse_fields
from practice_dashboard.web.forms.ranges import limits
from practice_dashboard.web.forms.registry import (
    ACCOUNT_FIELDS,
    ACCOUNT_MESSAGES,
    LOG_FORMS,
    annotation_fields,
    episode_fields,
    measure_fields,
    observation_fields,
    session_fields,
)

LONDON = ZoneInfo("Europe/London")
FORMS: list[tuple[type[BaseModel], tuple[FieldSpec, ...]]] = [
    (SessionCreate, session_fields()),
    (ObservationCreate, observation_fields("window", ())),
    (EpisodeCreate, episode_fields(())),
    (AnnotationCreate, annotation_fields()),
]


class TestRangesComeFromTheSchemas:
    @pytest.mark.parametrize(("schema", "fields"), FORMS)
    def test_every_schema_field_of_a_form_is_in_its_schema(
        self, schema: type[BaseModel], fields: tuple[FieldSpec, ...]
    ) -> None:
        for spec in fields:
            if spec.in_schema:
                assert spec.name in schema.model_fields, spec.name

    @pytest.mark.parametrize(("schema", "fields"), FORMS)
    def test_numbers_and_lengths_are_the_schemas(
        self, schema: type[BaseModel], fields: tuple[FieldSpec, ...]
    ) -> None:
        for spec in fields:
            if not spec.in_schema:  # a form-only input (the episode's times after onset)
                continue
            declared = limits(schema, spec.name)
            assert (spec.lo, spec.hi) == (declared.lo, declared.hi), spec.name
            if spec.kind in ("text", "textarea"):
                assert spec.max_length == declared.max_length, spec.name

    def test_known_ranges(self) -> None:
        by_name = {s.name: s for s in observation_fields("window", ())}
        assert (by_name["activation"].lo, by_name["activation"].hi) == (0, 10)
        assert (by_name["capacity"].lo, by_name["capacity"].hi) == (0, 10)
        duration = next(s for s in session_fields() if s.name == "duration_minutes")
        assert (duration.lo, duration.hi) == (1, 480)
        label = next(s for s in annotation_fields() if s.name == "label")
        assert label.max_length == 200
        notes = next(s for s in episode_fields(()) if s.name == "notes")
        assert notes.max_length == 10_000

    def test_a_total_only_instrument_uses_its_own_range(self) -> None:
        ors = INSTRUMENTS["ors"]
        total = next(s for s in measure_fields(ors) if s.name == "total")
        assert (total.lo, total.hi) == (ors.total_min, ors.total_max)

    def test_account_messages_carry_the_schemas_numbers(self) -> None:
        name, password = limits(UserCreate, "full_name"), limits(UserCreate, "password")
        assert f"up to {name.max_length} characters" in ACCOUNT_MESSAGES["full_name"]
        assert f"at least {password.min_length} characters" in ACCOUNT_MESSAGES["password"]
        assert f"at most {password.max_length} characters" in ACCOUNT_MESSAGES["password_too_long"]
        assert ACCOUNT_FIELDS["password"].min_length == 12

    def test_every_logging_form_is_registered_once(self) -> None:
        assert sorted(LOG_FORMS) == [
            "annotations",
            "episodes",
            "measures",
            "observations",
            "sessions",
        ]


class TestDateTimePair:
    baseline = next(s for s in episode_fields(()) if s.name == "baseline_at")

    def test_both_halves_make_one_time(self) -> None:
        values, errors = parse_fields(
            [self.baseline], {"baseline_at_date": "2026-07-01", "baseline_at_time": "12:00"}, LONDON
        )
        assert errors == {}
        assert values == {"baseline_at": datetime(2026, 7, 1, 11, 0, tzinfo=UTC)}

    def test_neither_half_is_left_out(self) -> None:
        values, errors = parse_fields(
            [self.baseline], {"baseline_at_date": " ", "baseline_at_time": ""}, LONDON
        )
        assert (values, errors) == ({}, {})

    @pytest.mark.parametrize(
        "raw",
        [
            {"baseline_at_date": "2026-07-01", "baseline_at_time": ""},
            {"baseline_at_date": "", "baseline_at_time": "12:00"},
            {"baseline_at_time": "12:00"},
        ],
    )
    def test_one_half_is_a_field_error(self, raw: dict[str, str]) -> None:
        values, errors = parse_fields([self.baseline], raw, LONDON)
        assert values == {}
        assert errors == {"baseline_at": "Enter both the date and the time, or neither."}

    def test_a_required_pair_asks_for_both(self) -> None:
        onset = next(s for s in episode_fields(()) if s.name == "started_at")
        _values, errors = parse_fields([onset], {"started_at_time": "12:00"}, LONDON)
        assert errors == {"started_at": "Enter both the date and the time."}
