"""Every dashboard form in one place: its fields, its input schema, its record and its page.

Ranges (ge/le, max_length) are not written here: `from_schema` reads them from the input
schema, so the API, the forms and the messages share one definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from enum import Enum
from typing import Any, Final

from pydantic import BaseModel

from practice_dashboard.domain.instruments import Instrument
from practice_dashboard.domain.labels import (
    ANNOTATION_KIND_WORDS,
    ATTENDANCE_WORDS,
    STATUS_WORDS,
    ZONE_HINTS,
    zone_word,
)
from practice_dashboard.models import Annotation, AnnotationKind, Episode, Measure, Observation
from practice_dashboard.models import Session as SessionRecord
from practice_dashboard.models.enums import (
    Attendance,
    ClientStatus,
    HomeworkCompletion,
    Modality,
    SessionKind,
    Source,
    Zone,
)
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.schemas.checkin import (
    CheckinDaily,
    CheckinEpisodeClose,
    CheckinEpisodeStart,
    CheckinEpisodeTimes,
)
from practice_dashboard.schemas.client import ClientCreate
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.schemas.session import SessionCreate, SessionSeriesCreate
from practice_dashboard.schemas.user import UserCreate
from practice_dashboard.web.forms.fields import Choice, FieldSpec, from_schema
from practice_dashboard.web.forms.ranges import limits


def _scale(schema: type[BaseModel], name: str) -> tuple[str, str]:
    """A rating's two ends as typed ("0", "10"), read from the schema."""
    bounds = limits(schema, name)
    if bounds.lo is None or bounds.hi is None:
        raise ValueError(f"{schema.__name__}.{name} declares no range")
    return f"{bounds.lo:g}", f"{bounds.hi:g}"


# Every 0–10 rating is the schemas' one `Scale`; its ends are written into the hints from there.
_LO, _HI = _scale(ObservationCreate, "activation")
OPTIONAL_SCALE_HINT = f"{_LO}–{_HI}; leave blank if not rated."
ALLOW_INCOMPLETE = "allow_incomplete"


@dataclass(frozen=True, slots=True)
class LogForm:
    """One logging form: the address part under /clients/{id}/…/new, its record and schema."""

    path: str
    schema: type[BaseModel]
    model: type[Any]
    template: str


LOG_FORMS: Final[Mapping[str, LogForm]] = {
    form.path: form
    for form in (
        LogForm("sessions", SessionCreate, SessionRecord, "log_session.html"),
        LogForm("observations", ObservationCreate, Observation, "log_observation.html"),
        LogForm("episodes", EpisodeCreate, Episode, "log_episode.html"),
        LogForm("measures", MeasureCreate, Measure, "log_measure.html"),
        LogForm("annotations", AnnotationCreate, Annotation, "log_annotation.html"),
    )
}


def _words(value: str) -> str:
    return value.replace("_", " ")


def _choices(enum: type[Enum], labels: Mapping[str, str] | None = None) -> tuple[Choice, ...]:
    labels = labels or {}
    return tuple(Choice(m.value, labels.get(m.value, _words(m.value).capitalize())) for m in enum)


# --------------------------------------------------------------------------------------------
# Logging forms
# --------------------------------------------------------------------------------------------


def session_choice(sessions: Sequence[SessionRecord], tz: tzinfo) -> tuple[FieldSpec, ...]:
    """The "Session" choice of today's sessions; no field when there is none today."""
    if not sessions:
        return ()
    options = [Choice("", "Not linked to a session")]
    for s in sessions:
        when = s.starts_at.astimezone(tz).strftime("%H:%M")
        options.append(Choice(str(s.id), f"Today {when}, {_words(s.kind)}, {_words(s.attendance)}"))
    return (
        FieldSpec(
            "session_id",
            "Session",
            "choice",
            choices=tuple(options),
            hint="Today's session this belongs to, if any.",
        ),
    )


# A posted session_id is read (and checked by the service) even when no choice was offered.
UNOFFERED_SESSION: Final = (FieldSpec("session_id", "Session", "choice"),)

