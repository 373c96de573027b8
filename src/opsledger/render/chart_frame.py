"""The frame every chart is drawn in: title, legend, axes with ticks and labels, plot area.

A chart is laid out top to bottom: its title (wrapped), its legend (one row or more of
samples, above the data so it never hides any), then the plot with its axes. The plot keeps
a fixed height and the document grows to fit long titles, legends and tick labels, so the
same chart stays readable from a phone-wide 390 px column to a desktop panel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opsledger.render.scales import Linear, mix
from opsledger.render.svg import (
    DASHES,
    GRID,
    INK,
    MUTED,
    REFERENCE,
    Canvas,
    chart_id,
    escape,
    marker_path,
    num,
    shorten,
    text_width,
    wrap,
)

WIDTH = 480.0  # viewBox width; fonts below are sized to stay legible scaled down to 390 px
PAD = 8.0
TITLE_SIZE = 13.5
LABEL_SIZE = 11.5
TICK_SIZE = 11.0
LEGEND_SIZE = 11.0
NOTE_SIZE = 10.5
SMALL_SIZE = 10.5  # value labels beside marks; 8.5 px at 390 px wide
TICK_LENGTH = 4.0
MAX_BAND_LABEL = 150.0  # widest category label before it is shortened (full text on hover)


@dataclass(frozen=True)
class Axis:
    """An axis from ``lo`` to ``hi`` with labelled ticks.

    A banded axis has one slot per category, category ``i`` at value ``i`` (the domain runs
    from -0.5 to n - 0.5), and may carry a note under a category's label.
    """

    lo: float
    hi: float
    ticks: tuple[tuple[float, str], ...]
    label: str = ""
    categories: tuple[str, ...] | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    rotation: float | None = None  # degrees, for banded x labels; None: chosen to fit
    grid: bool = True

    @classmethod
    def banded(cls, categories: Sequence[str], label: str = "",
               notes: Mapping[str, str] | None = None, rotation: float | None = None,
               grid: bool = False) -> Axis:
        names = tuple(categories)
        return cls(-0.5, len(names) - 0.5, tuple((float(i), c) for i, c in enumerate(names)),
                   label, names, dict(notes or {}), rotation, grid)


@dataclass(frozen=True)
class Swatch:
    """A legend sample: a line (with dash and marker), a box (bar or band) or a marker."""

    label: str
    colour: str
    kind: str = "line"  # line | box | marker | rule
    dash: str = ""
    marker: str | None = None
    fill: str | None = None  # box fill when not the colour (a pattern)
    opacity: float = 1.0


@dataclass
class Frame:
    """Lays a chart out and draws what is common to every kind."""

    key: str
    title: str
    plot_height: float = 170.0
    right: float = 14.0  # room right of the plot (a colour bar needs more)
    canvas: Canvas = field(default_factory=Canvas)
    legend: list[Swatch] = field(default_factory=list)
    # Set by place():
    left: float = 0.0
    top: float = 0.0
    legend_top: float = 0.0
    plot_width: float = 0.0
    height: float = 0.0
    x: Linear = field(default_factory=lambda: Linear(0, 1, 0, 1))
    y: Linear = field(default_factory=lambda: Linear(0, 1, 0, 1))

    @property
    def ident(self) -> str:
        return chart_id(self.key)

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height

    @property
    def right_edge(self) -> float:
        return self.left + self.plot_width

    def place(self, x_axis: Axis, y_axis: Axis) -> None:
        """Lay out title, legend and axes; draw them; leave the plot area ready for marks."""
        title_lines = wrap(self.title, TITLE_SIZE, WIDTH - 2 * PAD, bold=True)
        cursor = PAD + TITLE_SIZE
        for i, line in enumerate(title_lines):
            self.canvas.text(PAD, cursor + i * TITLE_SIZE * 1.2, line, size=TITLE_SIZE,
                             bold=True, class_="chart-title")
        cursor += (len(title_lines) - 1) * TITLE_SIZE * 1.2 + 8
        rows = self._legend_rows()
        self.legend_top = cursor
        cursor += len(rows) * 16 + (4 if rows else 0)
        self.top = cursor + 6
        y_labels = [self._band_label(t) if y_axis.categories else t for _, t in y_axis.ticks]
        widest = max((text_width(t, TICK_SIZE) for t in y_labels), default=0.0)
        self.left = PAD + (LABEL_SIZE + 6 if y_axis.label else 0) + widest + TICK_LENGTH + 4
        if x_axis.categories is None and x_axis.ticks:
            # Labels centred on the first and last ticks must not run off the edges.
            self.left = max(self.left, 2 + self._half_label(x_axis.ticks[0], x_axis))
            self.right = max(self.right, 2 + self._half_label(x_axis.ticks[-1], x_axis, True))
        self.plot_width = WIDTH - self.left - self.right
        x_room, rotation = self._x_label_room(x_axis)
        if rotation and x_axis.categories:
            self._fit_first_rotated_label(x_axis, rotation)
        self.height = self.bottom + TICK_LENGTH + 4 + x_room + (
            LABEL_SIZE + 12 if x_axis.label else 0) + PAD
        self.x = Linear(x_axis.lo, x_axis.hi, self.left, self.right_edge)
        # Categories read top to bottom; values grow upwards.
        self.y = (Linear(y_axis.lo, y_axis.hi, self.top, self.bottom) if y_axis.categories
                  else Linear(y_axis.lo, y_axis.hi, self.bottom, self.top))
        self._draw_legend(rows)
        self._draw_y_axis(y_axis, y_labels)
        self._draw_x_axis(x_axis, rotation, x_room)
        self.canvas.defs.append(
            f'<clipPath id="{self.ident}-plot"><rect x="{self.left - 4:.1f}" '
            f'y="{self.top - 4:.1f}" width="{self.plot_width + 8:.1f}" '
            f'height="{self.plot_height + 8:.1f}"/></clipPath>')

    def open_plot(self) -> None:
        """Start the group of data marks, clipped to the plot area."""
        self.canvas.open("g", class_="plot", clip_path=f"url(#{self.ident}-plot)")

    def close_plot(self) -> None:
        self.canvas.close("g")

    def document(self, desc: str, kind: str) -> str:
        return self.canvas.document(self.ident, WIDTH, self.height, self.title, desc, kind)

    # --- legend -------------------------------------------------------------------------

    def _legend_rows(self) -> list[list[tuple[Swatch, float]]]:
        rows: list[list[tuple[Swatch, float]]] = []
        row: list[tuple[Swatch, float]] = []
        used = 0.0
        available = WIDTH - 2 * PAD
        for swatch in self.legend:
            label = shorten(swatch.label, LEGEND_SIZE, available - 30)
            width = 26 + text_width(label, LEGEND_SIZE) + 14
            if row and used + width > available:
                rows.append(row)
                row, used = [], 0.0
            row.append((Swatch(label, swatch.colour, swatch.kind, swatch.dash, swatch.marker,
                               swatch.fill, swatch.opacity), width))
            used += width
        if row:
            rows.append(row)
        return rows

    def _draw_legend(self, rows: list[list[tuple[Swatch, float]]]) -> None:
        if not rows:
            return
        c = self.canvas
        c.open("g", class_="legend")
        for r, row in enumerate(rows):
            y = self.legend_top + r * 16 + 6
            x = PAD
            for swatch, width in row:
                self._draw_swatch(swatch, x, y)
                c.text(x + 26, y + LEGEND_SIZE * 0.35, swatch.label, size=LEGEND_SIZE)
                x += width
        c.close("g")

    def _draw_swatch(self, s: Swatch, x: float, y: float) -> None:
        c = self.canvas
        if s.kind == "box":
            c.element("rect", x=x + 2, y=y - 5.5, width=18.0, height=11.0, fill=s.fill or s.colour,
                      fill_opacity=None if s.opacity == 1 else s.opacity,
                      stroke=s.colour, stroke_width=1.0, stroke_dasharray=s.dash or None)
            return
        if s.kind in ("line", "rule"):
            c.element("line", x1=x, y1=float(y), x2=x + 22, y2=float(y), stroke=s.colour,
                      stroke_width=2.0 if s.kind == "line" else 1.2,
                      stroke_dasharray=s.dash or None)
        if s.marker:
            c.element("path", d=marker_path(s.marker, x + 11, y, 4.0), fill=s.colour,
                      fill_opacity=None if s.opacity == 1 else s.opacity,
                      stroke=mix((s.colour, "#000000"), 0.4) if s.kind == "marker" else "#ffffff",
                      stroke_width=0.7)

    # --- axes ---------------------------------------------------------------------------

    def _fit_first_rotated_label(self, axis: Axis, rotation: float) -> None:
        """Widen the left margin so that the first slanted label ends inside the chart."""
        _, full = axis.ticks[0]
        lines = [*self._band_label(full).split("\n"), axis.notes.get(full, "")]
        reach = max(text_width(line, TICK_SIZE) for line in lines) * math.cos(
            math.radians(rotation))
        slots = 2 * len(axis.ticks)
        # The label's anchor is 3 right of the slot's centre, at left + plot_width / slots.
        needed = (reach - 3 - (WIDTH - self.right) / slots + PAD / 2) / (1 - 1 / slots)
        if needed > self.left:
            self.left = needed
            self.plot_width = WIDTH - self.left - self.right

    @staticmethod
    def _half_label(tick: tuple[float, str], axis: Axis, last: bool = False) -> float:
        """Return how far a centred tick label reaches beyond its end of the axis."""
        value, label = tick
        share = (axis.hi - value if last else value - axis.lo) / ((axis.hi - axis.lo) or 1.0)
        # The plot is at least 300 wide, so a tick this far inside the axis is that far in.
        return max(0.0, text_width(label, TICK_SIZE) / 2 - share * 300)

    @staticmethod
    def _band_label(text: str) -> str:
        return "\n".join(shorten(line, TICK_SIZE, MAX_BAND_LABEL) for line in text.split("\n"))

    def _x_label_room(self, axis: Axis) -> tuple[float, float]:
        """Return the height the x tick labels need, and their rotation in degrees."""
        if not axis.ticks:
            return 0.0, 0.0
        labels = [self._band_label(t) for _, t in axis.ticks]
        lines = max(len(t.split("\n")) for t in labels)
        widest = max(text_width(line, TICK_SIZE) for t in labels for line in t.split("\n"))
        note_lines = 1 if axis.notes else 0
        rotation = axis.rotation
        if axis.categories is None:
            rotation = 0.0
        elif not rotation:  # chosen to fit: overlapping labels would be unreadable
            slot = self.plot_width / max(1, len(axis.ticks))
            rotation = 0.0 if widest <= slot * 0.92 else (45.0 if slot >= TICK_SIZE * 1.6
                                                          else 90.0)
        line_height = TICK_SIZE * 1.15
        if not rotation:
            return (lines + note_lines) * line_height, 0.0
        angle = math.radians(rotation)
        notes_width = max((text_width(n, NOTE_SIZE) for n in axis.notes.values()), default=0.0)
        longest = max(widest, notes_width)
        return (longest * math.sin(angle) + (lines + note_lines) * line_height * math.cos(angle)
                + 2), rotation

    def _draw_y_axis(self, axis: Axis, labels: Sequence[str]) -> None:
        c = self.canvas
        c.open("g", class_="axis y-axis", font_size=TICK_SIZE, fill=INK)
        for (value, full), label in zip(axis.ticks, labels, strict=True):
            y = self.y(value)
            if axis.grid:
                c.element("line", x1=self.left, y1=y, x2=self.right_edge, y2=y, stroke=GRID,
                          stroke_width=0.8)
            c.element("line", x1=self.left - TICK_LENGTH, y1=y, x2=self.left, y2=y,
                      stroke=MUTED, stroke_width=0.8)
            lines = label.split("\n")
            first = y + TICK_SIZE * 0.35 - (len(lines) - 1) * TICK_SIZE * 0.575
            self._tick_text(self.left - TICK_LENGTH - 3, first, lines, "end",
                            tooltip=full if label != full else None)
        c.element("line", x1=self.left, y1=self.top, x2=self.left, y2=self.bottom, stroke=MUTED,
                  stroke_width=1.0)
        if axis.label:
            middle = (self.top + self.bottom) / 2
            c.text(PAD + LABEL_SIZE * 0.85, middle, shorten(axis.label, LABEL_SIZE,
                                                            self.plot_height + 40),
                   size=LABEL_SIZE, anchor="middle", rotate=-90.0, fill=MUTED,
                   class_="axis-label")
        c.close("g")

    def _draw_x_axis(self, axis: Axis, rotation: float, room: float) -> None:
        c = self.canvas
        c.open("g", class_="axis x-axis", font_size=TICK_SIZE, fill=INK)
        base = self.bottom + TICK_LENGTH + 3
        for value, full in axis.ticks:
            x = self.x(value)
            if axis.grid:
                c.element("line", x1=x, y1=self.top, x2=x, y2=self.bottom, stroke=GRID,
                          stroke_width=0.8)
            c.element("line", x1=x, y1=self.bottom, x2=x, y2=self.bottom + TICK_LENGTH,
                      stroke=MUTED, stroke_width=0.8)
            label = self._band_label(full)
            lines = label.split("\n")
            note = axis.notes.get(full)
            tooltip = full if label != full else None
            if rotation:
                self._tick_text(x + 3, base + TICK_SIZE * 0.7, lines, "end", -rotation, note,
                                tooltip)
            else:
                self._tick_text(x, base + TICK_SIZE * 0.8, lines, "middle", None, note, tooltip)
        c.element("line", x1=self.left, y1=self.bottom, x2=self.right_edge, y2=self.bottom,
                  stroke=MUTED, stroke_width=1.0)
        if axis.label:
            c.text((self.left + self.right_edge) / 2, base + room + LABEL_SIZE + 6,
                   shorten(axis.label, LABEL_SIZE, WIDTH - 2 * PAD), size=LABEL_SIZE,
                   anchor="middle", fill=MUTED, class_="axis-label")
        c.close("g")

    def _tick_text(self, x: float, y: float, lines: Sequence[str], anchor: str,
                   rotate: float | None = None, note: str | None = None,
                   tooltip: str | None = None) -> None:
        """Write a tick label (lines, then an italic note line under them)."""
        transform = ("" if rotate is None
                     else f' transform="rotate({num(rotate)} {num(x)} {num(y)})"')
        anchor_attr = "" if anchor == "start" else f' text-anchor="{anchor}"'
        parts = [f'<text x="{num(x)}" y="{num(y)}"{anchor_attr}{transform}>']
        if tooltip:
            parts.append(f"<title>{escape(tooltip)}</title>")
        step = num(TICK_SIZE * 1.15)
        for i, line in enumerate(lines):
            if len(lines) == 1 and not note:
                parts.append(escape(line))
            else:
                parts.append(f'<tspan x="{num(x)}" dy="{"0" if i == 0 else step}">'
                             f"{escape(line)}</tspan>")
        if note:
            parts.append(f'<tspan x="{num(x)}" dy="{step}" font-size="{num(NOTE_SIZE)}" '
                         f'font-style="italic" fill="{MUTED}" class="note">{escape(note)}</tspan>')
        parts.append("</text>")
        self.canvas.parts.append("".join(parts))

    # --- shared marks -------------------------------------------------------------------

    def reference_legend(self, hlines: Sequence[Mapping[str, object]]) -> None:
        """Add the labelled reference lines to the legend (before :meth:`place`)."""
        for i, line in enumerate(hlines):
            if line.get("label"):
                self.legend.append(Swatch(str(line["label"]), REFERENCE, "rule", _ref_dash(i)))

    def reference_lines(self, hlines: Sequence[Mapping[str, object]]) -> None:
        """Draw horizontal reference lines (objectives, budgets) across the plot."""
        for i, line in enumerate(hlines):
            y = self.y(float(line["y"]))  # type: ignore[arg-type]
            if self.top - 0.5 <= y <= self.bottom + 0.5:
                self.canvas.element("line", x1=self.left, y1=y, x2=self.right_edge, y2=y,
                                    stroke=REFERENCE, stroke_width=1.2,
                                    stroke_dasharray=_ref_dash(i), class_="reference")


def _ref_dash(index: int) -> str:
    return DASHES[(index + 1) % len(DASHES)] or "6 3"
