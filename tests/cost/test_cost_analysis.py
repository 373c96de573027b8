"""Spend analysis: anomalies, month-end forecasts, target status, unit cost, savings."""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsledger.core.config import CostTarget
from opsledger.cost.savings import savings_candidates
from opsledger.cost.spend import (
    TOTAL,
    Z95,
    CostSettings,
    MonthForecast,
    SkippedCostForecast,
    daily_anomalies,
    forecast_month_end,
    in_currency,
    last_complete_day,
    seasonal_daily_forecast,
    summarise_spend,
    target_status,
    unit_costs,
)
from opsledger.demo.costs import ANOMALY_DAYS, ANOMALY_START, cost_plan
from opsledger.demo.world import World
from opsledger.model.cost import ChargeCategory, CostLedger, CostLine
from opsledger.readers import costs

START = date(2026, 8, 3)  # a Monday


def usage(day: date, service: str | None, cost: float, resource: str = "r1",
          category: ChargeCategory = ChargeCategory.USAGE, correction: bool = False
          ) -> CostLine:
    return CostLine(day, day.replace(day=1), category, correction, cost, cost, None, None, "USD",
                    service, "team" if service else None, resource, resource, "Compute",
                    "prod")


def frame_of(lines: list[CostLine]) -> pd.DataFrame:
    return CostLedger.from_lines(lines).frame


def steady(days: int, service: str = "svc", level: float = 100.0) -> list[CostLine]:
    # Weekly shape plus a small deterministic wobble so the baseline has a spread.
    out = []
    for i in range(days):
        day = START + timedelta(days=i)
        weekend = 0.7 if day.weekday() >= 5 else 1.0
        out.append(usage(day, service, level * weekend * (1 + 0.02 * math.sin(i))))
    return out


def test_anomaly_z_score_matches_a_hand_calculation() -> None:
    lines = steady(56)
    spike_day = START + timedelta(days=55)
    lines[-1] = usage(spike_day, "svc", 400.0)
    lines.append(usage(spike_day, "svc", 20.0, resource="r2"))
    (anomaly,) = daily_anomalies(frame_of(lines), spike_day)
    baseline = [lines[55 - 7 * k].effective_cost for k in range(1, 7)]
    mean = statistics.fmean(baseline)
    spread = max(statistics.stdev(baseline), 0.05 * mean)
    assert anomaly.day == spike_day and anomaly.weeks == 6
    assert anomaly.baseline == pytest.approx(mean)
    assert anomaly.z == pytest.approx((420.0 - mean) / spread)
    assert [r.resource for r in anomaly.resources] == ["r1", "r2"]
    assert anomaly.resources[0].change == pytest.approx(400.0 - mean)


def test_small_or_ordinary_moves_are_not_anomalies() -> None:
    lines = steady(56, level=10.0)
    last = START + timedelta(days=55)
    lines[-1] = usage(last, "svc", 40.0)  # z is huge but the excess (~30) is under 50
    assert daily_anomalies(frame_of(lines), last) == []
    assert daily_anomalies(frame_of(lines), last, CostSettings(anomaly_min_amount=20))
    # Purchases and corrections are not daily behaviour.
    quiet = [*steady(56), usage(last, "svc", 5000.0, category=ChargeCategory.PURCHASE),
             usage(last, "svc", 5000.0, correction=True)]
    assert daily_anomalies(frame_of(quiet), last) == []


def test_too_little_history_gives_no_verdict() -> None:
    lines = steady(14)
    lines[-1] = usage(lines[-1].day, "svc", 1000.0)
    assert daily_anomalies(frame_of(lines), lines[-1].day) == []


