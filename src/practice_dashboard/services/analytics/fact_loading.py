"""Read a client's records into the domain's frozen facts: a fixed number of queries.

One query per record kind, for one client or for many at once (the caseload summaries), so
the cost never grows with the number of clients. Rows are read as plain tuples, not ORM
objects: the analytics need a few columns of thousands of rows.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    Uuid,
    bindparam,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.type_api import TypeEngine

from practice_dashboard.db import DbSession, kept_statement
from practice_dashboard.domain.facts import (
    AssignmentFact,
    Attendance,
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    HomeworkCompletion,
    MeasureFact,
    ObservationFact,
    SessionFact,
    Source,
    Zone,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.windows import ROLLING_K
from practice_dashboard.models import (
    Annotation,
    AnnotationKind,
    Assignment,
    Client,
    ClientSummary,
    Episode,
    Measure,
    Observation,
    Session,
)


def _in(column: Any, client_ids: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.in_(client_ids)
    return result


def _key(column: Any, single: bool) -> Any:
    """The column that says whose row it is: a constant for one client, else the id as text.

    Building a uuid.UUID per row costs more than the rest of the row (thousands of rows per
    client), so rows are grouped by the id's text and mapped back once per client.
    """
    if single:
        return literal(0)
    return type_coerce(column, Uuid(as_uuid=False))


#: The client of a one-client read, bound when it runs.
_CLIENT: Final = "client_id"


@dataclass(frozen=True, slots=True)
class _Reads:
    """Whose rows a load reads: one client (statements kept per shape, the client bound), or
    many (a list or a subquery of ids, written into statements built for this load)."""

    single: bool
    client_ids: Any
    dialect: str

    def whose(self, column: Any) -> ColumnElement[bool]:
        if self.single:
            result: ColumnElement[bool] = column == bindparam(_CLIENT)
            return result
        return _in(column, self.client_ids)

    def key(self, column: Any) -> Any:
        return _key(column, self.single)

    def statement(self, name: str, build: Callable[..., Any], *shape: Any) -> Any:
        """`build(*shape)`: kept under `name` and `shape` for one client."""
        if not self.single:
            return build(*shape)
        return kept_statement((self.dialect, name, *shape), lambda: build(*shape))


# --------------------------------------------------------------------------------------------
# Column reads: thousands of rows per client, so values are read as the driver gives them and
# converted once per column kind, not through the ORM's result path and a TypeDecorator per
# value (models/base.py UTCDateTime gives the same values: UTC-aware datetimes).
# --------------------------------------------------------------------------------------------

_ZONES: Final = {m.value: m for m in Zone}
_SOURCES: Final = {m.value: m for m in Source}
_ATTENDANCE: Final = {m.value: m for m in Attendance}
_HOMEWORK: Final = {m.value: m for m in HomeworkCompletion}


def _sqlite_time(value: str) -> datetime:
    # SQLite keeps naive UTC text ("2025-06-04 12:30:00.000000"); one C parse gives it back aware.
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text written with an offset by some other tool: read it as it says
        return _aware_time(datetime.fromisoformat(value))


def _aware_time(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Columns:
    """How this database's raw time columns are read and turned into UTC-aware datetimes."""

    raw_time: TypeEngine[Any]
    time: Callable[[Any], datetime]

    @staticmethod
    def of(db: DbSession) -> _Columns:
        if db.get_bind().dialect.name == "sqlite":
            return _Columns(String(), _sqlite_time)
        return _Columns(DateTime(timezone=True), _aware_time)

    def at(self, column: Any) -> Any:
        return type_coerce(column, self.raw_time)


def _text(column: Any) -> Any:
    return type_coerce(column, String())


