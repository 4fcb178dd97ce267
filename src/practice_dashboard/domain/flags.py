"""Flags: named, pure definitions over plain signals (DESIGN.md "Flags").

A flag never shames: it reads "check-in suggested, because ...", lists every signal that
fired as a reason, carries the numbers behind it as evidence, and suggests a next step.

Flags are computed from :class:`ClientSignals` (built by ``metrics.compute_client_metrics``)
or :class:`PractitionerLoadFacts`, so each definition can be tested with hand-built inputs.

Acknowledgement rule
--------------------
Each flag carries the names of the signals that fired (``Flag.signals``, e.g.
``("homework", "missed")``). Its fingerprint is the readable, stable string
``"<code>|<level>|<sorted signal names, comma separated>"``, e.g.
``"engagement_risk|alert|homework,missed"``; it never contains raw numbers, so it does not
drift as days pass. It is at most 64 characters; a signal list too long for that (rare) is
replaced by ``#`` + a SHA-256 prefix, and such an acknowledgement covers only the identical
set of signals. An acknowledgement stores the level and fingerprint it was
given for. The flag stays quiet while (a) the code is the same, (b) its level is no higher
than the acknowledged level, and (c) every signal now firing was already firing when it was
acknowledged. A new signal or a higher level makes it speak again; fewer signals keep it
quiet. ``safety`` may be acknowledged only with a note (the service enforces it), and its
signal names the PHQ-9's date, so every new administration with item 9 above 0 speaks again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal, cast, get_args

from practice_dashboard.domain.conventions import (
    DEFAULT_CONVENTION,
    FALSE_ALARMS,
    UNVERIFIED_NOTE,
    ConventionCode,
    as_convention_code,
    convention_name,
    validate_conventions,
)
from practice_dashboard.domain.facts import ClientStatus
from practice_dashboard.domain.instruments import (
    CBI,
    PHQ9,
    SRS,
    Comparison,
    Cutoff,
    Instrument,
)
from practice_dashboard.domain.monitoring import OPERATING_CHARACTERISTICS, MonitoringChart

FlagLevel = Literal["watch", "alert"]
FlagCode = Literal[
    "safety",
    "engagement_risk",
    "burnout_risk",
    "deterioration",
    "stale_data",
    "practitioner_load",
]
Evidence = dict[str, float | int | str | None]

#: How urgent each level is (higher first): alerts are listed before watches everywhere.
LEVEL_RANK: Final[Mapping[str, int]] = MappingProxyType({"watch": 1, "alert": 2})
#: A safety flag outranks every other flag, whatever their levels.
SAFETY_RANK: Final = 3
#: Fingerprints fit the acknowledgement table's column.
FINGERPRINT_MAX_LENGTH: Final = 64

# The SRS alliance-concern line of the registry (Duncan et al. 2003): the practice may move
# the number and the operator (DOMAIN.md §2.10), the registry keeps the published default.
assert SRS.concern_cutoff is not None
_SRS_CONCERN: Final[Cutoff] = SRS.concern_cutoff


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every configurable number behind metrics and flags; defaults from DESIGN.md.

    A practice overrides any of them with ``dataclasses.replace(Thresholds(), ...)``.
    """

    # --- metric windows (DESIGN.md "Metrics") ---
    trailing_window_days: int = 28  # episodes per week, tolerated activation
    trend_weeks: int = 12
    trend_min_points: int = 6  # never claim a trend from fewer points
    trend_alpha: float = 0.05
    attendance_window: int = 6  # last N due sessions
    homework_window: int = 5  # last N sessions with homework due
    engagement_rating_min_count: int = 3  # ratings needed before a personal median means much
    tolerated_activation_percentile: float = 90.0
    # --- personal baseline ---
    baseline_days: int = 28
    baseline_episodes: int = 8
    baseline_min_values: int = 5  # fewer values: "insufficient_data"
    smallest_worthwhile_change_sd: float = 0.5  # x baseline SD
    # --- engagement_risk ---
    engagement_missed_min: int = 2  # no_show/late_cancel among the last due sessions
    engagement_gap_cadence_multiple: float = 2.0
    homework_completion_min: float = 0.40
    engagement_rating_drop: float = 3.0
    # --- engagement_risk from the check-in link (domain/assignments.py, issue 11) ---
    assessment_grace_days: int = 3  # an assigned questionnaire overdue by more: a signal
    checkins_quiet_days: int = 7  # no client check-in for at least this many days ...
    checkins_usual_window_days: int = 28  # ... after one in which the client checked in on
    checkins_usual_share: float = 0.5  # at least this share of the days
    # --- burnout_risk (client) ---
    cbi_high: float = 50.0  # Kristensen et al. 2005 "high burnout"
    burnout_window_days: int = 14
    burnout_activation_median_min: float = 7.0
    burnout_time_in_window_max: float = 0.40
    burnout_min_observations: int = 3
    # --- engagement_risk: SRS alliance concern (DOMAIN.md §2.10; operator is configuration) ---
    srs_concern_total: float = float(_SRS_CONCERN.value)
    srs_concern_operator: str = _SRS_CONCERN.operator
    # --- deterioration on a measure (DOMAIN.md §3.4) ---
    # Consecutive administrations that must each be reliably worse than the first before an
    # `alert` (1 = alert on the first; a first unconfirmed one is a `watch`).
    deterioration_confirmations: int = 2
    # A change of at least this many times the reliable change alerts at once (0 = never).
    deterioration_immediate_multiple: float = 2.0
    # Reliable-change convention per instrument, as (instrument, convention) pairs; an
    # instrument not named follows Jacobson-Truax. Set by PRACTICE_DASHBOARD_RCI_CONVENTIONS.
    rci_conventions: tuple[tuple[str, str], ...] = ()
    # --- deterioration: monitoring charts (domain/monitoring.py; DOMAIN.md §5.5) ---
    # Chosen from their operating characteristics, measured by bench.flag_calibration.
    monitoring_allowance: float = 0.4  # k: tuned to a shift of 0.8 SD of log minutes
    monitoring_limit: float = 5.75  # h of the recovery and recognition charts
    monitoring_winsor: float = 3.0
    monitoring_min_reference: int = 5
    monitoring_max_autocorrelation: float = 0.8
    monitoring_autocorrelation_window: int = 24
    unrecovered_limit: float = 7.0
    unrecovered_prior_share: float = 0.05
    unrecovered_prior_weight: float = 20.0
    unrecovered_shift: float = 0.25
    unrecovered_after_minutes: float = 240.0
    # An acknowledged signal stays on view (marked acknowledged) this long after it.
    monitoring_acknowledged_weeks: int = 12
    # --- stale_data ---
    stale_days: int = 30
    # --- practitioner_load ---
    max_caseload: int = 35
    max_sessions_7d: int = 28
    max_alert_share: float = 0.30
    practitioner_cbi_high: float = 50.0

    def __post_init__(self) -> None:
        problems = validate_conventions(dict(self.rci_conventions))
        if self.srs_concern_operator not in get_args(Comparison):
            problems.append(
                f"srs_concern_operator must be one of {', '.join(get_args(Comparison))}, "
                f"got {self.srs_concern_operator!r}"
            )
        if self.deterioration_confirmations < 1:
            problems.append("deterioration_confirmations must be at least 1")
        if self.deterioration_immediate_multiple < 0:
            problems.append("deterioration_immediate_multiple must not be negative")
        if problems:
            raise ValueError("; ".join(problems))

    def convention_for(self, instrument: str) -> ConventionCode:
        """The reliable-change convention the practice chose for an instrument code."""
        chosen = dict(self.rci_conventions).get(instrument, DEFAULT_CONVENTION)
        return as_convention_code(chosen)

    @property
    def srs_concern(self) -> Cutoff:
        """The SRS alliance-concern cutoff in force (the registry's, as configured)."""
        return Cutoff(
            self.srs_concern_total,
            cast(Comparison, self.srs_concern_operator),
            _SRS_CONCERN.label,
            _SRS_CONCERN.citation,
        )

    def concern_cutoff(self, instrument: Instrument) -> Cutoff | None:
        """An instrument's concern cutoff in force: the SRS line as configured, else the
        registry's own (None when it has none)."""
        if instrument.code == SRS.code:
            return self.srs_concern
        return instrument.concern_cutoff


