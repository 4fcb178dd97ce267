"""The facts' own rules: minutes between two times, due sessions, homework scores, and what
was known at a moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from practice_dashboard.domain.facts import (
    CLOCK_SLACK,
    DUE_ATTENDANCE,
    HOMEWORK_SCORE,
    Attendance,
    ClientFacts,
    ClientStatus,
    EpisodeFact,
    HomeworkCompletion,
    MeasureFact,
    ObservationFact,
    SessionFact,
    Zone,
    facts_as_of,
    minutes_between,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class TestMinutes:
    def test_recovery_and_recognition_of_an_episode(self) -> None:
        episode = EpisodeFact(
            T0,
            7,
            recognized_at=T0 + timedelta(minutes=12, seconds=30),
            baseline_at=T0 + timedelta(hours=1, minutes=30),
        )
        assert episode.recognition_minutes == 12.5
        assert episode.recovery_minutes == 90.0
        assert EpisodeFact(T0, 7).recovery_minutes is None
        assert EpisodeFact(T0, 7).recognition_minutes is None

    def test_counts_real_minutes_across_a_daylight_saving_change(self) -> None:
        london = ZoneInfo("Europe/London")
        # Clocks go forward at 01:00 on 29 March 2026: 00:30 to 02:30 local is one hour.
        start = datetime(2026, 3, 29, 0, 30, tzinfo=london)
        assert minutes_between(start, datetime(2026, 3, 29, 2, 30, tzinfo=london)) == 60.0

    def test_an_earlier_time_is_negative_and_an_unknown_one_none(self) -> None:
        assert minutes_between(T0, T0 - timedelta(minutes=5)) == -5.0
        assert minutes_between(T0, None) is None


class TestRules:
    def test_due_sessions_are_those_the_client_was_expected_at(self) -> None:
        assert DUE_ATTENDANCE == {
            Attendance.ATTENDED,
            Attendance.NO_SHOW,
            Attendance.LATE_CANCEL,
        }

    def test_homework_scores(self) -> None:
        assert dict(HOMEWORK_SCORE) == {
            HomeworkCompletion.YES: 1.0,
            HomeworkCompletion.PARTIAL: 0.5,
            HomeworkCompletion.NO: 0.0,
        }

    def test_clock_slack_is_ten_minutes(self) -> None:
        assert timedelta(minutes=10) == CLOCK_SLACK


def _t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class TestFactsAsOf:
    """``facts_as_of(facts, moment)``: only what had happened, and been recorded, by then."""

    MOMENT = _t(48)

    def facts(self) -> ClientFacts:
        return ClientFacts(
            status=ClientStatus.ACTIVE,
            intake_date=date(2026, 1, 5),
            session_cadence_days=14,
            episodes=(
                # back and noticed well before the moment
                EpisodeFact(_t(1), 6, recognized_at=_t(1.5), baseline_at=_t(2)),
                # noticed before the moment, back only after it
                EpisodeFact(_t(47), 8, recognized_at=_t(47.25), baseline_at=_t(49)),
                # begun just at the moment, noticed after it
                EpisodeFact(self.MOMENT, 5, recognized_at=_t(48.5), baseline_at=_t(50)),
                EpisodeFact(_t(60), 7, recognized_at=_t(60.5), baseline_at=_t(61)),
            ),
            observations=(
                ObservationFact(_t(10), Zone.WITHIN, 3),
                ObservationFact(self.MOMENT, Zone.HYPER, 8),
                ObservationFact(_t(48.01), Zone.HYPO, 2),
            ),
            sessions=(
                SessionFact(_t(24), Attendance.ATTENDED, engagement=7),
                SessionFact(_t(72), Attendance.SCHEDULED),
            ),
            measures=(
                MeasureFact("phq9", _t(30), items=(1,) * 8 + (0,)),
                MeasureFact("phq9", _t(70), items=(2,) * 8 + (1,)),
            ),
        )

    def test_records_after_the_moment_are_left_out(self) -> None:
        known = facts_as_of(self.facts(), self.MOMENT)
        assert [e.started_at for e in known.episodes] == [_t(1), _t(47), self.MOMENT]
        assert [o.observed_at for o in known.observations] == [_t(10), self.MOMENT]
        assert [s.starts_at for s in known.sessions] == [_t(24)]
        assert [m.administered_at for m in known.measures] == [_t(30)]

    def test_a_return_or_a_recognition_after_the_moment_was_not_known(self) -> None:
        first, open_then, just_begun = facts_as_of(self.facts(), self.MOMENT).episodes
        assert (first.recognized_at, first.baseline_at) == (_t(1.5), _t(2))
        # Noticed 15 minutes after onset; back at baseline 2 h after onset, after the moment:
        # then, it was not back yet (censored), so it has no recovery time.
        assert open_then.recognized_at == _t(47.25)
        assert open_then.baseline_at is None
        assert open_then.recovery_minutes is None
        assert open_then.recognition_minutes == 15.0
        assert (just_begun.recognized_at, just_begun.baseline_at) == (None, None)

    def test_the_client_and_a_moment_after_everything_are_kept(self) -> None:
        facts = self.facts()
        assert facts_as_of(facts, _t(1000)) == facts
        known = facts_as_of(facts, self.MOMENT)
        assert (known.status, known.intake_date, known.session_cadence_days) == (
            ClientStatus.ACTIVE,
            date(2026, 1, 5),
            14,
        )

    def test_the_latest_data_time_only_if_it_was_before_the_moment(self) -> None:
        facts = ClientFacts(ClientStatus.ACTIVE, date(2026, 1, 5), last_data_at=_t(47))
        assert facts_as_of(facts, self.MOMENT).last_data_at == _t(47)
        assert facts_as_of(facts, _t(46)).last_data_at is None

    def test_a_moment_in_another_zone_is_the_same_instant(self) -> None:
        berlin = ZoneInfo("Europe/Berlin")
        moment = self.MOMENT.astimezone(berlin)
        assert facts_as_of(self.facts(), moment) == facts_as_of(self.facts(), self.MOMENT)
