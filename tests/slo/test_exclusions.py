"""Error budget exclusions: planned maintenance, approved change windows and corrected
incidents leave the same minutes out of the SLI, the budget, the burn rates and the backtest.

The events are built by hand: 40 requests a minute for six hours, four errors in every
half-hour's first minute, and three outages:

- A, minutes 120-150 (02:00-02:30 UTC): half the requests fail, during planned maintenance;
- B, minutes 200-210: a fifth fail, incident INC-7;
- C, minutes 260-270: two fifths fail, incident INC-9, an outage of a provider.

Every expected figure is counted from the event arrays by numpy, apart from the code under
test, and the main ones are also written out as hand counts. The same workspace is evaluated
by Prometheus and Spark in ``tests/engines/test_engine_exclusions.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.slo import app
from opsledger.core.config import ChangeWindow, load_config
from opsledger.core.errors import ConfigError
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.model.slo import MINUTE, BudgetingMethod, DuckDbSource, SliSeries, Slo, SloWindow
from opsledger.patching.service import window_slots
from opsledger.slo.backtest import SloBacktest
from opsledger.slo.exclusions import (
    Exclusion,
    ExclusionKind,
    excluded_minutes,
    window_occurrences,
)
from opsledger.slo.objectives import BURN_WINDOWS, SloStatus, evaluate_excluding
from opsledger.slo.section import slo_section
from opsledger.slo.service import SloReport, backtest_workspace, evaluate_workspace
from tests.slo.slo_events import MINUTES, START, Events, write_parquet

NOW = START + timedelta(minutes=MINUTES)
PER_MINUTE = 40
OBJECTIVE = 0.95
A, B, C = (120, 150), (200, 210), (260, 270)
OUTAGE_ERRORS = {A: 20, B: 8, C: 16}
BACKGROUND_ERRORS = 4
SPAN_MINUTES = 3 * 1440  # the evaluated span: the 3d burn lookback, longer than the 1d window

SLOS = """\
slos:
  - service: checkout
    name: availability
    objective: 95
    window: 1d
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        good: service = 'checkout' AND status < 500
        total: service = 'checkout'
"""
PROMETHEUS_SLOS = """\
slos:
  - service: checkout
    name: availability
    objective: 95
    window: 1d
    indicator:
      prometheus:
        good: 'http_requests_total{service="checkout",code!~"5.."}'
        total: 'http_requests_total{service="checkout"}'
"""
ROSTER = """\
stakeholders:
  - name: Lin Example
    email: lin@example.com
    role: sre-manager
change_windows:
  - name: nightly-maintenance
    cron: "0 3 * * *"
    duration_minutes: 30
    timezone: Europe/Berlin
"""
MAINTENANCE = """\
  maintenance:
    - name: database-migration
      start: 2026-03-01T02:00:00Z
      end: 2026-03-01T02:30:00Z
      reason: primary database moved to the new cluster
      approved_by: lin@example.com
      services: [checkout]
"""
RECURRING = """\
  change_windows:
    - change_window: nightly-maintenance
      reason: restarts announced for the nightly window
      approved_by: lin@example.com
"""
CORRECTION = """\
  corrections:
    - incident: INC-9
      reason: outage of the payment provider
      approved_by: lin@example.com
