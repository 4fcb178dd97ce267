"""Everything the client page shows, loaded in a fixed number of queries.

One query each for: the client (scoped), where the page needs the client's episodes
(``episode_bounds``), the record kinds (``load_facts``), the latest flag acknowledgements, the
people named on the page, the period's annotations and the period's episode details (trigger,
strategies). The count never grows with the data.

Today's page of a client this worker has shown before goes on from a monitoring checkpoint
(``monitoring_memo``): it reads the personal baseline's episodes and those from the cut, not
the years between, and shows exactly what the whole course would
(tests/services/analytics/test_monitoring_memo.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, kept_statement
from practice_dashboard.domain.facts import (
    ClientFacts,
    Source,
    facts_as_of,
    known_at,
    minutes_between,
)
from practice_dashboard.domain.flags import Flag, flag_sort_key
from practice_dashboard.domain.metrics import (
    ClientMetrics,
    MonitoringCheckpoint,
    StaleCheckpoint,
    client_metrics_and_checkpoint,
    compute_client_metrics,
)
from practice_dashboard.domain.periods import DEFAULT_REPORT_PERIOD
from practice_dashboard.models import Annotation, Client, Episode, User
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics.acknowledgements import (
    flag_views,
    latest_acknowledgements,
    monitoring_restart,
)
from practice_dashboard.services.analytics.fact_loading import (
    EpisodeBounds,
    Reach,
    episode_bounds,
    load_facts,
)
from practice_dashboard.services.analytics.metrics import DEFAULT_PERIOD
from practice_dashboard.services.analytics.monitoring_memo import CHECKPOINTS, CUT_MARGIN, Kept
from practice_dashboard.services.audit import Actor

#: The charts' default period (the headline figures use the API's 28 days).
DEFAULT_CHART_PERIOD = DEFAULT_REPORT_PERIOD


@dataclass(frozen=True, slots=True)
class EpisodeDetail:
    """What an episode's hover label shows (free text is escaped by the web layer)."""

    started_at: datetime
    peak_intensity: int
    baseline_at: datetime | None
    trigger: str | None
    strategies: tuple[str, ...]
    # Reported by the client (check-in link), not entered by the practitioner.
    self_reported: bool = False

    @property
    def recovery_minutes(self) -> float | None:
        """Onset to baseline in minutes; None when not recovered or back before onset (bad data)."""
        minutes = minutes_between(self.started_at, self.baseline_at)
        return None if minutes is None or minutes < 0 else minutes


@dataclass(frozen=True, slots=True)
class AnnotationMark:
    at: datetime
    kind: str
    label: str
    notes: str | None


@dataclass(frozen=True, slots=True)
class ClientView:
    client: Client
    practitioner_name: str
    can_write: bool
    start: datetime  # the charts' period [start, end)
    end: datetime
    as_of: datetime | None  # a replay: the page as it stood at this moment ("now" then)
    facts: ClientFacts
    metrics: ClientMetrics  # the 28 days up to `end`
    flags: list[dict[str, Any]]  # current flags (as of now), acknowledgement attached
    people: dict[str, str]  # user id (text) -> full name, for acknowledgements
    episodes: tuple[EpisodeDetail, ...]  # in the period, by onset
    annotations: tuple[AnnotationMark, ...]  # in the period, by time


def _sorted_flags(flags: tuple[Flag, ...]) -> tuple[Flag, ...]:
    # What needs attention soonest reads first.
    return tuple(sorted(flags, key=lambda f: flag_sort_key(f.code, f.level)))


