from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from opsledger.render.charts import DRAWERS, ChartError, chart_svg
from opsledger.render.sections import Chart

EXAMPLES = {
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


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(DRAWERS)


@pytest.mark.parametrize("kind", sorted(DRAWERS))
def test_each_kind_draws_valid_deterministic_svg(kind: str) -> None:
    chart = Chart(f"k-{kind}", f"A {kind}", kind, EXAMPLES[kind])
    first = chart_svg(chart)
    assert first == chart_svg(chart)
    root = ET.fromstring(first)
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 20  # axes, ticks and marks, not an empty canvas
    assert f"A {kind}" in first


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ChartError):
        chart_svg(Chart("x", "x", "pie", {}))


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