def test_seasonal_forecast_is_statsforecast_autoets() -> None:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    frame = frame_of(steady(70))
    through = START + timedelta(days=69)  # 2026-10-11
    series = frame.set_index("day")["effective_cost"]
    ours = seasonal_daily_forecast({"svc": series}, 20)
    recent = series.iloc[-56:]
    direct = StatsForecast(models=[AutoETS(season_length=7, model="AAA")], freq="D").forecast(
        df=pd.DataFrame({"unique_id": "svc", "ds": recent.index, "y": recent.to_numpy()}),
        h=20, level=[95])
    for column in ("AutoETS", "AutoETS-lo-95", "AutoETS-hi-95"):
        assert ours[column].to_numpy() == pytest.approx(direct[column].to_numpy())
    result = forecast_month_end(frame, "2026-10", through, {TOTAL: None, "svc": "svc"})
    total = result[TOTAL]
    assert isinstance(total, MonthForecast) and total.days_left == 20
    actual = float(frame[frame["day"] >= pd.Timestamp("2026-10-01")]["effective_cost"].sum())
    assert total.actual == pytest.approx(actual)
    assert total.point == pytest.approx(actual + direct["AutoETS"].clip(lower=0).sum())
    assert total.low == pytest.approx(actual + direct["AutoETS-lo-95"].clip(lower=0).sum())
    assert total.high == pytest.approx(actual + direct["AutoETS-hi-95"].clip(lower=0).sum())
    assert total.low < total.point < total.high
    # A weekly-shaped month: the forecast lands near the shape's own month total.
    expected = sum(100 * (0.7 if (date(2026, 10, 1) + timedelta(days=i)).weekday() >= 5
                          else 1.0) for i in range(31))
    assert total.point == pytest.approx(expected, rel=0.03)


def test_each_scope_s_actual_is_its_own_lines_of_the_month() -> None:
    """Several services, lines without a service, a correction and a line after the day
    counted: each scope's actual is the sum of its own lines charged in the month to date."""
    lines = steady(40, "api") + steady(40, "db", level=30.0) + steady(40, None, level=5.0)
    through = START + timedelta(days=35)
    lines.append(usage(through, "api", -12.5, correction=True))
    lines.append(usage(through + timedelta(days=1), "db", 999.0))  # after the day counted
    frame = frame_of(lines)
    scopes = {TOTAL: None, "api": "api", "db": "db", "idle": "idle"}
    result = forecast_month_end(frame, "2026-09", through, scopes)
    month = [line for line in lines if date(2026, 9, 1) <= line.day <= through]
    for scope, service in scopes.items():
        forecast = result[scope]
        assert isinstance(forecast, MonthForecast)
        expected = math.fsum(line.effective_cost for line in month
                             if service is None or line.service == service)
        assert forecast.actual == pytest.approx(expected, abs=1e-9)
    assert result["idle"].actual == 0.0


def test_run_rate_is_used_for_short_history_with_its_interval() -> None:
    frame = frame_of(steady(15, level=50.0))
    through = START + timedelta(days=14)  # 2026-08-17
    result = forecast_month_end(frame, "2026-08", through, {"svc": "svc"})["svc"]
    assert isinstance(result, MonthForecast) and result.method.startswith("run rate")
    values = frame["effective_cost"].to_numpy()
    point = values[-7:].mean() * 14
    margin = Z95 * np.std(values, ddof=1) * math.sqrt(14)
    assert result.point == pytest.approx(values.sum() + point)
    assert result.high == pytest.approx(values.sum() + point + margin)
    assert result.low == pytest.approx(values.sum() + point - margin)
    short = forecast_month_end(frame_of(steady(3)), "2026-08", START + timedelta(days=2),
                               {"svc": "svc"})["svc"]
    assert isinstance(short, SkippedCostForecast) and "7 are needed" in short.reason


def test_a_past_month_is_its_actual() -> None:
    frame = frame_of(steady(70))
    result = forecast_month_end(frame, "2026-09", date(2026, 10, 11), {TOTAL: None})[TOTAL]
    assert isinstance(result, MonthForecast) and result.days_left == 0
    september = frame[(frame["day"] >= "2026-09-01") & (frame["day"] <= "2026-09-30")]
    assert result.point == result.low == result.high == pytest.approx(
        september["effective_cost"].sum())


