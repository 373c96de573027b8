"""``opsledger slo export``: SLO results as OpenMetrics (backfilled into a real Prometheus and
read back) and as JSON Lines, checked against ``slo status`` and a count by hand."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from opsledger.cli.slo import ExportFormatChoice
from opsledger.slo.export import ExportFormat
from tests.conftest import cli
from tests.slo.prometheus_server import backfilled_prometheus
from tests.slo.slo_events import MINUTES, SERVICES, START, Events, generate, write_parquet

NOW = START + timedelta(minutes=MINUTES)
NOW_TEXT = NOW.isoformat()
PROMTOOL = shutil.which("promtool")

CONFIG = """\
services:
  - name: checkout
    owner: payments
"""

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
    name: availability
    objective: 99.5
    window: 1d
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        bad: service = 'search' AND status >= 500
        total: service = 'search'
  - service: search
    name: too-few
    objective: 99
    window: 1d
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        good: service = 'nobody'
        total: service = 'nobody'
"""


@pytest.fixture(scope="module")
def events() -> Events:
    return generate(seed=23)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, events: Events) -> Path:
    root = tmp_path_factory.mktemp("export") / "ws"
    (root / "slos").mkdir(parents=True)
    (root / "opsledger.yaml").write_text(CONFIG)
    (root / "slos" / "slos.yaml").write_text(SLOS)
    write_parquet(events, root / "telemetry" / "requests" / "events.parquet")
    return root


@pytest.fixture(scope="module")
def status(workspace: Path) -> dict[str, dict[str, Any]]:
    code, output = cli("slo", "status", str(workspace), "--json", "--now", NOW_TEXT)
    assert code == 0, output
    return {f"{s['service']}/{s['slo']}": s for s in json.loads(output[output.index("["):])}


def export(workspace: Path, out: Path, *args: str) -> str:
    code, output = cli("slo", "export", str(workspace), "--out", str(out), "--now", NOW_TEXT,
                       *args)
    assert code == 0, output
    return out.read_text()


def by_hand(events: Events, service: str, minutes: int) -> tuple[float, float]:
    """Return (good, total) of the last ``minutes`` before NOW, counted with numpy."""
    chosen = events.service == SERVICES.index(service)
    since = int((NOW - timedelta(minutes=minutes)).timestamp() * 1e6)
    inside = chosen & (events.ts_us >= since) & (events.ts_us < int(NOW.timestamp() * 1e6))
    return float((inside & (events.status < 500)).sum()), float(inside.sum())