# --------------------------------------------------------------------------------------------
# Reads bounded by what a view shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reach:
    """What one view computes, so observations are read only where a figure or chart looks.

    ``windows``: the ``(start, end, now)`` of each ``compute_client_metrics`` call the view
    makes; ``charts``: the charts' period ``[start, end)``, if it draws any. Sessions,
    measures, care changes and assignments are always read whole: engagement and the
    measures' first-versus-latest comparisons look at the whole course of care. So are the
    episodes, for the monitoring charts (a self-starting CUSUM over every episode since the
    baseline), unless a monitoring checkpoint stands in for the years before the view
    (``episode_bounds``, ``load_facts``'s ``episodes_from``).
    """

    windows: tuple[tuple[datetime, datetime, datetime], ...]
    charts: tuple[datetime, datetime] | None = None

    def since(self, th: Thresholds) -> datetime:
        """The earliest observation time any window-bound figure or chart of the view reads.

        Per metrics call (domain/metrics.py): the window ``[start, end)``, the trend's
        ``trend_weeks`` and the trailing ``trailing_window_days`` before ``end``, the burnout
        window and the check-in window before ``as_of = min(end, now)``. The capacity chart
        bins whole weeks and whole 28-day blocks counted back from the period's end
        (web/charts/capacity.py). The check-in window is also counted back from the last
        check-in day, which may lie up to ``checkins_usual_window_days`` before the window:
        one more day of margin covers the practice's calendar day.
        """
        day = timedelta(days=1)
        starts: list[datetime] = []
        for start, end, now in self.windows:
            as_of = min(end, now)
            starts += [
                start,
                end - timedelta(weeks=th.trend_weeks),
                end - th.trailing_window_days * day,
                as_of - th.burnout_window_days * day,
            ]
        if self.charts is not None:
            start, end = self.charts
            span = (end - start).total_seconds()
            weeks = max(1, math.ceil(span / timedelta(weeks=1).total_seconds()))
            blocks = max(1, math.ceil(span / (28 * day).total_seconds()))
            starts += [start, end - timedelta(weeks=weeks), end - blocks * 28 * day]
        return min(starts) - (th.checkins_usual_window_days + 1) * day


def _baseline_reach(episodes: Sequence[EpisodeFact], intake: datetime, th: Thresholds) -> datetime:
    """The latest time the personal baseline period can reach (domain/metrics.py
    ``_baseline_bounds``): day ``baseline_days`` after intake, or the onset of the
    ``baseline_episodes``-th episode since intake, of all episodes or of one source's (the
    metrics API may filter by source), whichever is latest."""
    reach = intake + timedelta(days=th.baseline_days)
    for source in (None, Source.CLIENT, Source.PRACTITIONER):
        onsets = [
            e.started_at
            for e in episodes
            if (source is None or e.source == source) and e.started_at >= intake
        ]
        if len(onsets) >= th.baseline_episodes:
            reach = max(reach, sorted(onsets)[th.baseline_episodes - 1])
    return reach


def _observations_from(
    db: DbSession,
    client_id: uuid.UUID,
    client_episode: datetime | None,
    since: datetime,
    th: Thresholds,
) -> datetime:
    """The lower bound that keeps every "latest before" figure exact: a client quiet since
    before ``since`` still has their last observation of each source (days since last data,
    by source when filtered) and the check-in window before their last check-in (an
    observation or an episode they reported). Each such row is the last before a gap, so
    reading down to it adds no more than that window's rows."""
    lower = since
    client_last = client_episode  # their own last episode before `since`, if any
    # Per source, the latest row before `since`: walked back along the (client, time) index
    # from `since`, it stops at the first row that counts, whatever the length of the history.
    sources = tuple(Source)

    def latest_of() -> Any:
        return select(
            *(
                select(Observation.observed_at)
                .where(
                    Observation.client_id == bindparam(_CLIENT),
                    Observation.counted(),
                    Observation.source == source,
                    Observation.observed_at < bindparam("since"),
                )
                .order_by(Observation.observed_at.desc())
                .limit(1)
                .scalar_subquery()
                for source in sources
            )
        )

    connection = db.connection()
    statement = kept_statement(("latest observation by source",), latest_of)
    row = connection.execute(statement, {_CLIENT: client_id, "since": since}).one()
    for source, latest in zip(sources, row, strict=True):
        if latest is None:
            continue
        latest = _aware_time(latest)
        lower = min(lower, latest)
        if source == Source.CLIENT and (client_last is None or latest > client_last):
            client_last = latest
    if client_last is not None:
        lower = min(lower, client_last - timedelta(days=th.checkins_usual_window_days + 1))
    return lower