_DEFAULTS: Final = Thresholds()


@dataclass(frozen=True, slots=True)
class Flag:
    """One computed flag. ``signals`` names what fired; ``fingerprint`` is derived from it."""

    code: FlagCode
    level: FlagLevel
    reasons: tuple[str, ...]
    evidence: Evidence
    suggestion: str
    signals: tuple[str, ...] = ()
    fingerprint: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", _fingerprint(self.code, self.level, self.signals))


def _fingerprint(code: str, level: str, signals: tuple[str, ...]) -> str:
    joined = ",".join(sorted(set(signals)))
    fingerprint = f"{code}|{level}|{joined}"
    if len(fingerprint) <= FINGERPRINT_MAX_LENGTH:
        return fingerprint
    # Rare (e.g. deterioration on many measures at once): keep the length bound with a
    # digest; such an acknowledgement then covers exactly the same set of signals.
    digest = hashlib.sha256(joined.encode()).hexdigest()
    room = FINGERPRINT_MAX_LENGTH - len(code) - len(level) - 3
    return f"{code}|{level}|#{digest[:room]}"


def flag_rank(code: str, level: str) -> int:
    """How urgent one flag is: 3 safety, 2 alert, 1 watch (0 for an unknown level)."""
    return SAFETY_RANK if code == "safety" else LEVEL_RANK.get(level, 0)


