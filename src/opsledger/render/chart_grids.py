"""Heat maps (a value per row and column, with a labelled colour bar) and scatter plots."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from opsledger.render.chart_data import (
    ChartError,
    is_percent,
    legend_shown,
    listed,
    need,
    numbers,
    reference_lines,
    same_length,
    value_axis,
    value_domain,
    x_values,
)
from opsledger.render.chart_frame import LABEL_SIZE, SMALL_SIZE, Axis, Frame, Swatch
from opsledger.render.scales import (
    ColourScale,
    ScaleError,
    colour_scale,
    mix,
    text_on,
    value_label,
)
from opsledger.render.sections import Chart
from opsledger.render.svg import (
    GRID,
    MARKERS,
    MUTED,
    OKABE_ITO,
    escape,
    marker_path,
    num,
    text_width,
)

ROW_HEIGHT = 19.0
BAR_STEPS = 48  # bands in the colour bar
BAR_WIDTH = 11.0


def cell_text(value: float) -> str:
    """Return a heat-map cell's label: one decimal, none from 100 on; a value too small to
    show in one decimal is "<0.1" rather than a misleading 0.0."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if 0 < abs(value) < 0.05:
        return "<0.1" if value > 0 else ">-0.1"
    return f"{value:.1f}"


def draw_heatmap(chart: Chart) -> str:
    """Draw a grid of values coloured by a sequential or diverging scale, each labelled."""
    data = chart.data
    rows = [str(r) for r in listed(need(data, "rows", "heatmap"), "rows")]
    columns = [str(c) for c in listed(need(data, "columns", "heatmap"), "columns")]
    grid = listed(need(data, "values", "heatmap"), "values")
    same_length(grid, len(rows), "values")
    values = []
    for r, row in enumerate(grid):
        cells = numbers(row, f"values[{r}]")
        same_length(cells, len(columns), f"values[{r}]")
        values.append(cells)
    present = [v for row in values for v in row if v is not None]
    try:
        scale = colour_scale(data.get("scale"), present, data.get("vmax"))
    except (ScaleError, TypeError, ValueError) as exc:
        raise ChartError(str(exc)) from None
    label = str(data.get("label", ""))
    tick_values = scale.ticks()
    tick_width = max((text_width(value_label(v), SMALL_SIZE) for v in tick_values), default=0.0)
    frame = Frame(chart.key, chart.title, plot_height=max(60.0, ROW_HEIGHT * len(rows)),
                  right=14 + BAR_WIDTH + 6 + tick_width + (LABEL_SIZE + 8 if label else 0))
    x_axis = Axis.banded(columns, str(data.get("x_label", "")))
    y_axis = Axis.banded(rows, str(data.get("y_label", "")))
    frame.place(x_axis, y_axis)
    cell_w = frame.plot_width / max(1, len(columns))
    cell_h = frame.plot_height / max(1, len(rows))
    size = min(11.0, max(SMALL_SIZE, cell_h * 0.6), cell_w / 2.9)
    c = frame.canvas
    frame.open_plot()
    labels: list[tuple[float, float, str, str]] = []
    c.open("g", class_="cells", stroke="#ffffff", stroke_width=0.8)
    for r, row in enumerate(values):
        for k, value in enumerate(row):
            x, y = frame.left + k * cell_w, frame.top + r * cell_h
            middle = (x + cell_w / 2, y + cell_h / 2 + size * 0.35)
            where = f"{rows[r]}, {columns[k]}"
            if value is None:
                c.element("rect", tooltip=f"{where}: no value", x=x + 0.5, y=y + 0.5,
                          width=cell_w - 1, height=cell_h - 1, fill="#ffffff", stroke=GRID,
                          class_="cell missing")
                labels.append((*middle, "–", MUTED))
                continue
            colour = scale.colour(value)
            c.element("rect", tooltip=f"{where}: {value_label(value)}", x=x, y=y,
                      width=cell_w, height=cell_h, fill=colour, class_="cell")
            labels.append((*middle, cell_text(value), text_on(colour)))
    c.close("g")
    c.open("g", class_="cell-labels", font_size=size, text_anchor="middle")
    for x, y, text, fill in labels:
        c.parts.append(f'<text x="{num(x)}" y="{num(y)}" fill="{fill}">{escape(text)}</text>')
    c.close("g")
    frame.close_plot()
    _colour_bar(frame, scale, tick_values, label)
    return frame.document(_heatmap_description(data, rows, columns, present, scale), "heatmap")


