"""The next-phase charter on the small demo workspace, and its parts on hand-made data."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from scipy.stats import norm

from opsledger.approvals.decisions import ApprovalState
from opsledger.backlog.roadmap import (
    UNASSIGNED,
    capacity_check,
    effort_of,
    is_ux,
    team_of_items,
    theme_of,
    themes,
    ux_items,
)
from opsledger.backlog.scoring import BacklogItem, score_item
from opsledger.backlog.service import workspace_backlog
from opsledger.core.config import Role, SeverityDays
from opsledger.core.inputs import Context
from opsledger.core.workspace import Workspace
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import WorkItem
from opsledger.review import kpi_results, roadmap
from opsledger.review.history import read_rows, record_month, replace_month
from opsledger.review.kpi_results import workspace_kpis
from opsledger.review.roadmap import (
    approval_line,
    roadmap_markdown,
    roadmap_section,
    roadmap_view,
    write_roadmap,
)

HEADINGS = ["## KPI gaps", "## Themes", "## Success metrics", "## UX-debt clean-up plan",
            "## Experiments planned", "## Capacity check", "## Approval"]
TODAY = date(2026, 11, 1)


def parts(text: str) -> dict[str, str]:
    """Return each level-2 section's body by heading."""
    found = {}
    chunks = re.split(r"^(## .+)$", text, flags=re.MULTILINE)
    for heading, body in zip(chunks[1::2], chunks[2::2], strict=True):
        found[heading] = body.strip()
    return found


@pytest.fixture(scope="module")
def charter(demo_ctx: Context) -> str:
    path = write_roadmap(demo_ctx)
    assert path == demo_ctx.workspace.root / "docs" / "roadmap" / "NEXT_PHASE.md"
    return path.read_text(encoding="utf-8")


def test_every_section_of_the_charter_has_real_content(charter: str) -> None:
    assert charter.startswith("# Next phase charter — Example Retail")
    sections = parts(charter)
    assert list(sections) == HEADINGS
    for heading, body in sections.items():
        assert body, heading
        assert "Not computed" not in body, heading
        if heading != "## Approval":
            assert "| ---" in body, f"{heading} has no table"
    assert "mttr_minutes" in sections["## KPI gaps"] and "growth target" in \
        sections["## KPI gaps"]
    assert "growth target" in sections["## Success metrics"]
    assert "No UX items" not in sections["## UX-debt clean-up plan"]
    assert charter.rstrip().splitlines()[-1] == (
        "**Approval status:** pending — awaiting product-owner, operations-director.")


def test_themes_hold_every_open_backlog_item_once_with_its_effort(demo_ctx: Context) -> None:
    view = roadmap_view(demo_ctx)
    open_items = workspace_backlog(demo_ctx).open_items()
    ids = [i.id for t in view.themes for i in t.items]
    assert sorted(ids) == sorted(i.id for i in open_items) and len(ids) == len(set(ids))
    expected = sum(i.effort_days if i.effort_days else 3.0 for i in open_items)
    assert sum(t.effort_days for t in view.themes) == pytest.approx(expected)
    best = [t.top.scores.wsjf for t in view.themes]
    assert best == sorted(best, reverse=True)
    for theme in view.themes:
        assert theme.top.scores.wsjf == max(i.scores.wsjf for i in theme.items)
    assert len(view.themes) >= 4


def test_the_ux_plan_lists_the_ux_items_of_the_tech_debt_register(demo_ctx: Context,
                                                                 charter: str) -> None:
    register = (demo_ctx.workspace.root / "handover" / "TECH-DEBT-REGISTER.md").read_text()
    active = register.split("## Resolved")[0]
    ux_ids = {line.split("|")[1].strip() for line in active.splitlines()
              if "| ux |" in line}
    assert len(ux_ids) >= 2
    plan = parts(charter)["## UX-debt clean-up plan"]
    listed = set(re.findall(r"\| (TD-\d+) \|", plan))
    assert listed == ux_ids
    assert f"{len(ux_ids)} open UX item(s)" in plan


