"""Charts read only the part of a long course they draw, and draw exactly what the whole
course gives (web/charts/recovery.py ``_recovered``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from practice_dashboard.domain.facts import EpisodeFact
from practice_dashboard.domain.stats import rolling_median
from practice_dashboard.web.charts.recovery import _recovered

K = 5  # the chart's rolling window (domain/windows.py ROLLING_K)


def _course(seed: int) -> list[EpisodeFact]:
    """Episodes in onset order, with tied onsets, unrecovered ones and a return before onset."""
    draw = random.Random(seed)
    onset = datetime(2024, 1, 1, tzinfo=UTC)
    episodes = []
    for _ in range(300):
        if draw.random() > 0.2:  # one in five shares the previous onset
            onset += timedelta(hours=draw.randint(1, 90))
        back = draw.choice([None, -5, *range(3, 200, 7)])
        baseline = None if back is None else onset + timedelta(minutes=back)
        episodes.append(EpisodeFact(onset, 6, None, baseline))
    return episodes


def test_the_bounded_read_gives_the_whole_course_points_and_rolling_medians() -> None:
    for seed in range(20):
        episodes = _course(seed)
        whole = sorted(
            (e.started_at.timestamp(), m)
            for e in episodes
            if (m := e.recovery_minutes) is not None and m >= 0
        )
        whole_rolling = rolling_median([m for _, m in whole], K)
        times = [t for t, _ in whole]
        draw = random.Random(seed)
        for _ in range(10):
            start, end = sorted(draw.sample(times, 2))
            part = _recovered(episodes, start, end, K - 1)
            part_rolling = rolling_median([m for _, m in part], K)
            expected = [
                (point, whole_rolling[i])
                for i, point in enumerate(whole)
                if start <= point[0] < end
            ]
            got = [(point, part_rolling[i]) for i, point in enumerate(part) if point[0] >= start]
            assert got == expected
            assert len(part) <= len(expected) + K - 1
