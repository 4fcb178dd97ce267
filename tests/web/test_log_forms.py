"""The fast logging forms: defaults, saving, per-field messages, one-time ids, access, escaping."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import (
    Annotation,
    AnnotationKind,
    Client,
    Episode,
    Measure,
    Observation,
    Session,
    User,
)
from practice_dashboard.models.enums import (
    Attendance,
    HomeworkCompletion,
    Role,
    SessionKind,
    Source,
    Zone,
)
from practice_dashboard.security import csrf_token_matches
from practice_dashboard.web.forms import parse_local_datetime
from practice_dashboard.web.forms.parsing import FieldProblem
from practice_dashboard.web.routes.log_forms import common as log_forms
from practice_dashboard.web.templating import templates
from tests.builders import (
    earlier_today,
    login_cookies,
    make_client,
    make_session,
    make_user,
    supervise,
)
from tests.html import Node, parse

SCRIPT = "<script>alert(1)</script>"
LONDON = ZoneInfo("Europe/London")
FORMS = ("sessions", "observations", "episodes", "measures", "annotations")
MODELS: dict[str, type[Any]] = {
    "sessions": Session,
    "observations": Observation,
    "episodes": Episode,
    "measures": Measure,
    "annotations": Annotation,
}

# --------------------------------------------------------------------------------------------
# Pages, read as a DOM (tests/html.py)
# --------------------------------------------------------------------------------------------


def the_form(page: Node) -> Node:
    return page.one("form", id="log-form")


def submitted_values(form: Node) -> dict[str, str]:
    """What a browser would send for this form as drawn (first value of each name)."""
    values: dict[str, str] = {}
    for node in form.iter():
        name = node.attrs.get("name")
        if not name or "disabled" in node.attrs:
            continue
        if node.tag == "input":
            kind = node.attrs.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in node.attrs:
                    values.setdefault(name, node.attrs.get("value", "on"))
            else:
                values.setdefault(name, node.attrs.get("value", ""))
        elif node.tag == "textarea":
            values.setdefault(name, node.text.removeprefix("\n"))
        elif node.tag == "select":
            options = node.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            values.setdefault(name, chosen[0].attrs.get("value", "") if chosen else "")
    return values


def control(page: Node, name: str) -> Node:
    """The input, select or textarea called `name` (the first radio of a group)."""
    found = [
        n
        for n in the_form(page).iter()
        if n.tag in ("input", "select", "textarea") and n.attrs.get("name") == name
    ]
    assert found, f"no control named {name}"
    return found[0]


def assert_message_next_to(page: Node, name: str, words: str) -> None:
    """The field is marked invalid and described by a message containing `words`."""
    # A date-time pair is two inputs (NAME_date, NAME_time) sharing the field's message.
    names = {name, f"{name}_date", f"{name}_time"}
    for node in [n for n in the_form(page).iter() if n.attrs.get("name") in names]:
        if node.tag == "input" and node.attrs.get("type") == "hidden":
            continue
        assert node.attrs.get("aria-invalid") == "true", f"{name} is not marked invalid"
        described = node.attrs.get("aria-describedby", "").split()
        assert f"{name}-error" in described, f"{name} is not described by its message"
    message = page.by_id(f"{name}-error")
    assert words.lower() in message.words().lower(), message.words()
    # "Next to": the message is inside the same field wrapper as its input.
    wrapper = message.parent
    assert wrapper is not None
    assert any(n.attrs.get("name") in names for n in wrapper.iter())


def summary_links(page: Node) -> list[str]:
    summary = page.by_id("error-summary")
    return [a.attrs["href"] for a in summary.find_all("a")]


def local_input(value: datetime) -> str:
    return value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def pair(name: str, local: str) -> dict[str, str]:
    """A local "YYYY-MM-DDTHH:MM" as the form's date-time pair called `name` ("" = both blank)."""
    date, _, time = local.partition("T")
    return {f"{name}_date": date, f"{name}_time": time}


def typed(values: dict[str, str], name: str) -> str:
    """The date-time pair called `name`, as typed, in one "YYYY-MM-DDTHH:MM"."""
    return f"{values[name + '_date']}T{values[name + '_time']}"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class Practice:
    owner: User
    client: Client
    csrf: str

    def url(self, what: str, query: str = "") -> str:
        return f"/clients/{self.client.id}/{what}/new{query}"


