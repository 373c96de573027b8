"""Charts drawn from :class:`~opsledger.render.sections.Chart` data as SVG.

One drawing path for the dashboard (inline SVG) and the Markdown report (SVG files beside
it), written directly as SVG text: a chart costs about a millisecond, needs no plotting
library, and the same data always gives the same bytes. Each chart is sized by its viewBox
alone, so it fills the width of its container; its title and a generated description are
its accessible name (``<title>``, ``<desc>``). Colours are the Okabe–Ito palette, and every
series also differs by line style, marker or hatching, not by colour alone. Text stays text
and every value from the data is escaped.

Data fields by kind. Required: line ``x`` and ``series[].y``; bar ``categories`` and
``series[].values``; barh ``categories`` and ``values``; heatmap ``rows``, ``columns`` and
``values``; scatter ``points[].x`` and ``points[].y``. The others are optional:

- every kind: ``x_label``, ``y_label``, ``description`` (prepended to the generated one),
  ``legend`` (False or "none" hides it; any other value, such as "upper left", is accepted
  and the legend is drawn above the plot, where it never hides data).
- ``line``: ``x``, ``series: [{name, y, x?, unit?, low?, high?, band_label?, bands?,
  drawstyle?}]``, ``hlines: [{y, label?}]``, ``y_domain: [lo, hi]``,
  ``y_format: "percent"``. Series with different units are refused: one axis, one unit.
- ``bar``: ``categories``, ``series: [{name, values, style?: "forecast"}]``, ``stacked``,
  ``notes: {category: text}``, ``rotation``, ``hlines``, ``y_domain``, ``y_format``,
  ``intervals: [{category, low, high, label}]`` (a whisker over the category's bars).
- ``barh``: ``categories``, ``values``, ``limits``, ``limit_label``, ``flags``,
  ``flag_label``, ``x_domain`` (the value axis), ``x_format``.
- ``heatmap``: ``rows``, ``columns``, ``values``, ``label`` (the colour bar's), ``vmax``,
  ``scale: {type: "sequential" | "diverging", center?, min?, max?, log?}``.
- ``scatter``: ``points: [{x, y, label?, size?, group?}]``, ``hlines``, ``x_domain``,
  ``y_domain``, ``x_format``, ``y_format``.

``y_domain`` / ``x_domain`` set an axis exactly; without them the domain comes from the data
with a margin (bars keep zero in view). ``*_format: "percent"`` labels ratios as percentages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opsledger.render.chart_bars import draw_bar, draw_barh
from opsledger.render.chart_data import (
    ChartError,
    check_units,
    describe_values,
    is_percent,
    legend_shown,
    listed,
    need,
    numbers,
    reference_lines,
    same_length,
    series_name,
    series_of,
    value_axis,
    value_domain,
    x_values,
)
from opsledger.render.chart_frame import Frame, Swatch
from opsledger.render.chart_grids import draw_heatmap, draw_scatter
from opsledger.render.scales import ScaleError
from opsledger.render.sections import Chart
from opsledger.render.svg import DASHES, MARKERS, OKABE_ITO, marker_path, num

__all__ = ["DRAWERS", "MARKERS", "OKABE_ITO", "ChartError", "chart_svg"]

MARKED_POINTS = 40  # series with at most this many points get a marker at each point
STEPS = ("steps", "steps-pre", "steps-mid", "steps-post")


def chart_svg(chart: Chart) -> str:
    """Return the chart as a standalone SVG document."""
    drawer = DRAWERS.get(chart.kind)
    if drawer is None:
        raise ChartError(f"chart '{chart.key}': unknown chart kind '{chart.kind}'")
    if not isinstance(chart.data, Mapping):
        raise ChartError(f"chart '{chart.key}': its data must be a mapping")
    try:
        return drawer(chart)
    except (ChartError, ScaleError) as exc:
        raise ChartError(f"chart '{chart.key}': {exc}") from None


def draw_line(chart: Chart) -> str:
    """Draw a line chart: series over shared (or their own) x values, with shaded bands."""
    data = chart.data
    series = series_of(data, "line")
    unit = check_units(series)
    main_x = listed(need(data, "x", "line"), "x")
    xs_of: list[list[Any]] = []
    ys_of: list[list[float | None]] = []
    values: list[float] = []
    for i, s in enumerate(series):
        name = series_name(s, i)
        xs = listed(s["x"], f"{name}.x") if "x" in s else main_x
        if any(v is None for v in xs):
            raise ChartError(f"'{name}.x' has a missing value: give y as null instead")
        ys = numbers(need(s, "y", "line series"), f"{name}.y")
        same_length(ys, len(xs), f"{name}.y")
        xs_of.append(xs)
        ys_of.append(ys)
        values += [v for v in ys if v is not None]
        for j, band in enumerate(_bands(s)):
            for edge in ("low", "high"):
                edge_values = numbers(need(band, edge, "band"), f"{name}.bands[{j}].{edge}")
                same_length(edge_values, len(xs), f"{name}.bands[{j}].{edge}")
                values += [v for v in edge_values if v is not None]
    hlines = reference_lines(data)
    values += [float(h["y"]) for h in hlines]
    x = x_values([v for xs in xs_of for v in [*main_x, *xs]], str(data.get("x_label", "")))
    lo, hi = value_domain(data, "y_domain", values, zero=False)
    y_axis = value_axis(lo, hi, str(data.get("y_label") or unit or ""), is_percent(data, "y"))
    frame = Frame(chart.key, chart.title)
    marked = [sum(v is not None for v in ys) <= MARKED_POINTS for ys in ys_of]
    if legend_shown(data):
        for i, s in enumerate(series):
            colour = OKABE_ITO[i % len(OKABE_ITO)]
            for j, band in enumerate(_bands(s)):
                if band.get("label"):
                    frame.legend.append(Swatch(str(band["label"]), colour, "box",
                                               opacity=_band_opacity(s, j)))
            frame.legend.append(Swatch(series_name(s, i), colour, "line", _dash(i),
                                       MARKERS[i % len(MARKERS)] if marked[i] else None))
        frame.reference_legend(hlines)
    frame.place(x.axis, y_axis)
    frame.open_plot()
    for i, s in enumerate(series):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        px = x.positions(xs_of[i])
        for j, band in enumerate(_bands(s)):
            low = numbers(band["low"], "low")
            high = numbers(band["high"], "high")
            for run in _runs(px, low, high):
                frame.canvas.element("path", d=_band_path(frame, run), fill=colour,
                                     fill_opacity=_band_opacity(s, j), class_="band")
        points = [(frame.x(p), None if y is None else frame.y(y))
                  for p, y in zip(px, ys_of[i], strict=True)]
        frame.canvas.element("path", d=_line_path(points, str(s.get("drawstyle", "default"))),
                             fill="none", stroke=colour, stroke_width=2.0,
                             stroke_dasharray=_dash(i) or None, stroke_linejoin="round",
                             class_="line", data_series=series_name(s, i))
        if marked[i]:
            shape = MARKERS[i % len(MARKERS)]
            marks = "".join(marker_path(shape, px_, py_, 3.2) for px_, py_ in points
                            if py_ is not None)
            frame.canvas.element("path", d=marks, fill=colour, stroke="#ffffff",
                                 stroke_width=0.6, class_="markers")
    frame.reference_lines(hlines)
    frame.close_plot()
    return frame.document(_line_description(data, series, ys_of, x.axis.ticks, unit), "line")


def _bands(series: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the series' shaded intervals: ``bands`` (widest first), or ``low``/``high``."""
    bands = [b for b in listed(series.get("bands", []), "bands") if isinstance(b, Mapping)]
    if "low" in series and "high" in series:
        bands.append({"low": series["low"], "high": series["high"],
                      "label": series.get("band_label")})
    return bands


