"""The medium demo's staffing plan: checkable by hand, and not far above its work."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.generate import generate_demo
from opsledger.demo.world import Size
from opsledger.support.section import support_section
from opsledger.support.service import workspace_coverage_plan
from tests.conftest import DEMO_NOW
from tests.support.plan_checks import check_plan


@pytest.fixture(scope="module")
def medium_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("medium") / "ws"
    generate_demo(root, Size.MEDIUM, seed=7, now=DEMO_NOW)
    return root


def test_demo_staffs_its_work_plausibly_and_shows_every_interval(medium_demo: Path) -> None:
    ctx = Context.open(open_workspace(medium_demo), DEMO_NOW)
    section = support_section(ctx)
    plan = workspace_coverage_plan(ctx)
    assert plan is not None and plan.rotation is not None
    document = cast(dict[str, Any], plan.to_json())
    totals = check_plan(document)
    # Over the staffed hours as a whole, agents taking tickets stay within 2.5× the work.
    assert totals["staffed"] <= 2.5 * totals["work"]
    assert not any("above 2.5×" in line for line in document["sanity"]["text"])
    groups = {g["skill_group"]: g for g in document["skill_groups"]}
    assert groups["customer-care"]["queues"] == ["access", "billing", "how-to"]
    assert groups["technical"]["queues"] == ["bugs", "incidents"]
    assert {g["hours"]["source"] for g in groups.values()} == {"configured"}
    # Every open interval's occupancy and service level are in the report's details.
    open_rows = sum(1 for g in groups.values() for r in g["intervals"] if r["open"])
    detail_rows = [line for line in section.details.splitlines()
                   if line.startswith("| ") and line[2:5] in ("Mon", "Tue", "Wed", "Thu", "Fri",
                                                              "Sat", "Sun")]
    assert len(detail_rows) == open_rows == 68 + 86
    assert all(line.count("%") == 2 for line in detail_rows)
    assert "Sanity check (typical week):" in section.body
    assert plan.rotation.covered and plan.rotation.headcount < 62