def flag_sort_key(code: str, level: str) -> int:
    """Sort key listing flags most urgent first: safety, then alerts, then watches."""
    return -flag_rank(code, level)


def flag_fingerprint(flag: Flag) -> str:
    """Stable identity of what a flag is saying: code, level and the set of signal names."""
    return _fingerprint(flag.code, flag.level, flag.signals)


def is_acknowledged(flag: Flag, ack_level: str, ack_fingerprint: str) -> bool:
    """True while an acknowledgement still covers the flag (see the module docstring)."""
    parts = ack_fingerprint.split("|")
    if len(parts) != 3:
        return False
    ack_code, fp_level, ack_signals = parts
    if ack_code != flag.code or ack_level not in LEVEL_RANK:
        return False
    acknowledged_rank = min(LEVEL_RANK[ack_level], LEVEL_RANK.get(fp_level, 0))
    if LEVEL_RANK[flag.level] > acknowledged_rank:
        return False
    if ack_signals.startswith("#"):
        # A digest fingerprint: only the very same set of signals is covered.
        same_set = _fingerprint(flag.code, fp_level, flag.signals)
        return same_set == ack_fingerprint
    covered = {s for s in ack_signals.split(",") if s}
    return set(flag.signals) <= covered


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasureChangeSignal:
    """A reliable deterioration on one measure (or one CBI scale)."""

    instrument: str
    scale: str | None
    label: str  # e.g. "PHQ-9", "CBI work-related"
    change: float
    minimum_reliable_change: float
    # Seen at the latest `deterioration_confirmations` administrations, or a large change
    # (see `large_change`; DOMAIN.md §3.4): then an alert, else a watch.
    confirmed: bool = False
    convention: ConventionCode = DEFAULT_CONVENTION
    unverified_constant: bool = False  # the threshold rests on a constant marked "verify"


@dataclass(frozen=True, slots=True)
class OverdueAssessment:
    """An assigned questionnaire overdue by more than the grace period."""

    instrument: str
    label: str  # the instrument's display name, e.g. "GAD-7"
    due_on: date
    days_overdue: int


@dataclass(frozen=True, slots=True)
class ClientSignals:
    """Plain figures the client flags are computed from (None = not computable)."""

    status: ClientStatus
    session_cadence_days: int = 7
    # engagement
    due_sessions: int = 0  # due sessions considered (at most the attendance window)
    missed_due_sessions: int = 0  # no_show + late_cancel among them
    days_since_last_attended: int | None = None
    homework_completion: float | None = None
    homework_sessions: int = 0
    latest_engagement_rating: float | None = None
    engagement_rating_median: float | None = None
    # check-in link: overdue questionnaires (most overdue first), and a usual checker's silence
    overdue_assessments: tuple[OverdueAssessment, ...] = ()
    days_since_last_checkin: int | None = None  # None: the client never checked in
    usual_checkin_days: int = 0  # days with a check-in in the window before the quiet spell
    # safety
    latest_phq9_item9: int | None = None
    latest_phq9_at: datetime | None = None
    # set when the latest PHQ-9 left item 9 unanswered: when it was given
    phq9_item9_unanswered_at: datetime | None = None
    # alliance: the latest SRS total (practitioner-entered) and when
    latest_srs_total: float | None = None
    latest_srs_at: datetime | None = None
    # burnout
    latest_cbi_personal: float | None = None
    latest_cbi_work_related: float | None = None
    latest_cbi_at: datetime | None = None
    recent_activation_median: float | None = None
    recent_time_in_window: float | None = None
    recent_observations: int = 0
    # deterioration
    deteriorations: tuple[MeasureChangeSignal, ...] = ()
    recovery_chart: MonitoringChart | None = None
    unrecovered_chart: MonitoringChart | None = None
    recognition_chart: MonitoringChart | None = None
    as_of: datetime | None = None  # the time the charts were read at
    # stale data: days since the last observation or episode (or intake, if none yet)
    days_since_last_data: int | None = None


