"""What a Support Lead reads: the report section and the maintenance plan's support table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from opsledger.core.config import SupportPolicy
from opsledger.model.status import Status
from opsledger.readers import tickets as ticket_reader
from opsledger.support.section import build_support_section
from opsledger.support.service import forecast_ticket_volume, maintenance_plan_markdown
from tests.support.test_coverage_plan import NOW, write_history, write_small_desk

POLICY = SupportPolicy.model_validate({
    "timezone": "Europe/Berlin", "answer_seconds": 60,
    "hours": {"weekly": "Mon-Fri 08:00-18:00, Sat 09:00-13:00"},
    "skill_groups": [{"name": "desk", "queues": ["platform", "billing"]}],
})


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("tickets") / "ticket-history.csv")


def _table(markdown: str, first_header: str) -> tuple[list[str], list[list[str]]]:
    """Return the header and rows of the Markdown table whose first column is named so."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return [cell.strip() for cell in lines[start].strip("|").split(" | ")], rows


def _percent(cell: str) -> float:
    """Return a cell such as ``91.4%`` as a fraction (shown to a tenth of a percent)."""
    return float(cell.removesuffix("%")) / 100


def test_section_shows_occupancy_and_service_level_next_to_every_headcount(
    history: Path, tmp_path: Path
) -> None:
    plan = forecast_ticket_volume(history, tmp_path / "plan.json", horizon_days=14, now=NOW,
                                  policy=POLICY)
    section = build_support_section(plan, list(ticket_reader.read(history).records))
    header, rows = _table(section.body, "Skill group")
    for name in ("Peak agents", "Peak heads", "Scheduled head-h", "Rostered agents"):
        assert name in header
    assert {"Occupancy", "Service level"} <= set(header)
    desk = next(g for g in plan.groups if g.name == "desk")
    [row] = rows
    cells = dict(zip(header, row, strict=True))
    assert _percent(cells["Occupancy"]) == pytest.approx(desk.totals.occupancy, abs=5.1e-4)
    assert _percent(cells["Service level"]) == pytest.approx(desk.totals.service_level, abs=5.1e-4)
    assert cells["Rostered agents"] == str(plan.rotation.headcount)  # type: ignore[union-attr]
    assert cells["Peak heads"] == str(desk.peak_heads)
    # The sanity line sits in the body; each open interval sits in the details with its own
    # occupancy and service level next to its agents and heads.
    assert "Sanity check (typical week):" in section.body
    header, rows = _table(section.details, "Day")
    assert header[header.index("Agents"):] == ["Agents", "Occupancy", "P(wait)",
                                               "Service level", "Heads"]
    opened = [i for i in desk.intervals if i.is_open]
    assert len(rows) == len(opened) == 5 * 10 + 4
    for cells_row, interval in zip(rows, opened, strict=True):
        cells = dict(zip(header, cells_row, strict=True))
        assert interval.figures is not None
        assert cells["Agents"] == str(interval.agents)
        assert cells["Heads"] == str(interval.heads)
        assert _percent(cells["Occupancy"]) == pytest.approx(interval.figures.occupancy, abs=5.1e-4)
        assert _percent(cells["Service level"]) == pytest.approx(interval.figures.service_level,
                                                                 abs=5.1e-4)
    assert section.data["sanity"]["staffed_agent_hours"] == desk.totals.staffed_hours
    assert section.data["skill_groups"][0]["rotation_headcount"] == plan.rotation.headcount  # type: ignore[union-attr]


def test_a_plan_far_above_the_work_warns_and_says_why(tmp_path: Path) -> None:
    desk = write_small_desk(tmp_path / "ticket-history.csv")
    plan = forecast_ticket_volume(desk, tmp_path / "plan.json", horizon_days=14, now=NOW)
    section = build_support_section(plan, list(ticket_reader.read(desk).records))
    assert section.status is Status.WARN
    assert "Staffed hours are above 2.5× the work." in section.body
    assert "The minimum-staffing rule (at least 1 agent(s) in every open interval" in section.body


def _mase_column(markdown: str) -> list[str]:
    header, rows = _table(markdown, "Queue")
    if "MASE" not in header:
        return []
    return [row[header.index("MASE")] for row in rows]


def test_maintenance_plan_fills_mase_from_the_backtest(history: Path, tmp_path: Path) -> None:
    forecast_ticket_volume(history, tmp_path / "plan.json", horizon_days=14, now=NOW,
                           policy=POLICY)
    document: dict[str, Any] = json.loads((tmp_path / "plan.json").read_text())
    markdown = maintenance_plan_markdown(document)
    mase = _mase_column(markdown)
    expected = [f"{q['accuracy']['model_mase']:.2f}" for q in document["queues"]]
    assert mase == expected and all(re.fullmatch(r"\d+\.\d\d", cell) for cell in mase)
    assert "| desk | platform, billing |" in markdown
    assert document["sanity"]["text"][0] in markdown
    assert "a roster of" in markdown


def test_maintenance_plan_drops_mase_with_the_reason_without_a_backtest(tmp_path: Path) -> None:
    short = write_small_desk(tmp_path / "ticket-history.csv", weeks=4)
    forecast_ticket_volume(short, tmp_path / "plan.json", horizon_days=14, now=NOW)
    document = json.loads((tmp_path / "plan.json").read_text())
    assert all(q["accuracy"]["backtest"] is None for q in document["queues"])
    markdown = maintenance_plan_markdown(document)
    assert _mase_column(markdown) == []
    reason = document["queues"][0]["accuracy"]["skipped"]
    assert "No MASE column: no queue has a backtest" in markdown and reason in markdown
    older = maintenance_plan_markdown({**document, "schema_version": 0})
    assert "schema version 0" in older and "run the coverage step again" in older
