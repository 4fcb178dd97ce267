"""Supervision packets: the headline figures of every client of one supervisee (or of all
supervisees) for a period, with each practitioner's load; as PDF (drawn by the web layer's
print view) or CSV.

Each client's figures are the progress summary's (:func:`progress_summary.client_figures`).
Clients in care during the period are included. Not audited by the builder: callers record
the export with :func:`audit_packet_export` once the file was made. A fixed number of
queries whatever the data: a few per batch of clients.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, or_, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.labels import RELIABLE_CHANGE_WORDS
from practice_dashboard.domain.periods import ReportPeriod
from practice_dashboard.errors import Forbidden, NotFound
from practice_dashboard.models import Client, Supervision, User
from practice_dashboard.models.enums import ClientStatus, Role
from practice_dashboard.services import access, audit
from practice_dashboard.services.analytics.acknowledgements import latest_acknowledgements
from practice_dashboard.services.analytics.caseload import practitioner_loads
from practice_dashboard.services.analytics.fact_loading import load_facts
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv.guard import neutralise
from practice_dashboard.services.reports.progress_summary import (
    ClientFigures,
    MeasureRow,
    client_figures,
    user_names,
)

#: Clients whose records are read at once for a packet (bounds memory; a few queries each).
PACKET_BATCH: Final = 200


@dataclass(frozen=True, slots=True)
class PractitionerSection:
    practitioner_id: uuid.UUID
    full_name: str
    role: str
    load: dict[str, Any]  # caseload.practitioner_loads() entry (as of now)
    clients: tuple[ClientFigures, ...]


@dataclass(frozen=True, slots=True)
class SupervisionPacket:
    supervisor: User
    supervisee: User | None  # None = all supervisees
    period: ReportPeriod
    generated_at: datetime
    practitioners: tuple[PractitionerSection, ...]

    @property
    def clients(self) -> list[ClientFigures]:
        return [c for p in self.practitioners for c in p.clients]


# --------------------------------------------------------------------------------------------
# Supervision packet
# --------------------------------------------------------------------------------------------


def _supervisee(db: DbSession, supervisor: User, ref: str) -> User:
    """A supervisee by id or e-mail; anyone else (or no one) is a 404."""
    ref = ref.strip()
    try:
        condition = User.id == uuid.UUID(ref)
    except ValueError:
        condition = func.lower(User.email) == ref.lower()
    user = db.scalars(
        select(User)
        .join(Supervision, Supervision.supervisee_id == User.id)
        .where(Supervision.supervisor_id == supervisor.id, condition)
    ).one_or_none()
    if user is None:
        raise NotFound("Supervisee not found")
    return user


def supervision_packet(
    db: DbSession,
    *,
    actor: Actor,
    settings: Settings,
    period: ReportPeriod,
    now: datetime,
    supervisee: str | None = None,
) -> SupervisionPacket:
    """Every client of one supervisee (id or e-mail) or of all supervisees, for `period`.

    Only supervisors (403 otherwise); a supervisee the caller does not supervise is a 404.
    Clients in care during the period are included: not archived, intake before its end and
    not discharged before its start. Not audited: call :func:`audit_packet_export`.
    """
    supervisor = actor.user
    if supervisor.role != Role.SUPERVISOR or not supervisor.is_active:
        raise Forbidden("Supervision packets are for supervisor accounts")
    chosen = _supervisee(db, supervisor, supervisee) if supervisee else None
    if chosen is not None:
        people = [chosen]
    else:
        people = list(
            db.scalars(
                select(User)
                .join(Supervision, Supervision.supervisee_id == User.id)
                .where(Supervision.supervisor_id == supervisor.id)
                .order_by(func.lower(User.full_name), User.id)
            )
        )
    ids = [p.id for p in people]
    clients = (
        list(
            db.scalars(
                # The scoping point first: a supervisor reads supervisees' clients through it.
                access.visible_clients(supervisor)
                .where(
                    Client.practitioner_id.in_(ids),
                    Client.intake_date <= period.end_date,
                    or_(
                        Client.discharged_on.is_(None),
                        Client.discharged_on >= period.start_date,
                        Client.status != ClientStatus.DISCHARGED,
                    ),
                )
                .order_by(func.lower(Client.display_name), Client.id)
            )
        )
        if ids
        else []
    )
    by_practitioner: dict[uuid.UUID, list[ClientFigures]] = {pid: [] for pid in ids}
    names = {p.id: p.full_name for p in people}
    for i in range(0, len(clients), PACKET_BATCH):
        batch = clients[i : i + PACKET_BATCH]
        batch_ids = [c.id for c in batch]
        facts = load_facts(db, batch, batch_ids, timezone=settings.timezone)
        acknowledgements = latest_acknowledgements(db, batch_ids)
        ack_people = user_names(db, {a.acknowledged_by_id for a in acknowledgements.values()})
        for client in batch:
            by_practitioner[client.practitioner_id].append(
                client_figures(
                    client,
                    names.get(client.practitioner_id, "—"),
                    facts[client.id],
                    period=period,
                    settings=settings,
                    now=now,
                    acknowledgements=acknowledgements,
                    people=ack_people,
                )
            )
    loads = {
        load["practitioner_id"]: load
        for load in practitioner_loads(db, actor=actor, settings=settings, now=now)
    }
    sections = tuple(
        PractitionerSection(
            practitioner_id=p.id,
            full_name=p.full_name,
            role=p.role.value,
            load=loads.get(p.id, {}),
            clients=tuple(by_practitioner[p.id]),
        )
        for p in people
    )
    return SupervisionPacket(
        supervisor=supervisor,
        supervisee=chosen,
        period=period,
        generated_at=now,
        practitioners=sections,
    )


def audit_packet_export(
    db: DbSession, actor: Actor | None, packet: SupervisionPacket, *, fmt: str
) -> None:
    """One event for the packet, and one per client in it (each client's history shows it)."""
    detail = f"supervision packet {fmt} {packet.period.start_date}..{packet.period.end_date}"
    audit.record(
        db,
        actor,
        "export",
        "supervision_packet",
        packet.supervisee.id if packet.supervisee else None,
        detail=f"{detail}, {len(packet.clients)} clients",
    )
    for figures in packet.clients:
        client = figures.client
        audit.record(db, actor, "export", "client", client.id, client_id=client.id, detail=detail)


# --------------------------------------------------------------------------------------------
# Plain-text pieces shared by the packet's PDF and CSV
# --------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    rounded = round(value, 1)
    return f"{rounded:.0f}" if rounded.is_integer() else f"{rounded:.1f}"


def measure_brief(row: MeasureRow) -> str:
    """One line per measure, e.g. PHQ-9 14 → 4: reliable improvement (RCI -3.1), clinically
    significant."""
    if row.change is None or row.latest.total is None or row.baseline.total is None:
        latest = "—" if row.latest.total is None else _number(row.latest.total)
        return f"{row.name} {latest} (one administration)"
    text = f"{row.name} {_number(row.baseline.total)} → {_number(row.latest.total)}"
    if row.rci is None or row.reliable_change is None:
        return f"{text}: no RCI (no reliability data)"
    verdict = RELIABLE_CHANGE_WORDS.get(row.reliable_change, row.reliable_change)
    text += f": {verdict} (RCI {row.rci:+.1f})"
    if row.clinically_significant:
        text += ", clinically significant"
    # The latest administration's signals and how the change was judged (issue 10).
    remarks = (*row.latest_remarks, *row.verdict_remarks)
    return text + (f"; {'; '.join(remarks)}" if remarks else "")


# --------------------------------------------------------------------------------------------
# The packet as CSV
# --------------------------------------------------------------------------------------------

#: One row per practitioner (record = practitioner: their load as of the day it was made),
#: then one row per client (record = client: the period's figures). Shares are 0-1.
PACKET_CSV_COLUMNS: Final = (
    "record",
    "period_start",
    "period_end",
    "practitioner_id",
    "practitioner_name",
    "practitioner_role",
    "load_as_of",
    "load_active_caseload",
    "load_attended_sessions_last_7_days",
    "load_active_clients_with_alert",
    "load_latest_self_check_cbi_work_related",
    "load_flag_level",
    "load_flag_reasons",
    "client_id",
    "client_display_name",
    "client_external_ref",
    "client_status",
    "intake_date",
    "sessions_attended",
    "sessions_no_show",
    "sessions_late_cancel",
    "sessions_cancelled",
    "attendance_rate",
    "engagement_rating_mean",
    "homework_done_rate",
    "attendance_rate_last_6_due",
    "days_since_last_attended",
    "episodes",
    "check_ins",
    "recovery_median_minutes",
    "recovery_median_minutes_last_28_days",
    "recovery_baseline_median_minutes",
    "recovery_last_28_days_vs_baseline",
    "recovery_trend",
    "recovery_trend_slope_minutes_per_week",
    "recovery_trend_p",
    "unrecovered_share",
    "recognition_median_minutes",
    "recognition_median_minutes_last_28_days",
    "recognition_trend",
    "activation_median",
    "activation_median_last_28_days",
    "activation_last_28_days_vs_baseline",
    "capacity_mean_rating",
    "capacity_mean_rating_last_28_days",
    "capacity_trend",
    "time_in_window",
    "time_in_window_last_28_days",
    "tolerated_activation_last_28_days",
    "measures",
    "flags",
    "flag_reasons",
)


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 4)
    return neutralise(str(value))  # the one formula guard (OWASP "CSV injection")


