"""The KPI section and the report summary over two recorded months."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from opsledger.core.workspace import open_workspace
from opsledger.review.service import run_review


def test_second_month_shows_changes_and_a_trend_chart(small_demo: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    first = run_review(open_workspace(ws), datetime(2026, 10, 1, tzinfo=UTC))
    kpis = next(s for s in first.sections if s.key == "kpis")
    assert kpis.data["changes"] == [] and not kpis.charts
    assert "no earlier month recorded yet" in first.report.read_text()
    second = run_review(open_workspace(ws), datetime(2026, 11, 1, tzinfo=UTC))
    kpis = next(s for s in second.sections if s.key == "kpis")
    assert kpis.data["changes"], "two months recorded: some KPI moved"
    assert all(c.endswith(("(better)", "(worse)")) for c in kpis.data["changes"])
    assert [c.key for c in kpis.charts] == ["kpi-trends"]
    report = second.report.read_text()
    assert "**What changed since last month:**" in report
    assert "| Availability |" in report or "| availability |" in report.lower()
    # Re-running the first month replaces its rows and leaves the second untouched.
    run_review(open_workspace(ws), datetime(2026, 10, 1, tzinfo=UTC))
    again = run_review(open_workspace(ws), datetime(2026, 11, 1, tzinfo=UTC))
    assert next(s for s in again.sections if s.key == "kpis").data["changes"] == \
        kpis.data["changes"]