@dataclass(frozen=True, slots=True)
class PractitionerLoadFacts:
    """Plain figures about one practitioner's load."""

    active_caseload: int
    attended_sessions_last_7_days: int
    active_clients_with_alert: int
    latest_self_check_cbi_work_related: float | None = None


# --------------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    code: FlagCode
    display_name: str
    definition: str
    compute: Callable[[ClientSignals, Thresholds], Flag | None]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _stamp(value: datetime) -> str:
    # Minute precision: two PHQ-9s on one day are still two administrations.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def _level(signal_count: int) -> FlagLevel:
    return "alert" if signal_count >= 2 else "watch"


def safety_flag(s: ClientSignals, _t: Thresholds) -> Flag | None:
    """Latest PHQ-9 item 9 above 0, whatever the total (DOMAIN.md §1.5, §2.2): alert.

    Item 9 left unanswered in the latest PHQ-9 is a `watch` of its own: it is never read as 0,
    and it never lowers the alert of an earlier answer above 0.
    """
    reasons: list[str] = []
    signals: list[str] = []
    evidence: Evidence = {}
    level: FlagLevel | None = None
    if s.latest_phq9_item9 is not None and s.latest_phq9_item9 > 0:
        when = _date(s.latest_phq9_at)
        on = f" on {when}" if when else ""
        reasons.append(
            f"In the latest {PHQ9.short_name}{on}, item 9 (thoughts of being better off dead or of "
            f"self-harm) was answered {s.latest_phq9_item9} of 3, whatever the total"
        )
        evidence.update({"phq9_item9": s.latest_phq9_item9, "administered_at": when})
        # The date makes each administration a new signal: acknowledging one PHQ-9 never
        # quietens the next.
        signals.append(
            f"phq9_item9@{_stamp(s.latest_phq9_at)}" if s.latest_phq9_at else "phq9_item9"
        )
        level = "alert"
    if s.phq9_item9_unanswered_at is not None:
        when = _date(s.phq9_item9_unanswered_at)
        reasons.append(
            f"In the latest {PHQ9.short_name}, item 9 (thoughts of being better off dead or of "
            f"self-harm) was left unanswered on {when}; ask directly"
        )
        evidence["phq9_item9_unanswered_at"] = when
        signals.append(f"phq9_item9_unanswered@{_stamp(s.phq9_item9_unanswered_at)}")
        level = level or "watch"
    if level is None:
        return None
    return Flag(
        code="safety",
        level=level,
        reasons=tuple(reasons),
        evidence=evidence,
        suggestion=(
            "Follow the practice's risk-assessment protocol and check in promptly."
            if level == "alert"
            else "Ask directly about thoughts of self-harm at the next contact, and follow "
            "the practice's risk-assessment protocol if they are present."
        ),
        signals=tuple(signals),
    )


