"""Tiny server-rendered SVG sparklines: the shape of weekly recovery, no JavaScript.

The template draws the SVG from these numbers, so nothing here is markup and nothing needs
`|safe`. The y axis starts at zero: a change from 42 to 40 minutes should look small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from practice_dashboard.web.templating import minutes

WIDTH = 120
HEIGHT = 28
PAD = 3.0
#: Sparklines kept drawn, one a client (about 1.2 KB each: 5 MB at most per worker).
SPARKLINES_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Sparkline:
    width: int
    height: int
    # Runs of consecutive weeks with data, each an SVG `points` list; a week without a
    # recovered episode breaks the line rather than being drawn as 0.
    segments: tuple[str, ...]
    # Weeks with data but no neighbour to join, drawn as dots; and the latest point.
    dots: tuple[tuple[float, float], ...]
    latest: tuple[float, float] | None
    label: str

    @property
    def has_data(self) -> bool:
        return self.latest is not None


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(
    values: Sequence[float | None] | None, *, width: int = WIDTH, height: int = HEIGHT
) -> Sparkline:
    """A sparkline of weekly median recovery minutes (oldest first); None = no data that week.

    A caseload shows the same series on every visit until the client's summary changes, so
    each is drawn once (the Sparkline is frozen, safe to share)."""
    return _drawn(None if values is None else tuple(values), width, height)


@lru_cache(maxsize=SPARKLINES_KEPT)
def _drawn(values: tuple[float | None, ...] | None, width: int, height: int) -> Sparkline:
    if values is None:
        return Sparkline(width, height, (), (), None, "Weekly recovery has not been computed yet")
    known = [v for v in values if v is not None]
    weeks = len(values)
    if not known:
        label = f"No recovered activation episodes in the last {weeks} weeks"
        return Sparkline(width, height, (), (), None, label)
    top = max(known) or 1.0
    step = (width - 2 * PAD) / max(weeks - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        # Longer recovery is drawn higher, as on the client page's chart.
        return (round(PAD + i * step, 1), round(height - PAD - (v / top) * (height - 2 * PAD), 1))

    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point(i, v))
    runs = [r for r in runs if r]
    segments = tuple(" ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in r) for r in runs if len(r) > 1)
    dots = tuple(r[0] for r in runs if len(r) == 1)
    last_index = max(i for i, v in enumerate(values) if v is not None)
    latest_value = values[last_index]
    assert latest_value is not None
    first = known[0]
    label = (
        f"Weekly median recovery time over the last {weeks} weeks, {len(known)} of them with "
        f"recovered episodes: first {minutes(first)}, latest {minutes(latest_value)}, "
        f"shortest {minutes(min(known))}, longest {minutes(max(known))}"
    )
    if last_index < weeks - 1:
        gap = weeks - 1 - last_index
        label += f" (latest is from {gap} week{'s' if gap > 1 else ''} ago)"
    return Sparkline(width, height, segments, dots, point(last_index, latest_value), label)
