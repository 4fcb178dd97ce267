"""Faster, safer logging (issue 9, item 6), as the server draws and reads the forms.

The keystrokes themselves are counted in a real browser (tests/browser/test_keyboard.py);
here: the tab order the forms are drawn in, episode times typed after onset, and date inputs
that a stray arrow key cannot change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from practice_dashboard.db import DbSession
from practice_dashboard.models import Episode, Observation
from practice_dashboard.web.forms import FieldProblem, FieldSpec, parse_after, parse_pair
from tests.html import parse
from tests.web import test_log_forms
from tests.web.test_log_forms import (
    DATETIME_FIELDS,
    DAY,
    FORMS,
    GOOD,
    Practice,
    assert_message_next_to,
    count,
    fresh_form,
    pair,
    post,
    submitted_values,
    the_form,
)

LONDON = ZoneInfo("Europe/London")
practice = test_log_forms.practice  # the fixture: a practitioner, a client, logged in


def controls(url_page: str) -> list[str]:
    """The names of a form's visible controls, in the order Tab reaches them."""
    form = the_form(parse(url_page))
    names: list[str] = []
    for node in form.iter():
        if node.tag in ("input", "select", "textarea") and node.attrs.get("type") != "hidden":
            name = node.attrs["name"]
            if name not in names:
                names.append(name)
    return names


def episode(**typed: str) -> dict[str, str]:
    """Good episode input with onset 09:00 on DAY and the later times as `typed`."""
    return {
        **GOOD["episodes"],
        **pair("recognized_at", ""),
        **pair("baseline_at", ""),
        **typed,
    }


class TestTabOrder:
    def test_observation_starts_with_zone_then_activation(
        self, api: TestClient, practice: Practice
    ) -> None:
        response = api.get(practice.url("observations"))
        order = controls(response.text)
        assert order[:2] == ["zone", "activation"]
        page = parse(response.text)
        focused = [n for n in the_form(page).iter() if "autofocus" in n.attrs]
        assert [(n.attrs["name"], n.attrs["type"]) for n in focused] == [("zone", "radio")]

    def test_episode_times_after_onset_come_right_after_it(
        self, api: TestClient, practice: Practice
    ) -> None:
        order = controls(api.get(practice.url("episodes")).text)
        assert order[:5] == [
            "started_at_date",
            "started_at_time",
            "recognized_after",
            "baseline_after",
            "peak_intensity",
        ]

    def test_an_observation_needs_only_zone_and_activation(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        before = datetime.now(UTC).replace(second=0, microsecond=0)
        _page, values = fresh_form(api, practice.url("observations"))
        response = post(
            api, practice.url("observations"), {**values, "zone": "hyper", "activation": "7"}
        )
        assert response.status_code == 303
        saved = db.get(Observation, uuid.UUID(values["form_id"]))
        assert saved is not None
        assert (saved.zone, saved.activation, saved.source.value) == ("hyper", 7, "practitioner")
        # The time defaulted to now (to the minute, as drawn).
        assert before - timedelta(minutes=1) <= saved.observed_at <= datetime.now(UTC)


class TestEpisodeTimesAfterOnset:
    def test_minutes_after_onset(self, api: TestClient, db: DbSession, practice: Practice) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **episode(recognized_after="+5", baseline_after="+40")}
        assert post(api, practice.url("episodes"), data).status_code == 303
        saved = db.get(Episode, uuid.UUID(values["form_id"]))
        assert saved is not None
        assert (saved.recognition_minutes, saved.recovery_minutes) == (5, 40)

    def test_clock_times_on_the_onsets_day(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **episode(recognized_after="9:05", baseline_after="09:40")}
        assert post(api, practice.url("episodes"), data).status_code == 303
        saved = db.get(Episode, uuid.UUID(values["form_id"]))
        assert saved is not None
        assert (saved.recognition_minutes, saved.recovery_minutes) == (5, 40)

    def test_only_one_way_per_time(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {
            **values,
            **episode(baseline_after="+40", **pair("baseline_at", f"{DAY}T09:45")),
        }
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        assert_message_next_to(parse(response.text), "baseline_after", "not both")
        assert count(db, Episode, practice.client) == 0

    @pytest.mark.parametrize("text", ["soon", "25:70", "+1000", "-5", "9"])
    def test_unreadable_is_a_field_error_and_kept(
        self, api: TestClient, db: DbSession, practice: Practice, text: str
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **episode(recognized_after="+5", baseline_after=text)}
        if text == "9":  # nine minutes after onset is a good answer
            assert post(api, practice.url("episodes"), data).status_code == 303
            return
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "baseline_after", "minutes after onset, like +25")
        kept = submitted_values(the_form(page))
        assert (kept["baseline_after"], kept["recognized_after"]) == (text, "+5")
        assert count(db, Episode, practice.client) == 0

    def test_a_time_before_onset_is_refused_next_to_it(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **episode(recognized_after="08:55")}
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        assert_message_next_to(parse(response.text), "recognized_after", "must not be before")
        assert count(db, Episode, practice.client) == 0

    def test_a_time_after_onset_needs_a_readable_onset(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **episode(baseline_after="+40", started_at_date="31/02")}
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "baseline_after", "onset's date and time first")
        assert_message_next_to(page, "started_at", "like 2026-05-31")
        assert count(db, Episode, practice.client) == 0