def engagement_risk_flag(s: ClientSignals, t: Thresholds) -> Flag | None:
    """Missed sessions, a long gap, low homework completion or a drop in engagement."""
    reasons: list[str] = []
    signals: list[str] = []
    evidence: Evidence = {}
    if s.due_sessions > 0 and s.missed_due_sessions >= t.engagement_missed_min:
        signals.append("missed")
        reasons.append(
            f"{s.missed_due_sessions} of the last {s.due_sessions} due sessions were missed "
            "(no-show or late cancel)"
        )
        evidence["missed_due_sessions"] = s.missed_due_sessions
        evidence["due_sessions"] = s.due_sessions
    gap_limit = t.engagement_gap_cadence_multiple * s.session_cadence_days
    if (
        s.status == ClientStatus.ACTIVE
        and s.days_since_last_attended is not None
        and s.days_since_last_attended > gap_limit
    ):
        signals.append("gap")
        reasons.append(
            f"{s.days_since_last_attended} days since the last attended session "
            f"(usual rhythm: every {s.session_cadence_days} days)"
        )
        evidence["days_since_last_attended"] = s.days_since_last_attended
        evidence["session_cadence_days"] = s.session_cadence_days
    if s.homework_completion is not None and s.homework_completion < t.homework_completion_min:
        signals.append("homework")
        reasons.append(
            f"Homework completion was {s.homework_completion:.0%} over the last "
            f"{s.homework_sessions} sessions with homework due"
        )
        evidence["homework_completion"] = s.homework_completion
        evidence["homework_sessions"] = s.homework_sessions
    if (
        s.latest_engagement_rating is not None
        and s.engagement_rating_median is not None
        and s.engagement_rating_median - s.latest_engagement_rating >= t.engagement_rating_drop
    ):
        signals.append("rating")
        reasons.append(
            f"The latest engagement rating ({_fmt(s.latest_engagement_rating)}) is "
            f"{_fmt(s.engagement_rating_median - s.latest_engagement_rating)} below their "
            f"usual ({_fmt(s.engagement_rating_median)})"
        )
        evidence["latest_engagement_rating"] = s.latest_engagement_rating
        evidence["engagement_rating_median"] = s.engagement_rating_median
    concern = t.srs_concern
    if s.latest_srs_total is not None and concern.met(s.latest_srs_total):
        signals.append("alliance")
        when = _date(s.latest_srs_at)
        on = f" on {when}" if when else ""
        reasons.append(
            f"The latest {SRS.short_name} total{on} was {_fmt(s.latest_srs_total)}: "
            f"{concern.label} ({concern.operator} {_fmt(concern.value)})"
        )
        evidence["srs_total"] = s.latest_srs_total
        evidence["srs_administered_at"] = when
        evidence["srs_concern_cutoff"] = f"{concern.operator} {_fmt(concern.value)}"
    if s.overdue_assessments:
        signals.append("assessment_overdue")
        for overdue in s.overdue_assessments:
            reasons.append(
                f"The assigned {overdue.label} was due on {overdue.due_on.isoformat()} and is "
                f"{overdue.days_overdue} days overdue (grace period: {t.assessment_grace_days} "
                "days)"
            )
        most = s.overdue_assessments[0]
        evidence["assessment_instrument"] = most.label
        evidence["assessment_due_on"] = most.due_on.isoformat()
        evidence["assessment_days_overdue"] = most.days_overdue
        if len(s.overdue_assessments) > 1:
            evidence["assessments_overdue"] = len(s.overdue_assessments)
    if checkins_quiet(s, t):
        signals.append("checkins_quiet")
        reasons.append(
            f"No check-in through the link for {s.days_since_last_checkin} days, from a client "
            f"who checked in on {s.usual_checkin_days} of the {t.checkins_usual_window_days} "
            "days before"
        )
        evidence["days_since_last_checkin"] = s.days_since_last_checkin
        evidence["usual_checkin_days"] = s.usual_checkin_days
    if not signals:
        return None
    return Flag(
        code="engagement_risk",
        level=_level(len(signals)),
        reasons=tuple(reasons),
        evidence=evidence,
        suggestion=(
            "Check in about what gets in the way of the check-ins and questionnaires between "
            "sessions."
            if set(signals) <= LINK_SIGNALS
            else "Check in about what gets in the way of attending and of the work between "
            "sessions, and about how the work together feels."
        ),
        signals=tuple(signals),
    )


#: Engagement signals that come from the client's check-in link alone.
LINK_SIGNALS: Final = frozenset({"assessment_overdue", "checkins_quiet"})


def checkins_quiet(s: ClientSignals, t: Thresholds) -> bool:
    """An active client who usually checks in (a check-in on at least `checkins_usual_share`
    of the `checkins_usual_window_days` days up to their last one) and has not for
    `checkins_quiet_days` days or more. Our definition (issue 11), not a published rule."""
    return (
        s.status == ClientStatus.ACTIVE
        and s.days_since_last_checkin is not None
        and s.days_since_last_checkin >= t.checkins_quiet_days
        and s.usual_checkin_days >= t.checkins_usual_share * t.checkins_usual_window_days
    )


