from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsledger.render.charts import DRAWERS, OKABE_ITO, ChartError, chart_svg
from opsledger.render.scales import (
    Linear,
    data_domain,
    tick_labels,
    ticks,
    time_ticks,
    value_label,
)
from opsledger.render.sections import Chart

NS = "{http://www.w3.org/2000/svg}"

EXAMPLES: dict[str, dict[str, Any]] = {
    "line": {
        "x": ["2026-10-01", "2026-10-02", "2026-10-03"],
        "series": [
            {
                "name": "budget",
                "y": [1.0, 0.8, 0.5],
                "low": [0.9, 0.7, 0.4],
                "high": [1.0, 0.9, 0.6],
            }
        ],
        "hlines": [{"y": 0, "label": "exhausted"}],
    },
    "bar": {
        "categories": ["w1", "w2"],
        "series": [{"name": "SEV1", "values": [1, 0]}, {"name": "SEV2", "values": [2, 3]}],
        "stacked": True,
    },
    "barh": {"categories": ["a", "b"], "values": [3, 9], "limits": [7, 7], "flags": [False, True]},
    "heatmap": {"rows": ["slo-a"], "columns": ["5m", "1h"], "values": [[0.5, 14.4]]},
    "scatter": {"points": [{"x": 1, "y": 2, "label": "item", "group": "security"}]},
}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def text_of(element: ET.Element) -> str:
    return "".join(t for t in element.itertext())


def y_ticks(root: ET.Element) -> list[tuple[float, float]]:
    """Return (value, pixel y) of each labelled y tick: a label follows its tick mark."""
    (axis,) = by_class(root, "y-axis")
    ticks, last_line = [], None
    for child in axis:
        if child.tag == f"{NS}line":
            last_line = child
        elif child.tag == f"{NS}text" and "axis-label" not in (child.get("class") or ""):
            assert last_line is not None
            label = text_of(child).replace(",", "").replace("%", "").strip()
            ticks.append((float(label), float(last_line.get("y1", "nan"))))
    return ticks


def path_points(d: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def pixel_y(ticks: list[tuple[float, float]], value: float) -> float:
    """Return where ``value`` lies by linear interpolation between the outermost ticks."""
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    return y0 + (value - v0) / (v1 - v0) * (y1 - y0)


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(DRAWERS)


@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_each_kind_draws_valid_deterministic_svg(kind: str) -> None:
    chart = Chart(f"k-{kind}", f"A {kind}", kind, EXAMPLES[kind])
    first = chart_svg(chart)
    assert first == chart_svg(chart)
    root = parse(first)
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 20  # axes, ticks and marks, not an empty canvas
    assert f"A {kind}" in first


@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_charts_scale_to_their_container_and_are_named(kind: str) -> None:
    root = parse(chart_svg(Chart(f"k-{kind}", f"A {kind}", kind, EXAMPLES[kind])))
    assert "width" not in root.attrib and "height" not in root.attrib
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    assert 400 <= width <= 600 and height > 100
    assert root.attrib["role"] == "img"
    title_id, desc_id = root.attrib["aria-labelledby"].split()
    elements = {e.get("id"): e for e in root.iter() if e.get("id")}
    assert elements[title_id].tag == f"{NS}title" and elements[title_id].text == f"A {kind}"
    assert elements[desc_id].tag == f"{NS}desc" and len(elements[desc_id].text or "") > 20
    # Text stays text: the title is drawn as a <text> element, not as glyph outlines.
    assert any(text_of(t) == f"A {kind}" for t in root.iter(f"{NS}text"))


def test_text_is_at_least_eight_pixels_at_390_px_wide() -> None:
    for kind, data in EXAMPLES.items():
        root = parse(chart_svg(Chart(kind, "t", kind, data)))
        scale = 390 / float(root.attrib["viewBox"].split()[2])
        sizes = [float(e.get("font-size", "nan")) for e in root.iter()
                 if e.get("font-size") is not None]
        assert sizes and min(sizes) * scale >= 8.0, kind


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ChartError):
        chart_svg(Chart("x", "x", "pie", {}))


