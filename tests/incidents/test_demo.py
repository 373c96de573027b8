"""The demo workspace's deliberate gaps are found: a missing postmortem, overdue items."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsledger.cli.incidents import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.world import Size, build_world
from opsledger.formats.fields import parse_datetime
from opsledger.incidents.service import default_period, review_incidents


def demo_now(root: Path) -> str:
    marker = dict(part.split("=", 1) for part in (root / ".opsledger-demo").read_text().split())
    assert marker["size"] == "small"
    return marker["now"]


def test_demo_gaps_are_found(small_demo: Path) -> None:
    now = demo_now(small_demo)
    world = build_world(Size.SMALL, 7, parse_datetime(now))
    planted = [i.id for i in world.incidents if i.major and not i.has_postmortem]
    result = CliRunner().invoke(app, ["stats", str(small_demo), "--now", now, "--no-budget",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert planted and set(planted) <= set(data["postmortems"]["missing"])
    assert data["gate"]["status"] == "fail"
    breaches = {(b["incident"], b["reason"]) for b in data["gate"]["breaches"]}
    assert (planted[0], "postmortem missing") in breaches
    assert data["action_items"]["overdue"]


def test_demo_overdue_items_are_open_and_past_due(small_demo: Path) -> None:
    moment = parse_datetime(demo_now(small_demo))
    ctx = Context.open(open_workspace(small_demo), moment)
    review = review_incidents(ctx, default_period(moment, None, None), with_budgets=False)
    overdue = review.postmortems.action_items.overdue
    assert overdue
    for tracked in overdue:
        assert tracked.item.status.is_open
        assert tracked.due is not None and tracked.due < moment.date()