def packet_csv(packet: SupervisionPacket) -> str:
    """The packet as CSV text (UTF-8; the caller adds a byte-order mark if it wants one)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PACKET_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    period = {
        "period_start": packet.period.start_date.isoformat(),
        "period_end": packet.period.end_date.isoformat(),
    }
    for section in packet.practitioners:
        who = {
            "practitioner_id": str(section.practitioner_id),
            "practitioner_name": section.full_name,
            "practitioner_role": section.role,
        }
        load = section.load
        flag = load.get("flag")
        writer.writerow(
            {
                k: _cell(v)
                for k, v in {
                    "record": "practitioner",
                    **period,
                    **who,
                    "load_as_of": packet.generated_at.date().isoformat(),
                    "load_active_caseload": load.get("active_caseload"),
                    "load_attended_sessions_last_7_days": load.get("attended_sessions_last_7_days"),
                    "load_active_clients_with_alert": load.get("active_clients_with_alert"),
                    "load_latest_self_check_cbi_work_related": load.get(
                        "latest_self_check_cbi_work_related"
                    ),
                    "load_flag_level": flag["level"] if flag else None,
                    "load_flag_reasons": " / ".join(flag["reasons"]) if flag else None,
                }.items()
            }
        )
    for section in packet.practitioners:
        for f in section.clients:
            writer.writerow({k: _cell(v) for k, v in {**_client_cells(f), **period}.items()})
    return out.getvalue()


def _client_cells(f: ClientFigures) -> dict[str, Any]:
    a, m = f.attendance, f.metrics
    rec, act = f.row("recovery"), f.row("activation")
    client = f.client
    return {
        "record": "client",
        "practitioner_id": str(f.practitioner_id),
        "practitioner_name": f.practitioner_name,
        "client_id": str(client.id),
        "client_display_name": client.display_name,
        "client_external_ref": client.external_ref,
        "client_status": client.status.value,
        "intake_date": client.intake_date.isoformat(),
        "sessions_attended": a.attended,
        "sessions_no_show": a.no_show,
        "sessions_late_cancel": a.late_cancel,
        "sessions_cancelled": a.cancelled,
        "attendance_rate": a.rate,
        "engagement_rating_mean": a.engagement_mean,
        "homework_done_rate": a.homework_rate,
        "attendance_rate_last_6_due": a.recent_rate,
        "days_since_last_attended": a.days_since_last_attended,
        "episodes": f.episodes_in_period,
        "check_ins": f.observations_in_period,
        "recovery_median_minutes": rec.period,
        "recovery_median_minutes_last_28_days": rec.recent,
        "recovery_baseline_median_minutes": rec.baseline,
        "recovery_last_28_days_vs_baseline": rec.comparison,
        "recovery_trend": m.recovery.trend.direction,
        "recovery_trend_slope_minutes_per_week": m.recovery.trend.slope_per_week,
        "recovery_trend_p": m.recovery.trend.p_value,
        "unrecovered_share": f.row("unrecovered").period,
        "recognition_median_minutes": f.row("recognition").period,
        "recognition_median_minutes_last_28_days": f.row("recognition").recent,
        "recognition_trend": m.recognition.trend.direction,
        "activation_median": act.period,
        "activation_median_last_28_days": act.recent,
        "activation_last_28_days_vs_baseline": act.comparison,
        "capacity_mean_rating": f.row("capacity").period,
        "capacity_mean_rating_last_28_days": f.row("capacity").recent,
        "capacity_trend": m.capacity.trend.direction,
        "time_in_window": f.row("time_in_window").period,
        "time_in_window_last_28_days": f.row("time_in_window").recent,
        "tolerated_activation_last_28_days": f.row("tolerated_activation").recent,
        "measures": "; ".join(measure_brief(r) for r in f.measures),
        "flags": "; ".join(
            f"{x.code}:{x.level}{':acknowledged' if x.acknowledged else ''}" for x in f.flags
        ),
        "flag_reasons": " | ".join(f"{x.name}: {' / '.join(x.reasons)}" for x in f.flags),
    }