def burnout_risk_flag(s: ClientSignals, t: Thresholds) -> Flag | None:
    """High CBI personal / work-related score, or sustained high activation."""
    reasons: list[str] = []
    signals: list[str] = []
    evidence: Evidence = {}
    level: FlagLevel = "watch"
    when = _date(s.latest_cbi_at)
    for signal, label, score in (
        ("cbi_personal", "personal", s.latest_cbi_personal),
        ("cbi_work", "work-related", s.latest_cbi_work_related),
    ):
        if score is not None and score >= t.cbi_high:
            signals.append(signal)
            reasons.append(
                f"Latest {CBI.short_name} {label} burnout score is {_fmt(score)} (at or above "
                f"{_fmt(t.cbi_high)}, the published high-burnout line)"
            )
            evidence[signal] = score
            level = "alert"
    if signals:
        evidence["cbi_administered_at"] = when
    if (
        s.recent_observations >= t.burnout_min_observations
        and s.recent_activation_median is not None
        and s.recent_time_in_window is not None
        and s.recent_activation_median >= t.burnout_activation_median_min
        and s.recent_time_in_window < t.burnout_time_in_window_max
    ):
        signals.append("activation")
        reasons.append(
            f"Over the last {t.burnout_window_days} days the median activation was "
            f"{_fmt(s.recent_activation_median)}/10 and {s.recent_time_in_window:.0%} of "
            "check-ins were within the window"
        )
        evidence["recent_activation_median"] = s.recent_activation_median
        evidence["recent_time_in_window"] = s.recent_time_in_window
        evidence["recent_observations"] = s.recent_observations
        slower = chart_signal(s.recovery_chart, s, t)
        if slower is not None:
            signals.append("recovery")
            reasons.append(
                f"Recovery after activation has been slower than usual since {slower:%Y-%m-%d}"
            )
            evidence["recovery_signal_at"] = _date(slower)
            level = "alert"
    if not signals:
        return None
    return Flag(
        code="burnout_risk",
        level=level,
        reasons=tuple(reasons),
        evidence=evidence,
        suggestion="Check in about load and rest; consider pacing and resourcing before "
        "deeper work.",
        signals=tuple(signals),
    )


@dataclass(frozen=True, slots=True)
class _FlagPart:
    """What one group of signals contributes to a flag; ``level`` None = nothing fired."""

    level: FlagLevel | None
    reasons: tuple[str, ...]
    signals: tuple[str, ...]
    evidence: Evidence


def confirmation_rule(t: Thresholds) -> str:
    """The rule in force for measure-based deterioration, in words (DOMAIN.md §3.4)."""
    n = t.deterioration_confirmations
    if n <= 1:
        rule = "alert on a first reliable deterioration"
    else:
        rule = f"alert when seen at {n} consecutive administrations"
    if t.deterioration_immediate_multiple > 0:
        rule += (
            f", or at once for a change of at least {_fmt(t.deterioration_immediate_multiple)}"
            " times the reliable change"
        )
    if n > 1:
        rule += "; watch on a first unconfirmed one"
    return rule


def large_change(change: float, minimum_reliable_change: float, t: Thresholds) -> bool:
    """A change so large that it confirms a deterioration at once (DOMAIN.md §3.4: "two
    consecutive administrations, or a larger change")."""
    multiple = t.deterioration_immediate_multiple
    return multiple > 0 and abs(change) >= multiple * minimum_reliable_change


def _measure_deterioration(s: ClientSignals, t: Thresholds) -> _FlagPart:
    """Reliable deterioration on measures: `alert` once confirmed, `watch` before."""
    # The measured false-alarm rates hold for the default rule only.
    default_rule = (t.deterioration_confirmations, t.deterioration_immediate_multiple) == (
        _DEFAULTS.deterioration_confirmations,
        _DEFAULTS.deterioration_immediate_multiple,
    )
    reasons: list[str] = []
    signals: list[str] = []
    evidence: Evidence = {}
    level: FlagLevel | None = None
    for d in s.deteriorations:
        key = d.instrument if d.scale is None else f"{d.instrument}_{d.scale}"
        large = large_change(d.change, d.minimum_reliable_change, t)
        signals.append(key)
        reason = (
            f"{d.label} changed by {d.change:+.1f} since the first administration, reliable "
            f"by the {convention_name(d.convention)} threshold of "
            f"{d.minimum_reliable_change:.1f} points"
        )
        if d.unverified_constant:
            reason += f" ({UNVERIFIED_NOTE})"
        if d.confirmed and large:
            multiple = _fmt(t.deterioration_immediate_multiple)
            reason += f"; at least {multiple} times the reliable change at once"
        elif d.confirmed:
            n = t.deterioration_confirmations
            reason += f"; confirmed at {n} consecutive administration{'s' if n > 1 else ''}"
        else:
            reason += "; seen once so far: an alert follows if the next administration confirms it"
        reasons.append(reason)
        evidence[f"{key}_change"] = d.change
        evidence[f"{key}_minimum_reliable_change"] = d.minimum_reliable_change
        evidence[f"{key}_confirmed"] = "yes" if d.confirmed else "no"
        share = FALSE_ALARMS.get((d.instrument, d.convention)) if default_rule else None
        if share is not None:
            evidence[f"{key}_false_alarms"] = (
                f"about {share:.0%} of stable clients measured monthly for a year "
                "(simulated, measurement error only)"
            )
        level = "alert" if d.confirmed else (level or "watch")
    if signals:
        evidence["deterioration_rule"] = confirmation_rule(t)
    return _FlagPart(level, tuple(reasons), tuple(signals), evidence)


