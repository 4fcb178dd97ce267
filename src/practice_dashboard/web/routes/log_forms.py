"""Fast logging forms: a session, an observation, an activation episode, a measure, a note.

Each form lives under /clients/{id}/…/new (404 for a client the caller may not see, 403 for a
supervisor: supervision is read-only). It posts back to the same address; a bad value draws the
form again (422) with the message next to its field and everything typed kept; success goes
back to the client page (303).

A double-clicked submit saves once, even without JavaScript: the form carries a one-time id
made when it was drawn, and the new record is stored under that id as its primary key. A second
POST with the same id finds the record and only redirects; two POSTs racing past that check meet
the primary key, and the loser is turned into the same redirect. The create services take it as
the new record's key (`record_id`).

Times typed into the forms are wall-clock times in the practice time zone; see web/forms.py for
the daylight-saving rule (zoneinfo fold=0).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from practice_dashboard.dependencies import DbDep
from practice_dashboard.domain.facts import CLOCK_SLACK
from practice_dashboard.domain.instruments import INSTRUMENTS, Instrument
from practice_dashboard.domain.labels import (
    ANNOTATION_KIND_WORDS,
    ATTENDANCE_WORDS,
    ZONE_HINTS,
    zone_word,
)
from practice_dashboard.errors import Conflict, Invalid, NotFound
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
from practice_dashboard.models.base import utcnow, uuid7
from practice_dashboard.models.enums import (
    Attendance,
    HomeworkCompletion,
    Modality,
    Role,
    SessionKind,
    Source,
    Zone,
)
from practice_dashboard.schemas.annotation import AnnotationCreate
from practice_dashboard.schemas.episode import EpisodeCreate
from practice_dashboard.schemas.measure import MeasureCreate
from practice_dashboard.schemas.observation import ObservationCreate
from practice_dashboard.schemas.session import SessionCreate
from practice_dashboard.services import access
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.records import annotation as annotation_service
from practice_dashboard.services.records import episode as episode_service
from practice_dashboard.services.records import measure as measure_service
from practice_dashboard.services.records import observation as observation_service
from practice_dashboard.services.records import session as session_service
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.forms import (
    Choice,
    FieldSpec,
    FormState,
    local_input_value,
    messages_from_invalid,
    parse_fields,
    validate,
)
from practice_dashboard.web.templating import templates

router = APIRouter()

M = TypeVar("M", bound=BaseModel)
# The service call to make, given the form's one-time id as the new record's key.
Create = Callable[[uuid.UUID], object]

FORM_ID = "form_id"
_NOT_HELD = (Attendance.CANCELLED, Attendance.NO_SHOW, Attendance.LATE_CANCEL)


async def read_form(request: Request) -> dict[str, str]:
    """The submitted text fields (the first value of each name; files are ignored)."""
    form = await request.form()  # parsed once per request and shared with the CSRF check
    values: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(name, value)
    return values


RawForm = Annotated[dict[str, str], Depends(read_form)]


# --------------------------------------------------------------------------------------------
# Access, one-time ids, rendering
# --------------------------------------------------------------------------------------------


def writable_client(db: DbDep, user: User, client_id: str) -> Client:
    """The client, if the caller may change it: 404 outside scope, 403 for a supervisor."""
    try:
        cid = uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc
    return access.get_visible_client(db, user, cid, for_write=True)


def _record_id(raw: Mapping[str, str]) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw.get(FORM_ID, "").strip())
    except ValueError:
        return None


def already_saved(db: DbDep, model: type[Any], record_id: uuid.UUID) -> uuid.UUID | None:
    """The client id of the record stored under `record_id`, or None."""
    client_id: uuid.UUID | None = db.scalar(select(model.client_id).where(model.id == record_id))
    return client_id


def _same_client(owner: uuid.UUID, client: Client) -> None:
    if owner != client.id:
        # Only a tampered form can get here: the id belongs to another client's record.
        raise Conflict("This form was already used; open a new one and try again")


def save_once(
    db: DbDep, model: type[Any], record_id: uuid.UUID, client: Client, create: Create
) -> None:
    """Run the service's create under `record_id`; if a racing request stored it first, do nothing.

    The caller has already looked for `record_id`; two submits that both passed that look meet
    at the primary key, and the one that loses finds the winner's record here.
    """
    try:
        # A savepoint, so that losing a race on the primary key leaves the transaction usable.
        with db.begin_nested():
            create(record_id)
    except IntegrityError:
        owner = already_saved(db, model, record_id)
        if owner is None:
            raise
        _same_client(owner, client)


def _back_to_client(client: Client) -> Response:
    return RedirectResponse(f"/clients/{client.id}", status_code=303)


def _render(
    context: dict[str, Any],
    template: str,
    *,
    client: Client,
    form: FormState,
    action: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    tz: Any = context["tz"]
    return templates.TemplateResponse(
        context["request"],
        template,
        {
            **context,
            "nav": "caseload",
            "client": client,
            "form": form,
            "action": action,
            "tz_name": getattr(tz, "key", str(tz)),
            **extra,
        },
        status_code=status_code,
    )


def _fresh(specs: tuple[FieldSpec, ...], defaults: Mapping[str, str]) -> FormState:
    return FormState(specs=specs, values=dict(defaults), form_id=str(uuid7()))


def _submit(
    db: DbDep,
    *,
    client: Client,
    raw: Mapping[str, str],
    specs: tuple[FieldSpec, ...],
    model: type[Any],
    build: Callable[[dict[str, str]], Create | None],
) -> FormState | None:
    """Validate and save one form. None when saved (or saved before); else the form to redraw.

    `build` fills the errors it finds and returns the service call to make, or None.
    """
    errors: dict[str, str] = {}
    record_id = _record_id(raw)
    if record_id is None:
        errors[FORM_ID] = (
            "This form was missing its one-time id (it may be out of date); "
            "check the values and save again."
        )
        record_id = uuid7()
    else:
        owner = already_saved(db, model, record_id)
        if owner is not None:  # a repeated submit of a form that was saved
            _same_client(owner, client)
            return None
        create = build(errors)
        if create is not None and not errors:
            try:
                save_once(db, model, record_id, client, create)
            except Invalid as exc:
                errors.update(messages_from_invalid(exc, specs))
            else:
                return None
    return FormState(specs=specs, values=dict(raw), form_id=str(record_id), errors=errors)


def _schema_build(
    schema: type[M],
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    call: Callable[[M, uuid.UUID], object],
) -> Callable[[dict[str, str]], Create | None]:
    """The usual `build`: read the fields, validate the schema, call the service with it."""

    def build(errors: dict[str, str]) -> Create | None:
        values, problems = parse_fields(specs, raw, tz)
        errors.update(problems)
        data = validate(schema, values, specs, errors)
        if data is None:
            return None
        return lambda record_id: call(data, record_id)

    return build


def _words(value: str) -> str:
    return value.replace("_", " ")


def _choices(enum: Any, labels: Mapping[str, str] | None = None) -> tuple[Choice, ...]:
    labels = labels or {}
    return tuple(Choice(m.value, labels.get(m.value, _words(m.value).capitalize())) for m in enum)


OPTIONAL_SCALE_HINT = "0–10; leave blank if not rated."


# --------------------------------------------------------------------------------------------
# Today's sessions (observations and episodes may be linked to one)
# --------------------------------------------------------------------------------------------


def todays_sessions(
    db: DbDep, actor: Actor, client: Client, tz: tzinfo, now: datetime
) -> list[Session]:
    """The client's sessions on the practice's calendar day of `now` (read through the service)."""
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    items, _total = session_service.list_sessions(
        db,
        client_id=client.id,
        actor=actor,
        start=start,
        end=end,
        attendance=None,
        limit=50,
        offset=0,
    )
    return sorted(items, key=lambda s: (s.starts_at, s.id))


def current_session(sessions: list[Session], now: datetime) -> Session | None:
    """The session being logged in: the latest held one today that has begun."""
    begun = [
        # A session about to begin (within the clock slack) counts as begun.
        s
        for s in sessions
        if s.starts_at <= now + CLOCK_SLACK and s.attendance not in _NOT_HELD
    ]
    return begun[-1] if begun else None


def _session_spec(sessions: list[Session], tz: tzinfo) -> tuple[FieldSpec, ...]:
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


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------

_HOMEWORK = (
    Choice("", "Not reviewed, or none was set"),
    Choice(HomeworkCompletion.YES.value, "Done"),
    Choice(HomeworkCompletion.PARTIAL.value, "Partly done"),
    Choice(HomeworkCompletion.NO.value, "Not done"),
)


def session_specs() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("starts_at", "Started at", "datetime", required=True),
        FieldSpec("duration_minutes", "Duration (minutes)", "int", required=True, lo=1, hi=480),
        FieldSpec(
            "kind",
            "Kind",
            "choice",
            required=True,
            choices=_choices(SessionKind, {"check_in": "Check-in"}),
        ),
        FieldSpec(
            "modality",
            "Modality",
            "choice",
            required=True,
            choices=_choices(Modality, {"in_person": "In person"}),
        ),
        FieldSpec(
            "attendance",
            "Attendance",
            "choice",
            required=True,
            choices=_choices(Attendance, {a: w.capitalize() for a, w in ATTENDANCE_WORDS.items()}),
        ),
        FieldSpec(
            "engagement",
            "Engagement",
            "int",
            lo=0,
            hi=10,
            hint="Your rating, 0–10, for an attended session; leave blank if not rated.",
        ),
        FieldSpec("homework_assigned", "Homework set in this session", "bool"),
        FieldSpec(
            "homework_completed",
            "Homework from the previous session",
            "choice",
            choices=_HOMEWORK,
        ),
        FieldSpec("notes", "Notes", "textarea"),
    )


def session_defaults(user: User, now: datetime, tz: tzinfo) -> dict[str, str]:
    kind = SessionKind.COACHING if user.role == Role.COACH else SessionKind.THERAPY
    return {
        "starts_at": local_input_value(now, tz),
        "duration_minutes": "50",
        "kind": kind.value,
        "modality": Modality.IN_PERSON.value,
        # Logged during or right after the meeting, so it was attended unless said otherwise.
        "attendance": Attendance.ATTENDED.value,
    }


@router.get("/clients/{client_id}/sessions/new", name="log_session_form")
def new_session(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for logging a session."""
    client = writable_client(db, login.user, client_id)
    specs = session_specs()
    form = _fresh(specs, session_defaults(login.user, utcnow(), context["tz"]))
    return _render(
        context, "log_session.html", client=client, form=form, action=_path(client, "sessions")
    )


