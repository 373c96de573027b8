"""``opsledger slo status --json`` contract and the report section, on a small workspace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.slo import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.render.sections import Status
from opsledger.slo.section import slo_section

from .slo_events import MINUTES, START, generate, write_parquet

NOW = START + timedelta(minutes=MINUTES)
SLOS = """\
slos:
  - service: checkout
    name: availability
    objective: 99
    window: 1d
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        good: service = 'checkout' AND status < 500
        total: service = 'checkout'
  - service: search
    name: strict
    objective: 99.99
    window: 1d
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        bad: service = 'search' AND status >= 500
        total: service = 'search'
  - service: quiet
    name: availability
    objective: 99
    window: 1d
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        good: service = 'quiet' AND status < 500
        total: service = 'quiet'
  - service: api
    name: promql
    objective: 99.9
    indicator:
      prometheus: {good: 'ok_total', total: 'all_total'}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slo-ws")
    write_parquet(generate(seed=3), root / "telemetry" / "requests" / "events.parquet")
    (root / "slos").mkdir()
    (root / "slos" / "slos.yaml").write_text(SLOS)
    return root


def run(*args: str) -> tuple[int, str]:
    root = typer.Typer()
    root.add_typer(app, name="slo")
    result = CliRunner().invoke(root, ["slo", *args])
    return result.exit_code, result.stdout


def test_status_json_contract(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSLEDGER_PROMETHEUS_URL", raising=False)
    code, out = run("status", str(workspace), "--json", "--now", NOW.isoformat())
    assert code == 0
    body = {(o["service"], o["slo"]): o for o in json.loads(out)}
    checkout = body[("checkout", "availability")]
    assert set(checkout) == {
        "service",
        "slo",
        "objective",
        "window",
        "sli",
        "good",
        "total",
        "error_budget_remaining",
        "burn_rates",
        "burn_rate_notes",
        "exhaustion_at",
        "newest_event_at",
        "data_age_seconds",
        "standing",
        "standing_reason",
        "valid",
        "needs_prometheus",
        "reasons",
        "exclusions",
    }
    assert checkout["valid"] is True and checkout["objective"] == 0.99
    assert checkout["window"] == "1d"
    assert set(checkout["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "window"}
    assert checkout["sli"] == pytest.approx(checkout["good"] / checkout["total"])
    assert checkout["error_budget_remaining"] == pytest.approx(
        1 - (1 - checkout["sli"]) / (1 - 0.99)
    )
    strict = body[("search", "strict")]
    assert strict["error_budget_remaining"] < 0  # 1% errors against a 0.01% budget
    assert strict["exhaustion_at"] is not None
    datetime.fromisoformat(strict["exhaustion_at"])
    quiet = body[("quiet", "availability")]
    assert quiet["valid"] is False and quiet["sli"] is None and "0 events" in quiet["reasons"][0]
    promql = body[("api", "promql")]
    assert promql["valid"] is False and "--prometheus" in promql["reasons"][0]
    assert promql["needs_prometheus"] is True and checkout["needs_prometheus"] is False


def test_now_pins_the_result(workspace: Path) -> None:
    first = run("status", str(workspace), "--json", "--now", NOW.isoformat())
    second = run("status", str(workspace), "--json", "--now", NOW.isoformat())
    assert first == second
    earlier = run(
        "status", str(workspace), "--json", "--now", (NOW - timedelta(hours=3)).isoformat()
    )
    assert earlier[1] != first[1]


def test_fail_on_exhausted_exit_code(workspace: Path) -> None:
    code, _ = run("status", str(workspace), "--now", NOW.isoformat(), "--fail-on-exhausted")
    assert code == 1


def test_bad_definitions_exit_2_in_strict_mode(tmp_path: Path) -> None:
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "x.yaml").write_text("slos:\n  - service: a\n    objective: 99\n")
    code, _ = run("status", str(tmp_path), "--strict", "--now", NOW.isoformat())
    assert code == 2


def test_report_section(workspace: Path) -> None:
    ctx = Context.open(open_workspace(workspace), NOW)
    section = slo_section(ctx)
    assert section.status is Status.FAIL  # search/strict has overspent its budget
    assert "| search | strict |" in section.body
    assert "quiet/availability: 0 events" in section.body
    assert "freeze releases except p0 and security" in section.body
    heatmap, *burndowns = section.charts
    assert heatmap.kind == "heatmap" and len(heatmap.data["rows"]) == 2
    # A burn-down per SLO off target or at risk: both computed SLOs miss their objective.
    assert [s["standing"] for s in section.data["slos"] if s["valid"]] == ["off-target"] * 2
    assert len(burndowns) == 2 and section.data["burndowns_omitted"] == 0
    # The PromQL SLO is one line, the SLO with no events a failure.
    assert "1 SLO(s) written in PromQL were not computed here" in section.body
    chart = burndowns[0]
    assert chart.kind == "line" and chart.data["series"][0]["y"][0] <= 1.0
    assert section.data["slos"][0]["service"] == "api"
    assert any(a["source"] == "error-budget-policy" for a in section.actions)


def test_section_skipped_without_definitions(tmp_path: Path) -> None:
    ctx = Context.open(open_workspace(tmp_path), datetime(2026, 1, 1, tzinfo=UTC))
    section = slo_section(ctx)
    assert section.status is Status.SKIPPED and "no SLO definitions" in section.body
