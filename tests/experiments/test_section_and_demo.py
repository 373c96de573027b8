"""The report section and the demo experiments."""

from __future__ import annotations

import shutil
from pathlib import Path

from opsledger.core.inputs import Context
from opsledger.core.problems import Level
from opsledger.core.workspace import open_workspace
from opsledger.demo.experiments import write_experiments
from opsledger.demo.world import Size, build_world
from opsledger.experiments.results import ExperimentResult, Horizon, Verdict
from opsledger.experiments.section import experiments_section
from opsledger.experiments.service import NotAnalyzed, analyze_experiment, workspace_experiments
from opsledger.render.charts import chart_svg
from opsledger.render.sections import Status

from .builders import NOW


def context(root: Path) -> Context:
    return Context.open(open_workspace(root), NOW)


def test_demo_outcomes(experiments_workspace: Path) -> None:
    ctx = context(experiments_workspace)
    read = workspace_experiments(ctx)
    assert not [p for p in read.problems if p.level is not Level.WARNING]
    outcomes = {e.definition.name: analyze_experiment(e, NOW) for e in read.records}
    winner = outcomes["checkout-one-page"]
    assert isinstance(winner, ExperimentResult)
    assert (winner.decision.verdict, winner.decision.variant) == (Verdict.SHIP, "one-page")
    assert winner.horizon is Horizon.FIXED
    running = outcomes["search-ranking-v2"]
    assert isinstance(running, ExperimentResult)
    assert running.decision.verdict is Verdict.KEEP_RUNNING
    assert running.horizon is Horizon.SEQUENTIAL
    cuped = running.comparisons[0].cuped
    assert cuped is not None and cuped.covariate == "pre_orders"
    assert cuped.variance_reduction > 0.15
    broken = outcomes["recommendations-carousel"]
    assert isinstance(broken, ExperimentResult)
    assert broken.srm.mismatch and broken.decision.verdict is Verdict.INVALID
    sizes = {name: len(e.observations or []) for name, e in
             ((e.definition.name, e) for e in read.records)}
    assert all(2_000 <= n <= 50_000 for n in sizes.values())
    # Units were assigned with the public hash: no mismatch warning.
    assert not any("another variant" in p.message for p in read.problems)


def test_demo_is_deterministic(tmp_path: Path) -> None:
    world = build_world(Size.SMALL, 7, NOW)
    first = write_experiments(world, tmp_path / "a")
    second = write_experiments(world, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    other = write_experiments(build_world(Size.SMALL, 8, NOW), tmp_path / "c")
    assert other[1].read_bytes() != first[1].read_bytes()


def test_section_rows_chart_and_actions(experiments_workspace: Path) -> None:
    section = experiments_section(context(experiments_workspace))
    assert section.status is Status.WARN  # the invalid experiment
    rows = [line for line in section.body.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == 3
    by_name = {row.split(" | ")[0].strip("| "): row for row in rows}
    assert "ship one-page" in by_name["checkout-one-page"]
    assert "MISMATCH" in by_name["recommendations-carousel"]
    assert "keep running" in by_name["search-ranking-v2"]
    assert "95% CI" in by_name["checkout-one-page"]
    [chart] = section.charts
    groups = {p["group"] for p in chart.data["points"]}
    assert groups == {"relative lift", "confidence interval bound"}
    assert len(chart.data["points"]) == 9
    assert chart_svg(chart).startswith("<svg")
    actions = {a["action"]: a for a in section.actions}
    assert any("Roll out 'one-page'" in text for text in actions)
    assert any("sample ratio mismatch" in text for text in actions)
    assert all(a["due"] == "2026-11-08" for a in section.actions)
    assert len(section.data["experiments"]) == 3


def test_section_skipped_without_experiments(experiments_workspace: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(experiments_workspace, ws)
    shutil.rmtree(ws / "experiments")
    section = experiments_section(context(ws))
    assert section.status is Status.SKIPPED
    assert "no experiment definitions" in section.body


def test_section_with_an_experiment_not_started(experiments_workspace: Path,
                                                tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(experiments_workspace, ws)
    shutil.rmtree(ws / "experiments" / "search-ranking-v2")
    ctx = context(ws)
    outcome = analyze_experiment(
        next(e for e in workspace_experiments(ctx).records
             if e.definition.name == "search-ranking-v2"), NOW)
    assert isinstance(outcome, NotAnalyzed) and outcome.verdict is Verdict.KEEP_RUNNING
    section = experiments_section(ctx)
    assert "no observations yet" in section.body