def log_in(api: TestClient, db: DbSession, settings: Settings, user: User) -> str:
    cookies, csrf = login_cookies(db, settings, user)
    db.commit()
    api.cookies.clear()
    api.cookies.update(cookies)
    return csrf


@pytest.fixture
def practice(api: TestClient, db: DbSession, settings: Settings) -> Practice:
    owner = make_user(db, settings, Role.THERAPIST)
    client = make_client(db, owner, display_name="Robin")
    csrf = log_in(api, db, settings, owner)
    return Practice(owner, client, csrf)


def fresh_form(api: TestClient, url: str) -> tuple[Node, dict[str, str]]:
    response = api.get(url)
    assert response.status_code == 200, response.text
    page = parse(response.text)
    return page, submitted_values(the_form(page))


def post(api: TestClient, url: str, data: dict[str, str]) -> Response:
    response: Response = api.post(url, data=data, follow_redirects=False)
    return response


def count(db: DbSession, model: type[Any], client: Client) -> int:
    return (
        db.scalar(select(func.count()).select_from(model).where(model.client_id == client.id)) or 0
    )


# A recent day in the practice's calendar, so that nothing typed is in the future.
DAY = (datetime.now(LONDON) - timedelta(days=3)).date().isoformat()

# Good input for each form, on top of the form's own defaults.
GOOD: dict[str, dict[str, str]] = {
    "sessions": {
        **pair("starts_at", f"{DAY}T14:30"),
        "duration_minutes": "60",
        "engagement": "7",
        "homework_assigned": "on",
        "homework_completed": "partial",
        "notes": "Worked on grounding",
    },
    "observations": {
        "zone": "hyper",
        "activation": "6",
        "capacity": "4",
        "notes": "Shoulders tight",
    },
    "episodes": {
        **pair("started_at", f"{DAY}T09:00"),
        **pair("recognized_at", f"{DAY}T09:05"),
        **pair("baseline_at", f"{DAY}T09:40"),
        "peak_intensity": "8",
        "trigger": "Raised voices",
        "trigger_category": "conflict",
        "strategies": "paced breathing, walk,, ",
        "self_compassion": "5",
    },
    "measures": {f"item_{n}": str(v) for n, v in enumerate([1, 2, 1, 0, 1, 2, 1, 0, 0], 1)},
    "annotations": {"kind": "medication", "label": "Started sertraline 50 mg"},
}


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


