from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.alerts import write_alert_history
from opsledger.demo.config import write_config
from opsledger.demo.records import write_incidents
from opsledger.demo.slo import write_slos, write_telemetry
from opsledger.demo.world import Size, build_world
from opsledger.model.incidents import AlertEvent
from opsledger.render.sections import Status
from opsledger.slo.backtest import IncidentWindow, SkippedBacktest, backtest_series
from opsledger.slo.noise import noise_report
from opsledger.slo.section import alerting_section, build_alerting_section
from opsledger.slo.service import backtest_json, workspace_noise, workspace_rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("alerting") / "ws"
    world = build_world(Size.SMALL, 7, NOW)
    for writer in (write_config, write_incidents, write_slos, write_telemetry, write_alert_history):
        writer(world, root)
    return root


def context(root: Path) -> Context:
    return Context.open(open_workspace(root), now=NOW)


def night_alert(day: int) -> AlertEvent:
    created = datetime(2026, 3, day, 2, 0, tzinfo=UTC)
    return AlertEvent(
        f"A{day}",
        "DiskFull",
        "search",
        created,
        None,
        created + timedelta(minutes=3),
        True,
        None,
        "P3",
        "test",
    )


def test_section_from_computed_results(tmp_path: Path) -> None:
    start = NOW - timedelta(days=7)
    total = np.full(7 * 1440, 500.0)
    good = total.copy()
    good[3000:3020] = 0
    incident = IncidentWindow(
        "INC-1", start + timedelta(minutes=3000), start + timedelta(minutes=3020)
    )
    results = [
        backtest_series("shop/availability", 0.999, 30, start, good, total, [incident]),
        SkippedBacktest("shop/latency", "needs a Prometheus server"),
    ]
    noise = noise_report([night_alert(day) for day in range(2, 7)])
    # An empty folder is a workspace with the default configuration.
    section = build_alerting_section(context(tmp_path), results, noise)
    assert section.status is Status.WARN
    assert "| shop/availability | workbook-page-only | 100% | 100% |" in section.body
    assert "- shop/latency: needs a Prometheus server" in section.body
    assert "DiskFull" in section.body and "delete-or-demote" in section.body
    payload = json.loads(json.dumps(dict(section.data)))
    assert payload["backtest"][0]["recommended"] == "workbook-page-only"
    assert payload["backtest"][1] == {
        "slo": "shop/latency",
        "valid": False,
        "reason": "needs a Prometheus server",
    }
    assert section.actions[0]["source"] == "alert-noise"


def test_section_on_a_demo_workspace(workspace: Path) -> None:
    section = alerting_section(context(workspace))
    assert section.status is Status.WARN
    assert "**Burn-rate policy backtest**" in section.body
    assert "NightlyExportSlow" in section.body
    scored = [b for b in section.data["backtest"] if b["valid"]]
    assert scored and all(len(b["policies"]) == 4 for b in scored)
    assert all(b["recommended"] is None or b["recommended"] in {p["policy"] for p in b["policies"]}
               for b in scored)
    noise, problems = workspace_noise(context(workspace))
    assert not problems
    linked = next(a for a in noise.alerts if a.alert == "HighErrorRate")
    assert linked.actionable_rate == 1.0


def test_backtest_json_keeps_undefined_figures_null() -> None:
    total = np.full(2 * 1440, 100.0)
    result = backtest_series("s/o", 0.99, 30, NOW, total.copy(), total)
    (entry,) = backtest_json([result])
    assert all(p["recall"] is None and p["precision"] is None for p in entry["policies"])


@pytest.mark.prometheus
def test_workspace_rules_pass_promtool(workspace: Path, tmp_path: Path) -> None:
    rules, problems = workspace_rules(context(workspace))
    assert not problems
    groups = yaml.safe_load(rules)["groups"]
    assert groups, "the demo defines Prometheus SLOs"
    assert "# skipped" in rules  # its DuckDB and health-check SLOs have no rules
    (tmp_path / "rules.yaml").write_text(rules)
    done = subprocess.run(
        ["/usr/bin/promtool", "check", "rules", "rules.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