FORECAST_LIBRARY_PROBE = """
import sys
from datetime import date, timedelta
from opsledger.cost.spend import MonthForecast, TOTAL, forecast_month_end
from opsledger.model.cost import ChargeCategory, CostLedger, CostLine
start = date(2026, 8, 3)
lines = [CostLine(start + timedelta(days=i), start.replace(day=1), ChargeCategory.USAGE, False,
                  10.0, 10.0, None, None, "USD", "svc", None, "r1", None, None, None)
         for i in range(int(sys.argv[1]))]
frame = CostLedger.from_lines(lines).frame
through = lines[-1].day
result = forecast_month_end(frame, through.strftime("%Y-%m"), through, {TOTAL: None})[TOTAL]
assert isinstance(result, MonthForecast), result
print(result.method.split(" ")[0], "statsforecast" in sys.modules)
"""


@pytest.mark.parametrize(("days", "method"), [(20, "run"), (29, "complete")])
def test_a_forecast_without_the_seasonal_method_loads_no_forecasting_library(
        days: int, method: str) -> None:
    # In a fresh interpreter: 20 days of August are too few for the seasonal method, and
    # 29 days end in August's last day (a complete month, its actual).
    import subprocess
    import sys

    found = subprocess.run([sys.executable, "-c", FORECAST_LIBRARY_PROBE, str(days)],
                           capture_output=True, text=True, check=True).stdout.split()
    assert found == [method, "False"]


def forecast(point: float, low: float, high: float) -> MonthForecast:
    return MonthForecast("s", "2026-10", date(2026, 10, 15), 16, 100.0, point, low, high, "x",
                         (point, low, high))


def test_target_status() -> None:
    targets = {name: CostTarget(monthly=1000) for name in "abcdef"}
    rows = target_status(
        targets,
        {"a": forecast(700, 650, 760), "b": forecast(950, 900, 990),
         "c": forecast(980, 900, 1100), "d": forecast(1200, 1050, 1300),
         "e": forecast(900, 850, 950),
         "f": SkippedCostForecast("f", "2026-10", "too short")},
        {"a": 100, "b": 100, "c": 100, "d": 100, "e": 1001, "f": 10}, "USD")
    assert {r.service: r.status for r in rows} == {
        "a": "under", "b": "at-risk", "c": "at-risk", "d": "over", "e": "over",
        "f": "no-forecast"}


def test_unit_cost_per_thousand_requests() -> None:
    frame = frame_of(steady(10))
    counts = {("svc", START + timedelta(days=i)): 20_000 for i in range(3)}
    counts[("other", START)] = 5
    (unit,) = unit_costs(frame, counts, START, START + timedelta(days=9))
    cost = sum(line.effective_cost for line in steady(3))
    assert (unit.service, unit.days, unit.requests) == ("svc", 3, 60_000)
    assert unit.per_thousand == pytest.approx(cost / 60_000 * 1000)


def test_growth_without_traffic_and_unmapped_spend() -> None:
    lines = steady(56)
    for i in range(28, 56):  # cost up 50 % in the last four weeks
        line = lines[i]
        lines[i] = line._replace(billed_cost=line.billed_cost * 1.5,
                                 effective_cost=line.effective_cost * 1.5)
    lines += [usage(START + timedelta(days=i), None, 10.0, resource="nat") for i in range(56)]
    through = START + timedelta(days=55)
    counts = {("svc", START + timedelta(days=i)): 1000 for i in range(56)}
    found = savings_candidates(frame_of(lines), through, counts=counts)
    kinds = [(c.kind, c.subject) for c in found]
    assert kinds == [("growth-without-traffic", "svc"), ("unmapped", "nat")]
    growth = found[0]
    assert growth.estimated_saving == pytest.approx(
        sum(lines[i].effective_cost - steady(56)[i - 28].effective_cost * 1.0
            for i in range(28, 56)) / 28 * 30.4375, rel=0.05)
    assert found[1].estimated_saving is None