def test_experiment_sample_sizes_match_the_normal_power_formula(demo_ctx: Context) -> None:
    plans = {e.name: e for e in roadmap_view(demo_ctx).experiments.lines}
    carousel = plans["recommendations-carousel"]
    # Binary metric, baseline 0.20, +0.02 absolute, alpha 0.05 two-sided, power 0.8, 1:1:
    # n = 2 ((z_0.975 + z_0.8) / h)^2 with Cohen's h = 2 asin(sqrt .22) - 2 asin(sqrt .20).
    h = 2 * math.asin(math.sqrt(0.22)) - 2 * math.asin(math.sqrt(0.20))
    n = math.ceil(2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / h) ** 2)
    assert carousel.per_variant == {"control": n, "carousel": n}
    search = plans["search-ranking-v2"]
    assert search.per_variant is not None and search.daily_units is not None
    # Duration: days until each half of the traffic has its units.
    need = max(search.per_variant.values())
    assert search.duration_days == math.ceil(need / (search.daily_units * 0.5))
    assert search.schedule.startswith(("fits", "overruns"))


def test_capacity_is_people_times_days_times_horizon_times_share(demo_ctx: Context) -> None:
    view = roadmap_view(demo_ctx)
    check = view.capacity
    assert (check.days_per_person_per_month, check.horizon_months, check.roadmap_share) == (
        20.0, 3, 0.5)
    for team in check.teams:
        if team.people is not None:
            assert team.capacity_days == pytest.approx(team.people * 20 * 3 * 0.5)
    assert check.demand_days == pytest.approx(sum(t.effort_days for t in view.themes))
    assert set(check.planned) | set(check.deferred) == {t.name for t in view.themes}


def test_the_charter_goes_where_the_configuration_says(demo_ctx: Context) -> None:
    config = demo_ctx.workspace.config
    moved = config.model_copy(update={"paths": config.paths.model_copy(
        update={"roadmap": "plans/CHARTER.md"})})
    workspace = Workspace(demo_ctx.workspace.root, moved)
    # Same run, other output path: the analyses are shared through the memo.
    ctx = Context(workspace, demo_ctx.inputs, demo_ctx.now, results=dict(demo_ctx.results))
    path = write_roadmap(ctx)
    assert path == workspace.root / "plans" / "CHARTER.md"
    assert path.read_text().startswith("# Next phase charter")


def test_without_ux_items_the_plan_says_so(demo_ctx: Context) -> None:
    view = replace(roadmap_view(demo_ctx), ux=())
    plan = parts(roadmap_markdown(demo_ctx, view))["## UX-debt clean-up plan"]
    assert plan.startswith("**No UX items in the backlog.**")


def test_month_over_month_comes_from_the_history(demo_ctx: Context) -> None:
    # Share the analyses, not what reads the history (written below).
    shared = {k: v for k, v in demo_ctx.results.items()
              if k[0] not in (roadmap._roadmap_view, kpi_results._kpi_trends)}
    ctx = Context(demo_ctx.workspace, demo_ctx.inputs, demo_ctx.now, results=shared)
    kpis = workspace_kpis(ctx)
    recorded = record_month(ctx, kpis)
    assert recorded.month == "2026-10"
    rows = {r.kpi: r for r in read_rows(recorded.path, ["2026-10"])}
    assert rows["availability"].value == kpis.value("availability")
    assert re.fullmatch(r"[0-9a-f]{64}", rows["availability"].inputs_digest)
    assert rows["cost_vs_target"].value == kpis.value("cost_vs_target")
    mttr = kpis.value("mttr_minutes")
    assert mttr is not None
    september = [replace(rows["mttr_minutes"], month="2026-09", value=mttr + 30)]
    replace_month(recorded.path, "2026-09", september)
    metrics = parts(roadmap_markdown(ctx, roadmap_view(ctx)))["## Success metrics"]
    line = next(line for line in metrics.splitlines() if line.startswith("| Mean time to"))
    assert "better than 2026-09" in line


def test_the_report_section_summarises_the_charter(demo_ctx: Context) -> None:
    section = roadmap_section(demo_ctx)
    view = roadmap_view(demo_ctx)
    assert section.key == "roadmap"
    assert section.data["headline"].startswith(f"{len(view.themes)} themes")
    assert [t["name"] for t in section.data["themes"]] == [t.name for t in view.themes]
    assert section.status.value == "warn"  # the demo has KPI gaps
    assert "docs/roadmap/NEXT_PHASE.md" in section.body


def item(ident: str, title: str, service: str | None, owner: str | None, effort: float | None,
         category: str | None = None, severity: Severity = Severity.MEDIUM,
         status: ItemStatus = ItemStatus.OPEN) -> BacklogItem:
    return score_item(WorkItem(ident, title, "tech-debt", service, owner, severity, status,
                               None, effort_days=effort, category=category), {}, TODAY,
                      SeverityDays())