@pytest.mark.parametrize(("kind", "data", "named"), [
    ("line", {"series": [{"name": "a", "y": [1]}]}, "'x'"),
    ("line", {"x": [1, 2], "series": [{"name": "a", "y": [1]}]}, "a.y"),
    ("bar", {"categories": ["a"], "series": [{"name": "s", "values": ["many"]}]}, "s.values[0]"),
    ("heatmap", {"rows": ["r"], "columns": ["a", "b"], "values": [[1]]}, "values[0]"),
    ("scatter", {"points": [{"x": 1}]}, "points[0]"),
])
def test_data_that_does_not_fit_names_the_chart_and_field(
        kind: str, data: dict[str, Any], named: str) -> None:
    with pytest.raises(ChartError, match=re.escape(named)) as caught:
        chart_svg(Chart("cost-targets", "t", kind, data))
    assert "chart 'cost-targets'" in str(caught.value)


def test_labels_are_escaped_in_svg() -> None:
    payload = "<script>alert(1)</script>"
    svg = chart_svg(
        Chart(
            "x",
            payload,
            "bar",
            {"categories": [payload], "series": [{"name": payload, "values": [1]}]},
        )
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


HOSTILE = ['"><svg onload="alert(1)">', "<script>alert(2)</script>", "a\x00b&c'd"]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_stays_inert_text_in_every_kind(payload: str) -> None:
    charts = [
        Chart(payload, payload, "line", {
            "x": [payload, "b"], "x_label": payload, "y_label": payload,
            "series": [{"name": payload, "y": [1, 2], "bands": [
                {"low": [0, 1], "high": [2, 3], "label": payload}]}],
            "hlines": [{"y": 1, "label": payload}], "description": payload}),
        Chart(payload, payload, "bar", {
            "categories": [payload, "b"], "notes": {payload: payload},
            "series": [{"name": payload, "values": [1, 2], "style": "forecast"}]}),
        Chart(payload, payload, "barh", {"categories": [payload], "values": [1],
                                         "limits": [2], "limit_label": payload,
                                         "flags": [True], "flag_label": payload}),
        Chart(payload, payload, "heatmap", {"rows": [payload], "columns": [payload],
                                            "values": [[1]], "label": payload}),
        Chart(payload, payload, "scatter", {"points": [
            {"x": payload, "y": 1, "label": payload, "group": payload}]}),
    ]
    for chart in charts:
        root = parse(chart_svg(chart))  # well-formed XML despite quotes and NUL
        tags = {e.tag.removeprefix(NS) for e in root.iter()}
        assert "script" not in tags and "foreignObject" not in tags
        assert not [a for e in root.iter() for a in e.attrib if a.lower().startswith("on")]
        shown = payload.replace("\x00", "\ufffd")
        assert any(shown in text_of(t) for t in root.iter(f"{NS}text")), chart.kind


def test_an_explicit_y_domain_sets_the_axis() -> None:
    data = {"x": ["2026-07", "2026-08", "2026-09"],
            "series": [{"name": "checkout", "y": [0.9976, 0.9991, 0.9995]}],
            "y_domain": [0.995, 1.0]}
    root = parse(chart_svg(Chart("a", "Availability", "line", data)))
    ticks = y_ticks(root)
    assert ticks[0][0] == pytest.approx(0.995) and ticks[-1][0] == pytest.approx(1.0)
    (line,) = by_class(root, "line")
    ys = [y for _, y in path_points(line.attrib["d"])]
    for value, y in zip([0.9976, 0.9991, 0.9995], ys, strict=True):
        assert y == pytest.approx(pixel_y(ticks, value), abs=0.11)  # written to 0.1


def test_ratios_near_one_get_an_axis_around_the_data() -> None:
    data = {"x": ["2026-07", "2026-08"],
            "series": [{"name": "checkout", "y": [0.9976, 0.9995]}], "y_format": "percent"}
    root = parse(chart_svg(Chart("a", "Availability", "line", data)))
    ticks = y_ticks(root)
    lowest, highest = ticks[0][0], ticks[-1][0]
    # Labels are in percent: the axis spans a fraction of a point, not 0 to 100 %.
    assert 99.0 < lowest <= 99.76 and 99.95 <= highest <= 100.0
    (line,) = by_class(root, "line")
    (_, y_low), (_, y_high) = path_points(line.attrib["d"])
    plot_height = abs(ticks[-1][1] - ticks[0][1])
    assert y_low - y_high > 0.6 * plot_height  # 99.76 % and 99.95 % are far apart


def test_data_domains_by_hand() -> None:
    assert data_domain([0.9976, 0.9995]) == pytest.approx((0.997, 1.0))
    # Counts start at zero; 40 + 6 % = 42.4, in steps of 10 (42.4 / 5 rounded up): 50.
    assert data_domain([3.0, 40.0]) == (0.0, 50.0)
    assert data_domain([99.8, 100.0], zero=True) == (0.0, 100.0)  # bars: zero, no overshoot
    # -5 - 1.5 to 20 + 1.5: a span of 28, in steps of 10 (28 / 5 rounded up): -10 to 30.
    assert data_domain([-5.0, 20.0]) == (-10.0, 30.0)
    # One value: 3 ± 5 % is 2.85 to 3.15, in steps of 0.1; a lone ratio of 1 stays within 1.
    assert data_domain([3.0]) == pytest.approx((2.8, 3.2))
    assert data_domain([1.0]) == pytest.approx((0.94, 1.0))
    assert data_domain([0.45, 1.0, 0.0]) == (0.0, 1.0)  # a share stays within [0, 1]


@given(st.lists(st.floats(-1e7, 1e7, allow_nan=False), min_size=1, max_size=30),
       st.booleans())
@example(values=[5e-324], zero=True)  # the smallest float: an axis around 0
def test_any_data_fits_its_domain_with_distinct_tick_labels(values: list[float],
                                                            zero: bool) -> None:
    lo, hi = data_domain(values, zero=zero)
    slack = (hi - lo) * 1e-9  # a value a billionth of the span outside is drawn on the edge
    assert lo < hi and lo - slack <= min(values) and max(values) <= hi + slack
    if zero:
        assert lo <= 0 <= hi
    positions = ticks(lo, hi)
    assert 2 <= len(positions) <= 11
    labels = tick_labels(positions)
    assert len(set(labels)) == len(labels)


@given(st.lists(st.one_of(st.none(), st.floats(-1e12, 1e12), st.floats()), min_size=2,
                max_size=40), st.sampled_from(["line", "bar", "scatter"]))
@example(values=[None, 1.7120886998688722e308], kind="line")  # ticks near the largest float
@example(values=[None, 1.5000000005000003e308], kind="bar")
@example(values=[-1.0, 1.797693132362316e308], kind="line")  # far beyond its clamped domain
def test_any_values_draw_a_well_formed_chart(values: list[float | None], kind: str) -> None:
    data: dict[str, Any]
    if kind == "line":
        data = {"x": list(range(len(values))), "series": [{"name": "a", "y": values}]}
    elif kind == "bar":
        data = {"categories": [str(i) for i in range(len(values))],
                "series": [{"name": "a", "values": values}], "stacked": True}
    else:
        data = {"points": [{"x": i, "y": v} for i, v in enumerate(values)]}
    svg = chart_svg(Chart("any", "t", kind, data))
    assert not re.search(r'="[^"]*\b(nan|inf)\b', svg)  # no NaN or infinity in coordinates
    parse(svg)


def test_a_scale_places_far_values_off_the_plot_in_their_direction() -> None:
    scale = Linear(0.0, 10.0, 300.0, 100.0)  # a y axis: larger values are higher up
    assert scale(5.0) == 200.0 and scale(20.0) == -100.0  # outside, drawn exactly
    assert scale(1.7e308) == 300.0 - 200.0 * (10.0 + 1e7) / 10.0  # a million spans above
    assert scale(-1.7e308) == 300.0 + 200.0 * 1e7 / 10.0


def test_tick_and_value_labels() -> None:
    assert tick_labels([0, 5000, 10000, 15000]) == ["0", "5k", "10k", "15k"]
    assert tick_labels([0.995, 0.9975, 1.0], percent=True) == ["99.50 %", "99.75 %", "100.00 %"]
    assert tick_labels([0.0, 0.25, 0.5]) == ["0", "0.25", "0.50"]
    assert [value_label(v) for v in (99.76, 99.95, 0.9976, 12_345.6)] == [
        "99.76", "99.95", "0.9976", "12,346"]


def test_weekly_time_ticks_fall_on_mondays() -> None:
    lo = datetime(2026, 10, 1).timestamp() - datetime(1970, 1, 1).timestamp()
    hi = lo + 45 * 86400
    ticks = time_ticks(lo, hi, most=7)
    days = [datetime.fromtimestamp(t, UTC) for t, _ in ticks]
    assert len(days) >= 5 and all(d.weekday() == 0 and d.hour == 0 for d in days)
    assert ticks[0][1] == days[0].strftime("%b %d")


def test_series_in_different_units_are_refused() -> None:
    data = {"x": [1, 2], "series": [{"name": "p95", "unit": "ms", "y": [120, 130]},
                                    {"name": "errors", "unit": "%", "y": [0.1, 0.2]}]}
    with pytest.raises(ChartError, match="different units") as caught:
        chart_svg(Chart("perf", "Latency and errors", "line", data))
    assert "p95 (ms)" in str(caught.value) and "errors (%)" in str(caught.value)
    same = {"x": [1, 2], "series": [{"name": "p95", "unit": "ms", "y": [120, 130]},
                                    {"name": "p99", "unit": "ms", "y": [150, 180]}]}
    root = parse(chart_svg(Chart("perf", "Latency", "line", same)))
    assert [text_of(e) for e in by_class(root, "axis-label")] == ["ms"]


def test_line_series_differ_by_dash_and_marker_not_colour_alone() -> None:
    data = {"x": [1, 2, 3], "series": [{"name": n, "y": [1, 2, 3]} for n in "abc"]}
    root = parse(chart_svg(Chart("l", "t", "line", data)))
    lines = by_class(root, "line")
    assert [e.get("stroke") for e in lines] == list(OKABE_ITO[:3])
    assert len({e.get("stroke-dasharray") for e in lines}) == 3
    shapes = [re.sub(r"[-\d. ]+", "", e.get("d", "")) for e in by_class(root, "markers")]
    assert len(set(shapes)) == 3  # circle, square, triangle


def test_missing_values_break_the_line_and_steps_step() -> None:
    data = {"x": [1, 2, 3, 4], "series": [{"name": "a", "y": [1, None, 3, 4]},
                                          {"name": "b", "y": [2, 3, 1, 2],
                                           "drawstyle": "steps-post"}]}
    root = parse(chart_svg(Chart("l", "t", "line", data)))
    gapped, stepped = by_class(root, "line")
    assert gapped.attrib["d"].count("M") == 2
    assert "H" in stepped.attrib["d"] and "V" in stepped.attrib["d"]


def test_nested_intervals_shade_darker_as_they_narrow() -> None:
    data = {"x": [1, 2], "series": [{"name": "forecast", "y": [5, 6], "bands": [
        {"low": [1, 2], "high": [9, 10], "label": "95 % interval"},
        {"low": [3, 4], "high": [7, 8], "label": "80 % interval"}]}]}
    svg = chart_svg(Chart("f", "t", "line", data))
    bands = by_class(parse(svg), "band")
    assert [float(b.attrib["fill-opacity"]) for b in bands] == [0.15, 0.3]
    assert "95 % interval" in svg and "80 % interval" in svg


def cell_fills(root: ET.Element) -> list[str]:
    return [e.attrib["fill"] for e in by_class(root, "cell")]


def luma(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_diverging_heat_scale_is_centred_and_not_capped() -> None:
    values = [0.0, 0.5, 1.0, 2.0, 14.4, 20.0, 40.0]
    data = {"rows": ["slo"], "columns": [str(v) for v in values], "values": [values],
            "scale": {"type": "diverging", "center": 1.0, "max": 40.0},
            "label": "burn rate (1 = on budget)"}
    root = parse(chart_svg(Chart("burn", "Burn rate", "heatmap", data)))
    fills = dict(zip(values, cell_fills(root), strict=True))
    rgb = {v: tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for v, c in fills.items()}
    assert min(rgb[1.0]) >= 230  # the centre is near white
    assert all(rgb[v][2] > rgb[v][0] for v in (0.0, 0.5))  # below: cool
    assert all(rgb[v][0] > rgb[v][2] for v in (2.0, 14.4, 20.0, 40.0))  # above: warm
    # Greyscale: shade darkens steadily away from the centre on each side, beyond 14.4 too.
    assert luma(fills[0.0]) < luma(fills[0.5]) < luma(fills[1.0])
    assert luma(fills[1.0]) > luma(fills[2.0]) > luma(fills[14.4]) > luma(fills[20.0]) \
        > luma(fills[40.0])
    # Cell labels stay readable: light text on dark cells, dark text on light ones.
    (cell_labels,) = by_class(root, "cell-labels")
    labels = {text_of(t): t.get("fill") for t in cell_labels if text_of(t) in ("1.0", "40.0")}
    assert labels == {"1.0": "#000000", "40.0": "#ffffff"}
    (bar,) = by_class(root, "colour-bar")
    shown = [text_of(t) for t in bar.iter(f"{NS}text")]
    assert "1" in shown and "40" in shown and "burn rate (1 = on budget)" in shown


def test_sequential_heat_scale_caps_at_vmax() -> None:
    data = {"rows": ["a"], "columns": ["x", "y", "z"], "values": [[5.0, 10.0, 20.0]],
            "vmax": 10.0}
    fills = cell_fills(parse(chart_svg(Chart("h", "t", "heatmap", data))))
    assert fills[1] == fills[2] != fills[0]


def test_forecast_bars_are_hatched_stacked_and_noted() -> None:
    data = {"categories": ["2026-10", "2026-11", "2026-12"],
            "series": [{"name": "actual", "values": [70.0, 72.0, 20.0]},
                       {"name": "rest of month", "values": [None, None, 55.0],
                        "style": "forecast"}],
            "stacked": True, "notes": {"2026-12": "month-to-date"}, "y_label": "USD"}
    svg = chart_svg(Chart("cost-forecast", "Monthly spend", "bar", data))
    root = parse(svg)
    groups = {g.get("data-style"): g for g in by_class(root, "series")}
    actual = groups["actual"].findall(f"{NS}rect")
    (forecast,) = groups["forecast"].findall(f"{NS}rect")
    pattern = re.fullmatch(r"url\(#(.+)\)", forecast.attrib["fill"])
    assert pattern and root.find(f".//{NS}pattern[@id='{pattern.group(1)}']") is not None
    assert forecast.get("stroke-dasharray")
    # The forecast remainder sits on December's month-to-date bar.
    december = actual[2]
    assert float(forecast.attrib["y"]) + float(forecast.attrib["height"]) == pytest.approx(
        float(december.attrib["y"]), abs=0.11)
    assert float(forecast.attrib["x"]) == pytest.approx(float(december.attrib["x"]))
    legend = [text_of(t) for t in by_class(root, "legend")[0].iter(f"{NS}text")]
    assert legend == ["actual", "rest of month (forecast)"]
    (note,) = by_class(root, "note")
    label = next(t for t in by_class(root, "x-axis")[0].iter(f"{NS}text")
                 if "2026-12" in text_of(t))
    assert note.text == "month-to-date" and note in list(label)
    with pytest.raises(ChartError, match="2027-01"):
        chart_svg(Chart("c", "t", "bar", {**data, "notes": {"2027-01": "x"}}))


def test_an_interval_is_a_whisker_over_its_category_and_widens_the_axis() -> None:
    data = {"categories": ["2026-11", "2026-12"],
            "series": [{"name": "actual", "values": [70.0, 20.0]},
                       {"name": "rest", "values": [None, 55.0], "style": "forecast"}],
            "stacked": True,
            "intervals": [{"category": "2026-12", "low": 62.0, "high": 130.0,
                           "label": "95% interval"}]}
    svg = chart_svg(Chart("cost-forecast", "Monthly spend", "bar", data))
    root = parse(svg)
    (whisker,) = by_class(root, "interval")
    moves = re.findall(r"[MHV]([-\d.]+)(?:,([-\d.]+))?", whisker.attrib["d"])
    ys = sorted({float(y) for _, y in moves if y})
    assert len(ys) == 2  # one cap at each end
    bars = [r for g in by_class(root, "series") for r in g.findall(f"{NS}rect")]
    top_of_stack = min(float(r.attrib["y"]) for r in bars)
    assert ys[0] < top_of_stack  # the high end (130) lies above the stack (75)
    assert "95% interval 62 to 130" in svg
    for bad in ({"category": "2027-01", "low": 1, "high": 2},
                {"category": "2026-12", "low": 3, "high": 2}):
        with pytest.raises(ChartError, match="intervals"):
            chart_svg(Chart("c", "t", "bar", {**data, "intervals": [bad]}))


def test_bar_series_differ_by_hatching_and_flagged_bars_too() -> None:
    data = {"categories": ["a"], "series": [{"name": n, "values": [1]} for n in "abc"]}
    fills = [r.get("fill") for r in by_class(parse(chart_svg(Chart("b", "t", "bar", data))),
                                             "bar")]
    assert fills[0] == OKABE_ITO[0] and all(f and f.startswith("url(#") for f in fills[1:])
    assert len(set(fills)) == 3
    root = parse(chart_svg(Chart("h", "t", "barh", EXAMPLES["barh"])))
    normal, flagged = by_class(root, "bar")
    assert normal.get("fill") == OKABE_ITO[0] and (flagged.get("fill") or "").startswith("url(#")


def test_an_explicit_value_domain_on_horizontal_bars() -> None:
    data = {"categories": ["a", "b"], "values": [99.76, 99.95], "x_domain": [99.5, 100.0]}
    root = parse(chart_svg(Chart("h", "t", "barh", data)))
    short, long_ = (float(r.attrib["width"]) for r in by_class(root, "bar"))
    assert long_ / short == pytest.approx((99.95 - 99.5) / (99.76 - 99.5), rel=0.01)
    assert [text_of(t) for t in by_class(root, "value")] == ["99.76", "99.95"]


def test_bad_domains_and_scales_are_refused() -> None:
    line = {"x": [1, 2], "series": [{"name": "a", "y": [1, 2]}]}
    for bad in ([1.0, 0.0], ["a", 1], [1], [-1e308, 1e308]):
        with pytest.raises(ChartError, match="y_domain"):
            chart_svg(Chart("l", "t", "line", {**line, "y_domain": bad}))
    heat = {"rows": ["a"], "columns": ["x"], "values": [[1.0]]}
    with pytest.raises(ChartError, match="center"):
        chart_svg(Chart("h", "t", "heatmap", {**heat, "scale": {"type": "diverging"}}))
    with pytest.raises(ChartError, match="style"):
        chart_svg(Chart("b", "t", "bar", {"categories": ["a"], "series": [
            {"name": "s", "values": [1], "style": "guess"}]}))


def test_scatter_groups_differ_by_marker_shape() -> None:
    points = [{"x": i, "y": i, "group": g} for i, g in enumerate("abcab")]
    root = parse(chart_svg(Chart("s", "t", "scatter", {"points": points})))
    groups = by_class(root, "group")
    assert [g.get("data-group") for g in groups] == ["a", "b", "c"]
    shapes = {re.sub(r"[-\d. ]+", "", g.findall(f"{NS}path")[0].attrib["d"]) for g in groups}
    assert len(shapes) == 3


def test_ids_differ_between_charts_on_one_page() -> None:
    first = parse(chart_svg(Chart("a", "t", "bar", EXAMPLES["bar"])))
    second = parse(chart_svg(Chart("b", "t", "bar", EXAMPLES["bar"])))
    ids = [{e.get("id") for e in root.iter() if e.get("id")} for root in (first, second)]
    assert ids[0] and not ids[0] & ids[1]


def test_same_bytes_in_processes_with_different_hash_seeds() -> None:
    charts = [{"key": k, "title": k, "kind": k, "data": d} for k, d in EXAMPLES.items()]
    script = ("import json, sys\nfrom opsledger.render.charts import chart_svg\n"
              "from opsledger.render.sections import Chart\n"
              "print(json.dumps([chart_svg(Chart(**c)) for c in json.load(sys.stdin)]))")
    outputs = []
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", script], input=json.dumps(charts),
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == [chart_svg(Chart(**c)) for c in charts]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
def test_charts_fit_a_390_px_column_in_a_browser(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    dense = {"categories": [f"service-{i:02d}-long-name" for i in range(15)],
             "series": [{"name": "to date", "values": list(range(15))}], "rotation": 30,
             "x_label": "service", "notes": {"service-14-long-name": "month-to-date"}}
    weekly = {"categories": [f"{d:02d} Jun" for d in range(1, 27)], "x_label": "week",
              "series": [{"name": "SEV2", "values": [1] * 26}]}
    charts = [Chart(k, f"A {k} chart with a title long enough to wrap", k, d)
              for k, d in [*EXAMPLES.items(), ("bar", dense), ("bar", weekly)]]
    figures = "".join(f"<figure>{chart_svg(c)}</figure>" for c in charts)
    page_file = tmp_path / "charts.html"
    page_file.write_text("<!DOCTYPE html><meta charset='utf-8'><style>body{margin:0}"
                         "figure{margin:0 0 8px}svg{width:100%;height:auto;display:block}"
                         f"</style>{figures}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 390, "height": 800})
        page.goto(page_file.as_uri())
        found = page.evaluate("""() => Array.from(document.querySelectorAll('svg')).map(svg => {
          const box = svg.getBoundingClientRect();
          const texts = Array.from(svg.querySelectorAll('text')).map(t => {
            const r = t.getBoundingClientRect();
            return {left: r.left - box.left, right: r.right - box.left, top: r.top - box.top,
                    bottom: r.bottom - box.top,
                    px: parseFloat(getComputedStyle(t).fontSize) * box.width /
                        svg.viewBox.baseVal.width};
          });
          const rect = t => { const r = t.getBoundingClientRect();
                              return [r.left, r.top, r.right, r.bottom]; };
          const axis = svg.querySelector('.x-axis');
          return {width: box.width, height: box.height, texts: texts,
                  ticks: Array.from(axis.querySelectorAll('text:not(.axis-label)')).map(rect),
                  label: Array.from(axis.querySelectorAll('text.axis-label')).map(rect)};
        })""")
        browser.close()
    assert len(found) == len(charts)
    for chart, drawn in zip(charts, found, strict=True):
        assert drawn["width"] == pytest.approx(390, abs=1), chart.key
        for text in drawn["texts"]:  # legible, and nothing cut off at the edges
            assert text["px"] >= 8.0, chart.key
            assert text["left"] >= -1 and text["right"] <= drawn["width"] + 1, chart.key
            assert text["top"] >= -1 and text["bottom"] <= drawn["height"] + 1, chart.key
        for left, top, right, bottom in drawn["label"]:  # the axis title clears its ticks
            assert all(b <= top or t >= bottom or r <= left or lf >= right
                       for lf, t, r, b in drawn["ticks"]), chart.key
