"""A chart's legend, drawn in HTML under the chart rather than by Plotly.

Plotly lays its legend out by measuring every entry's text in the page (a forced layout per
entry), then grows the chart's bottom margin to fit it and draws the whole chart a second time
(docs/performance.md, row 8: without both, the charts were drawn 8-19 % sooner). An HTML list
costs the browser little to lay out, reads as text without the chart's SVG, wraps at any
width, and its entries are buttons that show and hide what they name (static/js/app.js).

The entries are the ones Plotly would draw, read from the figure itself, so a chart module
names a series once, in its trace or shape: every trace but those with ``showlegend: false``,
the shapes with ``showlegend: true``, one entry per ``legendgroup`` (it shows and hides the
whole group, as Plotly's does), and no legend for a chart with a single series (Plotly's own
default: a legend only when there are two entries, or one asked for explicitly).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Final

#: Stroke patterns of Plotly's line dashes, for a swatch 30 px wide.
_DASHES: Final = {"solid": "", "dot": "2 3", "dash": "6 3", "longdash": "9 3", "dashdot": "6 3 2 3"}
_MIDDLE: Final = (15.0, 7.0)  # the swatch's centre: 30 × 14 px
_R: Final = 4.5  # a marker's radius in the swatch


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """What one entry shows: its words, its mark, and which traces or shapes it toggles."""

    name: str  # plain text (the template escapes it)
    color: str
    dash: str | None  # a line's dash ("solid", "dot", …), or None: no line
    symbol: str | None  # a Plotly marker symbol ("circle", "x-open", …), or None: no marker
    area: bool  # a filled band (a rectangle shape)
    traces: tuple[int, ...]
    shapes: tuple[int, ...]

    @property
    def swatch(self) -> str:
        """The entry's mark as SVG elements for a 30 × 14 px ``<svg>`` (attributes, no CSS:
        the page's style policy is unaffected)."""
        color = html.escape(self.color, quote=True)
        parts: list[str] = []
        if self.area:
            parts.append(f'<rect x="1" y="2" width="28" height="10" fill="{color}"/>')
        if self.dash is not None:
            dash = _DASHES.get(self.dash, "")
            pattern = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="1" y1="7" x2="29" y2="7" stroke="{color}" stroke-width="2"{pattern}/>'
            )
        if self.symbol is not None:
            parts.append(_marker(self.symbol, color))
        return "".join(parts)


def legend_entries(figure: dict[str, Any]) -> tuple[LegendEntry, ...]:
    """The legend Plotly would draw for ``figure``, in its order: traces, then shapes."""
    traces: list[dict[str, Any]] = figure.get("data", [])
    shapes: list[dict[str, Any]] = figure.get("layout", {}).get("shapes", [])
    groups: dict[str, list[int]] = {}
    for i, trace in enumerate(traces):
        if group := trace.get("legendgroup"):
            groups.setdefault(group, []).append(i)
    entries: list[LegendEntry] = []
    asked = False  # any entry named in the legend explicitly
    for i, trace in enumerate(traces):
        if trace.get("showlegend", True) is False:
            continue
        asked = asked or trace.get("showlegend") is True
        mode = trace.get("mode", "lines+markers")
        line = trace.get("line", {})
        marker = trace.get("marker", {})
        symbol = marker.get("symbol", "circle")
        if isinstance(symbol, list):  # per point (self-reported points are open): the usual one
            symbol = next((s for s in symbol if not s.endswith("-open")), symbol[0])
        entries.append(
            LegendEntry(
                name=html.unescape(trace.get("name", "")),
                color=line.get("color") or marker.get("color", "#000000"),
                dash=line.get("dash", "solid") if "lines" in mode else None,
                symbol=symbol if "markers" in mode else None,
                area=False,
                traces=tuple(groups.get(trace.get("legendgroup", ""), [i])),
                shapes=(),
            )
        )
    for i, shape in enumerate(shapes):
        if not shape.get("showlegend"):
            continue
        asked = True
        rect = shape.get("type") == "rect"
        line = shape.get("line", {})
        entries.append(
            LegendEntry(
                name=html.unescape(shape.get("name", "")),
                color=shape.get("fillcolor", "#000000") if rect else line.get("color", "#000000"),
                dash=None if rect else line.get("dash", "solid"),
                symbol=None,
                area=rect,
                traces=(),
                shapes=(i,),
            )
        )
    return tuple(entries) if len(entries) > 1 or asked else ()


def _points(*xy: tuple[float, float]) -> str:
    return " ".join(f"{_MIDDLE[0] + x:.1f},{_MIDDLE[1] + y:.1f}" for x, y in xy)


def _star(points: int, outer: float, inner: float) -> str:
    """A star with its first point up."""
    corners = []
    for k in range(2 * points):
        radius = outer if k % 2 == 0 else inner
        angle = math.pi * k / points - math.pi / 2
        corners.append((radius * math.cos(angle), radius * math.sin(angle)))
    return _points(*corners)


# The marker symbols the charts use, drawn around the swatch's centre.
_SHAPES: Final = {
    "circle": f'<circle cx="{_MIDDLE[0]}" cy="{_MIDDLE[1]}" r="{_R}"',
    "square": f'<rect x="{_MIDDLE[0] - 4}" y="{_MIDDLE[1] - 4}" width="8" height="8"',
    "diamond": f'<polygon points="{_points((0, -5.5), (5.5, 0), (0, 5.5), (-5.5, 0))}"',
    "triangle-up": f'<polygon points="{_points((0, -5), (5, 4), (-5, 4))}"',
    "triangle-down": f'<polygon points="{_points((-5, -4), (5, -4), (0, 5))}"',
    "star": f'<polygon points="{_star(5, 6, 2.6)}"',
    "star-diamond": f'<polygon points="{_star(4, 6.5, 2)}"',
    "x": f'<path d="M{_points((-4, -4))} L{_points((4, 4))} M{_points((4, -4))} '
    f'L{_points((-4, 4))}"',
}


def _marker(symbol: str, color: str) -> str:
    base = symbol.removesuffix("-open")
    shape = _SHAPES.get(base, _SHAPES["circle"])
    if base == "x":  # drawn by its strokes, open or not
        return f'{shape} stroke="{color}" stroke-width="2.5" fill="none"/>'
    if symbol.endswith("-open"):
        return f'{shape} fill="#ffffff" stroke="{color}" stroke-width="1.5"/>'
    return f'{shape} fill="{color}"/>'