def _own_last_episode(episodes: Sequence[EpisodeFact], since: datetime) -> datetime | None:
    return max(
        (e.started_at for e in episodes if e.source == Source.CLIENT and e.started_at < since),
        default=None,
    )


@dataclass(frozen=True, slots=True)
class EpisodeBounds:
    """Where one client's view needs their episodes (``episode_bounds``): up to ``head_until``
    and from ``needed_from`` on. The years between matter only to the monitoring charts, which
    can go on from a checkpoint taken in them (``load_facts``'s ``episodes_from``)."""

    baseline_reach: datetime  # the latest the personal baseline period (all sources) reaches
    head_until: datetime  # the baseline period's episodes, and the first episode of all
    needed_from: datetime  # the view's windows and every look-back before them
    client_episode: datetime | None  # the client's own last episode before the view
    # When the client's summary rows were last computed: every write to the client's records
    # refreshes them (services/analytics/summary.py), so it changes whenever an episode does.
    records_stamp: datetime | None


def episode_bounds(db: DbSession, client: Client, reach: Reach, th: Thresholds) -> EpisodeBounds:
    """One statement of index seeks, whatever the length of the history.

    Besides the view's windows (``Reach.since``), its figures look back to: the latest episode
    before them (days since last data), the client's own last check-in before them and the
    check-in window up to it (check-in activity, as ``_observations_from``), and the
    ``ROLLING_K - 1`` recovered episodes before the recovery chart (its rolling median). The
    personal baseline reads from intake to its 8th episode (of all sources: the page shows
    them all), and the weekly rate from the first episode of all.
    """
    since = reach.since(th)
    intake = datetime.combine(client.intake_date, time(0), tzinfo=UTC)
    day = timedelta(days=1)

    client_id: BindParameter[Any] = bindparam(_CLIENT)
    since_: BindParameter[Any] = bindparam("since")

    def episodes(*where: Any) -> Any:
        return select(Episode.started_at).where(
            Episode.client_id == client_id, Episode.counted(), *where
        )

    def latest(query: Any, column: Any, skip: int = 0) -> Any:
        return query.order_by(column.desc()).offset(skip).limit(1).scalar_subquery()

    def bounds() -> Any:
        return select(
            episodes(Episode.started_at >= bindparam("intake"))
            .order_by(Episode.started_at)
            .offset(th.baseline_episodes - 1)
            .limit(1)
            .scalar_subquery(),
            select(func.min(Episode.started_at))
            .where(Episode.client_id == client_id, Episode.counted())
            .scalar_subquery(),
            latest(episodes(Episode.started_at < since_), Episode.started_at),
            latest(
                episodes(Episode.source == Source.CLIENT, Episode.started_at < since_),
                Episode.started_at,
            ),
            latest(
                select(Observation.observed_at).where(
                    Observation.client_id == client_id,
                    Observation.counted(),
                    Observation.source == Source.CLIENT,
                    Observation.observed_at < since_,
                ),
                Observation.observed_at,
            ),
            latest(
                episodes(
                    Episode.baseline_at.is_not(None),
                    Episode.baseline_at >= Episode.started_at,
                    Episode.started_at < bindparam("chart_reach"),
                ),
                Episode.started_at,
                skip=ROLLING_K - 2,
            ),
            select(func.max(ClientSummary.computed_at))
            .where(ClientSummary.client_id == client_id)
            .scalar_subquery(),
        )

    chart_reach = since
    if reach.charts is not None:
        start, end = reach.charts
        chart_reach = min(start, end - timedelta(weeks=th.trend_weeks))
    connection = db.connection()
    statement = kept_statement(("episode bounds", th.baseline_episodes), bounds)
    values = {_CLIENT: client.id, "intake": intake, "since": since, "chart_reach": chart_reach}
    row = [
        None if value is None else _aware_time(value)
        for value in connection.execute(statement, values).one()
    ]
    eighth, first, last, own_episode, own_observation, look_back, stamp = row
    baseline_reach = intake + th.baseline_days * day
    if eighth is not None:
        baseline_reach = max(baseline_reach, eighth)
    needed = [since] + [t for t in (last, look_back) if t is not None]
    if reach.charts is not None and look_back is None and first is not None:
        # Fewer recovered episodes before the recovery chart than its rolling median reads:
        # it reads them all, wherever they lie.
        needed.append(first)
    own = [t for t in (own_episode, own_observation) if t is not None]
    if own:
        try:
            needed.append(max(own) - (th.checkins_usual_window_days + 1) * day)
        except OverflowError:  # a check-in stored at the calendar's edge: read from it
            needed.append(max(own).replace(year=1, month=1, day=1, hour=0, minute=0))
    return EpisodeBounds(
        baseline_reach=baseline_reach,
        head_until=baseline_reach if first is None else max(baseline_reach, first),
        needed_from=min(needed),
        client_episode=own_episode,
        records_stamp=stamp,
    )