def test_demo_anomaly_is_found_and_points_at_the_resource(
    cost_workspace: Path, cost_world: World
) -> None:
    plan = cost_plan(cost_world)
    frame = in_currency(costs.read(cost_workspace / "costs").ledger, "USD")
    through = last_complete_day(frame, cost_world.now.date())
    assert through == cost_world.now.date() - timedelta(days=1)
    anomalies = daily_anomalies(frame, through)
    assert {a.service for a in anomalies} == {plan.anomaly_service}
    first = cost_world.now.date() - timedelta(days=ANOMALY_START)
    assert {a.day for a in anomalies} == {first + timedelta(days=i) for i in range(ANOMALY_DAYS)}
    for anomaly in anomalies:
        assert anomaly.cost / anomaly.baseline > 2.5
        assert anomaly.resources[0].name == f"node-pool-{plan.anomaly_service}"


def test_demo_bill_handles_every_charge_kind(cost_workspace: Path) -> None:
    result = costs.read(cost_workspace / "costs")
    assert not [p for p in result.problems if p.level != "warning"]
    frame = result.ledger.frame
    assert set(frame["category"]) == {c.value for c in ChargeCategory} - {"Adjustment"}
    summary = summarise_spend(result.ledger)
    # Amortised and invoiced totals agree over the whole bill: the savings plan is bought at
    # the price of the usage it covers, and the one correction moves between months only.
    assert sum(summary.by_month.values()) == pytest.approx(
        sum(i["total"] for i in summary.invoices.values()))
    assert list(summary.corrections.values()) == [-180.0]
    purchases = frame[frame["category"] == "Purchase"]
    assert (purchases["effective_cost"] == 0).all() and (purchases["billed_cost"] > 0).all()


def test_the_month_end_forecast_fitted_in_a_worker_is_the_one_fitted_here() -> None:
    from opsledger.cost.spend import CostSettings, _seasonal_sums
    from opsledger.forecasting import background

    days = pd.date_range("2026-08-01", periods=80, freq="D")
    week = np.array([1.0, 1.1, 1.2, 1.1, 1.0, 0.5, 0.4])
    series = {"(total)": pd.Series(100 * week[days.dayofweek] + np.arange(80) * 0.3,
                                   index=days)}
    here = _seasonal_sums(series, 11, CostSettings())
    background.prestart()
    try:
        assert background.prestarted()
        there = _seasonal_sums(series, 11, CostSettings())
    finally:
        background.shutdown()
    assert not background.prestarted()
    assert there == here and set(here) == {"(total)"}


def test_a_month_with_no_day_left_is_not_handed_to_a_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from opsledger.cost.spend import CostSettings, _seasonal_sums
    from opsledger.forecasting import background

    def no_worker(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing to fit was handed to a worker")

    monkeypatch.setattr(background, "prestarted", lambda: True)
    monkeypatch.setattr(background, "submit", no_worker)
    days = pd.date_range("2026-08-01", periods=40, freq="D")
    series = {"(total)": pd.Series(np.full(40, 100.0), index=days)}
    assert _seasonal_sums(series, 0, CostSettings()) == {}
    assert _seasonal_sums({}, 11, CostSettings()) == {}


def test_the_cost_view_s_forecasts_and_anomalies_are_those_computed_alone(
    cost_workspace: Path, cost_world: World
) -> None:
    # The view computes one table of daily usage for its forecasts, anomalies and savings.
    from opsledger.core.inputs import Context
    from opsledger.core.workspace import open_workspace
    from opsledger.cost.service import cost_view
    from opsledger.cost.spend import month_bounds

    ctx = Context.open(open_workspace(cost_workspace), cost_world.now)
    seen = cost_view(ctx)
    frame = in_currency(costs.read(cost_workspace / "costs").ledger, seen.summary.currency)
    until = min(seen.data_through, month_bounds(seen.month)[1])
    scopes = {name: (None if name == TOTAL else name) for name in seen.forecasts}
    assert seen.anomalies and daily_anomalies(frame, until) == seen.anomalies
    assert forecast_month_end(frame, seen.month, until, scopes) == seen.forecasts