class TestParseAfter:
    """Europe/London: a clock time is read on the onset's day in the practice's zone."""

    def test_minutes_and_clock_times(self) -> None:
        onset = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 09:00 BST
        assert parse_after("+25", onset, LONDON) == onset + timedelta(minutes=25)
        assert parse_after("25 min", onset, LONDON) == onset + timedelta(minutes=25)
        assert parse_after("09:40", onset, LONDON) == datetime(2026, 7, 1, 8, 40, tzinfo=UTC)
        assert parse_after("  ", onset, LONDON) is None

    def test_the_onsets_local_day_not_utcs(self) -> None:
        # 00:30 BST on 2 July is 23:30 UTC on 1 July; "01:00" is on 2 July, local.
        onset = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
        assert parse_after("01:00", onset, LONDON) == datetime(2026, 7, 2, 0, 0, tzinfo=UTC)

    @pytest.mark.parametrize("text", ["24:00", "9:5", "1430", "+-3", "half an hour"])
    def test_anything_else_is_a_problem(self, text: str) -> None:
        with pytest.raises(FieldProblem, match="like \\+25"):
            parse_after(text, datetime(2026, 7, 1, 8, tzinfo=UTC), LONDON)


class TestDateInputs:
    @pytest.mark.parametrize("what", FORMS)
    def test_dates_are_typed_in_the_practice_format(
        self, api: TestClient, practice: Practice, what: str
    ) -> None:
        page = parse(api.get(practice.url(what)).text)
        form = the_form(page)
        assert not [n for n in form.iter() if n.attrs.get("type") == "date"]
        dates = [n for n in form.iter() if n.attrs.get("name", "").endswith("_date")]
        assert dates, what
        for node in dates:
            # A text input, not a date picker: arrow keys do not change it, and it shows the
            # same YYYY-MM-DD the form reads and the label names.
            assert node.attrs["type"] == "text"
            assert node.attrs["pattern"] == "[0-9]{4}-[0-9]{2}-[0-9]{2}"
            label = page.one("label", **{"for": node.attrs["id"]})
            assert "YYYY-MM-DD" in label.words()
            date.fromisoformat(node.attrs["value"] or DAY)

    @pytest.mark.parametrize("path", ["/clients/{id}", "/clients/{id}/summary", "/audit"])
    def test_period_dates_are_text_in_the_same_format(
        self, api: TestClient, practice: Practice, path: str
    ) -> None:
        page = parse(api.get(path.format(id=practice.client.id)).text)
        assert not [n for n in page.iter() if n.attrs.get("type") == "date"]
        dates = [n for n in page.iter() if n.attrs.get("placeholder") == "YYYY-MM-DD"]
        assert len(dates) == 2, path  # from and to
        for node in dates:
            assert node.attrs["pattern"] == "[0-9]{4}-[0-9]{2}-[0-9]{2}"
            if node.attrs.get("value"):
                date.fromisoformat(node.attrs["value"])

    @pytest.mark.parametrize("what", FORMS)
    def test_every_date_time_pair_is_held_to_both_or_neither(
        self, api: TestClient, practice: Practice, what: str
    ) -> None:
        """Every pair a form draws is in the half-typed tests of test_log_forms.py."""
        names = controls(api.get(practice.url(what)).text)
        pairs = {n.removesuffix("_date") for n in names if n.endswith("_date")}
        assert pairs == {name for form, name in DATETIME_FIELDS if form == what}


class TestTypedTimes:
    """A pair's time is typed text on a 24-hour clock; anything else is refused, never blank."""

    SPEC = FieldSpec("at", "At", "datetime", required=True)

    @pytest.mark.parametrize("text", ["14:30", "1430", "14.30"])
    def test_ways_to_type_half_past_two(self, text: str) -> None:
        raw = {"at_date": "2026-07-01", "at_time": text}
        assert parse_pair(self.SPEC, raw, LONDON) == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)

    def test_a_single_digit_hour(self) -> None:
        raw = {"at_date": "2026-07-01", "at_time": "9:05"}
        assert parse_pair(self.SPEC, raw, LONDON) == datetime(2026, 7, 1, 8, 5, tzinfo=UTC)

    @pytest.mark.parametrize("text", ["23", "2:3", "24:00", "12:60", "2 pm", "14:30:00"])
    def test_a_partly_typed_or_unreadable_time_is_a_problem(self, text: str) -> None:
        with pytest.raises(FieldProblem, match="24-hour clock, like 14:30"):
            parse_pair(self.SPEC, {"at_date": "2026-07-01", "at_time": text}, LONDON)
