"""The client page: headline figures, flags (with acknowledgement) and charts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Path, Query
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.config import Settings
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.flags import FLAG_NAMES, flag_name
from practice_dashboard.domain.labels import TREND_WORDS, evidence_label
from practice_dashboard.domain.metrics import ClientMetrics
from practice_dashboard.domain.periods import PeriodError, as_of_moment, parse_day, report_period
from practice_dashboard.domain.windows import Window
from practice_dashboard.errors import Conflict, Invalid, NotFound
from practice_dashboard.models.base import utcnow
from practice_dashboard.routing import Router
from practice_dashboard.services import access
from practice_dashboard.services.analytics import metrics as metrics_service
from practice_dashboard.services.analytics.client_view import ClientView, load_client_view
from practice_dashboard.services.checkins import links
from practice_dashboard.web.charts import attendance_counts, build_charts, fmt_number, fmt_p
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin
from practice_dashboard.web.routes.checkin_link_page import STATE_WORDS
from practice_dashboard.web.routes.record_pages import saved_entry
from practice_dashboard.web.templating import minutes, percent, templates

router = Router()

DateParam = Annotated[str | None, Query(max_length=40)]


# --------------------------------------------------------------------------------------------
# Period
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime
    start_date: date  # the form's dates (local, inclusive)
    end_date: date
    problem: str | None = None
    custom: bool = False


def resolve_page_period(
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    tz: tzinfo,
    intake: date | None = None,
) -> Period:
    """The charts' period: default the last 6 months, or since intake for a newer client; a
    bad period is a form error above the charts (with the same words as the reports' and the
    API's 422), and the default is shown."""
    try:
        chosen = report_period(start, end, now=now, tz=tz, in_care_since=intake)
    except PeriodError as exc:
        fallback = report_period(None, None, now=now, tz=tz, in_care_since=intake)
        reasons = "; ".join(f"{field}: {msg}" for field, msg in exc.problems)
        return Period(
            start=fallback.start,
            end=fallback.end,
            start_date=fallback.start_date,
            end_date=fallback.end_date,
            problem=f"That period could not be read ({reasons}). Showing the last 6 months.",
        )
    return Period(
        start=chosen.start,
        end=chosen.end,
        start_date=chosen.start_date,
        end_date=chosen.end_date,
        custom=bool(start or end),
    )


@dataclass(frozen=True, slots=True)
class Replay:
    """The page as it stood at the end of a day (``?as_of=``), or why that day was refused."""

    day: date | None = None
    moment: datetime | None = None
    problem: str | None = None


def resolve_replay(value: str | None, *, now: datetime, tz: tzinfo, intake: date) -> Replay:
    """The ``as_of`` day's moment, by the API's rules (domain/periods.py); a bad day is a
    notice above the page (with the API's words), and today is shown."""
    if not value or not value.strip():
        return Replay()
    try:
        day = parse_day(value)
        moment = as_of_moment(day, now=now, tz=tz, intake=intake)
    except PeriodError as exc:
        reasons = "; ".join(f"{field}: {msg}" for field, msg in exc.problems)
        return Replay(problem=f"That day could not be shown ({reasons}). Showing today.")
    return Replay(day=day, moment=moment)


# --------------------------------------------------------------------------------------------
# Headline figures and flags as shown
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Headline:
    """One figure: value, what it is, and either a comparison or why it is missing."""

    key: str
    label: str
    value: str
    detail: str | None = None
    reason: str | None = None  # why the value is missing ("—")
    direction: str | None = None  # css class: improving / worsening
    arrow: str | None = None
    trend: str | None = None  # "trend over 12 weeks: improving (…)"
    trend_direction: str | None = None


def _trend_line(trend: Any, th: Any) -> tuple[str, str | None]:
    words = TREND_WORDS.get(trend.direction, TREND_WORDS["no_clear_trend"])
    text = f"Trend over {th.trend_weeks} weeks: {words}"
    if trend.direction == "insufficient_data":
        text += f" ({trend.n} of {th.trend_min_points} points needed)"
    elif trend.slope_per_week is not None:
        text += f" ({fmt_number(trend.slope_per_week)} min/week, {fmt_p(trend.p_value)})"
    direction = trend.direction if trend.direction in ("improving", "worsening") else None
    return text, direction


def headlines(view: ClientView, settings: Settings, now: datetime) -> list[Headline]:
    m: ClientMetrics = view.metrics
    th = settings.thresholds
    window = Window(view.facts, m.start.timestamp(), m.end.timestamp())
    window_episodes, window_obs = window.episodes, window.observations
    out: list[Headline] = []

    rec = m.recovery
    base = m.baseline.recovery_minutes
    reason = None
    if rec.median_minutes is None:
        reason = (
            "no episodes logged in these 28 days"
            if not window_episodes
            else "no episode returned to baseline in these 28 days"
        )
    detail, direction, arrow = None, None, None
    if base.baseline_median is not None:
        usual = f"{minutes(base.normal_low)}–{minutes(base.normal_high)}"
        if base.status == "better":
            arrow, direction = "↓", "improving"
            detail = f"shorter than the personal baseline of {minutes(base.baseline_median)}"
        elif base.status == "worse":
            arrow, direction = "↑", "worsening"
            detail = f"longer than the personal baseline of {minutes(base.baseline_median)}"
        elif base.status == "within_normal_range":
            arrow = "≈"
            detail = f"close to the personal baseline of {minutes(base.baseline_median)}"
        else:
            detail = f"personal baseline {minutes(base.baseline_median)}"
        detail += f" (usual range {usual})"
        if base.status != "insufficient_data" and rec.median_minutes is None:
            arrow = direction = None
    else:
        detail = (
            f"no personal baseline yet: it needs {th.baseline_min_values} recovered episodes "
            f"early in care ({base.baseline_n} so far)"
        )
    out.append(
        Headline(
            "recovery",
            "Recovery after activation (median)",
            minutes(rec.median_minutes),
            detail,
            reason,
            direction,
            arrow,
            *_trend_line(rec.trend, th),
        )
    )
    recog = m.recognition
    out.append(
        Headline(
            "recognition",
            "Recognition of activation (median)",
            minutes(recog.median_minutes),
            "from onset to noticing",
            None
            if recog.median_minutes is not None
            else (
                "no episodes logged in these 28 days"
                if not window_episodes
                else "no recognition times recorded in these 28 days"
            ),
            trend=_trend_line(recog.trend, th)[0],
            trend_direction=_trend_line(recog.trend, th)[1],
        )
    )
    cap = m.capacity
    out.append(
        Headline(
            "time_in_window",
            "Time in window",
            percent(cap.time_in_window),
            f"share of {len(window_obs)} check-ins within the window" if window_obs else None,
            None if cap.time_in_window is not None else "no check-ins in these 28 days",
        )
    )
    out.append(
        Headline(
            "tolerated_activation",
            "Tolerated activation",
            "—"
            if cap.tolerated_activation is None
            else f"{fmt_number(cap.tolerated_activation)}/10",
            "activation the client stays within the window at (90th percentile)",
            None
            if cap.tolerated_activation is not None
            else "no check-ins within the window in these 28 days",
        )
    )
    eng = m.engagement
    attended, due = attendance_counts(view.facts.sessions, min(m.end, now).timestamp(), th)
    out.append(
        Headline(
            "attendance_rate",
            "Attendance",
            percent(eng.attendance_rate),
            f"attended {attended} of the last {due} due sessions" if due else None,
            None if eng.attendance_rate is not None else "no sessions have been due yet",
        )
    )
    days = eng.days_since_last_attended
    cadence = view.client.session_cadence_days
    out.append(
        Headline(
            "days_since_last_attended",
            "Since last attended session",
            "—" if days is None else f"{days} day{'s' if days != 1 else ''}",
            f"usual rhythm: every {cadence} day{'s' if cadence != 1 else ''}",
            None if days is not None else "no attended session yet",
        )
    )
    return out


def _lower_first(text: str) -> str:
    # "Latest CBI …" -> "latest CBI …", but "PHQ-9 changed …" keeps its capitals.
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _evidence_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return fmt_number(value, 2)
    return str(value)


def flag_cards(view: ClientView, tz: tzinfo) -> list[dict[str, Any]]:
    cards = []
    for flag in view.flags:
        ack = flag.get("acknowledgement")
        reasons = list(flag["reasons"])
        if len(reasons) == 1:  # read inline: "Check-in suggested, because in the latest …"
            reasons = [_lower_first(reasons[0])]
        cards.append(
            {
                "code": flag["code"],
                "name": flag_name(flag["code"]),
                "level": flag["level"],
                "reasons": reasons,
                "evidence": [
                    (evidence_label(name), _evidence_value(value))
                    for name, value in flag["evidence"].items()
                ],
                "suggestion": flag["suggestion"],
                "fingerprint": flag["fingerprint"],
                "acknowledgement": (
                    {
                        "by": view.people.get(ack["acknowledged_by_id"], "a colleague"),
                        "at": datetime.fromisoformat(ack["at"]).astimezone(tz),
                        "note": ack["note"],
                    }
                    if ack
                    else None
                ),
            }
        )
    return cards


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


def _client_uuid(client_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(client_id)
    except ValueError as exc:
        raise NotFound("Client not found") from exc


def _render(
    context: dict[str, Any],
    *,
    db: DbDep,
    settings: Settings,
    actor: Any,
    client_id: uuid.UUID,
    start: str | None,
    end: str | None,
    as_of: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    now = utcnow()
    tz = settings.timezone
    # The intake date sets the default period, which the view is then loaded for.
    client = access.get_visible_client(db, actor.user, client_id)
    intake = client.intake_date
    replay = resolve_replay(as_of, now=now, tz=tz, intake=intake)
    if replay.moment is not None:
        now = replay.moment  # the page as it stood then: "now" was the end of that day
    period = resolve_page_period(start, end, now=now, tz=tz, intake=intake)
    view = load_client_view(
        db,
        client_id=client_id,
        actor=actor,
        settings=settings,
        start=period.start,
        end=period.end,
        now=now,
        as_of=replay.moment,
        client=client,
    )
    charts = build_charts(
        view,
        vocabulary=context["vocabulary"],
        tz=tz,
        thresholds=settings.thresholds,
        now=now,
    )
    intake = view.client.intake_date
    quick = [
        ("Last 3 months", {"start": (now.astimezone(tz) - timedelta(days=91)).date().isoformat()}),
        ("Last 6 months", {}),
        (
            "Last 12 months",
            {"start": (now.astimezone(tz) - timedelta(days=365)).date().isoformat()},
        ),
        ("Since intake", {"start": intake.isoformat()}),
    ]
    page_path = f"/clients/{view.client.id}"
    period_query = {k: v for k, v in (("start", start), ("end", end)) if v and period.custom}
    if replay.day is not None:
        for _, query in quick:
            query["as_of"] = replay.day.isoformat()
    return templates.TemplateResponse(
        context["request"],
        "client.html",
        {
            **context,
            "nav": "caseload",
            "client": view.client,
            "view": view,
            "can_write": view.can_write,
            "period": period,
            "period_query": period_query,
            "quick_periods": [
                (label, f"{page_path}?{urlencode(q)}" if q else page_path) for label, q in quick
            ],
            "page_path": page_path,
            "replay": replay,
            "figures_current": view.metrics.end >= now,
            "metrics_start": view.metrics.start.astimezone(tz),
            # the end is exclusive: show the last day it covers
            "metrics_end": (view.metrics.end - timedelta(microseconds=1)).astimezone(tz),
            "headlines": headlines(view, settings, now),
            "flag_cards": flag_cards(view, tz),
            "charts": charts,
            # The check-in link's state and when it was last used (owner and supervisor).
            "checkin_link": links.find_link(
                db, client_id=view.client.id, actor=actor, now=now, client=view.client
            ),
            "checkin_state_words": STATE_WORDS,
            "flag_errors": extra.pop("flag_errors", {}),
            "flag_notes": extra.pop("flag_notes", {}),
            **extra,
        },
        status_code=status_code,
    )


@router.get("/clients/{client_id}", name="client_page")
def client_page(
    client_id: str,
    context: PageContext,
    _login: WebLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    start: DateParam = None,
    end: DateParam = None,
    acknowledged: Annotated[str | None, Query(max_length=40)] = None,
    unacknowledged: Annotated[str | None, Query(max_length=40)] = None,
    saved: Annotated[str | None, Query(max_length=80)] = None,
    as_of: DateParam = None,
) -> Response:
    """One client's progress: figures, flags and charts (404 outside the caller's scope);
    with ``as_of``, as they stood at the end of that day."""
    cid = _client_uuid(client_id)
    return _render(
        context,
        db=db,
        settings=settings,
        actor=actor,
        client_id=cid,
        start=start,
        end=end,
        as_of=as_of,
        acknowledged=FLAG_NAMES.get(acknowledged or "", None),
        unacknowledged=FLAG_NAMES.get(unacknowledged or "", None),
        saved_entry=saved_entry(db, actor, cid, saved, context["vocabulary"]) if saved else None,
    )


@router.post("/clients/{client_id}/flags/{code}/acknowledge", name="acknowledge_flag_page")
def acknowledge_flag(
    client_id: str,
    code: Annotated[str, Path(max_length=40)],
    context: PageContext,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    fingerprint: Annotated[str | None, Form(max_length=64)] = None,
    note: Annotated[str, Form(max_length=4000)] = "",
    start: Annotated[str | None, Form(max_length=40)] = None,
    end: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    """Acknowledge a flag from the page; safety needs a note. Back to the page on success."""
    cid = _client_uuid(client_id)
    try:
        metrics_service.acknowledge_flag(
            db,
            client_id=cid,
            code=code,
            fingerprint=fingerprint or None,
            note=note or None,
            actor=actor,
            settings=settings,
            now=utcnow(),
        )
    except Invalid as exc:
        on_note = any(p["loc"][-1] == "note" for p in exc.problems)
        if on_note:
            return _render(
                context,
                db=db,
                settings=settings,
                actor=actor,
                client_id=cid,
                start=start,
                end=end,
                status_code=422,
                flag_errors={
                    code: "Please add a note of what was done: a safety flag is "
                    "acknowledged only with a note."
                },
                flag_notes={code: note},
            )
        return _render(
            context,
            db=db,
            settings=settings,
            actor=actor,
            client_id=cid,
            start=start,
            end=end,
            status_code=422,
            flag_message="That flag is no longer raised; the page shows the current flags.",
        )
    except Conflict:
        return _render(
            context,
            db=db,
            settings=settings,
            actor=actor,
            client_id=cid,
            start=start,
            end=end,
            status_code=409,
            flag_message=(
                "This flag changed since the page was loaded; please review it again "
                "before acknowledging."
            ),
            flag_notes={code: note},
        )
    return _back_to_page(cid, {"acknowledged": code}, start=start, end=end)


def _back_to_page(
    cid: uuid.UUID, outcome: dict[str, str], *, start: str | None, end: str | None
) -> RedirectResponse:
    """Back to the client page after a flag action, keeping the period the person was viewing."""
    query = {**outcome, **{k: v for k, v in (("start", start), ("end", end)) if v}}
    return RedirectResponse(f"/clients/{cid}?{urlencode(query)}", status_code=303)


@router.post("/clients/{client_id}/flags/{code}/unacknowledge", name="unacknowledge_flag_page")
def unacknowledge_flag(
    client_id: str,
    code: Annotated[str, Path(max_length=40)],
    context: PageContext,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    start: Annotated[str | None, Form(max_length=40)] = None,
    end: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    """Withdraw a flag's acknowledgement from the page: the flag speaks again. Audited."""
    cid = _client_uuid(client_id)
    try:
        metrics_service.unacknowledge_flag(db, client_id=cid, code=code, actor=actor, now=utcnow())
    except Invalid:
        return _render(
            context,
            db=db,
            settings=settings,
            actor=actor,
            client_id=cid,
            start=start,
            end=end,
            status_code=422,
            flag_message="That flag is not acknowledged now; the page shows the current flags.",
        )
    return _back_to_page(cid, {"unacknowledged": code}, start=start, end=end)
