"""The dashboard's panels from their sections: weekly severities, the backlog matrix, finding
age against SLA, and the support forecast, on hand-made data and on the small demo."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsledger.backlog.scoring import Backlog, score_item
from opsledger.backlog.section import JITTER, build_backlog_section, jitter
from opsledger.core.config import SeverityDays
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.incidents.section import weekly_by_severity
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import Ticket, WorkItem
from opsledger.model.incidents import Incident
from opsledger.model.security import Finding
from opsledger.patching.cadence import assess_posture
from opsledger.patching.section import age_chart
from opsledger.render.charts import chart_svg
from opsledger.render.sections import Status
from opsledger.support.section import (
    daily_actuals,
    forecast_total,
    support_section,
)
from opsledger.support.service import workspace_coverage_plan
from tests.conftest import DEMO_NOW

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)  # a Sunday
TODAY = NOW.date()


def incident(key: str, severity: str, created: datetime) -> Incident:
    return Incident(key, key, "checkout", severity, "resolved", created)


def test_weekly_counts_by_severity_start_at_the_first_incident() -> None:
    incidents = [
        incident("a", "SEV1", datetime(2026, 10, 13, 9, tzinfo=UTC)),  # Tuesday, week of 12 Oct
        incident("b", "SEV3", datetime(2026, 10, 18, 23, tzinfo=UTC)),  # Sunday, same week
        incident("c", "SEV3", datetime(2026, 10, 26, 0, tzinfo=UTC)),  # Monday, week of 26 Oct
        incident("d", "P9", datetime(2026, 10, 27, tzinfo=UTC)),  # no SEV band: "other"
        incident("e", "SEV2", datetime(2026, 11, 1, 13, tzinfo=UTC)),  # after now: left out
    ]
    mondays, counts = weekly_by_severity(incidents, NOW)
    assert mondays == [date(2026, 10, 12), date(2026, 10, 19), date(2026, 10, 26)]
    assert list(counts) == ["SEV1", "SEV2", "SEV3", "SEV4", "SEV5", "other"]
    assert counts["SEV1"] == [1, 0, 0]
    assert counts["SEV2"] == [0, 0, 0]
    assert counts["SEV3"] == [1, 0, 1]
    assert counts["other"] == [0, 0, 1]
    # A long history is cut to the last 26 weeks, the current week included.
    old = [incident("z", "SEV4", NOW - timedelta(days=400))]
    mondays, counts = weekly_by_severity(old, NOW)
    assert len(mondays) == 26 and mondays[-1] == date(2026, 10, 26)
    assert sum(sum(v) for v in counts.values()) == 0 and "other" not in counts


def test_jitter_is_stable_and_stays_inside_its_cell() -> None:
    offsets = [jitter(f"TD-{i:03d}", axis) for i in range(200) for axis in ("x", "y")]
    assert all(-JITTER <= o <= JITTER for o in offsets)
    assert jitter("TD-001", "x") == jitter("TD-001", "x")
    assert jitter("TD-001", "x") != jitter("TD-001", "y")
    assert len(set(offsets)) == len(offsets)
    # Spread over the whole range, not bunched: both halves are used.
    assert min(offsets) < -JITTER / 2 and max(offsets) > JITTER / 2


def work(key: str, severity: Severity | None, owner: str | None, due: date | None,
         status: ItemStatus = ItemStatus.OPEN, effort: float | None = None,
         title: str = "fix it") -> WorkItem:
    return WorkItem(key, title, "tech-debt", "checkout", owner, severity, status, due,
                    effort_days=effort)


def test_backlog_section_ranks_counts_and_flags() -> None:
    sla = SeverityDays()
    items = [
        work("A", Severity.CRITICAL, None, None, effort=1),  # unowned critical: the gate fails
        work("B", Severity.LOW, "ann", TODAY + timedelta(days=60), effort=8),
        work("C", Severity.HIGH, "bob", TODAY - timedelta(days=3), effort=2,
             title="<script>alert(1)</script>"),
        work("D", Severity.HIGH, "bob", TODAY, status=ItemStatus.DONE),
    ]
    backlog = Backlog(tuple(score_item(i, {"checkout": 0}, TODAY, sla) for i in items))
    section = build_backlog_section(backlog)
    assert section.status is Status.FAIL
    top = [row["id"] for row in section.data["top"]]
    wsjf = {i.id: i.scores.wsjf for i in backlog.items}
    assert top == sorted(["A", "B", "C"], key=lambda k: -wsjf[k])  # closed D left out
    assert section.data["by_severity"] == {"critical": 1, "high": 1, "low": 1}
    assert section.data["without_owner"] == ["A"] and section.data["without_due_date"] == ["A"]
    assert "<script>" not in section.body and "&lt;script&gt;" in section.body
    assert section.actions[0]["source"] == "backlog" and "A" in section.actions[0]["action"]
    (chart,) = section.charts
    points = {p["group"]: p for p in chart.data["points"]}
    assert len(chart.data["points"]) == 3 and set(points) == {"tech-debt"}
    scores = {i.id: i.scores for i in backlog.items}
    for point in chart.data["points"]:  # all three are among the named top items
        item = scores[point["label"]]
        assert point["x"] == pytest.approx(item.likelihood + jitter(point["label"],
                                                                    "likelihood"), abs=1e-4)
        assert point["y"] == pytest.approx(item.impact + jitter(point["label"], "impact"),
                                           abs=1e-4)
    sizes = sorted(p["size"] for p in chart.data["points"])
    assert sizes == [20 + 12 * 1, 20 + 12 * 2, 20 + 12 * 8]
    assert chart_svg(chart) == chart_svg(build_backlog_section(backlog).charts[0])


def finding(key: str, severity: Severity, first_seen: date | None, kev: bool = False) -> Finding:
    return Finding(key, (), key.lower(), "PyPI", "1.0", ("1.1",), severity=severity,
                   first_seen=first_seen, kev=kev)


def test_finding_age_against_its_sla() -> None:
    posture = assess_posture(
        [
            finding("OLD", Severity.HIGH, TODAY - timedelta(days=45)),  # 30-day SLA: overdue
            finding("NEW", Severity.MEDIUM, TODAY - timedelta(days=10)),
            finding("KEV", Severity.HIGH, TODAY - timedelta(days=5), kev=True),  # 14 days
            finding("UNDATED", Severity.LOW, None),
        ],
        SeverityDays(),
        NOW,
    )
    chart = age_chart(posture)
    rows = dict(zip(chart.data["categories"], zip(chart.data["values"], chart.data["limits"],
                                                   chart.data["flags"], strict=True),
                    strict=True))
    assert rows == {
        "OLD old": (45, 30, True),
        "KEV kev": (5, 14, False),
        "NEW new": (10, 90, False),
        "UNDATED undated (?)": (0, 180, False),
    }
    assert chart.data["categories"][0] == "OLD old"  # most urgent first


@pytest.fixture(scope="module")
def demo_ctx(small_demo: Path) -> Context:
    return Context.open(open_workspace(small_demo), DEMO_NOW)


def test_support_section_on_the_demo(demo_ctx: Context) -> None:
    section = support_section(demo_ctx)
    plan = workspace_coverage_plan(demo_ctx)
    assert plan is not None and workspace_coverage_plan(demo_ctx) is plan  # computed once per run
    document = plan.to_json()
    queues: list[dict[str, Any]] = document["queues"]  # type: ignore[assignment]
    forecasts = {q["queue"]: q for q in queues}
    for row in section.data["queues"]:
        daily = forecasts[row["queue"]]["daily"]
        assert row["forecast_tickets"] == pytest.approx(sum(d["mean"] for d in daily), abs=0.01)
    totals = [q["forecast_tickets"] for q in section.data["queues"]]
    assert totals == sorted(totals, reverse=True) and totals[0] > 0
    assert sum(g["rotation_headcount"] for g in section.data["skill_groups"]) == \
        section.data["rotation_headcount"] == plan.rotation.headcount  # type: ignore[union-attr]
    first, _, staffing = section.charts
    busiest = plan.forecast_queues
    top = max(busiest, key=forecast_total)
    assert first.key == f"support-forecast-{top.queue}"
    forecast = first.data["series"][1]
    wide, narrow = forecast["bands"]
    for i, mean in enumerate(forecast["y"]):
        assert wide["low"][i] <= narrow["low"][i] <= mean <= narrow["high"][i] <= wide["high"][i]
    svg = chart_svg(first)  # both intervals are shaded, and named in the legend
    assert svg.count('class="band"') == 2
    assert "95 % interval" in svg and "80 % interval" in svg
    assert staffing.kind == "line" and len(staffing.data["x"]) == 168
    heads = staffing.data["series"][1]["y"]
    assert max(heads) >= max(staffing.data["series"][0]["y"]) > 0  # shrinkage adds heads
    assert "| access |" in section.body or "| bugs |" in section.body


def test_daily_actuals_count_local_days() -> None:
    zone = "Europe/Berlin"
    created = [datetime(2026, 10, 1, 22, 30, tzinfo=UTC),  # 2 Oct 00:30 in Berlin
               datetime(2026, 10, 1, 21, 0, tzinfo=UTC),  # 1 Oct 23:00 in Berlin
               datetime(2026, 10, 2, 9, 0, tzinfo=UTC),
               datetime(2026, 10, 2, 9, 0, tzinfo=UTC)]
    tickets = [Ticket(f"T{i}", c, None, "access" if i < 3 else "billing", "x", None, "t", None,
                      None) for i, c in enumerate(created)]
    counts = daily_actuals(tickets, "access", zone, date(2026, 9, 30), date(2026, 10, 3))
    local = pd.Series([t.created_at for t in tickets if t.queue == "access"])
    expected = local.dt.tz_convert(ZoneInfo(zone)).dt.date.value_counts()
    assert counts == [0, int(expected.get(date(2026, 10, 1), 0)),
                      int(expected.get(date(2026, 10, 2), 0)), 0] == [0, 1, 2, 0]


def test_demo_tickets_match_the_charted_history(demo_ctx: Context) -> None:
    section = support_section(demo_ctx)
    chart = section.charts[0]
    queue = chart.key.removeprefix("support-forecast-")
    tickets = [t for t in demo_ctx.inputs.read(InputKey.TICKETS).records if t.queue == queue]
    days = pd.Series([t.created_at for t in tickets]).dt.tz_convert(
        ZoneInfo(demo_ctx.workspace.config.policies.support.timezone)).dt.date
    shown = [date.fromisoformat(x) for x in chart.data["x"]]
    expected = [int((days == d).sum()) for d in shown]
    assert chart.data["series"][0]["y"] == expected and sum(expected) > 0
