"""The KPI section and the report summary over two recorded months: what is off target
leads, changes below their threshold are "same", and no chart mixes units."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.core.workspace import open_workspace
from opsledger.render.sections import Section
from opsledger.review.service import ReviewResult, run_review


def kpi_part(result: ReviewResult) -> Section:
    return next(s for s in result.sections if s.key == "kpis")


def table_rows(markdown: str) -> list[list[str]]:
    """Return the cells of every data row of the Markdown tables in ``markdown``."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| ---") and "| KPI |" not in line:
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def expected_verdict(change: dict[str, object]) -> str:
    """The documented rule, applied by hand: 0.01 pts for ratios, else 5 % (at least 1)."""
    previous, current = float(change["previous"]), float(change["current"])  # type: ignore[arg-type]
    delta = current - previous
    limit = 0.0001 if change["unit"] == "ratio" else max(1.0, 0.05 * abs(previous))
    if abs(delta) < limit:
        return "same"
    higher_is_better = change["better"] == "higher"
    return "better" if (delta > 0) == higher_is_better else "worse"


@pytest.fixture(scope="module")
def two_months(small_demo: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, ReviewResult, ReviewResult]:
    ws = tmp_path_factory.mktemp("kpis") / "ws"
    shutil.copytree(small_demo, ws)
    first = run_review(open_workspace(ws), datetime(2026, 10, 1, tzinfo=UTC),
                       record_history=True)
    second = run_review(open_workspace(ws), datetime(2026, 11, 1, tzinfo=UTC),
                        record_history=True)
    return ws, first, second


def test_the_first_month_has_nothing_to_compare_with(
        two_months: tuple[Path, ReviewResult, ReviewResult]) -> None:
    _, first, _ = two_months
    kpis = kpi_part(first)
    assert first.month == "2026-09"
    assert kpis.data["changes"] == [] and not kpis.charts
    assert "no record of 2026-08 to compare with" in kpis.headline
    assert "No KPIs recorded for August 2026" in first.report.read_text()


def test_changes_follow_the_documented_thresholds(
        two_months: tuple[Path, ReviewResult, ReviewResult]) -> None:
    _, _, second = two_months
    kpis = kpi_part(second)
    changes = kpis.data["changes"]
    assert changes, "two months recorded: changes to compare"
    assert all(c["previous_month"] == "2026-09" for c in changes)
    for change in changes:
        assert change["verdict"] == expected_verdict(change), change
    worse = {c["kpi"] for c in changes if c["verdict"] == "worse"}
    better = {c["kpi"] for c in changes if c["verdict"] == "better"}
    assert set(kpis.data["worse"]) == worse and set(kpis.data["better"]) == better
    front = second.front_page
    assert front is not None
    assert {c.name for c in front.worse} == worse and {c.name for c in front.better} == better
    report = second.report.read_text()
    # Never a signed zero: a change too small to show is "same", or written as "<0.01 pts".
    assert not re.search(r"[+-]0\.0+ pts|[+-]0\.0 min|\(\+0\)|\(-0\)", report)


def test_off_target_rows_lead_and_the_rest_are_collapsed(
        two_months: tuple[Path, ReviewResult, ReviewResult]) -> None:
    _, _, second = two_months
    kpis = kpi_part(second)
    leading = table_rows(kpis.body)
    collapsed = table_rows(kpis.details)
    assert leading, "the demo misses its MTTR target"
    for cells in leading:  # KPI, this month, target, status, last month, change, trend
        assert cells[3] == "missed" or cells[6] == "worse", cells
    for cells in collapsed:
        assert cells[3] != "missed" and cells[6] != "worse", cells
    shown = {cells[0] for cells in leading + collapsed}
    labels = {k["label"] for k in kpis.data["kpis"]["kpis"]
              if k["value"] is not None and ":" not in k["name"]}
    assert shown == labels  # every KPI once, in one of the two tables
    report = second.report.read_text()
    part = report.split("## KPIs against budgets", 1)[1].split("\n## ", 1)[0]
    assert part.index("<details><summary>On target</summary>") > part.index(leading[0][0])


def test_each_trend_chart_has_one_unit_and_an_axis_that_shows_the_differences(
        two_months: tuple[Path, ReviewResult, ReviewResult]) -> None:
    _, _, second = two_months
    charts = kpi_part(second).charts
    assert charts and all(c.key.startswith("kpi-trends-") for c in charts)
    for chart in charts:
        units = {s["unit"] for s in chart.data["series"]}
        assert any(s["y"][0] is not None for s in chart.data["series"])  # no empty months first
        assert len(units) == 1 and chart.data["y_label"] in units
        values = [v for s in chart.data["series"] for v in s["y"] if v is not None]
        low, high = chart.data["y_domain"]
        assert low <= min(values) and max(values) <= high
        if units == {"%"}:
            span = max(values) - min(values)
            # Not a 0-100 % axis: the range hugs the values (a 15 % margin, 0.05 pts at least).
            assert high - low <= 1.3 * span + 0.1 + 1e-9
    by_key = {c.key: c for c in charts}
    if "kpi-trends-availability" in by_key:
        chart = by_key["kpi-trends-availability"]
        recorded = kpi_part(second).data["kpis"]["kpis"]
        availability = next(k["value"] for k in recorded if k["name"] == "availability")
        assert chart.data["series"][0]["y"][-1] == pytest.approx(availability * 100)


def test_rerunning_a_month_replaces_it_and_leaves_the_next_untouched(
        two_months: tuple[Path, ReviewResult, ReviewResult]) -> None:
    ws, _, second = two_months
    before = kpi_part(second).data["changes"]
    run_review(open_workspace(ws), datetime(2026, 10, 1, tzinfo=UTC), record_history=True)
    again = run_review(open_workspace(ws), datetime(2026, 11, 1, tzinfo=UTC),
                       record_history=True)
    assert kpi_part(again).data["changes"] == before