def load_facts(
    db: DbSession,
    clients: Iterable[Client],
    client_ids: Any,
    *,
    timezone: tzinfo,
    since: datetime | None = None,
    reach: Reach | None = None,
    thresholds: Thresholds | None = None,
    bounds: EpisodeBounds | None = None,
    episodes_from: datetime | None = None,
) -> dict[uuid.UUID, ClientFacts]:
    """Facts for `clients`; `client_ids` is the same set as a list or a subquery of ids.

    With `since`, observations are read only from then on (episodes, sessions and measures
    always in full: the monitoring charts, engagement medians and measure baselines look at the
    whole course of care), and each client's latest observation or episode time is read
    separately so "days since last data" stays exact. `timezone` is the practice's: where its
    calendar days begin (questionnaire due dates, days without a check-in).

    With `reach` (one client; needs `thresholds`), observations are read only where the view
    looks (`Reach.since`), during the personal baseline period, and back to the client's last
    observations before that: every figure, flag and chart of the view comes out exactly as
    from the whole history. With its ``bounds`` too (``episode_bounds``), episodes are read in
    two parts, up to ``bounds.head_until`` and after it; with ``episodes_from`` as well (a
    monitoring checkpoint's cut, between the two bounds), the second part starts there, and
    the facts say so (``ClientFacts.episodes_from``): the charts then need that checkpoint.
    """
    # Entered-in-error records are filtered here, once: every figure, chart, flag, summary
    # and packet is computed from these facts, so such a record leaves all of them at once.
    clients = list(clients)
    single = len(clients) == 1 and isinstance(client_ids, list | tuple) and len(client_ids) == 1
    if reach is not None and (not single or thresholds is None or since is not None):
        raise ValueError("a reach is for one client's view, with the practice's thresholds")
    if bounds is not None and reach is None:
        raise ValueError("episode bounds are for one client's view, with its reach")
    if episodes_from is not None and (
        bounds is None or not bounds.head_until < episodes_from <= bounds.needed_from
    ):
        raise ValueError("episodes can start from a cut between the view's bounds only")
    keys: dict[Any, uuid.UUID] = (
        {0: clients[0].id} if single else {str(c.id): c.id for c in clients}
    )
    if db.autoflush:
        db.flush()  # as Session.execute would: the rows below are read past the ORM
    columns = _Columns.of(db)
    at, aware = columns.at, columns.time
    connection = db.connection()
    reads = _Reads(single, client_ids, connection.dialect.name)
    whose = reads.whose
    # Every value a statement compares with is bound when it runs (those it lacks are ignored).
    values: dict[str, Any] = {_CLIENT: client_ids[0] if single else None, "since": since}

    def rows(statement: Any) -> Sequence[Any]:
        # All at once: one fetchall of the driver, not a fetch per row.
        return connection.execute(statement, values).all()

    def episode_rows(part: str) -> Any:
        started = Episode.started_at
        where = {
            "all": (),
            "head": (started <= bindparam("head_until"),),
            "after_head": (started > bindparam("head_until"),),
            "from_checkpoint": (started >= bindparam("episodes_from"),),
        }[part]
        return (
            select(
                reads.key(Episode.client_id),
                at(Episode.started_at),
                Episode.peak_intensity,
                at(Episode.recognized_at),
                at(Episode.baseline_at),
                _text(Episode.source),
            )
            .where(whose(Episode.client_id), Episode.counted(), *where)
            .order_by(Episode.client_id, Episode.started_at, Episode.id)
        )

    episodes: dict[Any, list[EpisodeFact]] = defaultdict(list)
    episode_parts = ["all"]
    if bounds is not None:
        # Two statements whatever the history; the parts don't overlap.
        episode_parts = ["head", "after_head" if episodes_from is None else "from_checkpoint"]
        values.update(head_until=bounds.head_until, episodes_from=episodes_from)
    for cid, started, peak, recognized, baseline, source in (
        row
        for part in episode_parts
        for row in rows(reads.statement("episodes", episode_rows, part))
    ):
        episodes[cid].append(
            EpisodeFact(
                aware(started),
                peak,
                None if recognized is None else aware(recognized),
                None if baseline is None else aware(baseline),
                _SOURCES[source],
            )
        )

    def observation_rows(part: str) -> Any:
        observed = Observation.observed_at
        where = {
            "all": (),
            "since": (observed >= bindparam("since"),),
            "baseline": (observed <= bindparam("baseline"),),
            "from_lower": (observed >= bindparam("lower"),),
            "after_baseline": (observed > bindparam("baseline"),),
        }[part]
        return (
            select(
                reads.key(Observation.client_id),
                at(Observation.observed_at),
                _text(Observation.zone),
                Observation.activation,
                Observation.capacity,
                Observation.safety,
                Observation.body_connection,
                _text(Observation.source),
            )
            .where(whose(Observation.client_id), Observation.counted(), *where)
            .order_by(Observation.client_id, Observation.observed_at, Observation.id)
        )

    observations: dict[Any, list[ObservationFact]] = defaultdict(list)
    # Each part is one index range (client, time), read in time order; the parts don't overlap.
    parts = ["all" if since is None else "since"]
    if reach is not None and thresholds is not None:
        client = clients[0]
        intake = datetime.combine(client.intake_date, time(0), tzinfo=UTC)
        since_view = reach.since(thresholds)
        if bounds is None:
            own = _own_last_episode(episodes[0], since_view)
            baseline = _baseline_reach(episodes[0], intake, thresholds)
        else:
            own, baseline = bounds.client_episode, bounds.baseline_reach
        lower = _observations_from(db, client.id, own, since_view, thresholds)
        # Two statements whatever the history, so the count never depends on the data.
        parts = ["baseline", "from_lower" if baseline < lower else "after_baseline"]
        values.update(baseline=baseline, lower=lower)
    for part in parts:
        for cid, observed, zone, activation, capacity, safety, body, source in rows(
            reads.statement("observations", observation_rows, part)
        ):
            observations[cid].append(
                ObservationFact(
                    aware(observed),
                    _ZONES[zone],
                    activation,
                    capacity,
                    safety,
                    body,
                    _SOURCES[source],
                )
            )

    sessions: dict[Any, list[SessionFact]] = defaultdict(list)
    for cid, starts, attendance, engagement, assigned, completed in rows(
        reads.statement(
            "sessions",
            lambda: (
                select(
                    reads.key(Session.client_id),
                    at(Session.starts_at),
                    _text(Session.attendance),
                    Session.engagement,
                    Session.homework_assigned,
                    _text(Session.homework_completed),
                )
                .where(
                    whose(Session.client_id),
                    Session.archived_at.is_(None),
                    Session.counted(),
                )
                .order_by(Session.client_id, Session.starts_at, Session.id)
            ),
        )
    ):
        sessions[cid].append(
            SessionFact(
                aware(starts),
                _ATTENDANCE[attendance],
                engagement,
                bool(assigned),
                None if completed is None else _HOMEWORK[completed],
            )
        )

    measures: dict[Any, list[MeasureFact]] = defaultdict(list)
    for cid, instrument, administered, items, total, source in rows(
        reads.statement(
            "measures",
            lambda: (
                select(
                    reads.key(Measure.client_id),
                    Measure.instrument,
                    at(Measure.administered_at),
                    Measure.items,
                    Measure.total,
                    _text(Measure.source),
                )
                .where(whose(Measure.client_id), Measure.counted())
                .order_by(Measure.client_id, Measure.administered_at, Measure.id)
            ),
        )
    ):
        measures[cid].append(
            MeasureFact(
                instrument,
                aware(administered),
                tuple(items) if items is not None else None,
                # Only total-only instruments carry an entered total; others are re-scored.
                total if items is None else None,
                _SOURCES[source],
            )
        )

    care_changes: dict[Any, list[datetime]] = defaultdict(list)
    for cid, noted in rows(
        reads.statement(
            "care_changes",
            lambda: (
                select(reads.key(Annotation.client_id), at(Annotation.at))
                .where(
                    whose(Annotation.client_id),
                    Annotation.kind == AnnotationKind.CARE_CHANGE,
                    Annotation.archived_at.is_(None),
                    Annotation.counted(),
                )
                .order_by(Annotation.client_id, Annotation.at)
            ),
        )
    ):
        care_changes[cid].append(aware(noted))

    # Live questionnaire assignments: one query for every client at once.
    assignments: dict[Any, list[AssignmentFact]] = defaultdict(list)
    for cid, instrument, every_days, starts_on, ends_on in db.execute(
        reads.statement(
            "assignments",
            lambda: (
                select(
                    reads.key(Assignment.client_id),
                    Assignment.instrument,
                    Assignment.every_days,
                    Assignment.starts_on,
                    Assignment.ends_on,
                )
                .where(whose(Assignment.client_id), Assignment.archived_at.is_(None))
                .order_by(Assignment.client_id, Assignment.starts_on, Assignment.id)
            ),
        ),
        values,
    ):
        assignments[cid].append(AssignmentFact(instrument, every_days, starts_on, ends_on))

    last_data: dict[uuid.UUID, datetime] = {}
    if since is not None:
        for model, column in (
            (Observation, Observation.observed_at),
            (Episode, Episode.started_at),
        ):
            for cid, latest in db.execute(
                select(model.client_id, func.max(column))
                .where(_in(model.client_id, client_ids), model.counted())
                .group_by(model.client_id)
            ):
                if latest is not None and (cid not in last_data or latest > last_data[cid]):
                    last_data[cid] = _aware(latest)

    by_id = {c.id: c for c in clients}
    return {
        client_id: ClientFacts(
            status=ClientStatus(by_id[client_id].status),
            intake_date=by_id[client_id].intake_date,
            session_cadence_days=by_id[client_id].session_cadence_days,
            episodes=tuple(episodes[key]),
            observations=tuple(observations[key]),
            sessions=tuple(sessions[key]),
            measures=tuple(measures[key]),
            last_data_at=last_data.get(client_id),
            care_changes=tuple(care_changes[key]),
            assignments=tuple(assignments[key]),
            timezone=timezone,
            episodes_from=episodes_from,
        )
        for key, client_id in keys.items()
    }


def _aware(value: datetime) -> datetime:
    # max() keeps the column's type, so this is already UTC-aware; guard against drivers anyway.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
