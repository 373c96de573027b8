"""``forecast tickets --team/--service``: a team's tickets only, counted by hand from the CSV.

The ticket history is read here with the csv module and placed by the owners in
``opsledger.yaml``; the team's plan must forecast exactly those tickets, say how many it left
out, and be written beside the workspace's plan without touching it.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from opsledger.cli.forecast import app
from opsledger.core.catalog import open_scoped
from opsledger.core.fileio import dumps_json
from opsledger.core.workspace import open_workspace
from opsledger.model.status import Status
from opsledger.support.section import support_section
from opsledger.support.service import workspace_coverage_plan
from tests.conftest import DEMO_NOW
from tests.support.plan_checks import check_plan

runner = CliRunner()
WHOLE_PLAN = "support-coverage-plan.json"


@pytest.fixture(scope="module")
def team_ws(small_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("support-team") / "ws"
    shutil.copytree(small_demo, root)
    evidence = open_workspace(root).p18_evidence
    evidence.mkdir(parents=True, exist_ok=True)
    (evidence / WHOLE_PLAN).write_text("the whole workspace's plan\n")
    return root


def forecast(root: Path, *extra: str) -> dict[str, Any]:
    result = runner.invoke(app, ["tickets", str(root), "--now", DEMO_NOW.isoformat(), "--json",
                                 *extra])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def payments_plan(team_ws: Path) -> dict[str, Any]:
    return forecast(team_ws, "--team", "payments")


def config(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((root / "opsledger.yaml").read_text())
    return loaded


def team_services(root: Path, team: str) -> set[str]:
    return {s["name"] for s in config(root)["services"] if s["owner"] == team}


def history_rows(root: Path) -> list[dict[str, str]]:
    with (root / "handover" / "ticket-history.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def local_day(row: dict[str, str], zone: ZoneInfo) -> date:
    created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    return created.astimezone(zone).date()


def test_team_plan_forecasts_the_teams_tickets_queue_by_queue(
        team_ws: Path, payments_plan: dict[str, Any]) -> None:
    services = team_services(team_ws, "payments")
    rows = history_rows(team_ws)
    mine = [r for r in rows if r["service"] in services]
    zone = ZoneInfo(config(team_ws)["policies"]["support"]["timezone"])
    # History ends on the last complete local day, or the last ticket's day if earlier.
    yesterday = DEMO_NOW.astimezone(zone).date() - timedelta(days=1)
    history_end = min(yesterday, max(local_day(r, zone) for r in mine))
    per_queue = Counter(r["queue"] for r in mine if local_day(r, zone) <= history_end)

    plan = payments_plan["plan"]
    assert plan["history_end"] == history_end.isoformat()
    assert plan["tickets"]["read"] == len(mine)
    assert {q["queue"]: q["history"]["tickets"] for q in plan["queues"]} == dict(per_queue)
    assert set(per_queue) == {"billing", "bugs", "incidents"}
    check_plan(plan)

    unplaced = sum(1 for r in rows if not r["service"])
    other = len(rows) - len(mine) - unplaced
    expected = {"team": "payments", "service": None, "services": sorted(services),
                "left_out": {"tickets": {"other": other, "unplaced": unplaced}}}
    assert plan["scope"] == payments_plan["scope"] == expected
    assert unplaced == 425 and other == 546


def test_team_plan_is_written_beside_the_workspaces_plan(
        team_ws: Path, payments_plan: dict[str, Any]) -> None:
    evidence = open_workspace(team_ws).p18_evidence
    written = Path(payments_plan["output"])
    assert written == evidence / "support-coverage-plan.team-payments.json"
    assert json.loads(written.read_text()) == payments_plan["plan"]
    assert (evidence / WHOLE_PLAN).read_text() == "the whole workspace's plan\n"


def test_the_review_section_of_a_team_shows_the_same_plan_and_what_it_left_out(
        team_ws: Path, payments_plan: dict[str, Any]) -> None:
    ctx = open_scoped(open_workspace(team_ws), DEMO_NOW, team="payments")
    section = support_section(ctx)
    left = payments_plan["scope"]["left_out"]["tickets"]
    assert (f"Not in the plan of team payments: {left['unplaced']} ticket(s) naming no service "
            f"and {left['other']} of other services.") in section.body
    assert section.data["scope"] == payments_plan["scope"]
    # The section's plan is the command's, figure for figure.
    plan = workspace_coverage_plan(ctx)
    assert plan is not None
    assert json.loads(dumps_json(plan.to_json())) == payments_plan["plan"]
    # Each queue's expected tickets: the sum of the daily means shown (rounded to 0.001 each).
    for queue in payments_plan["plan"]["queues"]:
        shown = next(q for q in section.data["queues"] if q["queue"] == queue["queue"])
        assert shown["forecast_tickets"] == pytest.approx(
            sum(p["mean"] for p in queue["daily"]), abs=0.0005 * len(queue["daily"]))


def test_human_output_names_the_team_and_what_was_left_out(team_ws: Path) -> None:
    result = runner.invoke(app, ["tickets", str(team_ws), "--now", DEMO_NOW.isoformat(),
                                 "--team", "payments", "--horizon", "14"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "Support coverage of team payments, next 14 days" in text
    assert "Not in the plan of team payments: 425 ticket(s) naming no service and 546 of " \
           "other services." in text
    assert "support-coverage-plan.team-payments.json" in text.replace(" ", "")


def test_a_service_without_tickets_gets_a_plan_that_says_so(team_ws: Path) -> None:
    rows = history_rows(team_ws)
    assert not any(r["service"] == "orders" for r in rows)
    data = forecast(team_ws, "--service", "orders")
    assert Path(data["output"]).name == "support-coverage-plan.service-orders.json"
    plan = data["plan"]
    assert plan["queues"] == [] and plan["tickets"]["read"] == 0
    assert plan["rotation_skipped"] == "the ticket history holds no tickets of service orders"
    unplaced = sum(1 for r in rows if not r["service"])
    assert plan["scope"]["left_out"]["tickets"] == {"other": len(rows) - unplaced,
                                                     "unplaced": unplaced}
    section = support_section(open_scoped(open_workspace(team_ws), DEMO_NOW, service="orders"))
    assert section.status is Status.SKIPPED
    assert section.data["reason"] == (
        f"no ticket of service orders in the ticket history ({unplaced} naming no service "
        f"and {len(rows) - unplaced} of other services left out)")


@pytest.mark.parametrize(("option", "name", "guess"),
                         [("--team", "payment", "payments"), ("--service", "chekout", "checkout")])
def test_an_unknown_team_or_service_is_an_input_error_with_a_guess(
        team_ws: Path, option: str, name: str, guess: str) -> None:
    result = runner.invoke(app, ["tickets", str(team_ws), "--now", DEMO_NOW.isoformat(),
                                 option, name])
    assert result.exit_code == 2
    assert f"did you mean '{guess}'" in result.stderr
    assert "Traceback" not in result.output
