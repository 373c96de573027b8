"""Charts drawn from :class:`~opsledger.render.sections.Chart` data as SVG.

One drawing path for the dashboard (inline SVG) and the Markdown report (SVG files beside
it). Colours are the Okabe–Ito palette, distinguishable with the common colour-vision
deficiencies; every series also differs by marker or line style, not by colour alone.
Output is deterministic: same data, same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from opsledger.render.sections import Chart

OKABE_ITO = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
# Sequential map from pale to vermillion: readable in greyscale too (monotone lightness).
HEAT = LinearSegmentedColormap.from_list("heat", ["#f7f7f7", "#E69F00", "#D55E00", "#7a1f00"])

RC: dict[str, Any] = {
    "svg.fonttype": "none",  # keep text as text: searchable, small, and escaped by matplotlib
    "svg.hashsalt": "opsledger",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


class ChartError(ValueError):
    """Chart data does not fit its kind."""


def chart_svg(chart: Chart, width: float = 7.0, height: float = 3.2) -> str:
    """Return the chart as a standalone SVG document."""
    drawer = DRAWERS.get(chart.kind)
    if drawer is None:
        raise ChartError(f"unknown chart kind '{chart.kind}'")
    with plt.rc_context(RC):  # type: ignore[arg-type]
        figure = Figure(figsize=(width, height), layout="constrained")
        axes = figure.add_subplot()
        drawer(axes, chart.data)
        axes.set_title(chart.title, loc="left", fontsize=10, fontweight="bold")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "opsledger"})
    return _strip_prolog(buffer.getvalue())


def _strip_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _x_values(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, str):
            try:
                out.append(datetime.fromisoformat(value.replace("Z", "+00:00")))
                continue
            except ValueError:
                pass
        out.append(value)
    return out


def _finish_time_axis(axes: Axes, xs: Sequence[Any]) -> None:
    if xs and isinstance(xs[0], datetime):
        locator = mdates.AutoDateLocator(maxticks=8)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _hlines(axes: Axes, data: Mapping[str, Any]) -> None:
    for i, line in enumerate(data.get("hlines", [])):
        axes.axhline(
            line["y"], color="#555555", linestyle=LINESTYLES[(i + 1) % 4], linewidth=1,
            label=line.get("label"),
        )


def _labels(axes: Axes, data: Mapping[str, Any]) -> None:
    axes.set_xlabel(data.get("x_label", ""))
    axes.set_ylabel(data.get("y_label", ""))
    if axes.get_legend_handles_labels()[1]:
        if data.get("legend") == "outside":  # beside the axes, for plots dense everywhere
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                        frameon=False)
        else:
            axes.legend(loc=data.get("legend", "best"), fontsize=8, frameon=False)


def draw_line(axes: Axes, data: Mapping[str, Any]) -> None:
    """``{"x": [...], "series": [{"name", "y", "low"?, "high"?, "bands"?}], "hlines"?: [...]}``.

    ``bands`` is a list of ``{"low", "high", "label"?}`` from the widest to the narrowest
    (e.g. 95 % then 80 % intervals), shaded darker as they narrow.
    """
    xs = _x_values(data["x"])
    for i, series in enumerate(data["series"]):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        sx = _x_values(series["x"]) if "x" in series else xs
        for j, band in enumerate(series.get("bands", [])):
            axes.fill_between(sx, band["low"], band["high"], color=colour, alpha=0.15 + 0.15 * j,
                              linewidth=0, label=band.get("label"))
        if "low" in series and "high" in series:
            axes.fill_between(sx, series["low"], series["high"], color=colour, alpha=0.2,
                              linewidth=0, label=series.get("band_label"))
        axes.plot(sx, series["y"], color=colour, linestyle=LINESTYLES[i % 4],
                  linewidth=1.6, label=series.get("name"),
                  drawstyle=series.get("drawstyle", "default"))
    _hlines(axes, data)
    _finish_time_axis(axes, xs)
    _labels(axes, data)


def draw_bar(axes: Axes, data: Mapping[str, Any]) -> None:
    """``{"categories": [...], "series": [{"name", "values"}], "stacked": bool}``."""
    categories = [str(c) for c in data["categories"]]
    series_list = data["series"]
    positions = list(range(len(categories)))
    stacked = data.get("stacked", False)
    width = 0.8 if stacked else 0.8 / max(1, len(series_list))
    bottoms = [0.0] * len(categories)
    for i, series in enumerate(series_list):
        values = [float(v or 0) for v in series["values"]]
        offset = 0.0 if stacked else (i - (len(series_list) - 1) / 2) * width
        axes.bar(
            [p + offset for p in positions], values, width, bottom=bottoms if stacked else None,
            color=OKABE_ITO[i % len(OKABE_ITO)], label=series.get("name"),
            hatch=["", "//", "..", "xx", "\\\\"][i % 5], edgecolor="white", linewidth=0.5,
        )
        if stacked:
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_xticks(positions, categories, rotation=data.get("rotation", 45 if len(categories) > 8
                                                            else 0), ha="right"
                    if len(categories) > 8 else "center")
    _hlines(axes, data)
    _labels(axes, data)


def draw_barh(axes: Axes, data: Mapping[str, Any]) -> None:
    """``{"categories": [...], "values": [...], "limits"?: [...], "limit_label"?}``."""
    categories = [str(c) for c in data["categories"]]
    values = [float(v or 0) for v in data["values"]]
    positions = list(range(len(categories)))
    colours = [OKABE_ITO[3] if flag else OKABE_ITO[0] for flag in data.get("flags", [False] *
                                                                           len(values))]
    axes.barh(positions, values, color=colours)
    if "limits" in data:
        axes.scatter(data["limits"], positions, marker="|", s=200, color="#000000",
                     label=data.get("limit_label", "limit"), zorder=3)
    axes.set_yticks(positions, categories)
    axes.invert_yaxis()
    _labels(axes, data)


def draw_heatmap(axes: Axes, data: Mapping[str, Any]) -> None:
    """``{"rows": [...], "columns": [...], "values": [[...]], "label": str}``."""
    rows = [str(r) for r in data["rows"]]
    columns = [str(c) for c in data["columns"]]
    values = [[float("nan") if v is None else float(v) for v in row] for row in data["values"]]
    vmax = data.get("vmax") or max([v for row in values for v in row if v == v] or [1.0])
    image = axes.imshow(values, cmap=HEAT, aspect="auto", vmin=0, vmax=vmax)
    axes.set_xticks(range(len(columns)), columns)
    axes.set_yticks(range(len(rows)), rows)
    axes.grid(False)
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            if value == value:
                axes.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=7,
                          color="white" if value > vmax * 0.6 else "black")
    axes.figure.colorbar(image, ax=axes, label=data.get("label", ""))


def draw_scatter(axes: Axes, data: Mapping[str, Any]) -> None:
    """``{"points": [{"x", "y", "label"?, "size"?, "group"?}], "x_label", "y_label"}``."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for point in data["points"]:
        groups.setdefault(str(point.get("group", "")), []).append(point)
    for i, (group, points) in enumerate(sorted(groups.items())):
        axes.scatter(
            [p["x"] for p in points], [p["y"] for p in points],
            s=[float(p.get("size", 30)) for p in points], color=OKABE_ITO[i % len(OKABE_ITO)],
            marker=MARKERS[i % len(MARKERS)], alpha=0.75, label=group or None,
        )
    for point in data["points"]:
        if point.get("label"):
            axes.annotate(str(point["label"]), (point["x"], point["y"]), fontsize=7,
                          xytext=(3, 3), textcoords="offset points")
    _hlines(axes, data)
    _labels(axes, data)


DRAWERS = {
    "line": draw_line,
    "bar": draw_bar,
    "barh": draw_barh,
    "heatmap": draw_heatmap,
    "scatter": draw_scatter,
}