def _colour_bar(frame: Frame, scale: ColourScale, tick_values: list[float], label: str) -> None:
    c = frame.canvas
    left = frame.right_edge + 14
    top, height = frame.top, frame.plot_height
    c.open("g", class_="colour-bar")
    step = height / BAR_STEPS
    for i in range(BAR_STEPS):
        c.element("rect", x=left, y=top + height - (i + 1) * step, width=BAR_WIDTH,
                  height=step + 0.3, fill=scale.colour_at((i + 0.5) / BAR_STEPS))
    c.element("rect", x=left, y=top, width=BAR_WIDTH, height=height, fill="none",
              stroke=MUTED, stroke_width=0.6)
    for value in tick_values:
        y = top + height * (1 - scale.position(value))
        c.element("line", x1=left + BAR_WIDTH, y1=y, x2=left + BAR_WIDTH + 3, y2=y, stroke=MUTED,
                  stroke_width=0.8)
        c.text(left + BAR_WIDTH + 5, y + 3.5, value_label(value), size=SMALL_SIZE,
               bold=scale.center is not None and value == scale.center)
    if label:
        tick_width = max((text_width(value_label(v), SMALL_SIZE) for v in tick_values), default=0.0)
        x = left + BAR_WIDTH + 8 + tick_width + LABEL_SIZE * 0.8
        c.text(x, top + height / 2, label, size=LABEL_SIZE, anchor="middle", rotate=-90.0,
               fill=MUTED, class_="axis-label")
    c.close("g")


def _heatmap_description(data: Mapping[str, Any], rows: list[str], columns: list[str],
                         present: list[float], scale: ColourScale) -> str:
    parts = [str(data["description"])] if data.get("description") else []
    parts.append(f"Heat map, {len(rows)} rows by {len(columns)} columns.")
    if present:
        parts.append(f"Values from {value_label(min(present))} to {value_label(max(present))}.")
    if scale.center is not None:
        above = sum(v > scale.center for v in present)
        parts.append(f"Colours diverge at {value_label(scale.center)}: "
                     f"{above} of {len(present)} cells above it.")
    return " ".join(parts)


def draw_scatter(chart: Chart) -> str:
    """Draw points, one colour and marker shape per group, sized and optionally named."""
    data = chart.data
    points = listed(need(data, "points", "scatter"), "points")
    for i, point in enumerate(points):
        if not isinstance(point, Mapping) or "x" not in point or "y" not in point:
            raise ChartError(f"'points[{i}]' needs 'x' and 'y'")
    ys = numbers([p["y"] for p in points], "points.y")
    hlines = reference_lines(data)
    x = x_values([p["x"] for p in points] or [0], str(data.get("x_label", "")))
    xs = x.positions([p["x"] for p in points])
    if x.kind == "number":
        lo, hi = value_domain(data, "x_domain", xs, zero=False)
        x_axis = value_axis(lo, hi, x.axis.label, is_percent(data, "x"))
    elif x.kind == "category":
        names = x.axis.categories or ()
        x_axis = Axis.banded(names, x.axis.label)
    else:
        x_axis = x.axis
    reach = [v for v in ys if v is not None] + [float(h["y"]) for h in hlines]
    lo, hi = value_domain(data, "y_domain", reach, zero=False)
    y_axis = value_axis(lo, hi, str(data.get("y_label", "")), is_percent(data, "y"))
    groups = sorted({str(p.get("group", "")) for p in points})
    style = {g: (OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)])
             for i, g in enumerate(groups)}
    frame = Frame(chart.key, chart.title, plot_height=200.0)
    if legend_shown(data):
        for g in groups:
            if g:
                frame.legend.append(Swatch(g, style[g][0], "marker", marker=style[g][1],
                                           opacity=0.8))
        frame.reference_legend(hlines)
    frame.place(x_axis, y_axis)
    frame.open_plot()
    frame.reference_lines(hlines)
    c = frame.canvas
    for g in groups:
        colour, shape = style[g]
        outline = mix((colour, "#000000"), 0.4)  # pale colours (yellow) keep an edge on white
        c.open("g", class_="group", data_group=g or None)
        for point, px, py in zip(points, xs, ys, strict=True):
            if str(point.get("group", "")) != g or py is None:
                continue
            size = numbers([point.get("size", 30)], "points.size")[0] or 30.0
            radius = math.sqrt(max(size, 1.0)) / 2 * 1.1
            name = str(point.get("label") or "")
            tip = f"{g + ': ' if g else ''}{name + ' ' if name else ''}" \
                  f"({_shown(point['x'])}, {value_label(py)})"
            c.element("path", tooltip=tip, d=marker_path(shape, frame.x(px), frame.y(py), radius),
                      fill=colour, fill_opacity=0.8, stroke=outline, stroke_width=0.7,
                      class_="point")
        c.close("g")
    for point, px, py in zip(points, xs, ys, strict=True):
        if point.get("label") and py is not None:
            name = str(point["label"])
            at = frame.x(px)
            # Named to the right of the point, or to its left where it would leave the chart.
            end = at + 4 + text_width(name, SMALL_SIZE) > frame.right_edge + frame.right - 2
            anchor = ' text-anchor="end"' if end else ""
            c.parts.append(f'<text x="{num(at - 4 if end else at + 4)}" y="{num(frame.y(py) - 4)}"'
                           f'{anchor} font-size="{num(SMALL_SIZE)}" class="point-label">'
                           f"{escape(name)}</text>")
    frame.close_plot()
    parts = [str(data["description"])] if data.get("description") else []
    parts.append(f"Scatter plot, {len(points)} points"
                 + (f" in {len([g for g in groups if g])} groups" if any(groups) else "") + ".")
    return frame.document(" ".join(parts), "scatter")


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return value_label(value)
    return str(value).replace("\n", " ")