def test_status_agrees_with_a_count_by_hand(
    events: Events, status: dict[str, dict[str, Any]]
) -> None:
    for service, objective in (("checkout", 0.99), ("search", 0.995)):
        good, total = by_hand(events, service, 24 * 60)
        computed = status[f"{service}/availability"]
        assert (computed["good"], computed["total"]) == (good, total)
        assert computed["sli"] == pytest.approx(good / total, abs=1e-15)
        assert computed["error_budget_remaining"] == pytest.approx(
            1 - (total - good) / ((1 - objective) * total), abs=1e-12)
        hour_good, hour_total = by_hand(events, service, 60)
        assert computed["burn_rates"]["1h"] == pytest.approx(
            (hour_total - hour_good) / hour_total / (1 - objective), abs=1e-12)
    assert status["search/too-few"]["valid"] is False


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, Any]]:
    """Return every sample of OpenMetrics ``text`` by (name, labels): (value, timestamp)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            stamp = sample.timestamp
            found[key] = (sample.value, None if stamp is None else float(stamp))
    return found


def labels(service: str, slo: str, team: str = "", **extra: str) -> tuple[tuple[str, str], ...]:
    base = {"service": service, "slo": slo, "window": "1d", "team": team, **extra}
    return tuple(sorted(base.items()))


def test_openmetrics_holds_the_status_figures(
    workspace: Path, tmp_path: Path, status: dict[str, dict[str, Any]]
) -> None:
    text = export(workspace, tmp_path / "slo.om")
    assert text.endswith("# EOF\n")
    assert "# UNIT opsledger_slo_sli_ratio ratio\n" in text
    assert "# TYPE opsledger_slo_burn_rate gauge\n" in text
    found = samples(text)
    assert {name for name, _ in found} == {
        "opsledger_slo_valid", "opsledger_slo_sli_ratio", "opsledger_slo_objective_ratio",
        "opsledger_slo_error_budget_remaining_ratio", "opsledger_slo_good_events",
        "opsledger_slo_total_events", "opsledger_slo_burn_rate"}
    stamp = NOW.timestamp()
    for key, team in (("checkout/availability", "payments"), ("search/availability", "")):
        s = status[key]
        service, slo = key.split("/")
        mine = labels(service, slo, team)
        expected = {
            "opsledger_slo_valid": 1.0, "opsledger_slo_sli_ratio": s["sli"],
            "opsledger_slo_objective_ratio": s["objective"],
            "opsledger_slo_error_budget_remaining_ratio": s["error_budget_remaining"],
            "opsledger_slo_good_events": s["good"], "opsledger_slo_total_events": s["total"],
        }
        for name, value in expected.items():
            assert found[(name, mine)] == (value, stamp), name
        for window, rate in s["burn_rates"].items():
            key_burn = ("opsledger_slo_burn_rate", labels(service, slo, team, burn_window=window))
            assert found.get(key_burn) == (None if rate is None else (rate, stamp))
    # An SLO that could not be computed says so, and has no figures at all.
    too_few = labels("search", "too-few")
    assert found[("opsledger_slo_valid", too_few)] == (0.0, stamp)
    assert ("opsledger_slo_sli_ratio", too_few) not in found


@pytest.mark.prometheus
def test_prometheus_backfilled_with_the_export_returns_the_status_figures(
    workspace: Path, tmp_path: Path, status: dict[str, dict[str, Any]]
) -> None:
    text = export(workspace, tmp_path / "slo.om")
    (tmp_path / "prometheus").mkdir()
    with backfilled_prometheus(tmp_path / "prometheus", text) as url:
        def query(expr: str) -> dict[tuple[str, str, str], float]:
            answer = requests.get(f"{url}/api/v1/query",
                                  params={"query": expr, "time": NOW.timestamp()}, timeout=10)
            answer.raise_for_status()
            return {(r["metric"]["service"], r["metric"]["slo"], r["metric"].get("team", "")):
                    float(r["value"][1]) for r in answer.json()["data"]["result"]}

        sli = query("opsledger_slo_sli_ratio")
        budget = query("opsledger_slo_error_budget_remaining_ratio")
        burn_1h = query('opsledger_slo_burn_rate{burn_window="1h"}')
        events = query("opsledger_slo_total_events")
    assert set(sli) == {("checkout", "availability", "payments"), ("search", "availability", "")}
    for (service, slo, _), value in sli.items():
        s = status[f"{service}/{slo}"]
        assert value == pytest.approx(s["sli"], rel=1e-15)
        assert budget[(service, slo, _)] == pytest.approx(s["error_budget_remaining"], rel=1e-12)
        assert burn_1h[(service, slo, _)] == pytest.approx(s["burn_rates"]["1h"], rel=1e-12)
        assert events[(service, slo, _)] == s["total"]


@pytest.mark.prometheus
@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_promtool_lints_the_textfile_form(workspace: Path, tmp_path: Path) -> None:
    text = export(workspace, tmp_path / "slo.prom", "--no-timestamps")
    assert all(stamp is None for _, stamp in samples(text).values())
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""  # no lint finding


def test_jsonl_has_one_record_per_slo(
    workspace: Path, tmp_path: Path, status: dict[str, dict[str, Any]]
) -> None:
    text = export(workspace, tmp_path / "slo.jsonl", "--format", "jsonl")
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["key"] for r in records] == sorted(status)
    for record in records:
        s = status[record["key"]]
        assert record["run_at"] == NOW_TEXT
        assert record["schema_version"] == 1
        assert (record["service"], record["slo"], record["window"]) == (
            s["service"], s["slo"], s["window"])
        assert record["valid"] == s["valid"] and record["reasons"] == s["reasons"]
        assert record["values"] == {
            "sli": s["sli"], "good": s["good"], "total": s["total"],
            "error_budget_remaining": s["error_budget_remaining"],
            "burn_rates": s["burn_rates"]}
    assert records[0]["team"] == "payments" and records[1]["team"] is None


def test_command_formats_match_the_library() -> None:
    assert [c.value for c in ExportFormatChoice] == [f.value for f in ExportFormat]


def test_default_output_goes_to_the_evidence_folder(workspace: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    code, output = cli("slo", "export", str(ws), "--now", NOW_TEXT, "--json")
    assert code == 0, output
    answer = json.loads(output[output.index("{"):])
    assert answer == {"written": str(ws / ".artifacts" / "protocol-09" / "metrics" /
                                     "slo-results.prom"),
                      "format": "openmetrics", "slos": 3, "computed": 2}
    assert Path(answer["written"]).read_text().count("opsledger_slo_valid{") == 3


def test_unreadable_definitions_export_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "slos").mkdir(parents=True)
    (ws / "slos" / "broken.yaml").write_text("slos:\n  - service: x\n    objective: high\n")
    code, output = cli("slo", "export", str(ws), "--out", str(tmp_path / "slo.om"))
    assert code == 2, output
    assert "broken.yaml" in output and "nothing to export" in output
    assert not (tmp_path / "slo.om").exists()
