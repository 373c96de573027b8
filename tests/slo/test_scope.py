"""Team and service views of the SLOs: the scope's SLOs only, with the figures of a whole run.

Each view is checked against a run over every service on the small demo workspace (the
clock pinned): a view must not change any SLO's number, must show exactly the SLOs of the
services ``opsledger.yaml`` gives the team (read here from the file itself), and must say
how many it leaves out.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from opsledger.cli.slo import app
from opsledger.core.catalog import open_scoped
from opsledger.core.workspace import open_workspace
from opsledger.model.slo import (
    CompositeComponent,
    CompositeSource,
    DuckDbSource,
    Slo,
    SloWindow,
)
from opsledger.slo.scoping import outside_components
from opsledger.slo.section import alerting_section, health_section, slo_section
from opsledger.slo.service import read_alert_history
from tests.conftest import DEMO_NOW

NOW = DEMO_NOW.isoformat()


def run(*args: str) -> tuple[int, str, str]:
    root = typer.Typer()
    root.add_typer(app, name="slo")
    result = CliRunner().invoke(root, ["slo", *args])
    return result.exit_code, result.stdout, result.stderr


def status_json(ws: Path, *options: str) -> Any:
    code, out, err = run("status", str(ws), "--json", "--now", NOW, *options)
    assert code == 0, out + err
    return json.loads(out)


def owners(ws: Path) -> dict[str, str]:
    """Return each service's owner as ``opsledger.yaml`` writes it."""
    config = yaml.safe_load((ws / "opsledger.yaml").read_text())
    return {s["name"]: s["owner"] for s in config["services"]}


def team_services(ws: Path, team: str) -> set[str]:
    return {name for name, owner in owners(ws).items() if owner == team}


