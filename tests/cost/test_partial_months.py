"""Partial months are shown as month-to-date beside the whole month's forecast; lists cut
short say so; a month without cost data is a clear error.

The workspace is a hand-made FOCUS bill: 20 services with a cost target each, daily Usage
from 2026-04-01 through 2026-12-03, and one cost jump on 12 services on 2026-11-25. Every
expected figure below is summed from those rows in the test itself.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.cost.capacity import CapacitySettings, Runway, SkippedRunway
from opsledger.cost.capacity_report import CapacityView, capacity_charts, capacity_markdown
from opsledger.cost.section import cost_section, cost_view
from opsledger.readers.utilisation import UtilisationReadResult
from opsledger.render.sections import Status
from opsledger.review.kpi_results import workspace_kpis
from opsledger.review.kpis import Kpi

FIRST_DAY, LAST_DAY = date(2026, 4, 1), date(2026, 12, 3)
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # three days into December
SERVICES = [f"svc-{i:02d}" for i in range(20)]
JUMP_DAY, JUMPED = date(2026, 11, 25), SERVICES[:12]
HEADER = ("BillingPeriodStart,ChargePeriodStart,ChargeCategory,BilledCost,EffectiveCost,"
          "BillingCurrency,ServiceName,ResourceId,Tags")
WHERE = "review.json / `opsledger cost --json`"


def daily_cost(index: int, day: date) -> float:
    weekend = 0.7 if day.weekday() >= 5 else 1.0
    cost = (20 + 2 * index) * weekend * (1 + 0.01 * math.sin(day.toordinal()))
    if day == JUMP_DAY and SERVICES[index] in JUMPED:
        cost += 60.0
    return round(cost, 4)


def bill_rows() -> list[tuple[date, str, float]]:
    days = (LAST_DAY - FIRST_DAY).days + 1
    return [(FIRST_DAY + timedelta(days=d), service, daily_cost(i, FIRST_DAY + timedelta(days=d)))
            for d in range(days) for i, service in enumerate(SERVICES)]


ROWS = bill_rows()


def spend(first: date, last: date, service: str | None = None) -> float:
    """EffectiveCost of the bill's rows charged in [first, last] (of one service or all)."""
    return sum(cost for day, name, cost in ROWS
               if first <= day <= last and (service is None or name == service))


