"""Periods: the one parser for a start and an end asked for by a person or a program.

Every entry point (the client page, the report pages, the API, the CLI) reads its period
through here, so the same bad date is refused everywhere with the same message, naming the
field. A bound is a local date (a whole day in the practice time zone; an end date is
included) or an ISO 8601 time. Dates outside 1900-2100 are refused before any arithmetic:
``9999-12-31`` plus a day, or ``0001-01-01`` in a zone east of UTC, does not fit a datetime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final, Literal

Bound = Literal["start", "end"]
#: The query fields a period's problem can name: its bounds, and the day it is asked "as of".
PeriodField = Literal["start", "end", "as_of"]

#: Plausible dates: nothing clinical happened before 1900, and nothing is planned past 2100.
EARLIEST_DAY: Final = date(1900, 1, 1)
LATEST_DAY: Final = date(2100, 12, 31)
MAX_PERIOD: Final = timedelta(days=3653)  # ten years
#: The page's and the reports' default period; the metrics' default window.
DEFAULT_REPORT_PERIOD: Final = timedelta(days=183)
DEFAULT_METRICS_PERIOD: Final = timedelta(days=28)

UNREADABLE: Final = "use a date like 2026-01-31 or an ISO 8601 time"
NEEDS_OFFSET: Final = "use an ISO 8601 time with its offset, like 2026-01-31T09:00:00+00:00"
OUT_OF_RANGE: Final = f"use a date between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"
START_NOT_BEFORE_END: Final = "the start must be before the end, and not in the future"
END_NOT_AFTER_START: Final = "the end must be after the start"
TOO_LONG: Final = "the period may be at most 10 years"
AS_OF_UNREADABLE: Final = "use a date like 2026-01-31"
AS_OF_FUTURE: Final = "the day may not be after today (in the practice's time zone)"
END_AFTER_AS_OF: Final = "the end may not be after the end of the as_of day"
START_NOT_BEFORE_AS_OF: Final = "the start must be before the end of the as_of day"


def as_of_before_intake(intake: date) -> str:
    return f"the day may not be before the client's intake ({intake.isoformat()})"


class PeriodError(ValueError):
    """A period that cannot be used: one message per bad field."""

    def __init__(self, problems: Sequence[tuple[PeriodField, str]]) -> None:
        self.problems: tuple[tuple[PeriodField, str], ...] = tuple(problems)
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in self.problems))


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """``[start, end)`` in UTC, with the local dates it covers (both inclusive)."""

    start: datetime
    end: datetime
    start_date: date
    end_date: date

    @property
    def label(self) -> str:
        return f"{_day(self.start_date)} to {_day(self.end_date)}"

    @property
    def slug(self) -> str:
        return f"{self.start_date.isoformat()}_to_{self.end_date.isoformat()}"


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def plausible(day: date) -> bool:
    """Within 1900-2100: a day whose neighbours and time-zone shifts are all datetimes."""
    return EARLIEST_DAY <= day <= LATEST_DAY


#: Sessions and dated notes may be planned this far ahead (a booking series covers at most a
#: year; an annual review or a planned care change may be booked years out); everything else
#: has already happened, give or take `facts.CLOCK_SLACK`.
PLANNING_HORIZON: Final = timedelta(days=5 * 365 + 1)
BEYOND_PLANNING_HORIZON: Final = "must not be more than five years ahead"
DAY_RANGE: Final = f"{EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"
DAY_OUT_OF_RANGE: Final = f"must be between {DAY_RANGE}"
TIME_OUT_OF_RANGE: Final = DAY_OUT_OF_RANGE + " (UTC)"


def plausible_time(value: datetime) -> bool:
    """An aware time within 1900-2100 (UTC): one whose arithmetic and local time never fail."""
    in_utc = local(value, UTC)
    return in_utc is not None and EARLIEST_DAY <= in_utc.date() <= LATEST_DAY


def local(value: datetime, tz: tzinfo) -> datetime | None:
    """`value` on the practice's clock; None when that clock cannot show it (a year-1 value
    stored before the range rule, west of UTC, or year 9999 east of it)."""
    try:
        return value.astimezone(tz)
    except (OverflowError, ValueError):
        return None


def local_text(value: datetime, tz: tzinfo, fmt: str) -> str:
    """`value` formatted on the practice's clock; never raises: a time the clock cannot show
    is written as its own ISO 8601 text, so an old implausible row still renders."""
    shown = local(value, tz)
    if shown is None:
        return value.isoformat()
    try:
        return shown.strftime(fmt)
    except ValueError:
        return shown.isoformat()


def parse_bound(
    value: str | None, tz: tzinfo, *, field: Bound, require_offset: bool = False
) -> datetime | None:
    """One bound in UTC: a local date (an end date is included) or an ISO 8601 time.

    Blank is None (the caller's default). With `require_offset` (the API) only times with
    an offset are read, as a program must say which instant it means.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    whole_day = len(text) == 10 and not require_offset
    try:
        parsed = (
            datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
            if whole_day
            else datetime.fromisoformat(text)
        )
    except ValueError:  # 2026-02-30, "yesterday"
        raise PeriodError([(field, NEEDS_OFFSET if require_offset else UNREADABLE)]) from None
    if parsed.tzinfo is None:
        if require_offset:
            raise PeriodError([(field, NEEDS_OFFSET)])
        parsed = parsed.replace(tzinfo=tz)
    if not plausible(parsed.date()):
        raise PeriodError([(field, OUT_OF_RANGE)])
    if whole_day and field == "end":
        parsed = datetime.combine(parsed.date() + timedelta(days=1), time(0), tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_bounds(
    start: str | None, end: str | None, tz: tzinfo, *, require_offset: bool = False
) -> tuple[datetime | None, datetime | None]:
    """Both bounds; every bad field is reported at once."""
    problems: list[tuple[PeriodField, str]] = []
    bounds: dict[Bound, datetime | None] = {"start": None, "end": None}
    given: tuple[tuple[Bound, str | None], ...] = (("start", start), ("end", end))
    for field, value in given:
        try:
            bounds[field] = parse_bound(value, tz, field=field, require_offset=require_offset)
        except PeriodError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PeriodError(problems)
    return bounds["start"], bounds["end"]


def report_period(
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    tz: tzinfo,
    default_length: timedelta = DEFAULT_REPORT_PERIOD,
    in_care_since: date | None = None,
) -> ReportPeriod:
    """The period of a page or report: default the last 6 months; an end in the future stops
    at now. An unreadable, implausible, empty or over-long period is a PeriodError.

    With `in_care_since` (the client's intake date), a default start before it moves to the
    intake day: months of empty chart before care began say nothing.
    """
    s, e = parse_bounds(start, end, tz)
    e = min(e or now, now)
    if s is None:
        s = e - default_length
        if in_care_since is not None and plausible(in_care_since):
            intake = datetime.combine(in_care_since, time(0), tzinfo=tz).astimezone(UTC)
            if s < intake < e:
                s = intake
    if s >= e:
        raise PeriodError([("start", START_NOT_BEFORE_END)])
    if e - s > MAX_PERIOD:
        raise PeriodError([("start", TOO_LONG)])
    return ReportPeriod(
        start=s,
        end=e,
        start_date=s.astimezone(tz).date(),
        end_date=(e - timedelta(microseconds=1)).astimezone(tz).date(),
    )


def metrics_window(
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    default_length: timedelta = DEFAULT_METRICS_PERIOD,
) -> tuple[datetime, datetime]:
    """The metrics' ``[start, end)``: default the 28 days up to now (or up to `end`); the end
    is taken as given, so a reversed or empty window is the end's fault."""
    given: tuple[tuple[Bound, datetime | None], ...] = (("start", start), ("end", end))
    problems: list[tuple[PeriodField, str]] = [
        (field, OUT_OF_RANGE)
        for field, value in given
        if value is not None and not plausible(value.date())
    ]
    if problems:
        raise PeriodError(problems)
    end = end or now
    start = start or end - default_length
    if end <= start:
        raise PeriodError([("end", END_NOT_AFTER_START)])
    if end - start > MAX_PERIOD:
        raise PeriodError([("start", TOO_LONG)])
    return start, end


# --------------------------------------------------------------------------------------------
# As of a day: what the dashboard would have said at the end of it
# --------------------------------------------------------------------------------------------


def parse_day(value: str) -> date:
    """The ``as_of`` day: a local date written YYYY-MM-DD (a PeriodError naming it otherwise)."""
    text = value.strip()
    try:
        if len(text) != 10:  # fromisoformat would also read "20260131" or a week date
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError([("as_of", AS_OF_UNREADABLE)]) from None
    if not plausible(day):
        raise PeriodError([("as_of", OUT_OF_RANGE)])
    return day


def as_of_moment(day: date, *, now: datetime, tz: tzinfo, intake: date) -> datetime:
    """The end of ``day`` in the practice's time zone, in UTC: the next local midnight, or
    ``now`` for today (the rest of today has not happened). The day must lie between the
    client's intake and today."""
    if day > now.astimezone(tz).date():
        raise PeriodError([("as_of", AS_OF_FUTURE)])
    if day < intake:
        raise PeriodError([("as_of", as_of_before_intake(intake))])
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return min(day_end, now)


def metrics_window_as_of(
    start: datetime | None,
    end: datetime | None,
    *,
    moment: datetime,
    default_length: timedelta = DEFAULT_METRICS_PERIOD,
) -> tuple[datetime, datetime]:
    """The metrics' window when asked as of ``moment``: it ends at the moment by default, and
    a given bound must not reach past it (``end`` at most the moment, ``start`` before it);
    otherwise the rules of :func:`metrics_window`, with the moment as "now"."""
    problems: list[tuple[PeriodField, str]] = []
    if start is not None and plausible(start.date()) and start >= moment:
        problems.append(("start", START_NOT_BEFORE_AS_OF))
    if end is not None and plausible(end.date()) and end > moment:
        problems.append(("end", END_AFTER_AS_OF))
    if problems:
        raise PeriodError(problems)
    return metrics_window(start, end, now=moment, default_length=default_length)
