"""The coverage plan a review fits in worker processes, one queue a task, is the plan
fitted here in one piece."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsledger.core.catalog import open_scoped
from opsledger.core.fileio import dumps_json
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.forecasting import background
from opsledger.support.service import start_coverage_plan, workspace_coverage_plan
from tests.conftest import DEMO_NOW


def _plan_json(ctx: Context) -> object:
    plan = workspace_coverage_plan(ctx)
    assert plan is not None
    return json.loads(dumps_json(plan.to_json()))


@pytest.mark.parametrize("team", [None, "payments"])
def test_a_plan_fitted_in_the_worker_is_the_plan_fitted_here(
        small_demo: Path, team: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = open_workspace(small_demo)
    background.shutdown()
    try:
        ctx = open_scoped(ws, DEMO_NOW, team=team)
        start_coverage_plan(ctx)
        started = ctx.results[(start_coverage_plan,)]
        assert len(started) == len({queue for _, part in started for queue in part["queue"]})
        fitted_there = _plan_json(ctx)
    finally:
        background.shutdown()
    monkeypatch.setenv(background.ENVIRONMENT, "0")
    fitted_here = _plan_json(open_scoped(ws, DEMO_NOW, team=team))
    assert fitted_there == fitted_here