def month_total(year: int, month: int, through: date | None = None) -> float:
    first = date(year, month, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return spend(first, min(last, through) if through else last)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partial") / "ws"
    (root / "costs").mkdir(parents=True)
    lines = [HEADER]
    for day, service, cost in ROWS:
        tags = '"' + json.dumps({"service": service}).replace('"', '""') + '"'
        lines.append(f"{day.replace(day=1)}T00:00:00Z,{day}T00:00:00Z,Usage,{cost},{cost},USD,"
                     f"Compute,vm-{service},{tags}")
    (root / "costs" / "bill.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    targets = {s: {"monthly": round(month_total(2026, 11, None) / len(SERVICES) * 3, 0)}
               for s in SERVICES}
    (root / "opsledger.yaml").write_text(yaml.safe_dump({"cost_targets": targets}),
                                         encoding="utf-8")
    return root


def invoke(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(app, list(args))
    return outcome.exit_code, outcome.output


@pytest.fixture(scope="module")
def document(workspace: Path) -> dict[str, Any]:
    code, out = invoke("cost", str(workspace), "--json", "--now", NOW.isoformat())
    assert code == 0, out
    parsed: dict[str, Any] = json.loads(out)
    return parsed


@pytest.fixture(scope="module")
def ctx(workspace: Path) -> Context:
    return Context.open(open_workspace(workspace), NOW)


def test_every_month_says_whether_it_is_complete_or_month_to_date(
        document: dict[str, Any]) -> None:
    months = {m["month"]: m for m in document["months"]}
    assert list(months) == [f"2026-{m:02d}" for m in range(4, 13)]
    for number in range(4, 12):
        item = months[f"2026-{number:02d}"]
        assert item["complete"] and item["coverage"] == "complete month"
        assert item["spend"] == pytest.approx(month_total(2026, number), abs=0.01)
        assert item["forecast"] is None
    december = months["2026-12"]
    assert (december["complete"], december["days"], december["days_in_month"]) == (False, 3, 31)
    assert december["coverage"] == "month-to-date (3 of 31 days)"
    assert december["spend"] == pytest.approx(spend(date(2026, 12, 1), LAST_DAY), abs=0.01)
    # The forecast is beside the actual spend, labelled as one, never in its place.
    forecast = december["forecast"]
    assert forecast["status"] == "forecast" and forecast["days_left"] == 28
    assert forecast["actual"] == pytest.approx(december["spend"], abs=0.01)
    assert forecast["point"] > 5 * december["spend"]
    assert document["month_spend"] == december


def test_the_partial_months_forecast_is_holt_winters_on_the_daily_totals(
        document: dict[str, Any]) -> None:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    december = {m["month"]: m for m in document["months"]}["2026-12"]
    days = pd.date_range(LAST_DAY - timedelta(days=55), LAST_DAY, freq="D")
    totals = [spend(d.date(), d.date()) for d in days]
    future = StatsForecast(models=[AutoETS(season_length=7, model="AAA")], freq="D").forecast(
        df=pd.DataFrame({"unique_id": "total", "ds": days, "y": totals}), h=28, level=[95])
    mtd = spend(date(2026, 12, 1), LAST_DAY)
    forecast = december["forecast"]
    for key, column in (("point", "AutoETS"), ("low", "AutoETS-lo-95"),
                        ("high", "AutoETS-hi-95")):
        assert forecast[key] == pytest.approx(mtd + future[column].clip(lower=0).sum(),
                                              abs=0.01)


def test_the_monthly_chart_stacks_the_forecast_on_the_month_to_date(ctx: Context) -> None:
    section = cost_section(ctx)
    chart = next(c for c in section.charts if c.key == "cost-forecast")
    assert chart.kind == "bar" and chart.data["stacked"] is True
    assert chart.data["categories"] == [f"2026-{m:02d}" for m in range(6, 13)]
    actual, rest = chart.data["series"]
    expected = [month_total(2026, m) for m in range(6, 12)] + [
        spend(date(2026, 12, 1), LAST_DAY)]
    assert actual["values"] == pytest.approx(expected)
    assert "style" not in actual and rest["style"] == "forecast"
    assert rest["values"][:-1] == [None] * 6
    partial = chart.data["partial"]
    forecast = section.data["month_spend"]["forecast"]
    assert partial["x"] == "2026-12" and (partial["days"], partial["days_in_month"]) == (3, 31)
    assert partial["label"] == "month-to-date (3 of 31 days) + forecast"
    assert partial["actual"] == pytest.approx(expected[-1])
    assert expected[-1] + rest["values"][-1] == pytest.approx(forecast["point"], abs=0.01)
    assert (partial["forecast_low"], partial["forecast_high"]) == pytest.approx(
        (forecast["low"], forecast["high"]), abs=0.01)
    assert chart.data["notes"] == {"2026-12": "3 of 31 days + forecast"}
    assert "month-to-date" in chart.title


def test_the_report_labels_the_partial_month_and_keeps_its_actual_spend(ctx: Context) -> None:
    section = cost_section(ctx)
    mtd = spend(date(2026, 12, 1), LAST_DAY)
    row = next(line for line in section.body.splitlines() if line.startswith("| 2026-12 |"))
    assert f"| month-to-date (3 of 31 days) | {mtd:,.2f} |" in row
    assert "95 %" in row  # the forecast column, with its interval
    assert f"**Spend 2026-12, month-to-date (3 of 31 days):** {mtd:,.0f} USD." in section.body
    assert "**Forecast for the whole month 2026-12:**" in section.body
    assert "| Service | Target | Month-to-date (3 of 31 days) | Forecast, whole month |" in (
        section.body)
    assert section.data["headline"].startswith(
        f"2026-12 spend {mtd:,.0f} USD month-to-date (3 of 31 days), forecast ")


def test_the_spend_kpi_is_the_actual_month_to_date_labelled_so(ctx: Context) -> None:
    kpi = workspace_kpis(ctx).results["cost_month"]
    mtd = spend(date(2026, 12, 1), LAST_DAY)
    assert isinstance(kpi, Kpi)
    assert kpi.value == pytest.approx(mtd)
    forecast = cost_view(ctx).reviewed
    assert forecast is not None and forecast.forecast_point is not None
    assert kpi.label == (f"Spend 2026-12, month-to-date (3 of 31 days); forecast "
                         f"{forecast.forecast_point:,.0f} USD for the whole month")


def test_a_complete_month_is_all_actual(workspace: Path) -> None:
    # As ``review --month 2026-11`` sees it: the clock at the first instant of December.
    ctx = Context.open(open_workspace(workspace), datetime(2026, 12, 1, tzinfo=UTC))
    november = month_total(2026, 11)
    kpi = workspace_kpis(ctx).results["cost_month"]
    assert isinstance(kpi, Kpi)
    assert (kpi.label, kpi.value) == ("Spend 2026-11", pytest.approx(november))
    section = cost_section(ctx)
    assert f"**Spend 2026-11 (complete month):** {november:,.0f} USD." in section.body
    assert "| Service | Target | Spend (complete month) | Status |" in section.body
    targets = next(c for c in section.charts if c.key == "cost-targets")
    assert [s["name"] for s in targets.data["series"]] == ["spend (complete month)", "target"]
    monthly = next(c for c in section.charts if c.key == "cost-forecast")
    assert monthly.data["partial"] is None and len(monthly.data["series"]) == 1
    assert monthly.data["series"][0]["values"][-1] == pytest.approx(november)


def test_lines_after_the_clock_are_not_counted_in_the_month_to_date(workspace: Path) -> None:
    code, out = invoke("cost", str(workspace), "--json", "--now", "2026-11-17T00:00:00Z")
    assert code == 0, out
    document = json.loads(out)
    november = document["months"][-1]
    assert (november["month"], november["days"], november["days_in_month"]) == (
        "2026-11", 16, 30)
    assert november["spend"] == pytest.approx(
        spend(date(2026, 11, 1), date(2026, 11, 16)), abs=0.01)


def test_truncated_tables_and_charts_say_so_and_the_data_has_every_row(ctx: Context) -> None:
    section = cost_section(ctx)
    targets = next(c for c in section.charts if c.key == "cost-targets")
    assert len(targets.data["categories"]) == 15
    assert targets.title == "Spend against target, 2026-12: 15 of 20 services"
    assert targets.data["truncated"]["note"] == f"showing 15 of 20 services; all 20 in {WHERE}"
    assert "Showing 15 of 20 services" in targets.data["description"]
    assert sorted(section.data["targets"]) == SERVICES
    # Spend by month: the last six of nine months.
    assert f"_Showing 6 of 9 months; all 9 in {WHERE}._" in section.body
    assert len(section.data["months"]) == 9
    # Anomalies: ten of twelve listed.
    assert f"_Showing 10 of 12 anomalous days; all 12 in {WHERE} (largest excess first)._" in (
        section.body)
    assert sorted(a["service"] for a in section.data["anomalies"]) == sorted(JUMPED)


def test_a_table_that_shows_everything_has_no_note(workspace: Path) -> None:
    ctx = Context.open(open_workspace(workspace), datetime(2026, 9, 20, tzinfo=UTC))
    section = cost_section(ctx)
    assert "Showing" not in section.body  # April to September: six months, no anomaly
    monthly = next(c for c in section.charts if c.key == "cost-forecast")
    assert monthly.data["truncated"] is None


@pytest.mark.parametrize("month", ["2025-01", "2026-03", "2027-03"])
def test_a_month_without_cost_data_is_a_clear_error(workspace: Path, month: str) -> None:
    for extra in ((), ("--json",)):
        code, out = invoke("cost", str(workspace), "--now", NOW.isoformat(), "--month", month,
                           *extra)
        assert code == 2, out
        assert (f"no cost data for {month}: the cost data covers 2026-04-01 to 2026-12-03 "
                "(2026-04 to 2026-12)") in out
        assert "Traceback" not in out and "under" not in out
    with pytest.raises(InputError, match=f"no cost data for {month}"):
        cost_view(Context.open(open_workspace(workspace), NOW), month)


def test_a_month_with_lines_only_after_the_clock_is_refused(workspace: Path) -> None:
    code, out = invoke("cost", str(workspace), "--now", "2026-11-17T00:00:00Z",
                       "--month", "2026-12")
    assert code == 2
    assert "no cost data for 2026-12 before the review time: the last day counted is " \
           "2026-11-16" in out


def test_the_review_of_a_month_before_the_data_says_there_is_none(workspace: Path) -> None:
    ctx = Context.open(open_workspace(workspace), datetime(2025, 2, 1, tzinfo=UTC))
    section = cost_section(ctx)
    assert section.status is Status.SKIPPED
    assert section.data["reason"] == ("no cost data for 2025-01: the cost data covers "
                                      "2026-04-01 to 2026-12-03 (2026-04 to 2026-12)")
    kpis = workspace_kpis(ctx)
    assert {"cost_month", "cost_vs_target", "cost_targets_over"} <= set(kpis.skipped)


def test_a_month_inside_the_data_is_still_assessed(workspace: Path) -> None:
    code, out = invoke("cost", str(workspace), "--now", NOW.isoformat(), "--month", "2026-10")
    assert code == 0, out
    assert f"Spend 2026-10 (complete month): {month_total(2026, 10):,.0f} USD" in out
    assert "showing 6 of 9 months; all 9 in the --json output" in out


def runway(index: int, days: int | None, upper: int | None) -> Runway:
    return Runway(f"svc-{index:02d}", "cpu", date(2026, 11, 16), 60, 0.5, 8.0, 0.8, days, upper,
                  180, (), (), (), ())


def test_capacity_lists_cut_short_say_how_many_they_show() -> None:
    reaching = [runway(i, 10 + i, 5 + i) for i in range(25)]
    beyond = [runway(25 + i, None, None) for i in range(3)]
    skipped = [SkippedRunway(f"new-{i}", "cpu", 3, "3 day(s) of samples") for i in range(12)]
    view = CapacityView(UtilisationReadResult(Path("utilisation")), CapacitySettings(),
                        [*reaching, *beyond], skipped)
    text = capacity_markdown(view)
    assert text.count("| svc-") == 20
    assert ("_Showing 20 of 28 forecast series; all 28 in review.json / `opsledger capacity "
            "--json` (5 more reach it later; 3 stay below it through the horizon, even at the "
            "upper bound)._") in text
    assert text.count("\n- new-") == 10
    assert ("_Showing 10 of 12 series not forecast; all 12 in review.json / `opsledger "
            "capacity --json`._") in text
    (chart,) = capacity_charts(view)
    assert len(chart.data["categories"]) == 15 and chart.title.endswith(": 15 of 28 series")
    assert chart.data["truncated"]["note"] == (
        "showing 15 of 28 series; all 28 in review.json / `opsledger capacity --json`")