@router.post("/clients/{client_id}/sessions/new")
def save_session(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log a session; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    specs = session_specs()

    def create(data: SessionCreate, record_id: uuid.UUID) -> object:
        return session_service.create_session(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = _submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=Session,
        build=_schema_build(SessionCreate, specs, raw, context["tz"], create),
    )
    if form is None:
        return _back_to_client(client)
    return _render(
        context,
        "log_session.html",
        client=client,
        form=form,
        action=_path(client, "sessions"),
        status_code=422,
    )


def _path(client: Client, what: str) -> str:
    return f"/clients/{client.id}/{what}/new"


# --------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------


def observation_specs(
    vocabulary: str, sessions_spec: tuple[FieldSpec, ...]
) -> tuple[FieldSpec, ...]:
    hints = ZONE_HINTS.get(vocabulary, ZONE_HINTS["window"])
    zones = tuple(Choice(z.value, zone_word(z.value, vocabulary), hints[z.value]) for z in Zone)
    return (
        FieldSpec("observed_at", "Observed at", "datetime", required=True),
        FieldSpec(
            "source",
            "Observed by",
            "radio",
            required=True,
            choices=(
                Choice(Source.PRACTITIONER.value, "Practitioner (observed)"),
                Choice(Source.CLIENT.value, "Client (self-report)"),
            ),
        ),
        FieldSpec("zone", "Zone", "radio", required=True, choices=zones),
        FieldSpec(
            "activation",
            "Activation",
            "int",
            required=True,
            lo=0,
            hi=10,
            hint="0 = settled, 10 = the most activated this client gets.",
        ),
        FieldSpec(
            "capacity",
            "Capacity",
            "int",
            lo=0,
            hi=10,
            hint="How much could be felt without overwhelm; " + OPTIONAL_SCALE_HINT,
        ),
        FieldSpec(
            "safety",
            "Felt safety",
            "int",
            lo=0,
            hi=10,
            hint="How safe it felt; " + OPTIONAL_SCALE_HINT,
        ),
        FieldSpec(
            "body_connection",
            "Body connection",
            "int",
            lo=0,
            hi=10,
            hint="Contact with body sensations; " + OPTIONAL_SCALE_HINT,
        ),
        *sessions_spec,
        FieldSpec("notes", "Notes", "textarea"),
    )


def _linked_defaults(session: Session | None) -> dict[str, str]:
    return {"session_id": str(session.id)} if session is not None else {}


@router.get("/clients/{client_id}/observations/new", name="log_observation_form")
def new_observation(
    client_id: str, context: PageContext, login: WebLogin, actor: WebActor, db: DbDep
) -> Response:
    """The form for logging an observation (a nervous-system check-in)."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    sessions = todays_sessions(db, actor, client, tz, now)
    specs = observation_specs(context["vocabulary"], _session_spec(sessions, tz))
    defaults = {
        "observed_at": local_input_value(now, tz),
        "source": Source.PRACTITIONER.value,
        **_linked_defaults(current_session(sessions, now)),
    }
    return _render(
        context,
        "log_observation.html",
        client=client,
        form=_fresh(specs, defaults),
        action=_path(client, "observations"),
    )


@router.post("/clients/{client_id}/observations/new")
def save_observation(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log an observation; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    # The session choice is only offered when there is a session today; a posted session_id
    # is still checked by the service either way.
    sessions = todays_sessions(db, actor, client, tz, now)
    session_spec = _session_spec(sessions, tz) or (FieldSpec("session_id", "Session", "choice"),)
    specs = observation_specs(context["vocabulary"], session_spec)

    def create(data: ObservationCreate, record_id: uuid.UUID) -> object:
        return observation_service.create_observations(
            db, client_id=client.id, data=[data], actor=actor, batch=False, record_ids=[record_id]
        )

    form = _submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=Observation,
        build=_schema_build(ObservationCreate, specs, raw, tz, create),
    )
    if form is None:
        return _back_to_client(client)
    if not sessions:  # redraw without the session choice the form did not have
        form.specs = observation_specs(context["vocabulary"], ())
    return _render(
        context,
        "log_observation.html",
        client=client,
        form=form,
        action=_path(client, "observations"),
        status_code=422,
    )


# --------------------------------------------------------------------------------------------
# Activation episodes
# --------------------------------------------------------------------------------------------


def episode_specs(sessions_spec: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(
            "started_at",
            "Onset",
            "datetime",
            required=True,
            hint="When the activation began.",
        ),
        FieldSpec(
            "recognized_at",
            "Recognized at",
            "datetime",
            hint="When the client noticed they were activated; leave blank if unknown.",
        ),
        FieldSpec(
            "baseline_at",
            "Back to baseline at",
            "datetime",
            hint="Leave blank if not back to baseline yet, or unknown.",
        ),
        FieldSpec(
            "peak_intensity",
            "Peak intensity",
            "int",
            required=True,
            lo=0,
            hi=10,
            hint="0–10 at its strongest.",
        ),
        FieldSpec("trigger", "Trigger", "text", hint="What set it off, in a few words."),
        FieldSpec(
            "trigger_category",
            "Trigger category",
            "text",
            hint="A short word you reuse, such as conflict, work or sensory.",
        ),
        FieldSpec(
            "strategies",
            "Strategies used",
            "list",
            hint="Separate them with commas, for example: paced breathing, walk, called a friend.",
        ),
        FieldSpec(
            "self_compassion",
            "Self-compassion",
            "int",
            lo=0,
            hi=10,
            hint="How kindly the client met themselves; " + OPTIONAL_SCALE_HINT,
        ),
        *sessions_spec,
        FieldSpec("notes", "Notes", "textarea"),
    )


@router.get("/clients/{client_id}/episodes/new", name="log_episode_form")
def new_episode(
    client_id: str, context: PageContext, login: WebLogin, actor: WebActor, db: DbDep
) -> Response:
    """The form for logging an activation episode."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    sessions = todays_sessions(db, actor, client, tz, now)
    specs = episode_specs(_session_spec(sessions, tz))
    defaults = {
        "started_at": local_input_value(now, tz),
        **_linked_defaults(current_session(sessions, now)),
    }
    return _render(
        context,
        "log_episode.html",
        client=client,
        form=_fresh(specs, defaults),
        action=_path(client, "episodes"),
    )


@router.post("/clients/{client_id}/episodes/new")
def save_episode(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Log an activation episode; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    now, tz = utcnow(), context["tz"]
    sessions = todays_sessions(db, actor, client, tz, now)
    session_spec = _session_spec(sessions, tz) or (FieldSpec("session_id", "Session", "choice"),)
    specs = episode_specs(session_spec)

    def create(data: EpisodeCreate, record_id: uuid.UUID) -> object:
        return episode_service.create_episode(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = _submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=Episode,
        build=_schema_build(EpisodeCreate, specs, raw, tz, create),
    )
    if form is None:
        return _back_to_client(client)
    if not sessions:
        form.specs = episode_specs(())
    return _render(
        context,
        "log_episode.html",
        client=client,
        form=form,
        action=_path(client, "episodes"),
        status_code=422,
    )


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------

ALLOW_INCOMPLETE = "allow_incomplete"
NOT_ANSWERED = "Not answered."


def _item_spec(instrument: Instrument, number: int) -> FieldSpec:
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


def measure_specs(instrument: Instrument) -> tuple[FieldSpec, ...]:
    common = (
        FieldSpec("administered_at", "Administered at", "datetime", required=True),
        FieldSpec(
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
    items = tuple(_item_spec(instrument, n) for n in range(1, instrument.item_count + 1))
    confirm = FieldSpec(
        ALLOW_INCOMPLETE,
        "Save with unanswered items",
        "bool",
        hint="The answers are kept, but no total can be scored.",
        in_schema=False,
    )
    return (*common, *items, confirm)


def item_groups(
    instrument: Instrument, specs: tuple[FieldSpec, ...]
) -> list[tuple[str, list[FieldSpec]]]:
    """The item inputs in groups: one per scale (CBI), else one for the whole instrument."""
    by_name = {s.name: s for s in specs}
    if instrument.subscales and instrument.scoring == "scale_means":
        return [
            (sub.name, [by_name[f"item_{n}"] for n in sub.items]) for sub in instrument.subscales
        ]
    return [("", [by_name[f"item_{n}"] for n in range(1, instrument.item_count + 1)])]


def incomplete_problems(instrument: Instrument, items: list[int | None]) -> dict[str, str]:
    """Unanswered items that leave no valid score, each named, plus one explanation."""
    name = instrument.short_name
    missing = [n for n, v in enumerate(items, start=1) if v is None]
    if not missing:
        return {}
    problems: dict[str, str] = {}
    if instrument.scoring == "scale_means":
        short: list[str] = []
        for sub in instrument.subscales:
            answered = sum(1 for n in sub.items if items[n - 1] is not None)
            if 0 < answered < sub.min_answered:
                short.append(
                    f"{sub.name} needs at least {sub.min_answered} of its {len(sub.items)}"
                )
                for n in sub.items:
                    if items[n - 1] is None:
                        problems[f"item_{n}"] = NOT_ANSWERED
        if not short:
            return {}
        explanation = "; ".join(short) + " answers for a score."
    else:
        if len(missing) <= instrument.max_missing_items:
            return {}  # the scorer prorates
        allowed = (
            f"{name} can be scored with at most {instrument.max_missing_items} unanswered"
            if instrument.max_missing_items
            else f"{name} needs every item answered for a total"
        )
        explanation = f"{len(missing)} of {instrument.item_count} items are unanswered; {allowed}."
        for n in missing:
            problems[f"item_{n}"] = NOT_ANSWERED
    problems["items"] = (
        f"{explanation} Answer them, or tick “Save with unanswered items” to keep the answers "
        "without a score."
    )
    return problems


def _measure_build(
    instrument: Instrument,
    specs: tuple[FieldSpec, ...],
    raw: Mapping[str, str],
    tz: tzinfo,
    call: Callable[[MeasureCreate, uuid.UUID], object],
) -> Callable[[dict[str, str]], Create | None]:
    plain = tuple(s for s in specs if not s.name.startswith("item_"))

    def build(errors: dict[str, str]) -> Create | None:
        values, problems = parse_fields(plain, raw, tz)
        errors.update(problems)
        items: list[int | None] | None = None
        if not instrument.total_only:
            items = []
            for n in range(1, instrument.item_count + 1):
                text = raw.get(f"item_{n}", "").strip()
                if not text:
                    items.append(None)
                elif text.lstrip("-").isdigit() and len(text) < 4:
                    items.append(int(text))  # the range is the registry's check (service)
                else:
                    errors[f"item_{n}"] = "Please choose one of the options."
                    items.append(None)
            if all(v is None for v in items) and not any(k.startswith("item_") for k in errors):
                errors["items"] = "No item is answered yet."
            elif not values.get(ALLOW_INCOMPLETE):
                for key, message in incomplete_problems(instrument, items).items():
                    errors.setdefault(key, message)
        payload = {
            **{k: v for k, v in values.items() if k in ("administered_at", "source", "total")},
            "instrument": instrument.code,
            "items": items,
        }
        data = validate(
            MeasureCreate,
            payload,
            (
                *specs,
                FieldSpec("instrument", "Instrument", "text"),
                FieldSpec("items", "Answers", "text"),
            ),
            errors,
        )
        if data is None:
            return None
        return lambda record_id: call(data, record_id)

    return build


def _instrument(code: str) -> Instrument:
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        raise NotFound("There is no instrument with that code")
    return instrument


def _measure_page(
    context: dict[str, Any],
    client: Client,
    instrument: Instrument,
    form: FormState,
    status_code: int = 200,
) -> Response:
    return _render(
        context,
        "log_measure.html",
        client=client,
        form=form,
        action=f"{_path(client, 'measures')}?instrument={instrument.code}",
        status_code=status_code,
        instrument=instrument,
        instrument_name=instrument.short_name,
        instruments=[(code, i.short_name) for code, i in INSTRUMENTS.items()],
        groups=item_groups(instrument, form.specs) if not instrument.total_only else [],
        notes=measure_notes(instrument),
    )


InstrumentQuery = Annotated[str, Query(max_length=40)]


def _items_anchor(form: FormState, instrument: Instrument) -> None:
    """Link the general answers message to the first item that needs attention."""
    if instrument.total_only:
        return
    flagged = [n for n in range(1, instrument.item_count + 1) if f"item_{n}" in form.errors]
    first = flagged[0] if flagged else 1
    form.anchors = {"items": (f"f-item_{first}-0", "Answers")}
    if "items" in form.errors:
        # One summary line explains the unanswered items; each is still marked where it is.
        form.quiet = frozenset(
            name for name, message in form.errors.items() if message == NOT_ANSWERED
        )


def measure_notes(instrument: Instrument) -> list[str]:
    """How unanswered items are treated, in words, from the registry's rules."""
    notes = []
    if instrument.item_text is None:
        notes.append(
            "Item wording is not shown here (its licence is not confirmed); enter the answers "
            "in the order of the paper form."
        )
    if instrument.scoring == "sum":
        if instrument.max_missing_items:
            notes.append(
                f"Up to {instrument.max_missing_items} unanswered items are prorated; "
                "with more, no total can be scored."
            )
        else:
            notes.append("Every item is needed for a total.")
    elif instrument.scoring == "scale_means":
        notes.append(
            "Each scale is scored from at least half of its items; leave a whole scale empty "
            "if it does not apply."
        )
    if instrument.safety_item is not None:
        notes.append(
            f"An answer above 0 to item {instrument.safety_item} raises the safety flag, "
            "whatever the total."
        )
    return notes


@router.get("/clients/{client_id}/measures/new", name="log_measure_form")
def new_measure(
    client_id: str,
    context: PageContext,
    login: WebLogin,
    db: DbDep,
    instrument: InstrumentQuery = "phq9",
) -> Response:
    """The form for recording a measure, item by item (or a total for ORS/SRS)."""
    client = writable_client(db, login.user, client_id)
    chosen = _instrument(instrument)
    defaults = {
        "administered_at": local_input_value(utcnow(), context["tz"]),
        "source": Source.CLIENT.value,
    }
    return _measure_page(context, client, chosen, _fresh(measure_specs(chosen), defaults))


@router.post("/clients/{client_id}/measures/new")
def save_measure(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
    instrument: InstrumentQuery = "phq9",
) -> Response:
    """Record a measure (scored by the server); 422 with per-item messages, or back."""
    client = writable_client(db, login.user, client_id)
    chosen = _instrument(raw.get("instrument") or instrument)
    specs = measure_specs(chosen)

    def create(data: MeasureCreate, record_id: uuid.UUID) -> object:
        return measure_service.create_measure(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = _submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=Measure,
        build=_measure_build(chosen, specs, raw, context["tz"], create),
    )
    if form is None:
        return _back_to_client(client)
    _items_anchor(form, chosen)
    return _measure_page(context, client, chosen, form, status_code=422)


# --------------------------------------------------------------------------------------------
# Annotations
# --------------------------------------------------------------------------------------------


def annotation_specs() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("at", "Date and time", "datetime", required=True),
        FieldSpec(
            "kind",
            "Kind",
            "choice",
            required=True,
            choices=_choices(AnnotationKind, {"care_change": ANNOTATION_KIND_WORDS["care_change"]}),
        ),
        FieldSpec(
            "label",
            "Label",
            "text",
            required=True,
            hint="Shown on every chart of this client, so keep it short.",
        ),
        FieldSpec("notes", "Notes", "textarea"),
    )


@router.get("/clients/{client_id}/annotations/new", name="log_annotation_form")
def new_annotation(client_id: str, context: PageContext, login: WebLogin, db: DbDep) -> Response:
    """The form for adding a note to the client's timeline."""
    client = writable_client(db, login.user, client_id)
    defaults = {
        "at": local_input_value(utcnow(), context["tz"]),
        "kind": AnnotationKind.LIFE_EVENT.value,
    }
    return _render(
        context,
        "log_annotation.html",
        client=client,
        form=_fresh(annotation_specs(), defaults),
        action=_path(client, "annotations"),
    )


@router.post("/clients/{client_id}/annotations/new")
def save_annotation(
    client_id: str,
    context: PageContext,
    login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    raw: RawForm,
) -> Response:
    """Add a timeline note; 422 with per-field messages, or back to the client page."""
    client = writable_client(db, login.user, client_id)
    specs = annotation_specs()

    def create(data: AnnotationCreate, record_id: uuid.UUID) -> object:
        return annotation_service.create_annotation(
            db, client_id=client.id, data=data, actor=actor, record_id=record_id
        )

    form = _submit(
        db,
        client=client,
        raw=raw,
        specs=specs,
        model=Annotation,
        build=_schema_build(AnnotationCreate, specs, raw, context["tz"], create),
    )
    if form is None:
        return _back_to_client(client)
    return _render(
        context,
        "log_annotation.html",
        client=client,
        form=form,
        action=_path(client, "annotations"),
        status_code=422,
    )