def _band_opacity(series: Mapping[str, Any], index: int) -> float:
    # Nested intervals shade darker as they narrow; a single low/high band is light.
    return 0.2 if "bands" not in series else 0.15 + 0.15 * index


def _dash(index: int) -> str:
    return DASHES[index % len(DASHES)]


def _runs(px: Sequence[float], low: Sequence[float | None],
          high: Sequence[float | None]) -> list[list[tuple[float, float, float]]]:
    """Return the stretches where both edges of a band are known."""
    runs: list[list[tuple[float, float, float]]] = []
    current: list[tuple[float, float, float]] = []
    for x, lo, hi in zip(px, low, high, strict=False):
        if lo is None or hi is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((x, lo, hi))
    if current:
        runs.append(current)
    return runs


def _band_path(frame: Frame, run: Sequence[tuple[float, float, float]]) -> str:
    upper = [(frame.x(x), frame.y(hi)) for x, _, hi in run]
    lower = [(frame.x(x), frame.y(lo)) for x, lo, _ in reversed(run)]
    points = upper + lower
    return "M" + "L".join(f"{num(x)} {num(y)}" for x, y in points) + "Z"


def _line_path(points: Sequence[tuple[float, float | None]], drawstyle: str) -> str:
    """Return path data through the points, broken at missing values, stepped if asked."""
    if drawstyle not in ("default", *STEPS):
        raise ChartError(f"'drawstyle' must be 'default' or one of {', '.join(STEPS)}")
    out: list[str] = []
    previous: tuple[float, float] | None = None
    for x, y in points:
        if y is None:
            previous = None
            continue
        if previous is None:
            out.append(f"M{num(x)} {num(y)}")
        elif drawstyle == "steps-post":
            out.append(f"H{num(x)}V{num(y)}")
        elif drawstyle in ("steps", "steps-pre"):
            out.append(f"V{num(y)}H{num(x)}")
        elif drawstyle == "steps-mid":
            out.append(f"H{num((previous[0] + x) / 2)}V{num(y)}H{num(x)}")
        else:
            out.append(f"L{num(x)} {num(y)}")
        previous = (x, y)
    return "".join(out) or "M0 0"


def _line_description(data: Mapping[str, Any], series: Sequence[Mapping[str, Any]],
                      ys_of: Sequence[Sequence[float | None]],
                      x_ticks: Sequence[tuple[float, str]], unit: str | None) -> str:
    parts = [str(data["description"])] if data.get("description") else []
    span = f" from {x_ticks[0][1]} to {x_ticks[-1][1]}" if x_ticks else ""
    parts.append(f"Line chart, {len(series)} series{span}.")
    for i, (s, ys) in enumerate(zip(series, ys_of, strict=True)):
        if i == 6:
            parts.append(f"And {len(series) - 6} more series.")
            break
        parts.append(f"{series_name(s, i)}: {describe_values(ys, unit or '')}.")
    return " ".join(parts)


Drawer = Callable[[Chart], str]
DRAWERS: dict[str, Drawer] = {
    "line": draw_line,
    "bar": draw_bar,
    "barh": draw_barh,
    "heatmap": draw_heatmap,
    "scatter": draw_scatter,
}
