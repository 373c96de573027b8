"""``opsledger slo noise`` and ``slo backtest``: one row per alert, noisiest first; no policy
chosen without incidents; ``slo status`` says how old each SLO's newest event is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.common import fit_output
from opsledger.cli.slo import app
from opsledger.demo.alerts import write_alert_history
from opsledger.demo.config import write_config
from opsledger.demo.records import write_incidents
from opsledger.demo.world import Size, build_world

from .slo_events import MINUTES, START, generate, write_parquet

NOW = datetime(2026, 11, 1, tzinfo=UTC)
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
"""


def run(*args: str) -> tuple[int, str]:
    fit_output()
    root = typer.Typer()
    root.add_typer(app, name="slo")
    result = CliRunner().invoke(root, ["slo", *args])
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def alerts_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("noise-ws")
    world = build_world(Size.SMALL, 7, NOW)
    for writer in (write_config, write_incidents, write_alert_history):
        writer(world, root)
    return root


@pytest.fixture(scope="module")
def events_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("events-ws")
    write_parquet(generate(seed=3), root / "telemetry" / "requests" / "events.parquet")
    (root / "slos").mkdir()
    (root / "slos" / "slos.yaml").write_text(SLOS)
    return root


def test_noise_json_names_the_service_and_ranks_by_noise(alerts_workspace: Path) -> None:
    code, out = run("noise", str(alerts_workspace), "--now", NOW.isoformat(), "--json")
    assert code == 0
    data = json.loads(out)
    alerts = data["alerts"]
    noise = [a["noise"] for a in alerts]
    assert noise == sorted(noise, reverse=True) and noise[0] > 0
    cpu = [a for a in alerts if a["alert"] == "HighCPU"]
    assert len(cpu) > 1 and len({a["service"] for a in cpu}) == len(cpu)
    for item in alerts:
        # Noise is what was not useful: firings less those acted on, an incident once.
        assert 0 <= item["noise"] <= item["firings"]
        assert item["decision"]["alert"] == item["alert"]
        assert item["decision"]["service"] == item["service"]
    # One decision per alert: no alert appears twice among the changes.
    changes = [(r["alert"], r["service"]) for r in data["recommendations"]]
    assert len(changes) == len(set(changes))
    assert all(r["confidence"] in ("high", "medium", "low") for r in data["recommendations"])


def test_noise_table_has_a_service_column_in_noise_order(alerts_workspace: Path) -> None:
    code, out = run("noise", str(alerts_workspace), "--now", NOW.isoformat())
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if "alert" in line and "service" in line)
    assert header.index("service") > header.index("alert")
    assert "noise" in header and "decision" in header and "confidence" in header
    code, raw = run("noise", str(alerts_workspace), "--now", NOW.isoformat(), "--json")
    alerts = json.loads(raw)["alerts"]
    rows = [line for line in lines if line.startswith("│") and "HighCPU" in line]
    cpu_services = [a["service"] for a in alerts if a["alert"] == "HighCPU"]
    assert len(rows) == len(cpu_services) > 1
    # Each HighCPU row names its service, in the JSON's (noise) order.
    assert [next(s for s in cpu_services if f" {s} " in row) for row in rows] == cpu_services


def test_backtest_without_incidents_chooses_no_policy(events_workspace: Path) -> None:
    now = (START + timedelta(minutes=MINUTES)).isoformat()
    code, out = run("backtest", str(events_workspace), "--now", now, "--json")
    assert code == 0
    (item,) = json.loads(out)
    assert item["recommended"] is None
    assert (item["confidence"], item["incidents"]) == ("low", 0)
    assert item["reason"].startswith("not enough incidents to choose a policy")
    code, out = run("backtest", str(events_workspace), "--now", now)
    assert code == 0 and "none: not enough incidents" in out and "low (0 incidents)" in out


def test_status_says_how_old_the_newest_event_is(events_workspace: Path) -> None:
    later = START + timedelta(minutes=MINUTES) + timedelta(hours=17)
    code, out = run("status", str(events_workspace), "--now", later.isoformat(), "--json")
    assert code == 0
    (item,) = json.loads(out)
    newest = datetime.fromisoformat(item["newest_event_at"])
    # The generated events fill every minute up to START + MINUTES.
    assert newest == START + timedelta(minutes=MINUTES - 1)
    assert item["data_age_seconds"] == int((later - newest).total_seconds())
    assert item["burn_rates"]["1h"] is None
    assert item["burn_rate_notes"]["1h"] == "no events in the last 1h: newest event 17 h 1 min old"
    code, out = run("status", str(events_workspace), "--now", later.isoformat())
    assert "17 h 1 min ago" in out
    assert "burn 1h: no events in the last 1h: newest event 17 h 1 min old" in out
