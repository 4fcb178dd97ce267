"""The domain's period parser as the services' 422: one message per bad query field."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from practice_dashboard.domain.periods import (
    DEFAULT_REPORT_PERIOD,
    PeriodError,
    ReportPeriod,
    metrics_window,
    parse_bounds,
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
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The metrics' window (default the 28 days up to now); a bad one is a 422."""
    try:
        return metrics_window(start, end, now=now)
    except PeriodError as exc:
        raise invalid(exc) from None