_HOMEWORK = (
    Choice("", "Not reviewed, or none was set"),
    Choice(HomeworkCompletion.YES.value, "Done"),
    Choice(HomeworkCompletion.PARTIAL.value, "Partly done"),
    Choice(HomeworkCompletion.NO.value, "Not done"),
)


# Shared by the session form and the booking form.
SESSION_KINDS: Final = _choices(SessionKind, {"check_in": "Check-in"})
MODALITIES: Final = _choices(Modality, {"in_person": "In person"})


def _meeting_fields(schema: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """How long, what kind and how held: the same on the session form and the booking form."""
    return (
        from_schema(schema, "duration_minutes", "Duration (minutes)", "int", required=True),
        from_schema(schema, "kind", "Kind", "choice", required=True, choices=SESSION_KINDS),
        from_schema(schema, "modality", "Modality", "choice", required=True, choices=MODALITIES),
    )


def session_fields() -> tuple[FieldSpec, ...]:
    """The session form."""
    s = SessionCreate
    return (
        from_schema(s, "starts_at", "Started at", "datetime", required=True),
        *_meeting_fields(s),
        from_schema(
            s,
            "attendance",
            "Attendance",
            "choice",
            required=True,
            choices=_choices(Attendance, {a: w.capitalize() for a, w in ATTENDANCE_WORDS.items()}),
        ),
        from_schema(
            s,
            "engagement",
            "Engagement",
            "int",
            hint=f"Your rating, {_LO}–{_HI}, for an attended session; leave blank if not rated.",
        ),
        from_schema(s, "homework_assigned", "Homework set in this session", "bool"),
        from_schema(
            s,
            "homework_completed",
            "Homework from the previous session",
            "choice",
            choices=_HOMEWORK,
        ),
        from_schema(s, "notes", "Notes", "textarea"),
    )


def observation_fields(
    vocabulary: str, session_field: tuple[FieldSpec, ...]
) -> tuple[FieldSpec, ...]:
    """The observation form, zones in the practice's vocabulary."""
    o = ObservationCreate
    hints = ZONE_HINTS.get(vocabulary, ZONE_HINTS["window"])
    zones = tuple(Choice(z.value, zone_word(z.value, vocabulary), hints[z.value]) for z in Zone)
    # Zone and activation first, time and observer last: in session the time (now) and the
    # observer (the practitioner) are already right, so a check-in is a zone, a number, Enter.
    return (
        from_schema(o, "zone", "Zone", "radio", required=True, choices=zones),
        from_schema(
            o,
            "activation",
            "Activation",
            "int",
            required=True,
            hint=f"{_LO} = settled, {_HI} = the most activated this client gets.",
        ),
        from_schema(
            o,
            "capacity",
            "Capacity",
            "int",
            hint="How much could be felt without overwhelm; " + OPTIONAL_SCALE_HINT,
        ),
        from_schema(
            o, "safety", "Felt safety", "int", hint="How safe it felt; " + OPTIONAL_SCALE_HINT
        ),
        from_schema(
            o,
            "body_connection",
            "Body connection",
            "int",
            hint="Contact with body sensations; " + OPTIONAL_SCALE_HINT,
        ),
        from_schema(o, "observed_at", "Observed at", "datetime", required=True),
        from_schema(
            o,
            "source",
            "Observed by",
            "radio",
            required=True,
            choices=(
                Choice(Source.PRACTITIONER.value, "Practitioner (observed)"),
                Choice(Source.CLIENT.value, "Client (self-report)"),
            ),
        ),
        *session_field,
        from_schema(o, "notes", "Notes", "textarea"),
    )


# The episode form's quick inputs for recognition and return to baseline, by the schema
# field each one fills.
RECOGNIZED_AFTER: Final = "recognized_after"
BASELINE_AFTER: Final = "baseline_after"
AFTER_ONSET: Final = {"recognized_at": RECOGNIZED_AFTER, "baseline_at": BASELINE_AFTER}


def episode_fields(session_field: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    """The activation-episode form: onset, recognition and return to baseline."""
    e = EpisodeCreate
    return (
        from_schema(
            e, "started_at", "Onset", "datetime", required=True, hint="When the activation began."
        ),
        # The quick way to type the later times (issue 9, item 6): right after the onset, in
        # minutes after it or as a clock time on its day. The date-time pairs below are for
        # another day; the route accepts one or the other (log_forms/episode.py).
        FieldSpec(
            RECOGNIZED_AFTER,
            "Recognized",
            "text",
            in_schema=False,
            max_length=12,
            hint="Minutes after onset (+10) or a time (14:15); blank if unknown.",
        ),
        FieldSpec(
            BASELINE_AFTER,
            "Back to baseline",
            "text",
            in_schema=False,
            max_length=12,
            hint="Minutes after onset (+25) or a time (14:30); blank if not yet, or unknown.",
        ),
        from_schema(
            e,
            "peak_intensity",
            "Peak intensity",
            "int",
            required=True,
            hint=f"{_LO}–{_HI} at its strongest.",
        ),
        from_schema(e, "trigger", "Trigger", "text", hint="What set it off, in a few words."),
        from_schema(
            e,
            "trigger_category",
            "Trigger category",
            "text",
            hint="A short word you reuse, such as conflict, work or sensory.",
        ),
        from_schema(
            e,
            "strategies",
            "Strategies used",
            "list",
            hint="Separate them with commas, for example: paced breathing, walk, called a friend.",
        ),
        from_schema(
            e,
            "self_compassion",
            "Self-compassion",
            "int",
            hint="How kindly the client met themselves; " + OPTIONAL_SCALE_HINT,
        ),
        from_schema(
            e,
            "recognized_at",
            "Recognized at",
            "datetime",
            hint="Not on the onset's day? Its date and time here instead; else leave blank.",
        ),
        from_schema(
            e,
            "baseline_at",
            "Back to baseline at",
            "datetime",
            hint="Not on the onset's day? Its date and time here instead; else leave blank.",
        ),
        *session_field,
        from_schema(e, "notes", "Notes", "textarea"),
    )


def _item_field(instrument: Instrument, number: int) -> FieldSpec:
    labels = instrument.response_labels
    options = [
        Choice(str(v), f"{v} {labels[v - instrument.item_min]}" if labels else str(v))
        for v in range(instrument.item_min, instrument.item_max + 1)
    ]
    options.append(Choice("", "No answer"))
    text = instrument.item_text[number - 1] if instrument.item_text else None
    return FieldSpec(
        f"item_{number}",
        f"Item {number}",
        "radio",
        hint=text,
        choices=tuple(options),
        in_schema=False,
    )


def measure_fields(instrument: Instrument) -> tuple[FieldSpec, ...]:
    """The measure form: item by item, or the total of a total-only instrument (ORS, SRS)."""
    m = MeasureCreate
    common = (
        from_schema(m, "administered_at", "Administered at", "datetime", required=True),
        from_schema(
            m,
            "source",
            "Completed by",
            "radio",
            required=True,
            choices=(
                Choice(Source.CLIENT.value, "Client (self-report)"),
                Choice(Source.PRACTITIONER.value, "Practitioner"),
            ),
        ),
    )
    if instrument.total_only:
        # The total's range is the instrument's, not the schema's (one schema, many scales).
        total = FieldSpec(
            "total",
            f"{instrument.short_name} total",
            "float",
            required=True,
            lo=instrument.total_min,
            hi=instrument.total_max,
            hint=(
                "Collected under your own licence: the total from the paper form, "
                f"{instrument.total_min:g}–{instrument.total_max:g}."
            ),
        )
        return (*common, total)
    items = tuple(_item_field(instrument, n) for n in range(1, instrument.item_count + 1))
    confirm = FieldSpec(
        ALLOW_INCOMPLETE,
        "Save with unanswered items",
        "bool",
        hint="The answers are kept, but no total can be scored.",
        in_schema=False,
    )
    return (*common, *items, confirm)


def annotation_fields() -> tuple[FieldSpec, ...]:
    """The annotation form: a life event, medication or change in care on the timeline."""
    a = AnnotationCreate
    return (
        from_schema(a, "at", "Date and time", "datetime", required=True),
        from_schema(
            a,
            "kind",
            "Kind",
            "choice",
            required=True,
            choices=_choices(AnnotationKind, {"care_change": ANNOTATION_KIND_WORDS["care_change"]}),
        ),
        from_schema(
            a,
            "label",
            "Label",
            "text",
            required=True,
            hint="Shown on every chart of this client, so keep it short.",
        ),
        from_schema(a, "notes", "Notes", "textarea"),
    )


# --------------------------------------------------------------------------------------------
# Clients and the schedule
# --------------------------------------------------------------------------------------------


def client_fields() -> tuple[FieldSpec, ...]:
    """Add or edit a client: who they are, since when, what for, how often you meet."""
    c = ClientCreate
    return (
        from_schema(
            c,
            "display_name",
            "Name or pseudonym",
            "text",
            required=True,
            hint="Initials or a pseudonym are enough.",
        ),
        from_schema(
            c, "external_ref", "Reference", "text", hint="Your own file number, if you use one."
        ),
        from_schema(c, "date_of_birth", "Date of birth", "date"),
        from_schema(c, "intake_date", "Intake date", "date", hint="Leave blank for today."),
        from_schema(c, "goals", "Goals", "textarea"),
        from_schema(
            c,
            "session_cadence_days",
            "Session rhythm (days)",
            "int",
            required=True,
            hint="Days between sessions, usually: 7 for weekly, 14 for every other week.",
        ),
    )


_STATUS_HINTS: Final[Mapping[ClientStatus, str]] = {
    ClientStatus.ACTIVE: "Seen at their usual rhythm.",
    ClientStatus.PAUSED: "A break in care; sessions are not expected.",
    ClientStatus.DISCHARGED: "Care has ended.",
}


def client_status_fields() -> tuple[FieldSpec, ...]:
    """Change a client's status: active, paused, or discharged (with the date)."""
    c = ClientCreate
    return (
        from_schema(
            c,
            "status",
            "Status",
            "radio",
            required=True,
            choices=tuple(
                Choice(status.value, STATUS_WORDS[status.value], _STATUS_HINTS[status])
                for status in ClientStatus
            ),
        ),
        from_schema(
            c,
            "discharged_on",
            "Discharged on",
            "date",
            hint="For a discharged client; clear it when care starts again.",
        ),
    )


def booking_fields(cadence_days: int) -> tuple[FieldSpec, ...]:
    """Book a session, or a series at the client's rhythm for some weeks."""
    b = SessionSeriesCreate
    return (
        from_schema(b, "starts_at", "First session at", "datetime", required=True),
        *_meeting_fields(b),
        from_schema(
            b,
            "weeks",
            "Repeat for (weeks)",
            "int",
            hint="Leave blank to book one session. A series covers at most a year.",
        ),
        from_schema(
            b,
            "every_days",
            "Every (days)",
            "int",
            hint=f"Leave blank for the client's rhythm: every {cadence_days} days.",
        ),
    )


# --------------------------------------------------------------------------------------------
# Account forms (admin pages): one message per field, its numbers read from the schema
# --------------------------------------------------------------------------------------------

ACCOUNT_FIELDS: Final[Mapping[str, FieldSpec]] = {
    spec.name: spec
    for spec in (
        from_schema(UserCreate, "email", "E-mail", "text", required=True),
        from_schema(UserCreate, "full_name", "Name", "text", required=True),
        from_schema(UserCreate, "role", "Role", "choice", required=True),
        from_schema(UserCreate, "password", "Password", "text", required=True),
    )
}
_NAME, _PASSWORD = ACCOUNT_FIELDS["full_name"], ACCOUNT_FIELDS["password"]
ACCOUNT_MESSAGES: Final[Mapping[str, str]] = {
    "email": "Enter an e-mail address like name@example.org.",
    "full_name": f"Enter a name (up to {_NAME.max_length} characters).",
    "role": "Choose a role.",
    "password": (
        f"Use at least {_PASSWORD.min_length} characters; "
        "a few unrelated words make a good password."
    ),
    "password_too_long": f"Use at most {_PASSWORD.max_length} characters.",
    "supervisor_id": "Choose a supervisor.",
    "supervisee_id": "Choose a practitioner to supervise.",
}


# --- Client check-in pages (/c/<token>): plain words, one screen each ------------------------

WHEN_BLANK_IS_NOW: Final = "Leave blank for now."


def checkin_start_fields() -> tuple[FieldSpec, ...]:
    """ "Something activated me": how strong it is, and optionally when, what and a note."""
    s = CheckinEpisodeStart
    return (
        from_schema(
            s,
            "peak_intensity",
            "How strong is it?",
            "radio",
            required=True,
            choices=_rating_choices(s, "peak_intensity", "barely", "as strong as it gets"),
        ),
        from_schema(s, "started_at", "When did it start?", "datetime", hint=WHEN_BLANK_IS_NOW),
        from_schema(
            s,
            "trigger_category",
            "What was it about?",
            "text",
            hint="A word or two, such as work, family, a memory.",
        ),
        from_schema(s, "notes", "A note for your practitioner", "textarea"),
    )


def checkin_close_fields() -> tuple[FieldSpec, ...]:
    """ "I'm back to baseline": when, and optionally what helped."""
    c = CheckinEpisodeClose
    return (
        from_schema(
            c,
            "baseline_at",
            "When did you get back to baseline?",
            "datetime",
            hint=WHEN_BLANK_IS_NOW,
        ),
        from_schema(
            c,
            "peak_intensity",
            "How strong did it get at its highest?",
            "int",
            hint=f"{_LO}–{_HI}; leave blank if it did not get stronger.",
        ),
        from_schema(
            c,
            "strategies",
            "What helped?",
            "list",
            hint="Separate them with commas, for example: breathing, a walk, a call.",
        ),
        from_schema(
            c,
            "self_compassion",
            "How kindly did you treat yourself?",
            "int",
            hint=f"{_LO} = not at all, {_HI} = very kindly; leave blank if you prefer.",
        ),
    )


def checkin_times_fields() -> tuple[FieldSpec, ...]:
    """The client's correction of an episode's times."""
    t = CheckinEpisodeTimes
    return (
        from_schema(t, "started_at", "It started at", "datetime", required=True),
        from_schema(
            t,
            "baseline_at",
            "Back to baseline at",
            "datetime",
            hint="Leave blank if you are not back yet.",
        ),
    )


def checkin_daily_fields(vocabulary: str) -> tuple[FieldSpec, ...]:
    """The daily check-in, zones in the practitioner's vocabulary."""
    d = CheckinDaily
    hints = ZONE_HINTS.get(vocabulary, ZONE_HINTS["window"])
    zones = tuple(Choice(z.value, zone_word(z.value, vocabulary), hints[z.value]) for z in Zone)
    return (
        from_schema(d, "zone", "Where are you right now?", "radio", required=True, choices=zones),
        from_schema(
            d,
            "activation",
            "How activated do you feel?",
            "radio",
            required=True,
            choices=_rating_choices(d, "activation", "settled", "as activated as you get"),
        ),
        from_schema(
            d,
            "capacity",
            "How much can you handle today?",
            "int",
            hint=f"{_LO} = very little, {_HI} = a lot; leave blank if unsure.",
        ),
        from_schema(d, "notes", "A note for your practitioner", "textarea"),
    )


def _rating_choices(schema: type[BaseModel], name: str, low: str, high: str) -> tuple[Choice, ...]:
    """A 0–10 rating as large buttons, with words at both ends (ends read from the schema)."""
    lo, hi = (int(v) for v in _scale(schema, name))
    words = {lo: f"{lo}, {low}", hi: f"{hi}, {high}"}
    return tuple(Choice(str(n), words.get(n, str(n))) for n in range(lo, hi + 1))