def by_key(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{s['service']}/{s['slo']}": s for s in items}


@pytest.fixture(scope="module")
def whole(small_demo: Path) -> dict[str, dict[str, Any]]:
    """Every SLO of the demo, from a run over every service."""
    items = status_json(small_demo)
    assert isinstance(items, list)
    return by_key(items)


TEAMS = ("fulfilment", "identity", "payments", "platform", "storefront")


def test_demo_teams_are_those_of_the_configuration(small_demo: Path,
                                                   whole: dict[str, dict[str, Any]]) -> None:
    assert set(owners(small_demo).values()) == set(TEAMS)
    # Every SLO's service has its owner in opsledger.yaml, so the catalogs decide no team here.
    assert {s["service"] for s in whole.values()} <= set(owners(small_demo))


@pytest.mark.parametrize("team", TEAMS)
def test_team_view_holds_exactly_the_teams_slos_with_the_same_figures(
    team: str, small_demo: Path, whole: dict[str, dict[str, Any]]
) -> None:
    view = status_json(small_demo, "--team", team)
    services = team_services(small_demo, team)
    expected = {key for key, s in whole.items() if s["service"] in services}
    shown = by_key(view["slos"])
    assert set(shown) == expected and expected
    for key, figures in shown.items():
        assert figures == whole[key], key
    scope = view["scope"]
    assert scope["team"] == team and scope["service"] is None
    assert set(scope["services"]) == services
    assert scope["slos"] == len(expected)
    assert scope["left_out"]["slos"] == {"other": len(whole) - len(expected), "unplaced": 0}


def test_service_view(small_demo: Path, whole: dict[str, dict[str, Any]]) -> None:
    view = status_json(small_demo, "--service", "payments-api")
    expected = {key for key, s in whole.items() if s["service"] == "payments-api"}
    shown = by_key(view["slos"])
    assert set(shown) == expected and len(expected) >= 2
    assert all(shown[key] == whole[key] for key in expected)
    scope = view["scope"]
    assert scope["service"] == "payments-api"
    assert scope["team"] == owners(small_demo)["payments-api"]
    assert scope["services"] == ["payments-api"]
    assert scope["left_out"]["slos"]["other"] == len(whole) - len(expected)


def test_table_says_how_many_slos_are_not_shown(small_demo: Path,
                                                whole: dict[str, dict[str, Any]]) -> None:
    services = team_services(small_demo, "payments")
    mine = sum(1 for s in whole.values() if s["service"] in services)
    code, out, _ = run("status", str(small_demo), "--now", NOW, "--team", "payments")
    assert code == 0
    line = (f"Team payments: {mine} of {len(whole)} SLOs "
            f"({len(whole) - mine} of other teams not shown)")
    assert line in out
    code, out, _ = run("status", str(small_demo), "--now", NOW, "--service", "checkout")
    checkout = sum(1 for s in whole.values() if s["service"] == "checkout")
    assert (f"Service checkout: {checkout} of {len(whole)} SLOs "
            f"({len(whole) - checkout} of other services not shown)") in out


def test_journey_across_teams_is_counted_from_the_other_teams_components(
    small_demo: Path, whole: dict[str, dict[str, Any]]
) -> None:
    journeys = yaml.safe_load((small_demo / "slos" / "journeys.yaml").read_text())["slos"]
    journey = next(j for j in journeys if "composite" in j)
    team = owners(small_demo)[journey["service"]]
    components = journey["composite"]["components"]
    others = [c for c in components if owners(small_demo)[c.split("/")[0]] != team]
    assert others, "the demo's journey should span teams"
    view = status_json(small_demo, "--team", team)
    key = f"{journey['service']}/{journey['name']}"
    counted = by_key(view["slos"])[key]
    assert counted["valid"] and counted["sli"] is not None
    assert counted == whole[key]
    assert view["scope"]["components_outside"] == others
    # The other teams' components are counted, not shown.
    assert not set(others) & set(by_key(view["slos"]))
    code, out, _ = run("status", str(small_demo), "--now", NOW, "--team", team)
    assert code == 0 and "Journeys counted with SLOs of other teams" in out


def test_unknown_team_or_service_is_an_input_error(small_demo: Path) -> None:
    code, out, err = run("status", str(small_demo), "--now", NOW, "--team", "paymnets")
    assert code == 2
    assert "unknown team 'paymnets'" in err and "did you mean 'payments'?" in err
    assert "Traceback" not in out + err
    code, _, err = run("status", str(small_demo), "--now", NOW, "--service", "chekout")
    assert code == 2 and "did you mean 'checkout'?" in err


def test_team_without_slos_is_an_empty_view_not_an_error(
    small_demo: Path, tmp_path: Path, whole: dict[str, dict[str, Any]]
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    config = yaml.safe_load((ws / "opsledger.yaml").read_text())
    config["services"].append({"name": "warehouse", "owner": "data"})
    (ws / "opsledger.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    view = status_json(ws, "--team", "data")
    assert view["slos"] == []
    assert view["scope"]["left_out"]["slos"]["other"] == len(whole)
    code, out, _ = run("status", str(ws), "--now", NOW, "--team", "data")
    assert code == 0
    assert f"Team data: 0 of {len(whole)} SLOs ({len(whole)} of other teams not shown)" in out
    section = slo_section(open_scoped(open_workspace(ws), DEMO_NOW, team="data"))
    assert section.status.value == "skipped"
    assert f"no SLO definitions of team data in slos/ ({len(whole)} of other teams" in section.body


def test_exhausted_budget_fails_only_the_view_that_holds_it(
    small_demo: Path, whole: dict[str, dict[str, Any]]
) -> None:
    def exhausted(team: str | None) -> bool:
        services = team_services(small_demo, team) if team else set(owners(small_demo))
        return any(s["error_budget_remaining"] is not None and s["error_budget_remaining"] <= 0
                   for s in whole.values() if s["service"] in services)

    calm = [t for t in TEAMS if not exhausted(t)]
    burnt = [t for t in TEAMS if exhausted(t)]
    assert calm and burnt
    for team, code_expected in ((calm[0], 0), (burnt[0], 1), (None, 1)):
        scope = ["--team", team] if team else []
        code, _, _ = run("status", str(small_demo), "--now", NOW, "--fail-on-exhausted", *scope)
        assert code == code_expected, team


def test_correction_of_another_teams_incident_still_excludes_its_minutes(
    small_demo: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    with (ws / "incidents" / "pagerduty-incidents.csv").open() as handle:
        platform = [r for r in csv.DictReader(handle)
                    if owners(ws).get(r["service_name"]) == "platform"
                    and r["created_on"] >= "2026-10-05" and r["resolved_on"]]
    incident = platform[-1]["id"]
    config = yaml.safe_load((ws / "opsledger.yaml").read_text())
    approver = config["error_budget_exclusions"]["maintenance"][0]["approved_by"]
    config["error_budget_exclusions"]["corrections"] = [{
        "incident": incident, "reason": "the gateway's outage was a probe fault",
        "approved_by": approver, "services": ["checkout"],
    }]
    (ws / "opsledger.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    every = by_key(status_json(ws))
    code, out, err = run("status", str(ws), "--json", "--now", NOW, "--team", "payments")
    assert code == 0, err
    assert "excludes nothing" not in err
    view = by_key(json.loads(out)["slos"])
    corrected = [key for key, s in view.items() if s["exclusions"] and any(
        a["kind"] == "correction" and a["name"] == incident for a in s["exclusions"]["applied"])]
    assert sorted(corrected) == sorted(k for k in view if k.startswith("checkout/"))
    assert all(view[key] == every[key] for key in view)


def test_sections_of_a_team_view_hold_only_its_services(small_demo: Path) -> None:
    ws = open_workspace(small_demo)
    whole_ctx = open_scoped(ws, DEMO_NOW)
    whole = {
        "slos": by_key(slo_section(whole_ctx).data["slos"]),
        "health": {s["service"]: s for s in health_section(whole_ctx).data["services"]},
        "alerts": {(a["alert"], a["service"]): a
                   for a in alerting_section(whole_ctx).data["noise"]["alerts"]},
        "backtest": {b["slo"]: b for b in alerting_section(whole_ctx).data["backtest"]},
    }
    firings = Counter(e.service for e in read_alert_history(whole_ctx).records)
    probes = probes_per_service(small_demo / "reports" / "health")
    for team in TEAMS:
        services = team_services(small_demo, team)
        ctx = open_scoped(ws, DEMO_NOW, team=team)
        slos = slo_section(ctx)
        shown = by_key(slos.data["slos"])
        assert shown == {k: v for k, v in whole["slos"].items() if v["service"] in services}
        assert slos.data["scope"]["left_out"]["slos"]["other"] == len(whole["slos"]) - len(shown)
        assert f"Team {team}: {len(shown)} of {len(whole['slos'])} SLOs" in slos.body

        health = health_section(ctx)
        rows = {s["service"]: s for s in health.data["services"]}
        assessed = set(rows) | {s["service"] for s in health.data["skipped"]}
        assert assessed == services
        assert rows == {k: v for k, v in whole["health"].items() if k in services}
        other_probes = sum(n for service, n in probes.items() if service not in services)
        assert health.data["scope"]["left_out"]["probes"] == {"other": other_probes,
                                                              "unplaced": 0}
        assert f"Team {team}: {other_probes:,} probes of other teams" in health.body

        alerting = alerting_section(ctx)
        alerts = {(a["alert"], a["service"]): a for a in alerting.data["noise"]["alerts"]}
        assert alerts == {k: v for k, v in whole["alerts"].items() if k[1] in services}
        backtests = {b["slo"]: b for b in alerting.data["backtest"]}
        assert backtests == {k: v for k, v in whole["backtest"].items() if k in shown}
        left = alerting.data["scope"]["left_out"]["alert_firings"]
        assert left == {
            "other": sum(n for s, n in firings.items() if s and s not in services),
            "unplaced": firings[None],
        }


def test_health_sli_on_another_teams_probes_is_counted(small_demo: Path, tmp_path: Path) -> None:
    """An SLO of the view whose SLI counts another service's probes (checkout's SLO on the
    gateway it is reached through) counts them as a whole run does."""
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    (ws / "slos" / "reached-through.yaml").write_text(
        "slos:\n"
        "- service: checkout\n"
        "  name: gateway-probes\n"
        "  objective: 99.0\n"
        "  window: 28d\n"
        "  indicator:\n"
        "    health:\n"
        "      service: api-gateway\n"
    )
    assert owners(ws)["checkout"] != owners(ws)["api-gateway"]
    key = "checkout/gateway-probes"
    every = by_key(status_json(ws))[key]
    view = by_key(status_json(ws, "--team", owners(ws)["checkout"])["slos"])[key]
    assert every["valid"] and every["total"] > 0
    assert view == every


def test_alert_noise_of_a_team_without_incidents_is_that_of_a_whole_run(
    small_demo: Path, tmp_path: Path
) -> None:
    """Whether an alert's incident is real is asked of every incident: a team with none
    filed still has its alerts' links judged, not taken on trust."""
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    services = team_services(ws, "storefront")
    for path in sorted((ws / "incidents").glob("*.csv")):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            column = "service_name" if "service_name" in fields else "service"
            kept = [row for row in reader if row[column] not in services]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fields)
            writer.writeheader()
            writer.writerows(kept)
    workspace = open_workspace(ws)
    whole = alerting_section(open_scoped(workspace, DEMO_NOW)).data["noise"]["alerts"]
    view = alerting_section(open_scoped(workspace, DEMO_NOW, team="storefront"))
    alerts = view.data["noise"]["alerts"]
    assert alerts and {a["service"] for a in alerts} <= services
    assert alerts == [a for a in whole if a["service"] in services]


def probes_per_service(folder: Path) -> Counter[str]:
    """Return the probes per service in the demo's health files, counted from the rows."""
    counts: Counter[str] = Counter()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv":
            with path.open() as handle:
                counts.update(row["service"] for row in csv.DictReader(handle))
        elif path.suffix == ".jsonl":
            counts.update(json.loads(line)["service"]
                          for line in path.read_text().splitlines() if line.strip())
    return counts


def _slo(service: str, name: str, *components: str) -> Slo:
    indicator = (
        CompositeSource(tuple(CompositeComponent(key) for key in components)) if components
        else DuckDbSource(path="telemetry/*.parquet", good="ok", total="true")
    )
    return Slo(service, name, 0.99, SloWindow(days=30), indicator)


def test_outside_components_are_those_the_views_journeys_need() -> None:
    gateway, cart = _slo("gateway", "availability"), _slo("cart", "latency")
    pay = _slo("checkout", "availability")
    journey = _slo("checkout", "works", "gateway/availability", "checkout/availability",
                   "cart/latency", "search/missing")
    every = [gateway, cart, pay, journey, _slo("search", "latency")]
    assert outside_components([pay, journey], every) == [gateway, cart]
    assert outside_components([pay], every) == []
    assert outside_components(every, every) == []