def load_client_view(
    db: DbSession,
    *,
    client_id: uuid.UUID,
    actor: Actor,
    settings: Settings,
    start: datetime,
    end: datetime,
    now: datetime,
    as_of: datetime | None = None,
    client: Client | None = None,
) -> ClientView:
    """The client page's data for the period [start, end); audited as a read of the client.

    ``as_of``: the page as it stood at that moment (pass it as ``now`` too, and a period that
    ends by then): only the records known then, the acknowledgements as they stood then.
    ``client``: the client as the caller already read it through ``access`` (not read again).
    """
    if client is None or client.id != client_id:
        client = access.get_visible_client(db, actor.user, client_id)
    thresholds = settings.thresholds
    # The figures' 28 days up to `end`, today's flags when the period is past, the charts.
    windows = [(end - DEFAULT_PERIOD, end, now)]
    if end < now:
        windows.append((now - DEFAULT_PERIOD, now, now))
    reach = Reach(windows=tuple(windows), charts=(start, end))
    bounds = episode_bounds(db, client, reach, thresholds)
    # Today's page of a client this worker has shown goes on from their monitoring checkpoint
    # (monitoring_memo), reading only the baseline period's episodes and those from its cut.
    today = as_of is None and end >= now
    kept = CHECKPOINTS.get(client.id, bounds.records_stamp) if today else None
    cut = None
    if kept is not None:
        at = datetime.fromtimestamp(kept.checkpoint.cut, UTC)
        cut = at if bounds.head_until < at <= bounds.needed_from else None

    def facts_from(cut: datetime | None) -> ClientFacts:
        facts = load_facts(
            db,
            [client],
            [client.id],
            timezone=settings.timezone,
            reach=reach,
            thresholds=thresholds,
            bounds=bounds,
            episodes_from=cut,
        )[client.id]
        return facts if as_of is None else facts_as_of(facts, as_of)

    facts = facts_from(cut)
    acknowledgements = latest_acknowledgements(db, [client.id], as_of=as_of)
    restart = monitoring_restart(acknowledgements, client.id, as_of=as_of)
    restart_at = restart if restart is not None and restart < end else None

    def page_metrics(
        facts: ClientFacts, checkpoint_at: datetime | None = None
    ) -> tuple[ClientMetrics, MonitoringCheckpoint | None]:
        return client_metrics_and_checkpoint(
            facts,
            start=end - DEFAULT_PERIOD,
            end=end,
            now=now,
            thresholds=thresholds,
            monitoring_restart_at=restart_at,
            monitoring_points_from=start,  # the charts draw [start, end)
            monitoring_resume=None if cut is None or kept is None else kept.checkpoint,
            checkpoint_at=checkpoint_at,
        )

    # Read whole today: take a checkpoint for the next views, from the same pass.
    new_cut = _new_cut(bounds) if today and cut is None else None
    try:
        metrics, checkpoint = page_metrics(facts, new_cut)
    except StaleCheckpoint:  # a new acknowledgement, care change or setting: read it all
        CHECKPOINTS.drop(client.id)
        cut, new_cut = None, _new_cut(bounds)
        facts = facts_from(None)
        metrics, checkpoint = page_metrics(facts, new_cut)
    if checkpoint is not None and bounds.records_stamp is not None:
        CHECKPOINTS.put(client.id, Kept(bounds.records_stamp, checkpoint))
    # Flags are always today's (what can be acknowledged now), whatever period is viewed.
    current = (
        metrics
        if end >= now
        else compute_client_metrics(
            facts,
            start=now - DEFAULT_PERIOD,
            end=now,
            now=now,
            thresholds=thresholds,
            monitoring_restart_at=restart,
            monitoring_points_from=now,  # flags only
        )
    )
    flags = flag_views(_sorted_flags(current.flags), client.id, acknowledgements, as_of=as_of)

    user_ids = {client.practitioner_id} | {a.acknowledged_by_id for a in acknowledgements.values()}
    # The view's reads are kept once built (`kept_statement`), their values bound.
    people = {
        str(uid): name
        for uid, name in db.execute(
            kept_statement(
                ("client view: people",),
                lambda: select(User.id, User.full_name).where(
                    User.id.in_(bindparam("people", expanding=True))
                ),
            ),
            {"people": list(user_ids)},
        )
    }

    annotations, episodes = period_marks(db, client.id, start, end, as_of=as_of)
    # Plain words an admin may read in the audit log (services/reports/audit_log.py).
    detail = "page" if as_of is None else f"page as_of {as_of.astimezone(UTC):%Y-%m-%d %H:%M} utc"
    audit.record(db, actor, "read", "client", client.id, client_id=client.id, detail=detail)
    return ClientView(
        client=client,
        practitioner_name=people.get(str(client.practitioner_id), "—"),
        can_write=access.can_write(actor.user, client),
        start=start,
        end=end,
        as_of=as_of,
        facts=facts,
        metrics=metrics,
        flags=flags,
        people=people,
        episodes=episodes,
        annotations=annotations,
    )


def period_marks(
    db: DbSession,
    client_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
) -> tuple[tuple[AnnotationMark, ...], tuple[EpisodeDetail, ...]]:
    """The care changes and episodes of [start, end) as the client's charts show them (on
    the page and in print): two reads, kept once built. With `as_of`, an episode's baseline
    is the one recorded by then."""
    values = {"client_id": client_id, "start": start, "end": end}
    annotations = tuple(
        AnnotationMark(at, kind.value, label, notes)
        for at, kind, label, notes in db.execute(
            kept_statement(
                ("client view: annotations",),
                lambda: (
                    select(Annotation.at, Annotation.kind, Annotation.label, Annotation.notes)
                    .where(
                        Annotation.client_id == bindparam("client_id"),
                        Annotation.archived_at.is_(None),
                        Annotation.counted(),
                        Annotation.at >= bindparam("start"),
                        Annotation.at < bindparam("end"),
                    )
                    .order_by(Annotation.at, Annotation.id)
                ),
            ),
            values,
        )
    )
    episodes = tuple(
        EpisodeDetail(
            started,
            peak,
            baseline if as_of is None else known_at(baseline, as_of),
            trigger,
            tuple(strategies or ()),
            source == Source.CLIENT,
        )
        for started, peak, baseline, trigger, strategies, source in db.execute(
            kept_statement(
                ("client view: episodes",),
                lambda: (
                    select(
                        Episode.started_at,
                        Episode.peak_intensity,
                        Episode.baseline_at,
                        Episode.trigger,
                        Episode.strategies,
                        Episode.source,
                    )
                    .where(
                        Episode.client_id == bindparam("client_id"),
                        Episode.counted(),
                        Episode.started_at >= bindparam("start"),
                        Episode.started_at < bindparam("end"),
                    )
                    .order_by(Episode.started_at, Episode.id)
                ),
            ),
            values,
        )
    )
    return annotations, episodes


def _new_cut(bounds: EpisodeBounds) -> datetime | None:
    """Where today's view cuts a checkpoint for the next ones: a whole day a little before what
    it needs; None when the course is too young to leave anything out, or has no stamp."""
    if bounds.records_stamp is None:
        return None
    try:
        cut = (bounds.needed_from - CUT_MARGIN).astimezone(UTC)
    except OverflowError:  # records stored at the calendar's edge: nothing to cut there
        return None
    cut = datetime(cut.year, cut.month, cut.day, tzinfo=UTC)  # never later than asked
    return cut if cut > bounds.head_until else None