def chart_signal(chart: MonitoringChart | None, s: ClientSignals, t: Thresholds) -> datetime | None:
    """The crossing a flag reports: one since the chart (re)started, or else the crossing that
    was acknowledged (the chart restarted then), kept on view for a while, marked acknowledged.
    """
    if chart is None:
        return None
    if chart.signal_at is not None:
        return chart.signal_at
    previous = chart.previous_signal_at
    if previous is not None and s.as_of is not None:
        if s.as_of - previous <= timedelta(weeks=t.monitoring_acknowledged_weeks):
            return previous
    return None


#: What each chart's crossing means, in plain words, and the level it raises.
_CHART_WORDS: Final[Mapping[str, tuple[str, FlagLevel]]] = MappingProxyType(
    {
        "recovery": ("Recovery after activation has been slower than this client's usual", "alert"),
        "unrecovered": (
            "More activation episodes than usual have not come back to baseline",
            "alert",
        ),
        "recognition": ("Noticing activation has been taking longer than usual", "watch"),
    }
)


def _chart_reasons(
    s: ClientSignals, t: Thresholds
) -> tuple[list[str], list[str], Evidence, FlagLevel | None]:
    """What the monitoring charts say: recovery and non-recovery alert, recognition watches."""
    reasons: list[str] = []
    signals: list[str] = []
    evidence: Evidence = {}
    level: FlagLevel | None = None
    for chart in (s.recovery_chart, s.unrecovered_chart, s.recognition_chart):
        if chart is None or (at := chart_signal(chart, s, t)) is None:
            continue
        name = chart.quantity
        words, chart_level = _CHART_WORDS[name]
        usual: float | None
        if chart.reference_share is not None:
            usual = round(chart.reference_share, 3)
            usual_words = f" (their usual: about {chart.reference_share:.0%})"
        elif chart.reference_median_minutes is not None:
            usual = round(chart.reference_median_minutes, 1)
            usual_words = f" (their usual: about {chart.reference_median_minutes:.0f} minutes)"
        else:
            usual, usual_words = None, ""
        reasons.append(
            f"{words}{usual_words}: the monitoring chart crossed its limit on {at:%Y-%m-%d}. "
            f"{OPERATING_CHARACTERISTICS[name]}"
        )
        signals.append(f"{name}@{at:%Y-%m-%d}")
        evidence[f"{name}_signal_at"] = _date(at)
        evidence[f"{name}_statistic"] = round(chart.statistic, 2)
        evidence[f"{name}_limit"] = chart.limit
        evidence[f"{name}_usual"] = usual
        if level != "alert":
            level = chart_level
    return reasons, signals, evidence, level


def deterioration_flag(s: ClientSignals, t: Thresholds) -> Flag | None:
    """Reliable deterioration on a measure (alert once confirmed, watch before), or a
    monitoring chart crossing its limit; the level is the highest over its signals."""
    measures = _measure_deterioration(s, t)
    reasons = list(measures.reasons)
    signals = list(measures.signals)
    evidence: Evidence = dict(measures.evidence)
    level = measures.level
    chart_reasons, chart_signals, chart_evidence, chart_level = _chart_reasons(s, t)
    reasons += chart_reasons
    signals += chart_signals
    evidence.update(chart_evidence)
    if chart_level is not None and level != "alert":
        level = chart_level
    if level is None:
        return None
    return Flag(
        code="deterioration",
        level=level,
        reasons=tuple(reasons),
        evidence=evidence,
        suggestion="Review the care plan together with the client; consider supervision "
        "or a change of approach.",
        signals=tuple(signals),
    )


def stale_data_flag(s: ClientSignals, t: Thresholds) -> Flag | None:
    """An active client with no observation or episode for more than ``stale_days``."""
    if s.status != ClientStatus.ACTIVE or s.days_since_last_data is None:
        return None
    if s.days_since_last_data <= t.stale_days:
        return None
    return Flag(
        code="stale_data",
        level="watch",
        reasons=(
            f"No observation or activation episode recorded in the last "
            f"{s.days_since_last_data} days",
        ),
        evidence={"days_since_last_data": s.days_since_last_data},
        suggestion="Log a check-in at the next session, or update the client's status.",
        signals=("no_recent_data",),
    )


