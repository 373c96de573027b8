"""A team's or one service's view of cost and capacity: the scope's lines, its targets, and
the spend it leaves out, said in the JSON and in one line of text.

The workspace is a hand-made FOCUS bill of two teams (payments: checkout and payments-api;
storefront: search and catalog) with lines tagged only with a team, lines naming a service
the workspace does not list, and untagged lines. Every expected figure is summed in the test
from the rows it wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.catalog import open_scoped, scope_of
from opsledger.core.inputs import Context
from opsledger.core.scope import Scope
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.cost import capacity_report, view
from opsledger.cost.scoping import spend_against_targets
from opsledger.cost.section import capacity_section, cost_section
from opsledger.cost.service import cost_result, cost_view, spend_vs_target
from opsledger.cost.spend import TargetStatus, TargetStatusRow
from opsledger.render.sections import Status

FIRST_DAY, LAST_DAY = date(2026, 9, 1), date(2026, 11, 30)
NOW = datetime(2026, 12, 1, tzinfo=UTC)  # November is complete
MID_NOVEMBER = datetime(2026, 11, 20, tzinfo=UTC)  # data through 2026-11-19
TEAM_OF = {"checkout": "payments", "payments-api": "payments", "search": "storefront",
           "catalog": "storefront", "auth": "identity"}
TARGETS = {"checkout": 1500.0, "payments-api": 700.0, "search": 1000.0}
HEADER = ("BillingPeriodStart,ChargePeriodStart,ChargeCategory,BilledCost,EffectiveCost,"
          "BillingCurrency,ServiceName,ResourceId,Tags")


@dataclass(frozen=True)
class Row:
    """One row of the bill as written (``copies`` identical CSV rows)."""

    day: date
    cost: float
    tags: dict[str, str] = field(default_factory=dict)
    category: str = "Usage"
    resource: str = "r"
    copies: int = 1


def daily(day: date, base: float) -> float:
    return round(base * (1 + 0.05 * ((day.toordinal() % 7) - 3) / 3), 4)


def bill() -> list[Row]:
    rows = []
    for offset in range((LAST_DAY - FIRST_DAY).days + 1):
        day = FIRST_DAY + timedelta(days=offset)
        for service, base in (("checkout", 48.0), ("payments-api", 25.0), ("search", 30.0),
                              ("catalog", 12.0)):
            rows.append(Row(day, daily(day, base), {"service": service,
                                                    "team": TEAM_OF[service]},
                            resource=f"vm-{service}"))
        rows += [
            Row(day, 6.5, {"team": "payments"}, resource="db-shared"),  # the team's, no service
            Row(day, 4.25, {"team": "storefront"}, resource="cdn"),
            Row(day, 1.5, {}, resource="nat", copies=2),  # untagged, two identical rows
            Row(day, 2.0, {"service": "legacy-batch", "team": "payments"}, resource="batch"),
            Row(day, 1.0, {"service": "mystery"}, resource="box"),  # unknown, no team
        ]
        if day.day == 1:
            rows.append(Row(day, 20.0, {}, category="Tax", resource=""))
    # A checkout line whose team tag disagrees: the service decides.
    rows.append(Row(date(2026, 11, 10), 50.0, {"service": "checkout", "team": "storefront"},
                    resource="vm-checkout-extra"))
    return rows


ROWS = bill()


def verdict(row: Row, team: str | None = None, service: str | None = None) -> str:
    """Place a row by hand: its service when the workspace lists it, else its team."""
    named = row.tags.get("service")
    known = named if named in TEAM_OF else None
    if service is not None:
        if known:
            return "in" if known == service else "other"
        return "unplaced"
    if known:
        return "in" if TEAM_OF[known] == team else "other"
    if row.tags.get("team"):
        return "in" if row.tags["team"] == team else "other"
    return "unplaced"


def total(kind: str, first: date, last: date, team: str | None = None,
          service: str | None = None) -> tuple[float, int]:
    """Return the cost and the CSV rows of the rows of ``kind`` charged in [first, last]."""
    rows = [r for r in ROWS if first <= r.day <= last and verdict(r, team, service) == kind]
    return sum(r.cost * r.copies for r in rows), sum(r.copies for r in rows)


def service_spend(name: str, first: date, last: date) -> float:
    return sum(r.cost * r.copies for r in ROWS
               if first <= r.day <= last and r.tags.get("service") == name)


NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


def write_bill(root: Path) -> None:
    lines = [HEADER]
    for row in ROWS:
        tags = '"' + json.dumps(row.tags).replace('"', '""') + '"'
        text = (f"{row.day.replace(day=1)}T00:00:00Z,{row.day}T00:00:00Z,{row.category},"
                f"{row.cost},{row.cost},USD,Compute,{row.resource},{tags}")
        lines += [text] * row.copies
    (root / "costs").mkdir(parents=True)
    (root / "costs" / "bill.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


UTILISATION = {("checkout", "cpu"): 0.45, ("search", "cpu"): 0.3, ("search", "memory"): 0.5,
               ("redis", "cpu"): 0.2}  # redis: a service the workspace does not list
UTIL_DAYS = 42


def write_utilisation(root: Path) -> None:
    folder = root / "telemetry" / "utilisation"
    folder.mkdir(parents=True)
    lines = ["time,service,resource,utilisation"]
    for offset in range(UTIL_DAYS):
        day = NOW.date() - timedelta(days=UTIL_DAYS - offset)
        for (service, resource), level in UTILISATION.items():
            value = level + 0.002 * offset + 0.02 * (day.weekday() < 5)
            lines.append(f"{day}T12:00:00Z,{service},{resource},{value:.4f}")
    (folder / "samples.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


REQUESTS_PER_DAY = {"checkout": 40, "search": 25}


def write_requests(root: Path) -> None:
    folder = root / "telemetry" / "requests"
    folder.mkdir(parents=True)
    events = [(service, datetime(2026, 11, day, 10, minute, tzinfo=UTC))
              for day in range(1, 31) for service, count in REQUESTS_PER_DAY.items()
              for minute in range(count)]
    pd.DataFrame(events, columns=["service", "ts"]).to_parquet(folder / "requests.parquet")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scoped-cost") / "ws"
    write_bill(root)
    write_utilisation(root)
    write_requests(root)
    config = {"services": [{"name": name, "owner": team} for name, team in TEAM_OF.items()],
              "cost_targets": {name: {"monthly": value} for name, value in TARGETS.items()}}
    (root / "opsledger.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def invoke(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(app, list(args))
    return outcome.exit_code, outcome.stdout + outcome.stderr


def document(workspace: Path, *options: str, now: datetime = NOW,
             command: str = "cost") -> dict[str, Any]:
    code, out = invoke(command, str(workspace), "--json", "--now", now.isoformat(), *options)
    assert code == 0, out
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def test_a_teams_view_holds_its_services_and_its_team_only_lines(workspace: Path) -> None:
    doc = document(workspace, "--team", "payments")
    spend, _ = total("in", NOV_1, NOV_30, team="payments")
    assert doc["month"] == "2026-11"
    assert doc["month_spend"]["spend"] == pytest.approx(spend, abs=0.01)
    assert doc["month_spend"]["complete"] is True
    # The lines tagged only with the team (and the unlisted service it owns) are in the view.
    team_only = sum(r.cost for r in ROWS if NOV_1 <= r.day <= NOV_30
                    and r.tags.get("team") == "payments" and r.tags.get("service")
                    not in TEAM_OF)
    assert team_only > 0
    assert doc["month_spend"]["spend"] == pytest.approx(
        service_spend("checkout", NOV_1, NOV_30) + service_spend("payments-api", NOV_1, NOV_30)
        + team_only, abs=0.01)
    assert set(doc["by_service"]) == {"checkout", "payments-api", "legacy-batch", "(unmapped)"}


def test_a_teams_view_says_what_spend_it_leaves_out(workspace: Path) -> None:
    doc = document(workspace, "--team", "payments")
    other, other_lines = total("other", NOV_1, NOV_30, team="payments")
    unplaced, unplaced_lines = total("unplaced", NOV_1, NOV_30, team="payments")
    scope = doc["scope"]
    assert (scope["team"], scope["service"], scope["services"]) == (
        "payments", None, ["checkout", "payments-api"])
    left = scope["left_out"]
    assert (left["month"], left["currency"], left["complete"]) == ("2026-11", "USD", True)
    assert left["other"] == {"spend": pytest.approx(other, abs=0.01), "lines": other_lines}
    assert left["unplaced"] == {"spend": pytest.approx(unplaced, abs=0.01),
                                "lines": unplaced_lines}
    # Nothing is lost: the view and what it leaves out make the whole month.
    whole = document(workspace)
    assert (doc["month_spend"]["spend"] + other + unplaced
            == pytest.approx(whole["month_spend"]["spend"], abs=0.02))
    code, out = invoke("cost", str(workspace), "--now", NOW.isoformat(), "--team", "payments")
    assert code == 0, out
    flat = " ".join(out.split())
    assert "view: team payments (checkout, payments-api)" in flat
    assert (f"Not in this view, of 2026-11 spend: {other:,.2f} USD on {other_lines:,} lines "
            f"of other teams; {unplaced:,.2f} USD on {unplaced_lines:,} lines whose tags name "
            "no known service or team") in flat


def test_a_teams_view_has_the_targets_of_its_services_only(workspace: Path) -> None:
    doc = document(workspace, "--team", "payments")
    assert set(doc["targets"]) == {"checkout", "payments-api"}
    for name in ("checkout", "payments-api"):
        row = doc["targets"][name]
        assert row["target"] == TARGETS[name]
        assert row["actual"] == pytest.approx(service_spend(name, NOV_1, NOV_30), abs=0.01)
    assert doc["targets"]["payments-api"]["status"] == "over"  # about 750 against 700
    against = doc["spend_vs_target"]
    assert against["target"] == TARGETS["checkout"] + TARGETS["payments-api"]
    assert against["targeted"] == ["checkout", "payments-api"]
    targeted = service_spend("checkout", NOV_1, NOV_30) + service_spend("payments-api", NOV_1,
                                                                         NOV_30)
    assert against["targeted_spend"] == pytest.approx(targeted, abs=0.01)
    # A complete month's forecast is its spend.
    assert against["targeted_forecast"] == pytest.approx(targeted, abs=0.01)
    assert against["spend"] == pytest.approx(doc["month_spend"]["spend"], abs=0.01)
    assert against["forecast"] == pytest.approx(doc["month_spend"]["spend"], abs=0.01)
    assert (against["status"], against["over"]) == ("over", ["payments-api"])
    assert against["share"] == pytest.approx(targeted / against["target"], abs=1e-4)


def test_a_teams_view_without_targets_says_so(workspace: Path) -> None:
    doc = document(workspace, "--team", "identity")  # auth: listed, no line, no target
    assert doc["targets"] == {}
    assert doc["month_spend"]["spend"] == 0
    assert doc["spend_vs_target"]["status"] == "no-target"
    assert doc["spend_vs_target"]["target"] is None
    whole = document(workspace)
    left = doc["scope"]["left_out"]
    assert (left["other"]["spend"] + left["unplaced"]["spend"]
            == pytest.approx(whole["month_spend"]["spend"], abs=0.02))


def test_a_services_view_leaves_its_teams_untagged_lines_unplaced(workspace: Path) -> None:
    doc = document(workspace, "--service", "checkout")
    assert doc["scope"]["services"] == ["checkout"] and doc["scope"]["team"] == "payments"
    assert doc["month_spend"]["spend"] == pytest.approx(
        service_spend("checkout", NOV_1, NOV_30), abs=0.01)
    assert set(doc["targets"]) == {"checkout"}
    other, other_lines = total("other", NOV_1, NOV_30, service="checkout")
    unplaced, unplaced_lines = total("unplaced", NOV_1, NOV_30, service="checkout")
    # The payments team's own lines cannot be given to one of its services.
    team_only = [r for r in ROWS if NOV_1 <= r.day <= NOV_30 and r.tags == {"team": "payments"}]
    assert unplaced_lines > len(team_only) > 0
    left = doc["scope"]["left_out"]
    assert left["other"] == {"spend": pytest.approx(other, abs=0.01), "lines": other_lines}
    assert left["unplaced"] == {"spend": pytest.approx(unplaced, abs=0.01),
                                "lines": unplaced_lines}
    code, out = invoke("cost", str(workspace), "--now", NOW.isoformat(), "--service",
                       "checkout")
    assert code == 0, out
    assert (f"{unplaced:,.2f} USD on {unplaced_lines:,} lines whose tags name no known "
            "service") in " ".join(out.split())
    assert "of other services" in out


def test_a_partial_month_leaves_out_spend_up_to_the_last_day_counted(workspace: Path) -> None:
    doc = document(workspace, "--team", "storefront", now=MID_NOVEMBER)
    through = date(2026, 11, 19)
    assert doc["month_spend"]["days"] == 19
    spend, _ = total("in", NOV_1, through, team="storefront")
    other, other_lines = total("other", NOV_1, through, team="storefront")
    assert doc["month_spend"]["spend"] == pytest.approx(spend, abs=0.01)
    left = doc["scope"]["left_out"]
    assert left["complete"] is False
    assert left["other"] == {"spend": pytest.approx(other, abs=0.01), "lines": other_lines}
    # The month-end forecast is the view's: it starts from the view's month to date.
    forecast = doc["month_spend"]["forecast"]
    assert forecast["status"] == "forecast"
    assert forecast["actual"] == pytest.approx(spend, abs=0.01)
    code, out = invoke("cost", str(workspace), "--now", MID_NOVEMBER.isoformat(), "--team",
                       "storefront")
    assert code == 0, out
    assert "Not in this view, of 2026-11 spend to date:" in " ".join(out.split())


def test_request_counts_and_unit_cost_are_the_views_services_only(workspace: Path) -> None:
    doc = document(workspace, "--team", "payments")
    assert list(doc["unit_costs"]) == ["checkout"]
    unit = doc["unit_costs"]["checkout"]
    assert unit["requests"] == 30 * REQUESTS_PER_DAY["checkout"]
    usage = sum(r.cost * r.copies for r in ROWS if NOV_1 <= r.day <= NOV_30
                and r.tags.get("service") == "checkout" and r.category == "Usage")
    assert unit["cost"] == pytest.approx(usage, abs=0.01)
    whole = document(workspace)
    assert set(whole["unit_costs"]) == {"checkout", "search"}
    identity = document(workspace, "--team", "identity")
    assert identity["unit_costs"] == {}
    assert identity["unit_costs_note"] == "no request telemetry for the services of team identity"


def test_capacity_is_forecast_for_the_views_services_only(workspace: Path) -> None:
    doc = document(workspace, "--team", "payments", command="capacity")
    series = {(r["service"], r["resource"]) for r in doc["runways"]}
    series |= {(s["service"], s["resource"]) for s in doc["skipped"]}
    assert series == {("checkout", "cpu")}
    other = [key for key in UTILISATION if key[0] in TEAM_OF and TEAM_OF[key[0]] != "payments"]
    unlisted = [key for key in UTILISATION if key[0] not in TEAM_OF]
    assert doc["scope"]["left_out"] == {
        "other": {"series": len(other), "samples": len(other) * UTIL_DAYS},
        "unplaced": {"series": len(unlisted), "samples": len(unlisted) * UTIL_DAYS}}
    whole = document(workspace, command="capacity")
    assert "scope" not in whole
    assert len(whole["runways"]) + len(whole["skipped"]) == len(UTILISATION)
    code, out = invoke("capacity", str(workspace), "--now", NOW.isoformat(), "--team",
                       "payments")
    assert code == 0, out
    assert (f"Not in this view: {len(other)} utilisation series of other teams; "
            f"{len(unlisted)} of services the workspace does not list") in " ".join(out.split())


def test_an_unknown_team_or_service_is_refused_with_the_closest_name(workspace: Path) -> None:
    for command in ("cost", "capacity"):
        code, out = invoke(command, str(workspace), "--now", NOW.isoformat(), "--team",
                           "paymnts")
        assert code == 2, out
        assert "unknown team 'paymnts'; did you mean 'payments'?" in out
        assert "Traceback" not in out
    code, out = invoke("cost", str(workspace), "--now", NOW.isoformat(), "--service",
                       "chekout", "--json")
    assert code == 2 and "did you mean 'checkout'?" in out


def test_the_views_of_a_run_read_the_exports_once(workspace: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"costs": 0, "utilisation": 0}
    read_costs, read_utilisation = view.costs.read, capacity_report.utilisation.read

    def counting_costs(*args: Any, **kwargs: Any) -> Any:
        calls["costs"] += 1
        return read_costs(*args, **kwargs)

    def counting_utilisation(*args: Any, **kwargs: Any) -> Any:
        calls["utilisation"] += 1
        return read_utilisation(*args, **kwargs)

    monkeypatch.setattr(view.costs, "read", counting_costs)
    monkeypatch.setattr(capacity_report.utilisation, "read", counting_utilisation)
    ctx = Context.open(open_workspace(workspace), NOW)
    whole = cost_view(ctx)
    views = [cost_view(ctx.scoped(scope_of(ctx, team=team)))
             for team in ("payments", "storefront", "identity")]
    assert calls == {"costs": 1, "utilisation": 1}
    assert cost_result(ctx.scoped(scope_of(ctx, team="payments"))) is cost_result(ctx)
    # Every line of the month is in exactly one team's view or unplaced.
    assert whole.reviewed is not None and views[0].left_out is not None
    shown = sum(v.reviewed.spend for v in views if v.reviewed is not None)
    assert shown + views[0].left_out.unplaced == pytest.approx(whole.reviewed.spend)


def test_the_reports_cost_section_of_a_team(workspace: Path) -> None:
    ctx = open_scoped(open_workspace(workspace), NOW, team="payments")
    section = cost_section(ctx)
    other, other_lines = total("other", NOV_1, NOV_30, team="payments")
    assert section.status is Status.FAIL  # payments-api is over its target
    assert section.data["scope"]["team"] == "payments"
    assert f"{other:,.2f} USD on {other_lines:,} lines of other teams" in section.body
    assert "**Spend against target:** 2026-11 spend" in section.body
    assert [a["action"] for a in section.actions if "under" in a["action"]] == [
        "Bring payments-api spend back under 700 USD"]
    # The run's inputs count the bill's lines it left out, over every month.
    every_month = (FIRST_DAY, LAST_DAY)
    assert ctx.inputs.left_out[InputKey.COSTS].other == total("other", *every_month,
                                                              team="payments")[1]
    assert ctx.inputs.left_out[InputKey.COSTS].unplaced == total("unplaced", *every_month,
                                                                 team="payments")[1]
    capacity = capacity_section(ctx)
    assert capacity.data["scope"]["left_out"]["other"]["series"] == 2
    assert "_Not in this view: 2 utilisation series of other teams" in capacity.body


def test_the_whole_view_is_unchanged(workspace: Path) -> None:
    doc = document(workspace)
    assert "scope" not in doc and "spend_vs_target" not in doc
    assert set(doc["targets"]) == set(TARGETS)
    ctx = Context.open(open_workspace(workspace), NOW)
    assert cost_view(ctx).left_out is None
    assert InputKey.COSTS not in ctx.inputs.left_out
    code, out = invoke("cost", str(workspace), "--now", NOW.isoformat())
    assert code == 0 and "Not in this view" not in out and "view:" not in out


def row(service: str, target: float, actual: float, forecast: float | None,
        status: TargetStatus, currency: str = "USD") -> TargetStatusRow:
    return TargetStatusRow(service, target, currency, actual, forecast, None, None, status, "")


def test_spend_against_targets_sums_like_with_like() -> None:
    rows = [row("a", 100.0, 40.0, 95.0, "at-risk"), row("b", 50.0, 20.0, 30.0, "under"),
            row("c", 70.0, 10.0, 20.0, "under", currency="EUR")]
    against = spend_against_targets("2026-11", "USD", "month-to-date (10 of 30 days)", 90.0,
                                    180.0, rows)
    assert (against.target, against.targeted, against.not_summed) == (150.0, ("a", "b"), ("c",))
    assert (against.targeted_spend, against.targeted_forecast) == (60.0, 125.0)
    assert against.status == "at-risk" and against.at_risk == ("a",)
    assert against.share == pytest.approx(125.0 / 150.0)
    assert against.line() == (
        "2026-11 spend 90.00 USD, month-to-date (10 of 30 days), forecast 180.00 for the whole "
        "month; its 2 service(s) with a target: forecast 125.00 against 150.00 USD together; "
        "at risk: a; targets in another currency, not summed: c")
    missing = spend_against_targets("2026-11", "USD", "complete month", 90.0, 90.0,
                                    [row("a", 100.0, 40.0, None, "no-forecast")])
    assert missing.status == "no-forecast" and missing.targeted_forecast is None


def test_spend_vs_target_of_the_whole_workspace(workspace: Path) -> None:
    against = spend_vs_target(cost_view(Context.open(open_workspace(workspace), NOW)))
    assert against is not None
    assert against.target == sum(TARGETS.values())
    assert against.targeted_spend == pytest.approx(
        sum(service_spend(name, NOV_1, NOV_30) for name in TARGETS))


def test_the_demo_workspace_has_a_view_per_team(small_demo: Path) -> None:
    from tests.conftest import DEMO_NOW

    now = ("--now", DEMO_NOW.isoformat())
    whole = json.loads(invoke("cost", str(small_demo), "--json", *now)[1])
    ctx = Context.open(open_workspace(small_demo), DEMO_NOW)
    teams = ("fulfilment", "identity", "payments", "platform", "storefront")
    spends, unplaced = [], set()
    for team in teams:
        code, out = invoke("cost", str(small_demo), "--json", "--team", team, *now)
        assert code == 0, out
        doc = json.loads(out)
        scope: Scope = scope_of(ctx, team=team)
        assert set(doc["targets"]) <= set(scope.services or ())
        spends.append(doc["month_spend"]["spend"])
        left = doc["scope"]["left_out"]
        assert (doc["month_spend"]["spend"] + left["other"]["spend"]
                + left["unplaced"]["spend"]) == pytest.approx(whole["month_spend"]["spend"],
                                                              abs=0.05)
        unplaced.add(left["unplaced"]["spend"])
    # The demo's lines each belong to one team or to none: the views partition the month.
    (untagged,) = unplaced
    assert sum(spends) + untagged == pytest.approx(whole["month_spend"]["spend"], abs=0.05)
    code, out = invoke("capacity", str(small_demo), "--team", "payments", *now)
    assert code == 0, out
    code, out = invoke("cost", str(small_demo), "--team", "payments", *now)
    assert code == 0 and "Not in this view" in out
