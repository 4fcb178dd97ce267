"""The domain's period parser as the services' 422: one message per bad query field."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from practice_dashboard.domain.periods import (
    DEFAULT_REPORT_PERIOD,
    PeriodError,
    ReportPeriod,
    as_of_moment,
    metrics_window,
    metrics_window_as_of,
    parse_bounds,
    parse_day,
    report_period,
)
from practice_dashboard.errors import Invalid


def invalid(exc: PeriodError) -> Invalid:
    """The period's problems as a 422 whose `loc` names each query field."""
    error = Invalid([((field,), msg) for field, msg in exc.problems], location="query")
    error.detail = str(exc)  # the HTML error page and the CLI name the field too
    return error


def parse_period(
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    tz: tzinfo,
    default_length: timedelta = DEFAULT_REPORT_PERIOD,
) -> ReportPeriod:
    """A report's period (see ``domain.periods.report_period``); a bad one is a 422, never a
    silent substitute: an export must be of the period that was asked for."""
    try:
        return report_period(start, end, now=now, tz=tz, default_length=default_length)
    except PeriodError as exc:
        raise invalid(exc) from None


def parse_instants(
    start: str | None, end: str | None, *, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """The API's bounds: ISO 8601 times with an offset (a 422 naming the field otherwise)."""
    try:
        return parse_bounds(start, end, tz, require_offset=True)
    except PeriodError as exc:
        raise invalid(exc) from None


def resolve_window(
    start: datetime | None, end: datetime | None, now: datetime, *, as_of: datetime | None = None
) -> tuple[datetime, datetime]:
    """The metrics' window (default the 28 days up to now, or up to the ``as_of`` moment, which
    it may not reach past); a bad one is a 422."""
    try:
        if as_of is not None:
            return metrics_window_as_of(start, end, moment=as_of)
        return metrics_window(start, end, now=now)
    except PeriodError as exc:
        raise invalid(exc) from None


def parse_as_of(value: str | None) -> date | None:
    """The API's ``as_of`` day (YYYY-MM-DD); blank is None, anything else a 422 naming it."""
    if value is None or not value.strip():
        return None
    try:
        return parse_day(value)
    except PeriodError as exc:
        raise invalid(exc) from None


def resolve_as_of(day: date, *, intake: date, now: datetime, tz: tzinfo) -> datetime:
    """The moment ``as_of`` asks about: the end of that day (a 422 before intake or after
    today)."""
    try:
        return as_of_moment(day, now=now, tz=tz, intake=intake)
    except PeriodError as exc:
        raise invalid(exc) from None