CLIENT_FLAGS: Final[tuple[FlagDefinition, ...]] = (
    FlagDefinition(
        "safety",
        "Safety",
        "Latest PHQ-9 item 9 above 0, whatever the total (alert). Never suppressed. Item 9 "
        "left unanswered in the latest PHQ-9 (watch; never read as 0).",
        safety_flag,
    ),
    FlagDefinition(
        "engagement_risk",
        "Engagement",
        ">= 2 no-shows/late cancels among the last 6 due sessions; or days since last "
        "attended > 2 x cadence (active clients); or homework completion < 40 %; or latest "
        "engagement rating >= 3 below the client's median; or the latest SRS total at or "
        "below 36 (alliance concern; number and operator configurable); or an assigned "
        "questionnaire overdue by more than 3 days; or no check-in for 7 days from an active "
        "client who checked in on at least half of the 28 days before. 1 signal = watch, "
        "2+ = alert.",
        engagement_risk_flag,
    ),
    FlagDefinition(
        "burnout_risk",
        "Burnout risk",
        "Latest CBI personal or work-related >= 50 (alert); or last 14 days median "
        "activation >= 7 with time in window < 40 % (watch; alert if recovery is worsening).",
        burnout_risk_flag,
    ),
    FlagDefinition(
        "deterioration",
        "Deterioration",
        "Reliable deterioration on any measure by the practice's convention: alert when seen "
        "at 2 consecutive administrations (or at least twice the reliable change at once), "
        "watch on a first unconfirmed one; or the recovery or non-recovery monitoring chart "
        "crossing its limit (alert); the recognition chart crossing its limit (watch). The "
        "charts compare the client with their own usual (DOMAIN.md §5.5).",
        deterioration_flag,
    ),
    FlagDefinition(
        "stale_data",
        "No recent data",
        "Active client with no observation or episode in 30 days (watch).",
        stale_data_flag,
    ),
)


#: The one display name of every flag code, for pages, reports and exports alike.
FLAG_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {**{d.code: d.display_name for d in CLIENT_FLAGS}, "practitioner_load": "Workload"}
)


def flag_name(code: str) -> str:
    """The display name of a flag code; an unknown code reads as its words."""
    return FLAG_NAMES.get(code, code.replace("_", " "))


def evaluate_client_flags(signals: ClientSignals, thresholds: Thresholds) -> tuple[Flag, ...]:
    """All client flags that fire, in registry order (safety first)."""
    flags = (definition.compute(signals, thresholds) for definition in CLIENT_FLAGS)
    return tuple(flag for flag in flags if flag is not None)


def practitioner_load(facts: PractitionerLoadFacts, thresholds: Thresholds) -> Flag | None:
    """Caseload, weekly sessions, share of clients on alert, own CBI (1 signal = watch).

    No validated caseload cutoff exists (DOMAIN.md §6.2): the maxima are the practice's own
    configuration, shown as context, never as a verdict on the practitioner.
    """
    t = thresholds
    reasons: list[str] = []
    signals: list[str] = []
    evidence: Evidence = {}
    if facts.active_caseload > t.max_caseload:
        signals.append("caseload")
        reasons.append(
            f"Active caseload is {facts.active_caseload} (practice maximum {t.max_caseload})"
        )
        evidence["active_caseload"] = facts.active_caseload
    if facts.attended_sessions_last_7_days > t.max_sessions_7d:
        signals.append("sessions")
        reasons.append(
            f"{facts.attended_sessions_last_7_days} sessions attended in the last 7 days "
            f"(practice maximum {t.max_sessions_7d})"
        )
        evidence["attended_sessions_last_7_days"] = facts.attended_sessions_last_7_days
    if facts.active_caseload > 0:
        share = facts.active_clients_with_alert / facts.active_caseload
        if share > t.max_alert_share:
            signals.append("alerts")
            reasons.append(
                f"{facts.active_clients_with_alert} of {facts.active_caseload} active clients "
                f"({share:.0%}) have an alert"
            )
            evidence["active_clients_with_alert"] = facts.active_clients_with_alert
            evidence["alert_share"] = share
    cbi = facts.latest_self_check_cbi_work_related
    if cbi is not None and cbi >= t.practitioner_cbi_high:
        signals.append("cbi_work")
        reasons.append(
            f"Your latest {CBI.short_name} work-related burnout score is {_fmt(cbi)} (at or above "
            f"{_fmt(t.practitioner_cbi_high)})"
        )
        evidence["self_check_cbi_work_related"] = cbi
    if not signals:
        return None
    return Flag(
        code="practitioner_load",
        level=_level(len(signals)),
        reasons=tuple(reasons),
        evidence=evidence,
        suggestion="Take this to supervision; consider pausing new intakes or "
        "rebalancing the week.",
        signals=tuple(signals),
    )