def test_ux_is_recognised_in_category_title_or_description() -> None:
    assert is_ux(item("a", "Fix colour contrast", "web", None, 1, category="UX"))
    assert is_ux(item("b", "Keyboard traps in the Accessibility settings", "web", None, 1))
    assert is_ux(item("c", "Retire the old front-end build", "web", None, 1))
    assert not is_ux(item("d", "Rotate database credentials", "db", None, 1, "security"))
    assert not is_ux(item("e", "Build a UIX pipeline", "db", None, 1))  # not the word UI
    assert theme_of(item("a", "Fix colour contrast", "web", None, 1, category="UX")) == \
        "UX debt"
    assert theme_of(item("f", "x", "db", None, 1, "dependency")) == \
        "Security and dependency hygiene"
    assert theme_of(item("g", "x", "db", None, 1, "cost-allocation")) == "Cost allocation"
    closed = item("h", "UX fix", "web", None, 1, status=ItemStatus.DONE)
    assert ux_items([closed]) == [] and themes([closed]) == []


def test_capacity_check_defers_a_theme_that_would_overload_a_team() -> None:
    items = [
        item("A1", "deps", "api", "ann", 20, "dependency", Severity.CRITICAL),
        item("A2", "deps", "api", "ann", None, "dependency", Severity.CRITICAL),
        item("B1", "arch", "api", "bob", 13, "architecture", Severity.LOW),
        item("C1", "docs", "web", "cyd", 5, "observability", Severity.LOW),
        item("D1", "patch", None, "ann", 2, "dependency"),
        item("E1", "orphan", None, None, 1, "testing", Severity.LOW),
    ]
    item_teams = team_of_items(items, {"api": "core", "web": "front"})
    # D1 has no service: its owner works for core. E1 has neither.
    assert item_teams["D1"] == "core" and item_teams["E1"] == UNASSIGNED
    plan = themes(items)
    assert next(t.name for t in plan) == "Security and dependency hygiene"
    assert effort_of(items[1]) == 3.0
    # core: 1 person x 20 days x 2 months x 0.75 = 30 days; front: 1 x 30 days.
    check = capacity_check(plan, item_teams, {"core": 1, "front": 1},
                           {"core": "test", "front": "test"}, 20, 0.75, 2)
    loads = {t.team: t for t in check.teams}
    assert loads["core"].capacity_days == 30 and loads["front"].capacity_days == 30
    # Security 20 + 3 + 2 = 25 fits core; Architecture (13) would take core to 38: deferred.
    assert loads["core"].demand_days == 25 + 13 and loads["core"].over == pytest.approx(8)
    assert "Architecture" in check.deferred and "Security and dependency hygiene" in \
        check.planned
    assert "Observability" in check.planned and "Test and release safety" in check.planned
    assert loads[UNASSIGNED].people is None and loads[UNASSIGNED].demand_days == 1
    assert not check.fits


def test_the_approval_line_names_who_approved_or_who_is_awaited() -> None:
    approved = ApprovalState("roadmap", {
        Role.PRODUCT_OWNER: {"decision": "approved", "stakeholder": "Nia", "time": "t1"},
        Role.ENGINEERING_MANAGER: {"decision": "approved", "stakeholder": "Lena", "time": "t2"},
        Role.SRE_MANAGER: {"decision": "approved", "stakeholder": "Dana", "time": "t3"},
    })
    roles = (Role.PRODUCT_OWNER, Role.ENGINEERING_MANAGER, Role.SRE_MANAGER)
    line = approval_line(approved, roles)
    assert line.startswith("**Approval status:** approved — product-owner (Nia, t1)")
    mixed = ApprovalState("roadmap", {
        Role.PRODUCT_OWNER: {"decision": "deferred", "stakeholder": "Nia", "time": "t",
                             "conditions": "cut the UX wave"},
        Role.ENGINEERING_MANAGER: None,
        Role.SRE_MANAGER: {"decision": "approved", "stakeholder": "Dana", "time": "t"},
    })
    assert approval_line(mixed, roles) == ("**Approval status:** pending — not approved: "
                                    "product-owner deferred (cut the UX wave); awaiting "
                                    "engineering-manager.")


def test_the_charter_file_is_replaced_whole(demo_ctx: Context, charter: str) -> None:
    path = Path(demo_ctx.workspace.root / "docs" / "roadmap" / "NEXT_PHASE.md")
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers == []  # no temporary file left beside it
    assert path.read_text(encoding="utf-8") == charter