class TestFormsAsDrawn:
    @pytest.mark.parametrize("what", FORMS)
    def test_every_form_is_labelled_protected_and_focused(
        self, api: TestClient, practice: Practice, what: str
    ) -> None:
        page, values = fresh_form(api, practice.url(what))
        form = the_form(page)
        assert form.attrs["method"] == "post"
        assert csrf_token_matches(practice.csrf, values["csrf_token"])
        uuid.UUID(values["form_id"])  # a one-time id, made when the form was drawn
        labelled = {n.attrs["for"] for n in page.find_all("label")}
        for node in form.iter():
            if node.tag in ("input", "select", "textarea"):
                if node.attrs.get("type") == "hidden":
                    continue
                assert node.attrs.get("id") in labelled, f"no label for {node.attrs}"
        focused = [n for n in form.iter() if "autofocus" in n.attrs]
        assert len(focused) == 1
        first = next(
            n
            for n in form.iter()
            if n.tag in ("input", "select", "textarea") and n.attrs.get("type") != "hidden"
        )
        assert focused[0] is first
        assert form.one("button", type="submit")
        assert page.find_all(id="error-summary") == []

    def test_session_defaults(self, api: TestClient, practice: Practice) -> None:
        before = datetime.now(UTC).replace(second=0, microsecond=0)
        _page, values = fresh_form(api, practice.url("sessions"))
        shown = datetime.fromisoformat(typed(values, "starts_at")).replace(tzinfo=LONDON)
        assert before - timedelta(minutes=1) <= shown <= datetime.now(UTC)
        assert values["duration_minutes"] == "50"
        assert values["kind"] == SessionKind.THERAPY
        assert values["modality"] == "in_person"
        assert values["attendance"] == Attendance.ATTENDED
        assert values["homework_completed"] == ""
        assert "homework_assigned" not in values

    def test_a_coach_logs_coaching(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        coach = make_user(db, settings, Role.COACH)
        client = make_client(db, coach)
        log_in(api, db, settings, coach)
        _page, values = fresh_form(api, f"/clients/{client.id}/sessions/new")
        assert values["kind"] == SessionKind.COACHING

    def test_observation_defaults_and_zone_words(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        today = make_session(
            db, practice.client, starts_at=earlier_today(settings.timezone, timedelta(minutes=20))
        )
        make_session(db, practice.client, starts_at=datetime.now(UTC) - timedelta(days=3))
        db.commit()
        page, values = fresh_form(api, practice.url("observations"))
        assert values["source"] == Source.PRACTITIONER
        assert "zone" not in values  # no zone is assumed
        assert values["session_id"] == str(today.id)  # linked to today's session
        assert len(control(page, "session_id").find_all("option")) == 2  # none, or today's
        zone_labels = [page.one("label", for_=f"f-zone-{i}").words() for i in range(3)]
        assert zone_labels == ["within window", "hyperarousal", "hypoarousal"]
        assert "fight/flight" in page.by_id("f-zone-1-hint").words()

    def test_zone_words_follow_the_users_vocabulary(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        practice.owner.zone_vocabulary = "polyvagal"
        db.commit()
        page, values = fresh_form(api, practice.url("observations"))
        assert "session_id" not in values  # no session today: no choice offered
        labels = [page.one("label", for_=f"f-zone-{i}").words() for i in range(3)]
        assert labels == ["ventral", "sympathetic", "dorsal"]

    def test_phq9_item_by_item(self, api: TestClient, practice: Practice) -> None:
        page, values = fresh_form(api, practice.url("measures", "?instrument=phq9"))
        assert values["instrument"] == "phq9"
        assert values["source"] == Source.CLIENT
        items = [
            n
            for n in the_form(page).find_all("fieldset")
            if n.attrs["id"].startswith("group-item_")
        ]
        assert len(items) == 9
        assert "Thoughts that you would be better off dead" in items[8].one("legend").words()
        labels = [lab.words() for lab in items[0].find_all("label")]
        assert labels == [
            "0 Not at all",
            "1 Several days",
            "2 More than half the days",
            "3 Nearly every day",
            "No answer",
        ]
        chooser = page.one("nav", aria_label="Instrument")
        current = chooser.one("a", aria_current="page")
        assert current.words() == "PHQ-9"
        assert len(chooser.find_all("a")) == 5

    def test_cbi_groups_items_by_scale_with_the_published_wording(
        self, api: TestClient, practice: Practice
    ) -> None:
        page, _values = fresh_form(api, practice.url("measures", "?instrument=cbi"))
        titles = [h.words() for h in page.find_all("h4")]
        assert titles == ["Personal burnout", "Work-related burnout", "Client-related burnout"]
        # Kristensen et al. 2005, appendix: the reversed work-related item.
        assert page.by_id("group-item_13").one("legend").words() == (
            "13. Do you have enough energy for family and friends during leisure time?"
        )
        assert (
            "order of the paper form" not in page.one("ul", class_="instrument-notes muted").words()
        )

    @pytest.mark.parametrize("code", ["ors", "srs"])
    def test_ors_and_srs_are_a_total_only(
        self, api: TestClient, practice: Practice, code: str
    ) -> None:
        page, values = fresh_form(api, practice.url("measures", f"?instrument={code}"))
        assert "total" in values
        assert not [n for n in page.iter() if n.attrs.get("name", "").startswith("item_")]
        assert "paid licence" in page.by_id("licence-note").words()
        assert "collected under your own licence" in page.by_id("total-hint").words().lower()

    def test_unknown_instrument(self, api: TestClient, practice: Practice) -> None:
        assert api.get(practice.url("measures", "?instrument=nope")).status_code == 404


class TestSaving:
    @pytest.mark.parametrize("what", FORMS)
    def test_each_form_saves_and_goes_back_to_the_client(
        self, api: TestClient, db: DbSession, practice: Practice, what: str
    ) -> None:
        _page, values = fresh_form(api, practice.url(what))
        response = post(api, practice.url(what), {**values, **GOOD[what]})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == (
            f"/clients/{practice.client.id}?saved={what}/{values['form_id']}"
        )
        record = db.get(MODELS[what], uuid.UUID(values["form_id"]))  # stored under the form's id
        assert record is not None
        assert record.client_id == practice.client.id
        # The client page says what was saved, with a link to correct it.
        shown = parse(api.get(response.headers["location"]).text).by_id("saved-entry")
        assert shown.words().startswith("Saved:")
        assert shown.by_id("saved-correct").attrs["href"] == (
            f"/clients/{practice.client.id}/record/{what}/{values['form_id']}/edit"
        )

    def test_session_fields(self, api: TestClient, db: DbSession, practice: Practice) -> None:
        _page, values = fresh_form(api, practice.url("sessions"))
        post(api, practice.url("sessions"), {**values, **GOOD["sessions"]})
        session = db.get(Session, uuid.UUID(values["form_id"]))
        assert session is not None
        # 14:30 on the practice's clock (London), whatever the season, stored as UTC.
        typed = datetime.fromisoformat(f"{DAY}T14:30").replace(tzinfo=LONDON)
        assert session.starts_at == typed.astimezone(UTC)
        assert session.starts_at.tzinfo == UTC
        assert session.duration_minutes == 60
        assert session.attendance == Attendance.ATTENDED
        assert session.engagement == 7
        assert session.homework_assigned is True
        assert session.homework_completed == HomeworkCompletion.PARTIAL
        assert session.notes == "Worked on grounding"
        assert session.practitioner_id == practice.owner.id

    def test_observation_fields(self, api: TestClient, db: DbSession, practice: Practice) -> None:
        today = make_session(
            db, practice.client, starts_at=datetime.now(UTC) - timedelta(minutes=5)
        )
        db.commit()
        _page, values = fresh_form(api, practice.url("observations"))
        post(api, practice.url("observations"), {**values, **GOOD["observations"]})
        observation = db.get(Observation, uuid.UUID(values["form_id"]))
        assert observation is not None
        assert observation.zone == Zone.HYPER
        assert (observation.activation, observation.capacity) == (6, 4)
        assert observation.safety is None
        assert observation.source == Source.PRACTITIONER
        assert observation.session_id == today.id
        assert observation.recorded_by_id == practice.owner.id

    def test_episode_fields(self, api: TestClient, db: DbSession, practice: Practice) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        post(api, practice.url("episodes"), {**values, **GOOD["episodes"]})
        episode = db.get(Episode, uuid.UUID(values["form_id"]))
        assert episode is not None
        assert episode.strategies == ["paced breathing", "walk"]
        assert episode.recovery_minutes == 40
        assert episode.recognition_minutes == 5
        assert episode.trigger_category == "conflict"

    def test_episode_not_back_to_baseline(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {
            **values,
            **GOOD["episodes"],
            **pair("baseline_at", ""),
            **pair("recognized_at", ""),
        }
        assert post(api, practice.url("episodes"), data).status_code == 303
        episode = db.get(Episode, uuid.UUID(values["form_id"]))
        assert episode is not None
        assert episode.baseline_at is None
        assert episode.recognized_at is None

    def test_phq9_is_scored_by_the_server(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("measures"))
        post(api, practice.url("measures"), {**values, **GOOD["measures"]})
        measure = db.get(Measure, uuid.UUID(values["form_id"]))
        assert measure is not None
        assert measure.instrument == "phq9"
        assert measure.items == [1, 2, 1, 0, 1, 2, 1, 0, 0]
        assert (measure.total, measure.severity) == (8.0, "mild")
        assert measure.source == Source.CLIENT

    def test_phq9_with_one_item_missing_is_prorated(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("measures"))
        data = {**values, **GOOD["measures"], "item_4": ""}
        assert post(api, practice.url("measures"), data).status_code == 303
        measure = db.get(Measure, uuid.UUID(values["form_id"]))
        assert measure is not None
        assert measure.items is not None
        assert measure.items[3] is None
        assert measure.total == 9.0  # 8 x 9 / 8

    def test_ors_total(self, api: TestClient, db: DbSession, practice: Practice) -> None:
        url = practice.url("measures", "?instrument=ors")
        _page, values = fresh_form(api, url)
        assert post(api, url, {**values, "total": "28,5"}).status_code == 303
        measure = db.get(Measure, uuid.UUID(values["form_id"]))
        assert measure is not None
        assert (measure.instrument, measure.total, measure.items) == ("ors", 28.5, None)

    def test_annotation_fields(self, api: TestClient, db: DbSession, practice: Practice) -> None:
        _page, values = fresh_form(api, practice.url("annotations"))
        post(api, practice.url("annotations"), {**values, **GOOD["annotations"]})
        note = db.get(Annotation, uuid.UUID(values["form_id"]))
        assert note is not None
        assert note.kind == AnnotationKind.MEDICATION
        assert note.label == "Started sertraline 50 mg"
        assert note.created_by_id == practice.owner.id


class TestMessagesNextToFields:
    def test_activation_out_of_range(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("observations"))
        data = {**values, **GOOD["observations"], "activation": "11"}
        response = post(api, practice.url("observations"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "activation", "from 0 to 10")
        assert summary_links(page) == ["#f-activation"]
        assert "autofocus" in page.by_id("error-summary").attrs
        kept = submitted_values(the_form(page))
        assert kept["activation"] == "11"
        for name in (
            "zone",
            "capacity",
            "notes",
            "observed_at_date",
            "observed_at_time",
            "source",
            "form_id",
        ):
            assert kept[name] == data[name], name
        assert "aria-invalid" not in control(page, "capacity").attrs
        assert count(db, Observation, practice.client) == 0

    def test_recognized_before_onset(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **GOOD["episodes"], **pair("recognized_at", f"{DAY}T08:55")}
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "recognized_at", "must not be before “Onset”")
        kept = submitted_values(the_form(page))
        assert kept["strategies"] == data["strategies"]
        assert typed(kept, "baseline_at") == typed(data, "baseline_at")
        assert "aria-invalid" not in control(page, "started_at_date").attrs
        assert count(db, Episode, practice.client) == 0

    def test_phq9_with_too_many_items_missing(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("measures"))
        data = {**values, **GOOD["measures"], "item_2": "", "item_5": "", "item_7": ""}
        response = post(api, practice.url("measures"), data)
        assert response.status_code == 422
        page = parse(response.text)
        for name in ("item_2", "item_5", "item_7"):
            assert_message_next_to(page, name, "not answered")
        assert "at most 2 unanswered" in page.by_id("items-error").words()
        # One line in the summary explains them; each item is marked where it is.
        assert summary_links(page) == ["#f-item_2-0"]
        kept = submitted_values(the_form(page))
        assert (kept["item_1"], kept["item_9"]) == ("1", "0")
        assert "aria-invalid" not in control(page, "item_1").attrs
        assert count(db, Measure, practice.client) == 0

    def test_gad7_needs_every_item_unless_confirmed(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        url = practice.url("measures", "?instrument=gad7")
        _page, values = fresh_form(api, url)
        answers = {f"item_{n}": "1" for n in range(1, 8)}
        data = {**values, **answers, "item_7": ""}
        response = post(api, url, data)
        assert response.status_code == 422
        assert_message_next_to(parse(response.text), "item_7", "not answered")
        # Kept as answered, without a total, when the person says so.
        response = post(api, url, {**data, "allow_incomplete": "on"})
        assert response.status_code == 303
        measure = db.get(Measure, uuid.UUID(values["form_id"]))
        assert measure is not None
        assert measure.total is None
        assert measure.items == [1, 1, 1, 1, 1, 1, None]

    def test_item_answer_out_of_range(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("measures"))
        data = {**values, **GOOD["measures"], "item_3": "7"}
        response = post(api, practice.url("measures"), data)
        assert response.status_code == 422
        assert_message_next_to(parse(response.text), "item_3", "between 0 and 3")

    def test_observation_in_the_future(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("observations"))
        tomorrow = local_input(datetime.now(UTC) + timedelta(days=1))
        data = {**values, **GOOD["observations"], **pair("observed_at", tomorrow)}
        response = post(api, practice.url("observations"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "observed_at", "must not be in the future")
        kept = submitted_values(the_form(page))
        kept_values = (typed(kept, "observed_at"), kept["activation"], kept["zone"])
        assert kept_values == (tomorrow, "6", "hyper")
        assert count(db, Observation, practice.client) == 0

    @pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "9999-12-31"])
    def test_observation_at_an_implausible_time(
        self, api: TestClient, db: DbSession, practice: Practice, day: str
    ) -> None:
        """Issue 12: the forms apply the API's plausible range (one rule, in the schemas)."""
        _page, values = fresh_form(api, practice.url("observations"))
        data = {**values, **GOOD["observations"], **pair("observed_at", f"{day}T10:00")}
        response = post(api, practice.url("observations"), data)
        assert response.status_code == 422
        assert_message_next_to(parse(response.text), "observed_at", "between 1900-01-01")
        assert count(db, Observation, practice.client) == 0

    def test_engagement_needs_an_attended_session(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("sessions"))
        data = {**values, **GOOD["sessions"], "attendance": "no_show", "homework_completed": ""}
        response = post(api, practice.url("sessions"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "engagement", "attended session")
        assert submitted_values(the_form(page))["attendance"] == "no_show"
        assert count(db, Session, practice.client) == 0

    def test_unreadable_and_missing_values(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("annotations"))
        data = {
            **values,
            "at_date": "last Tuesday",
            "at_time": "12:00",
            "label": "   ",
            "kind": "gossip",
        }
        response = post(api, practice.url("annotations"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, "at", "date and time")
        assert_message_next_to(page, "label", "fill this in")
        assert_message_next_to(page, "kind", "choose")
        assert summary_links(page) == ["#f-at", "#f-kind", "#f-label"]
        assert submitted_values(the_form(page))["at_date"] == "last Tuesday"
        assert count(db, Annotation, practice.client) == 0

    def test_notes_are_escaped_when_shown_again(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("observations"))
        data = {**values, **GOOD["observations"], "activation": "11", "notes": SCRIPT}
        response = post(api, practice.url("observations"), data)
        assert response.status_code == 422
        assert SCRIPT not in response.text
        page = parse(response.text)
        assert control(page, "notes").text == SCRIPT  # shown as text, exactly as typed
        assert not [s for s in page.find_all("script") if "alert" in s.text]

    def test_long_text_is_refused_next_to_its_field(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **GOOD["episodes"], "strategies": "walk, " + "x" * 101}
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        assert_message_next_to(parse(response.text), "strategies", "entry 2")


# Every date-time pair on every logging form.
DATETIME_FIELDS = [
    ("sessions", "starts_at"),
    ("observations", "observed_at"),
    ("episodes", "started_at"),
    ("episodes", "recognized_at"),
    ("episodes", "baseline_at"),
    ("measures", "administered_at"),
    ("annotations", "at"),
]


class TestHalfTypedDateTimes:
    """A date-time typed only in part is a field error, never a blank; nothing is saved."""

    @pytest.mark.parametrize("typed_half", ["date", "time"])
    @pytest.mark.parametrize(("what", "name"), DATETIME_FIELDS)
    def test_half_a_date_time_is_a_field_error(
        self,
        api: TestClient,
        db: DbSession,
        practice: Practice,
        what: str,
        name: str,
        typed_half: str,
    ) -> None:
        _page, values = fresh_form(api, practice.url(what))
        whole = pair(name, f"{DAY}T09:50")
        blank = "time" if typed_half == "date" else "date"
        data = {**values, **GOOD[what], **whole, f"{name}_{blank}": ""}
        response = post(api, practice.url(what), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert_message_next_to(page, name, "Enter both the date and the time")
        assert f"#f-{name}" in summary_links(page)
        kept = submitted_values(the_form(page))
        assert kept[f"{name}_{typed_half}"] == whole[f"{name}_{typed_half}"]
        assert kept[f"{name}_{blank}"] == ""
        assert count(db, MODELS[what], practice.client) == 0

    def test_only_the_time_of_back_to_baseline_is_not_saved_as_not_recovered(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("episodes"))
        data = {**values, **GOOD["episodes"], "baseline_at_date": "", "baseline_at_time": "09:40"}
        response = post(api, practice.url("episodes"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert (
            page.by_id("baseline_at-error")
            .words()
            .endswith("Enter both the date and the time, or neither.")
        )
        assert count(db, Episode, practice.client) == 0
        # Completed, it saves: back to baseline 40 minutes after onset.
        kept = submitted_values(the_form(page))
        assert (
            post(api, practice.url("episodes"), {**kept, "baseline_at_date": DAY}).status_code
            == 303
        )
        episode = db.get(Episode, uuid.UUID(values["form_id"]))
        assert episode is not None
        assert episode.recovery_minutes == 40


class TestSavesOnce:
    def test_a_double_submit_saves_once(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("observations"))
        data = {**values, **GOOD["observations"]}
        first = post(api, practice.url("observations"), data)
        second = post(api, practice.url("observations"), data)
        assert (first.status_code, second.status_code) == (303, 303)
        assert second.headers["location"] == first.headers["location"]
        assert count(db, Observation, practice.client) == 1

    @pytest.mark.parametrize("what", FORMS)
    def test_two_submits_racing_past_the_check_save_once(
        self,
        api: TestClient,
        db: DbSession,
        practice: Practice,
        what: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        _page, values = fresh_form(api, practice.url(what))
        data = {**values, **GOOD[what]}
        assert post(api, practice.url(what), data).status_code == 303
        # The second submit looked before the first had committed: it saw nothing.
        real = log_forms.already_saved
        looked: list[bool] = []

        def stale_look(*args: Any) -> uuid.UUID | None:
            if not looked:
                looked.append(True)
                return None
            return real(*args)

        monkeypatch.setattr(log_forms, "already_saved", stale_look)
        response = post(api, practice.url(what), data)
        assert response.status_code == 303
        assert len(looked) == 1
        assert count(db, MODELS[what], practice.client) == 1

    def test_the_id_survives_a_correction(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("observations"))
        data = {**values, **GOOD["observations"], "activation": "12"}
        page = parse(post(api, practice.url("observations"), data).text)
        kept = submitted_values(the_form(page))
        assert kept["form_id"] == values["form_id"]
        assert (
            post(api, practice.url("observations"), {**kept, "activation": "9"}).status_code == 303
        )
        assert count(db, Observation, practice.client) == 1

    def test_a_form_without_its_id_is_shown_again(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("annotations"))
        data = {**values, **GOOD["annotations"], "form_id": "not-an-id"}
        response = post(api, practice.url("annotations"), data)
        assert response.status_code == 422
        page = parse(response.text)
        assert "one-time id" in page.by_id("error-summary").words()
        uuid.UUID(submitted_values(the_form(page))["form_id"])  # a fresh one to try again with
        assert count(db, Annotation, practice.client) == 0

    def test_each_fresh_form_has_a_new_id(self, api: TestClient, practice: Practice) -> None:
        ids = {fresh_form(api, practice.url("sessions"))[1]["form_id"] for _ in range(3)}
        assert len(ids) == 3


class TestAccess:
    @pytest.mark.parametrize("what", FORMS)
    def test_without_the_csrf_token_nothing_is_saved(
        self, api: TestClient, db: DbSession, practice: Practice, what: str
    ) -> None:
        _page, values = fresh_form(api, practice.url(what))
        data = {**values, **GOOD[what]}
        del data["csrf_token"]
        assert post(api, practice.url(what), data).status_code == 403
        forged = post(api, practice.url(what), {**data, "csrf_token": "forged"})
        assert forged.status_code == 403
        assert count(db, MODELS[what], practice.client) == 0

    @pytest.mark.parametrize("what", FORMS)
    def test_a_supervisor_reads_but_does_not_log(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice, what: str
    ) -> None:
        _page, values = fresh_form(api, practice.url(what))
        supervisor = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, supervisor, practice.owner)
        csrf = log_in(api, db, settings, supervisor)
        assert api.get(practice.url(what)).status_code == 403
        data = {**values, **GOOD[what], "csrf_token": csrf}
        assert post(api, practice.url(what), data).status_code == 403
        assert count(db, MODELS[what], practice.client) == 0

    @pytest.mark.parametrize("what", FORMS)
    def test_another_practitioner_gets_not_found(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice, what: str
    ) -> None:
        _page, values = fresh_form(api, practice.url(what))
        other = make_user(db, settings, Role.COACH)
        csrf = log_in(api, db, settings, other)
        assert api.get(practice.url(what)).status_code == 404
        data = {**values, **GOOD[what], "csrf_token": csrf}
        assert post(api, practice.url(what), data).status_code == 404
        assert count(db, MODELS[what], practice.client) == 0

    def test_admins_and_unknown_clients_get_not_found(
        self, api: TestClient, db: DbSession, settings: Settings, practice: Practice
    ) -> None:
        assert api.get("/clients/not-a-uuid/sessions/new").status_code == 404
        assert api.get(f"/clients/{uuid.uuid4()}/sessions/new").status_code == 404
        log_in(api, db, settings, make_user(db, settings, Role.ADMIN))
        assert api.get(practice.url("sessions")).status_code == 404

    @pytest.mark.parametrize("what", FORMS)
    def test_anonymous_goes_to_login(self, api: TestClient, practice: Practice, what: str) -> None:
        api.cookies.clear()
        response = api.get(practice.url(what), follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        response = post(api, practice.url(what), {"csrf_token": practice.csrf})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


class TestClientActions:
    def test_links_to_every_form_for_the_owner(self, db: DbSession, practice: Practice) -> None:
        html = templates.env.get_template("partials/client_actions.html").render(
            client=practice.client, can_write=True, csrf_token=practice.csrf
        )
        nav = parse(html).one("nav")
        assert nav.attrs["aria-labelledby"] == "client-actions-title"
        hrefs = [a.attrs["href"] for a in nav.find_all("a")]
        assert hrefs == [
            f"/clients/{practice.client.id}/{what}/new"
            for what in ("observations", "sessions", "episodes", "measures", "annotations")
        ]

    def test_nothing_without_write_access(self, practice: Practice) -> None:
        html = templates.env.get_template("partials/client_actions.html").render(
            client=practice.client, can_write=False, csrf_token=practice.csrf
        )
        assert html.strip() == ""

    def test_the_name_is_escaped(self, db: DbSession, practice: Practice) -> None:
        practice.client.display_name = SCRIPT
        html = templates.env.get_template("partials/client_actions.html").render(
            client=practice.client, can_write=True, csrf_token=practice.csrf
        )
        assert SCRIPT not in html


class TestPracticeTime:
    """Typed times are wall-clock times in the practice time zone (zoneinfo fold=0)."""

    def test_summer_and_winter(self) -> None:
        assert parse_local_datetime("2026-07-01T12:00", LONDON) == datetime(
            2026, 7, 1, 11, 0, tzinfo=UTC
        )
        assert parse_local_datetime("2026-01-15T12:00", LONDON) == datetime(
            2026, 1, 15, 12, 0, tzinfo=UTC
        )

    def test_overlap_means_the_first_occurrence(self) -> None:
        # 25 Oct 2026: 01:30 happens twice in London (BST, then GMT); fold=0 is the BST one.
        assert parse_local_datetime("2026-10-25T01:30", LONDON) == datetime(
            2026, 10, 25, 0, 30, tzinfo=UTC
        )

    def test_gap_is_read_with_the_offset_before_the_change(self) -> None:
        # 29 Mar 2026: clocks jump from 01:00 to 02:00, so 01:30 never happens; read as GMT.
        stored = parse_local_datetime("2026-03-29T01:30", LONDON)
        assert stored == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        assert stored.astimezone(LONDON).strftime("%H:%M") == "02:30"

    def test_an_explicit_offset_is_kept(self) -> None:
        assert parse_local_datetime("2026-07-01T12:00+02:00", LONDON) == datetime(
            2026, 7, 1, 10, 0, tzinfo=UTC
        )

    @pytest.mark.parametrize(
        ("typed", "zone"),
        [("0001-01-01T00:00", "Asia/Tokyo"), ("9999-12-31T23:59", "America/New_York")],
    )
    def test_a_time_with_no_utc_equivalent_is_a_field_problem(self, typed: str, zone: str) -> None:
        """Was an OverflowError (a 500): year 1 east of UTC, year 9999 west of it."""
        with pytest.raises(FieldProblem, match="between 1900-01-01"):
            parse_local_datetime(typed, ZoneInfo(zone))

    def test_a_form_time_is_converted_to_utc(
        self, api: TestClient, db: DbSession, practice: Practice
    ) -> None:
        _page, values = fresh_form(api, practice.url("annotations"))
        data = {**values, **GOOD["annotations"], **pair("at", "2026-10-25T01:30")}
        post(api, practice.url("annotations"), data)
        note = db.get(Annotation, uuid.UUID(values["form_id"]))
        assert note is not None
        assert note.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
