"""The library's front door: every name it lists works, none is hidden by a package, and
``import opsledger`` loads nothing else."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import yaml

import opsledger
from opsledger.review.history import history_path, last_complete_month, read_rows
from tests.conftest import DEMO_NOW, cli

FUNCTIONS = [name for name in opsledger.__all__ if inspect.isfunction(getattr(opsledger, name))]


def test_every_listed_name_resolves() -> None:
    assert opsledger.__all__ == sorted(opsledger.__all__)
    for name in opsledger.__all__:
        assert getattr(opsledger, name) is not None, name
    assert "monthly_review" in FUNCTIONS and "open_workspace" in FUNCTIONS


def test_no_function_shares_a_name_with_a_package() -> None:
    """``import opsledger.review.service`` binds ``opsledger.review`` to the package, so a
    front-door function of that name would be replaced by a module after any import."""
    packages = {info.name for info in pkgutil.iter_modules(opsledger.__path__)}
    assert not set(opsledger.__all__) & packages
    for name in packages:
        importlib.import_module(f"opsledger.{name}")
    for name in FUNCTIONS:
        assert inspect.isfunction(getattr(opsledger, name)), name


def test_import_loads_no_capability_and_no_heavy_library() -> None:
    code = "import json, sys, opsledger; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    ours = {m for m in loaded if m.startswith("opsledger")}
    assert ours == {"opsledger", "opsledger.version"}
    heavy = {"pandas", "numpy", "scipy", "statsforecast", "duckdb", "pydantic", "typer"}
    assert not heavy & {m.split(".")[0] for m in loaded}


def test_functions_return_what_the_commands_print(ws: Path) -> None:
    code, out = cli("slo", "status", str(ws), "--now", DEMO_NOW.isoformat(), "--json")
    assert code in (0, 1), out
    printed = json.loads(out)
    status = opsledger.slo_status(ws, DEMO_NOW)
    assert [e.status.slo.name for e in status.evaluations] == [row["slo"] for row in printed]
    assert status.to_json() == printed

    plan = opsledger.coverage_plan(ws, DEMO_NOW)
    assert plan is not None and plan.forecast_queues
    assert opsledger.patch_plan(ws, DEMO_NOW).result.records
    assert opsledger.cost_view(ws, DEMO_NOW).month
    assert opsledger.incident_review(ws, DEMO_NOW).period
    assert {g.id for g in opsledger.gates("p18", ws, DEMO_NOW)}

    history = history_path(opsledger.open_workspace(ws))
    recorded = {r.month for r in read_rows(history)} if history.exists() else set()
    result = opsledger.monthly_review(ws, DEMO_NOW)
    assert result.report.is_file() and result.dashboard.is_file()
    assert json.loads(result.summary.read_text())["sections"]
    # A pinned clock records nothing unless asked, as the command does.
    assert ({r.month for r in read_rows(history)} if history.exists() else set()) == recorded
    opsledger.monthly_review(ws, DEMO_NOW, record_history=True)
    assert last_complete_month(DEMO_NOW) in {r.month for r in read_rows(history)}


def test_assigning_a_variant_loads_no_statistics() -> None:
    """``opsledger experiment assign`` runs per request in some pipelines: it stays light."""
    code = ("import json, sys; from opsledger.experiments.service import assign; "
            "print(json.dumps(sorted(sys.modules)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(run.stdout)}
    assert not loaded & {"scipy", "statsmodels", "pyarrow", "duckdb", "pandas", "statsforecast"}


def test_functions_give_a_teams_view_as_the_commands_do(ws: Path) -> None:
    code, out = cli("slo", "status", str(ws), "--now", DEMO_NOW.isoformat(), "--json",
                    "--team", "payments")
    assert code in (0, 1), out
    printed = json.loads(out)
    status = opsledger.slo_status(ws, DEMO_NOW, team="payments")
    assert [e.status.slo.name for e in status.evaluations] == [r["slo"] for r in printed["slos"]]
    # the team's services, by the owners written in opsledger.yaml
    config = yaml.safe_load((ws / "opsledger.yaml").read_text(encoding="utf-8"))
    owned = {s["name"] for s in config["services"] if s.get("owner") == "payments"}
    assert owned and {e.status.slo.service for e in status.evaluations} <= owned
    whole = opsledger.slo_status(ws, DEMO_NOW)
    assert len(status.evaluations) < len(whole.evaluations)

    incidents = opsledger.incident_review(ws, DEMO_NOW, service="checkout")
    assert incidents.records.incidents
    assert all(i.service == "checkout" for i in incidents.records.incidents)
    assert incidents.records.other
    assert opsledger.cost_view(ws, DEMO_NOW, team="payments").month
    assert opsledger.patch_plan(ws, DEMO_NOW, team="payments") is not None
