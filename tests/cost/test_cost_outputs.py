"""``opsledger cost``, the cost section and the optimisation plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.cost.section import cost_section
from opsledger.demo.costs import cost_plan
from opsledger.demo.world import World
from opsledger.render.charts import chart_svg
from opsledger.render.sections import Status
from opsledger.review.optimization_plan import cost_reviews, write_optimization_plan

from .conftest import COST_NOW

NOW = ["--now", COST_NOW.isoformat()]


def root_app() -> typer.Typer:
    return app


@pytest.fixture(scope="module")
def cost_document(cost_workspace: Path) -> dict[str, object]:
    result = CliRunner().invoke(root_app(), ["cost", str(cost_workspace), "--json", *NOW])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_json_contract(cost_document: dict[str, object], cost_world: World) -> None:
    plan = cost_plan(cost_world)
    assert {"by_month", "by_service", "targets", "anomalies"} <= set(cost_document)
    by_month = cost_document["by_month"]
    assert isinstance(by_month, dict) and list(by_month)[-1] == "2026-11"
    assert len(by_month) == 6
    targets = cost_document["targets"]
    assert isinstance(targets, dict)
    for row in targets.values():
        assert set(row) >= {"target", "actual", "forecast", "status"}
        assert row["status"] in ("under", "at-risk", "over", "no-forecast")
    assert targets[plan.over_target_service]["status"] == "over"
    anomalies = cost_document["anomalies"]
    assert isinstance(anomalies, list) and anomalies
    assert {a["service"] for a in anomalies} == {plan.anomaly_service}
    by_service = cost_document["by_service"]
    assert isinstance(by_service, dict)
    assert sum(m.get("2026-10", 0) for m in by_service.values()) == pytest.approx(
        by_month["2026-10"], abs=0.05 * len(by_service))


def test_plain_output_and_bad_month(cost_workspace: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(root_app(), ["cost", str(cost_workspace), *NOW, "--month", "2026-10"])
    assert result.exit_code == 0, result.output
    assert "Targets, 2026-10" in result.stdout and "[low-utilisation]" in result.stdout
    bad = runner.invoke(root_app(), ["cost", str(cost_workspace), "--month", "2026-13"])
    assert bad.exit_code == 2 and "not a month" in bad.output


def test_empty_workspace_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(root_app(), ["cost", str(tmp_path)])
    assert result.exit_code == 2
    assert "no FOCUS cost export" in result.output


def test_section_and_charts(cost_workspace: Path) -> None:
    ctx = Context.open(open_workspace(cost_workspace), COST_NOW)
    section = cost_section(ctx)
    assert section.status is Status.FAIL  # one service over its target
    # Mid-November: the month is month-to-date, with the whole month's forecast beside it.
    assert "**Spend 2026-11, month-to-date (16 of 30 days):**" in section.body
    assert "**Forecast for the whole month 2026-11:**" in section.body
    assert [c.key for c in section.charts] == ["cost-targets", "cost-forecast"]
    for chart in section.charts:
        assert chart_svg(chart).startswith("<svg")
    assert any(a["source"] == "cost" for a in section.actions)


def test_optimization_plan(cost_workspace: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(cost_workspace, root)
    ctx = Context.open(open_workspace(root), COST_NOW)
    path = write_optimization_plan(ctx)
    assert path == root / "docs/optimization/PLAN.md"
    text = path.read_text()
    for heading in ("## 1. Cost targets and status", "## 2. Performance hotspots",
                    "## 3. Capacity runway", "## 4. Savings candidates", "## 5. Review cycle"):
        assert heading in text
    assert "_Not computed: no " in text.split("## 2.")[1].split("## 3.")[0]  # no perf.json
    assert "Cloud Cost against Target" in text  # the demo's cost review
    assert "monthly" in text.split("## 5.")[1]


def test_cost_reviews_pick_cost_metrics_only() -> None:
    from opsledger.core.config import KpiReview

    reviews = [KpiReview(metric="Error Budget Consumption", cadence="monthly", owner="sre"),
               KpiReview(metric="Cloud spend", cadence="weekly", owner="finance"),
               KpiReview(metric="MTTR", cadence="weekly", owner="support")]
    assert [r.metric for r in cost_reviews(reviews)] == ["Cloud spend"]


def test_demo_files_are_deterministic(tmp_path: Path, cost_world: World) -> None:
    from opsledger.demo.costs import write_costs, write_utilisation

    first, second = tmp_path / "a", tmp_path / "b"
    paths = [write(cost_world, root) for root in (first, second)
             for write in (write_costs, write_utilisation)]
    names = sorted(p.relative_to(first).as_posix() for p in paths[0] + paths[1])
    assert names == ["costs/focus-daily.csv", "costs/opencost-allocation.json",
                     "telemetry/utilisation/utilisation.csv"]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_request_counts_from_telemetry_feed_unit_cost(cost_workspace: Path, tmp_path: Path,
                                                      cost_world: World) -> None:
    from datetime import timedelta

    import pyarrow as pa
    import pyarrow.parquet as pq

    from opsledger.cost.section import cost_view, telemetry_request_counts

    root = tmp_path / "ws"
    shutil.copytree(cost_workspace, root)
    service = cost_world.services[0].name
    day = cost_world.now - timedelta(days=2)
    # 3 requests late on one UTC day, 1 early the next: counted by UTC day.
    stamps = [day.replace(hour=23), day.replace(hour=23, minute=30),
              day.replace(hour=23, minute=59), day + timedelta(days=1, hours=1)]
    folder = root / "telemetry" / "requests"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({
        "ts": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
        "service": [service] * 4, "endpoint": ["GET /"] * 4, "status": [200] * 4,
        "latency_ms": [10.0] * 4}), folder / "part-0.parquet")
    counts = telemetry_request_counts(root / "telemetry")
    assert counts == {(service, day.date()): 3, (service, day.date() + timedelta(days=1)): 1}
    view = cost_view(Context.open(open_workspace(root), COST_NOW))
    (unit,) = view.unit_costs
    assert (unit.service, unit.days, unit.requests) == (service, 2, 4)
    assert unit.per_thousand == pytest.approx(unit.cost / 4 * 1000)


@pytest.mark.parametrize("kind", ["timestamptz-ms", "timestamptz-ns", "timestamp-us",
                                  "timestamp-ns", "timestamptz-offset", "date", "text"])
def test_request_counts_are_by_utc_day_whatever_the_time_column_type(
    tmp_path: Path, kind: str
) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    import pyarrow as pa
    import pyarrow.parquet as pq

    from opsledger.cost.section import telemetry_request_counts

    # Around midnight UTC, before and after 1970, and a time written two hours ahead of UTC.
    stamps = [datetime(2026, 3, 1, 23, 59, 59, 999000, tzinfo=UTC),
              datetime(2026, 3, 2, 0, 0, tzinfo=UTC),
              datetime(1969, 12, 31, 23, 0, tzinfo=UTC),
              datetime(2026, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))]
    if kind == "date":
        stamps = stamps[:3]
        column = pa.array([s.date() for s in stamps], type=pa.date32())
    elif kind == "text":
        column = pa.array([s.isoformat() for s in stamps])
    elif kind.startswith("timestamptz"):
        unit = "ns" if kind.endswith("ns") else "ms"
        column = pa.array(stamps, type=pa.timestamp(unit, tz="+02:00" if kind.endswith("offset")
                                                     else "UTC"))
    else:
        column = pa.array([s.astimezone(UTC).replace(tzinfo=None) for s in stamps],
                          type=pa.timestamp(kind.split("-")[1]))
    folder = tmp_path / "telemetry" / "requests"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"ts": column, "service": ["api"] * len(stamps)}),
                   folder / "part-0.parquet")
    expected: dict[tuple[str, object], int] = {}
    for stamp in stamps:
        key = ("api", stamp.astimezone(UTC).date())
        expected[key] = expected.get(key, 0) + 1
    assert telemetry_request_counts(tmp_path / "telemetry") == expected


def test_request_counts_can_be_passed_in(cost_workspace: Path, cost_world: World) -> None:
    from datetime import date, timedelta

    from opsledger.cost.section import cost_view

    service = cost_world.services[1].name
    day = (cost_world.now - timedelta(days=3)).date()
    calls: list[int] = []

    def counts() -> dict[tuple[str, date], int]:
        calls.append(1)
        return {(service, day): 2_000}

    view = cost_view(Context.open(open_workspace(cost_workspace), COST_NOW),
                     request_counts=counts)
    (unit,) = view.unit_costs
    assert calls == [1] and (unit.service, unit.requests, unit.days) == (service, 2_000, 1)