"""
INCIDENTS = (
    "id,title,service,severity,status,created_at,resolved_at\n"
    f"INC-7,errors,checkout,SEV2,resolved,{START + 200 * MINUTE:%Y-%m-%dT%H:%M:%SZ},"
    f"{START + 210 * MINUTE:%Y-%m-%dT%H:%M:%SZ}\n"
    f"INC-9,provider down,checkout,SEV2,resolved,{START + 260 * MINUTE:%Y-%m-%dT%H:%M:%SZ},"
    f"{START + 270 * MINUTE:%Y-%m-%dT%H:%M:%SZ}\n"
)


def errors_per_minute() -> np.ndarray:
    errors = np.zeros(MINUTES, dtype=np.int64)
    errors[np.arange(MINUTES) % 30 == 0] = BACKGROUND_ERRORS
    for (first, last), count in OUTAGE_ERRORS.items():
        errors[first:last] = count
    return errors


def exclusion_events() -> Events:
    """Return the events: in each 15-second slot of a minute a quarter of its requests and of
    its errors, one a second from the slot's first second (counters scraped every 15 s count
    every minute exactly)."""
    errors = errors_per_minute()
    start_us = int(START.timestamp() * 1_000_000)
    ts, status = [], []
    for minute in range(MINUTES):
        for slot in range(4):
            for k in range(PER_MINUTE // 4):
                ts.append(start_us + (minute * 60 + slot * 15 + 1 + k) * 1_000_000)
                status.append(503 if k < errors[minute] // 4 else 200)
    count = len(ts)
    return Events(np.array(ts, dtype=np.int64), np.zeros(count, dtype=np.int64),
                  np.array(status, dtype=np.int16), np.full(count, 50.0, dtype=np.float32))


def write_workspace(
    root: Path, exclusions: str = "", slos: str = SLOS, incidents: bool = True,
    roster: str = ROSTER,
) -> Path:
    write_parquet(exclusion_events(), root / "telemetry" / "requests" / "events.parquet")
    (root / "slos").mkdir(parents=True, exist_ok=True)
    (root / "slos" / "slos.yaml").write_text(slos)
    config = roster + (f"error_budget_exclusions:\n{exclusions}" if exclusions else "")
    (root / "opsledger.yaml").write_text(config)
    if incidents:
        (root / "incidents").mkdir(exist_ok=True)
        (root / "incidents" / "incidents.csv").write_text(INCIDENTS)
    return root


def hand_count(excluded: list[tuple[int, int]]) -> dict[str, Any]:
    """Return SLI, counts, budget left and burn rates of the events with ``excluded`` minute
    ranges left out, counted from the arrays."""
    total = np.full(MINUTES, PER_MINUTE, dtype=float)
    bad = errors_per_minute().astype(float)
    for first, last in excluded:
        total[first:last] = 0
        bad[first:last] = 0
    rates: dict[str, float | None] = {}
    for name, span in [*BURN_WINDOWS.items(), ("window", timedelta(days=1))]:
        first = max(MINUTES - int(span // MINUTE), 0)
        counted = total[first:].sum()
        rates[name] = bad[first:].sum() / counted / (1 - OBJECTIVE) if counted else None
    return {
        "good": total.sum() - bad.sum(),
        "total": total.sum(),
        "sli": 1 - bad.sum() / total.sum(),
        "remaining": 1 - bad.sum() / ((1 - OBJECTIVE) * total.sum()),
        "burn_rates": rates,
    }


def check_status(status: SloStatus, expected: dict[str, Any], rel: float = 1e-12) -> None:
    assert status.valid, status.reasons
    assert status.good == pytest.approx(expected["good"], rel=rel)
    assert status.total == pytest.approx(expected["total"], rel=rel)
    assert status.sli == pytest.approx(expected["sli"], rel=rel)
    assert status.budget is not None
    assert status.budget.remaining == pytest.approx(expected["remaining"], rel=rel)
    rates = expected["burn_rates"]
    assert isinstance(rates, dict)
    for name, rate in rates.items():
        assert status.burn_rates[name] == pytest.approx(rate, rel=rel, abs=1e-12), name


def evaluate(
    root: Path, prometheus_url: str | None = None, minute_history: bool = True
) -> SloReport:
    ctx = Context.open(open_workspace(root), NOW)
    return evaluate_workspace(ctx, prometheus_url, min_events=1, minute_history=minute_history)


def check_maintenance_left_out(report: SloReport, rel: float = 1e-12) -> None:
    """The figures with the maintenance A left out, and those without exclusions."""
    (evaluation,) = report.evaluations
    status = evaluation.status
    check_status(status, hand_count([A]), rel)
    assert status.exclusions is not None and status.without_exclusions is not None
    check_status(status.without_exclusions, hand_count([]), rel)
    (applied,) = status.exclusions.applied
    assert applied.minutes == 30 and status.exclusions.minutes == 30
    assert applied.events == pytest.approx(30 * PER_MINUTE, rel=rel)
    assert applied.bad_events == pytest.approx(30 * 20, rel=rel)
    assert applied.exclusion.approver == "Lin Example"
    assert applied.exclusion.approver_role == "sre-manager"
    assert applied.spans == ((START + 120 * MINUTE, START + 150 * MINUTE),)


# --- the hand counts themselves ----------------------------------------------------------------


def test_the_hand_counts_written_out() -> None:
    # 360 minutes x 40 requests; errors: 30 x 20 (A) + 10 x 8 (B) + 10 x 16 (C) + 11 x 4.
    assert hand_count([])["total"] == 14_400
    assert hand_count([])["total"] - hand_count([])["good"] == 884
    # Without A: 1,200 requests and 600 errors fewer; budget 5% of 13,200 = 660 errors.
    with_a = hand_count([A])
    assert with_a["total"] == 13_200 and with_a["total"] - with_a["good"] == 284
    assert with_a["remaining"] == pytest.approx(1 - 284 / 660)
    assert hand_count([])["remaining"] == pytest.approx(1 - 884 / 720)  # overspent


# --- DuckDB on a Parquet file ------------------------------------------------------------------


def test_duckdb_leaves_the_maintenance_out_of_sli_budget_and_burn_rates(tmp_path: Path) -> None:
    report = evaluate(write_workspace(tmp_path, MAINTENANCE))
    check_maintenance_left_out(report)
    (evaluation,) = report.evaluations
    # The series every later step reads (policy, burn-down, backtest) has A without counts.
    assert evaluation.series is not None
    first = evaluation.series.index_of(START + 120 * MINUTE)
    assert evaluation.series.total[first : first + 30].sum() == 0
    assert evaluation.series.total.sum() == 13_200
    without, budget = evaluation.status.without_exclusions, evaluation.status.budget
    assert without is not None and without.budget is not None and budget is not None
    assert without.budget.remaining < 0 < budget.remaining


def test_without_declarations_nothing_changes(tmp_path: Path) -> None:
    (evaluation,) = evaluate(write_workspace(tmp_path)).evaluations
    check_status(evaluation.status, hand_count([]))
    assert evaluation.status.exclusions is None
    assert evaluation.status.to_json()["exclusions"] is None


def test_an_approved_change_window_leaves_each_occurrence_out(tmp_path: Path) -> None:
    # 03:00 Europe/Berlin is 02:00 UTC on 1 March (CET): the nightly window is A.
    report = evaluate(write_workspace(tmp_path, RECURRING))
    (evaluation,) = report.evaluations
    status = evaluation.status
    check_status(status, hand_count([A]))
    assert status.exclusions is not None
    (applied,) = status.exclusions.applied
    assert applied.exclusion.kind is ExclusionKind.CHANGE_WINDOW
    assert applied.exclusion.name == "nightly-maintenance"
    # Occurrences on 27 and 28 February fall in the burn lookback, without traffic; only
    # the one of 1 March is inside the 1d window.
    assert applied.spans == ((START + 120 * MINUTE, START + 150 * MINUTE),)
    assert applied.minutes == 30 and applied.bad_events == 600


def test_change_window_exclusions_limited_to_days(tmp_path: Path) -> None:
    later = RECURRING.replace("      reason:", "      valid_from: 2026-03-02\n      reason:")
    (evaluation,) = evaluate(write_workspace(tmp_path, later)).evaluations
    check_status(evaluation.status, hand_count([]))
    assert evaluation.status.exclusions is None


def test_change_window_occurrences_are_the_patch_plans_slots() -> None:
    """Read as the patch plan reads them, across the spring-forward change in Berlin."""
    window = ChangeWindow(name="w", cron="30 2 * * *", duration_minutes=90,
                          timezone="Europe/Berlin")
    start, end = datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)
    ours = window_occurrences(window, start, end)
    theirs = [(s.start.astimezone(UTC), s.end.astimezone(UTC))
              for s in window_slots(window, start - timedelta(minutes=90), end)]
    assert ours == theirs and len(ours) == 8
    # 02:30 does not exist on 29 March: it moves forward by the gap, to 03:30 CEST.
    assert datetime(2026, 3, 29, 1, 30, tzinfo=UTC) in [b for b, _ in ours]
    assert ours[0] == (datetime(2026, 3, 25, 1, 30, tzinfo=UTC),
                       datetime(2026, 3, 25, 3, 0, tzinfo=UTC))


def test_a_correction_leaves_the_incident_out_and_its_postmortem_duty(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "without")
    (plain,) = evaluate(ws).evaluations
    assert any(d.incident_id == "INC-9" for d in plain.decisions)
    (evaluation,) = evaluate(write_workspace(tmp_path / "with", CORRECTION)).evaluations
    check_status(evaluation.status, hand_count([C]))
    assert evaluation.status.exclusions is not None
    (applied,) = evaluation.status.exclusions.applied
    assert applied.exclusion.kind is ExclusionKind.CORRECTION
    assert (applied.exclusion.name, applied.minutes, applied.events, applied.bad_events) == \
        ("INC-9", 10, 400, 160)
    assert not any(d.incident_id == "INC-9" for d in evaluation.decisions)


def test_overlapping_exclusions_count_shared_minutes_once_in_the_totals(tmp_path: Path) -> None:
    report = evaluate(write_workspace(tmp_path, MAINTENANCE + RECURRING + CORRECTION))
    (evaluation,) = report.evaluations
    status = evaluation.status
    check_status(status, hand_count([A, C]))
    assert status.exclusions is not None
    assert [a.minutes for a in status.exclusions.applied] == [30, 30, 10]
    assert status.exclusions.minutes == 40
    assert status.exclusions.events == 40 * PER_MINUTE
    assert status.exclusions.bad_events == 30 * 20 + 10 * 16


def test_a_correction_of_an_unknown_incident_is_a_located_warning(tmp_path: Path) -> None:
    report = evaluate(write_workspace(tmp_path, CORRECTION.replace("INC-9", "INC-99")))
    (problem,) = report.problems
    lines = (tmp_path / "opsledger.yaml").read_text().splitlines()
    assert problem.location == f"line {lines.index('    - incident: INC-99') + 1}"
    assert "INC-99" in problem.message and "excludes nothing" in problem.message
    assert report.evaluations[0].status.exclusions is None


def test_an_unknown_slo_in_an_exclusion_is_a_located_warning(tmp_path: Path) -> None:
    named = MAINTENANCE.replace("services: [checkout]", "slos: [checkout/availabilty]")
    report = evaluate(write_workspace(tmp_path, named))
    (problem,) = report.problems
    assert "checkout/availabilty" in problem.message and problem.location.startswith("line ")
    assert report.evaluations[0].status.exclusions is None  # it applies to no SLO


# --- approvers -----------------------------------------------------------------------------------


def test_an_approver_outside_the_roster_is_refused_at_its_line(tmp_path: Path) -> None:
    wrong = CORRECTION.replace("lin@example.com", "lim@example.org")
    write_workspace(tmp_path, wrong)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    (problem,) = caught.value.problems
    lines = (tmp_path / "opsledger.yaml").read_text().splitlines()
    assert problem.location == f"line {lines.index('      approved_by: lim@example.org') + 1}"
    assert "error_budget_exclusions.corrections.0.approved_by" in problem.message
    assert "stakeholder roster" in problem.message


def test_a_change_window_that_does_not_exist_is_refused_with_a_suggestion(
    tmp_path: Path,
) -> None:
    write_workspace(tmp_path, RECURRING.replace("nightly-maintenance", "nightly-maintenanse"))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    (problem,) = caught.value.problems
    assert "did you mean 'nightly-maintenance'" in problem.message
    assert problem.location.startswith("line ")


def test_the_command_refuses_a_configuration_with_an_unknown_approver(tmp_path: Path) -> None:
    write_workspace(tmp_path, MAINTENANCE.replace("lin@example.com", "someone@example.com"))
    root = typer.Typer()
    root.add_typer(app, name="slo")
    result = CliRunner().invoke(root, ["slo", "status", str(tmp_path), "--now", NOW.isoformat()])
    assert result.exit_code == 2
    assert "someone@example.com" in result.output and "stakeholder roster" in result.output


# --- the alert backtest --------------------------------------------------------------------------


def test_the_backtest_ignores_excluded_outages(tmp_path: Path) -> None:
    def backtest(root: Path) -> tuple[list[int], list[int]]:
        ctx = Context.open(open_workspace(root), NOW)
        report = evaluate_workspace(ctx, min_events=1)
        (result,) = backtest_workspace(ctx, report).results
        assert isinstance(result, SloBacktest)
        offset = SPAN_MINUTES - MINUTES  # the history starts 3 days before NOW
        fired = [e.fired_at - offset for s in result.scores for e in s.episodes]
        return fired, [s.incidents for s in result.scores]

    fired, incidents = backtest(write_workspace(tmp_path / "without"))
    # Counted, the maintenance outage fires alerts and both incidents are ground truth.
    assert any(A[0] < minute <= A[1] for minute in fired)
    assert set(incidents) == {2}
    fired, incidents = backtest(write_workspace(tmp_path / "with", MAINTENANCE + CORRECTION))
    # Left out: nothing fires during the maintenance (the first minute with traffic, with
    # its 10% errors, still does, as it did before), and the corrected INC-9 is no ground
    # truth any more.
    assert fired and not any(A[0] < minute <= A[1] for minute in fired)
    assert any(B[0] < minute <= B[1] for minute in fired)
    assert set(incidents) == {1}


# --- report, command line and JSON ---------------------------------------------------------------


def test_the_report_shows_budget_with_and_without_and_each_exclusion(tmp_path: Path) -> None:
    root = write_workspace(tmp_path, MAINTENANCE + CORRECTION)
    section = slo_section(Context.open(open_workspace(root), NOW))
    assert "**Excluded from SLIs and error budgets**" in section.body
    without, with_both = hand_count([]), hand_count([A, C])
    row = next(line for line in section.body.splitlines()
               if line.startswith("| checkout/availability | 40 |"))
    assert "1,600 (760 bad)" in row
    assert f"({with_both['good']:,.0f} / {with_both['total']:,.0f})" in row
    assert f"({without['good']:,.0f} / {without['total']:,.0f})" in row
    assert f"{with_both['remaining']:.1%}" in row and f"{without['remaining']:.1%}" in row
    assert ("- checkout/availability: maintenance 'database-migration', "
            "2026-03-01 02:00–02:30 UTC: primary database moved to the new cluster; approved by "
            "Lin Example <lin@example.com> (sre-manager); 30 min, 1,200 events (600 bad) "
            "excluded") in section.body
    assert "correction of incident 'INC-9', 2026-03-01 04:20–04:30 UTC" in section.body
    (item,) = section.data["slos"]
    assert item["exclusions"]["minutes"] == 40


def test_status_json_and_table_carry_the_exclusions(tmp_path: Path) -> None:
    root = write_workspace(tmp_path, MAINTENANCE)
    cli = typer.Typer()
    cli.add_typer(app, name="slo")
    result = CliRunner().invoke(cli, ["slo", "status", str(root), "--json", "--now",
                                      NOW.isoformat(), "--min-events", "1"])
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)
    excluded = item["exclusions"]
    expected, without = hand_count([A]), hand_count([])
    assert item["sli"] == pytest.approx(expected["sli"])
    assert excluded["without_exclusions"]["sli"] == pytest.approx(without["sli"])
    assert excluded["without_exclusions"]["error_budget_remaining"] == \
        pytest.approx(without["remaining"])
    assert excluded["without_exclusions"]["standing"] == "off-target"
    assert excluded["applied"] == [{
        "kind": "maintenance", "name": "database-migration",
        "reason": "primary database moved to the new cluster",
        "approved_by": "lin@example.com", "approver": "Lin Example",
        "approver_role": "sre-manager",
        "spans": [{"start": "2026-03-01T02:00:00+00:00", "end": "2026-03-01T02:30:00+00:00"}],
        "minutes": 30, "events": 1200.0, "bad_events": 600.0,
    }]
    table = CliRunner().invoke(cli, ["slo", "status", str(root), "--now", NOW.isoformat(),
                                     "--min-events", "1"], env={"COLUMNS": "400"})
    assert table.exit_code == 0, table.output
    assert "30 min excluded (1,200 events, 600 bad); without exclusions:" in table.output
    assert "excluded maintenance 'database-migration'" in table.output


# --- the pure parts ------------------------------------------------------------------------------


def test_a_minute_partly_covered_is_excluded() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    mask = excluded_minutes(start, 10, [(start + timedelta(minutes=2, seconds=30),
                                         start + timedelta(minutes=4, seconds=1))])
    assert mask.tolist() == [False, False, True, True, True] + [False] * 5
    assert not excluded_minutes(start, 10, [(start - MINUTE * 5, start)]).any()


def test_time_slice_budgets_allow_no_minutes_for_excluded_time() -> None:
    slo = Slo("svc", "slices", 0.99, SloWindow(days=1), DuckDbSource("x"),
              budgeting=BudgetingMethod.TIMESLICES, timeslice_target=0.9)
    end = START + timedelta(days=3)
    minutes = 3 * 1440
    total = np.full(minutes, 10.0)
    series = SliSeries(end - minutes * MINUTE, total.copy(), total)
    exclusion = Exclusion(ExclusionKind.MAINTENANCE, "m", "why", "lin@example.com", "Lin", "",
                          ((end - timedelta(hours=2), end - timedelta(hours=1)),))
    status, kept = evaluate_excluding(slo, series, end, [exclusion], min_events=1)
    assert status.budget is not None and status.budget.allowed_minutes is not None
    assert status.budget.allowed_minutes == pytest.approx(0.01 * (1440 - 60))
    assert kept.total.sum() == total.sum() - 600
    assert status.without_exclusions is not None
    assert status.without_exclusions.budget is not None
    assert status.without_exclusions.budget.allowed_minutes == pytest.approx(0.01 * 1440)


def test_the_newest_event_is_the_newest_read_even_when_excluded() -> None:
    slo = Slo("svc", "availability", 0.99, SloWindow(days=1), DuckDbSource("x"))
    end = START + timedelta(days=3)
    minutes = 3 * 1440
    total = np.full(minutes, 10.0)
    series = SliSeries(end - minutes * MINUTE, total.copy(), total)
    last_hour = Exclusion(ExclusionKind.MAINTENANCE, "m", "why", "lin@example.com", "Lin", "",
                          ((end - timedelta(hours=1), end),))
    status, _ = evaluate_excluding(slo, series, end, [last_hour], min_events=1)
    assert status.newest_event_at == end - MINUTE
    assert status.burn_rates["1h"] is None and status.burn_rates["5m"] is None
    assert status.burn_rate_notes["1h"] == \
        "every minute with events in the last 1h is excluded from the budget"
    assert status.burn_rates["2h"] == 0.0
