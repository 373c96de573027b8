"""SLO definitions in every supported format, normalised; bad files give located problems."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsledger.core.problems import Level
from opsledger.model.slo import (
    BudgetingMethod,
    CalendarUnit,
    DuckDbSource,
    HealthSource,
    PrometheusSource,
    PromQueryKind,
    Slo,
)
from opsledger.readers.slo_definitions import read

EXAMPLES = Path(__file__).parent / "examples"


@pytest.fixture(scope="module")
def slos() -> dict[str, Slo]:
    result = read(EXAMPLES)
    return {slo.key: slo for slo in result.records}


def test_every_good_example_is_read(slos: dict[str, Slo]) -> None:
    assert set(slos) >= {
        "checkout/availability",
        "api-gateway/api-latency",
        "search/search-availability",
        "myservice/requests-availability",
        "myservice/ratio",
        "prom/availability",
        "orders/availability",
        "orders/health",
    }


def test_openslo_v1_indicator_ref_with_bad_over_total(slos: dict[str, Slo]) -> None:
    slo = slos["checkout/availability"]
    assert slo.objective == 0.999
    assert slo.window.days == 28 and slo.window.rolling
    assert slo.budgeting is BudgetingMethod.OCCURRENCES
    assert isinstance(slo.indicator, DuckDbSource)
    assert slo.indicator.good is None
    assert slo.indicator.bad == "service = 'checkout' AND status >= 500"
    assert slo.indicator.total == "service = 'checkout'"
    assert slo.indicator.path == "telemetry/requests/*.parquet"
    assert slo.source_format == "openslo/v1"
    assert slo.source_line == 47  # the objective's line in the multi-document file


def test_openslo_v1_calendar_timeslices_and_target_percent(slos: dict[str, Slo]) -> None:
    slo = slos["api-gateway/api-latency"]
    assert slo.objective == pytest.approx(0.99)
    assert not slo.window.rolling and slo.window.calendar_unit is CalendarUnit.MONTH
    assert slo.budgeting is BudgetingMethod.TIMESLICES
    assert slo.timeslice_target == 0.95
    assert slo.timeslice_size == timedelta(minutes=5)
    assert isinstance(slo.indicator, PrometheusSource)
    assert slo.indicator.good is not None and slo.indicator.good.kind is PromQueryKind.COUNTER


def test_openslo_v1alpha_weeks_and_ratio_timeslices(slos: dict[str, Slo]) -> None:
    slo = slos["search/search-availability"]
    assert slo.window.days == 28  # 4 weeks
    assert slo.budgeting is BudgetingMethod.RATIO_TIMESLICES
    assert slo.objective == 0.995
    assert slo.source_format == "openslo/v1alpha"


def test_sloth_percent_objective_error_queries_and_30_day_window(slos: dict[str, Slo]) -> None:
    slo = slos["myservice/requests-availability"]
    assert slo.objective == 0.999  # 99.9 percent, without binary residue
    assert slo.window.days == 30
    assert isinstance(slo.indicator, PrometheusSource)
    assert slo.indicator.bad is not None and slo.indicator.total is not None
    assert slo.indicator.bad.kind is PromQueryKind.RATE_TEMPLATE
    assert "{{.window}}" in slo.indicator.bad.expr
    assert dict(slo.labels)["owner"] == "myteam"
    ratio = slos["myservice/ratio"].indicator
    assert isinstance(ratio, PrometheusSource) and ratio.ratio is not None
    assert ratio.ratio.expr.startswith("1 - (")  # an error ratio turned into a good ratio


def test_slo_generator_goal_and_policy_from_shared_config(slos: dict[str, Slo]) -> None:
    slo = slos["prom/availability"]
    assert slo.objective == 0.999
    assert slo.window.days == 28  # the longest policy step (2,419,200 s)
    assert [s.name for s in slo.error_budget_policy] == ["1 hour", "28 days"]
    assert slo.error_budget_policy[0].burn_rate_threshold == 9
    assert slo.error_budget_policy[0].window == timedelta(hours=1)
    assert slo.error_budget_policy[0].alert is True
    assert isinstance(slo.indicator, PrometheusSource)
    assert slo.indicator.good is not None and 'code=~"2.."' in slo.indicator.good.expr


def test_native_duckdb_and_health(slos: dict[str, Slo]) -> None:
    orders = slos["orders/availability"]
    assert orders.objective == 0.995
    assert isinstance(orders.indicator, DuckDbSource)
    health = slos["orders/health"]
    assert health.indicator == HealthSource("orders", "http")
    assert health.window.calendar_unit is CalendarUnit.MONTH
    when = datetime(2026, 2, 14, 9, 30, tzinfo=UTC)
    assert health.window.start_at(when) == datetime(2026, 2, 1, tzinfo=UTC)
    assert health.window.end_of_period(when) == datetime(2026, 3, 1, tzinfo=UTC)


def test_bad_files_give_located_problems() -> None:
    result = read(EXAMPLES / "bad")
    texts = {str(p) for p in result.problems}
    # The end of the file is where the parser stops; the message also names the opening.
    assert any(
        "not_yaml.yaml: line 6, column 1: invalid YAML" in t and "starts at line 5, column 9" in t
        for t in texts
    )
    assert any(
        "bad_objective.yaml: line 11: slos.1.objective" in t and "found 100" in t for t in texts
    )
    assert any("bad_openslo.yaml: line 7: spec.indicatorRef: no SLI" in t for t in texts)
    assert any("bad_openslo.yaml: line 22: spec.budgetingMethod" in t for t in texts)
    unknown = [p for p in result.problems if p.path.endswith("unknown.yaml")]
    assert unknown and unknown[0].level is Level.WARNING
    # The good SLO in the partly bad file stands.
    assert [s.key for s in result.records] == ["svc/ok"]


def test_duplicate_slo_is_refused(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "native.yaml", tmp_path / "a.yaml")
    shutil.copy(EXAMPLES / "native.yaml", tmp_path / "b.yaml")
    result = read(tmp_path)
    assert len(result.records) == 2
    assert sum("defined twice" in p.message for p in result.problems) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "slos:\n  - service: a\n    name: b\n    objective: 99\n    window: 30x\n"
            "    indicator: {health: {service: a}}\n",
            "window: not a window",
        ),
        (
            "slos:\n  - service: a\n    name: b\n    objective: 99\n"
            "    indicator: {kafka: {topic: a}}\n",
            "unknown indicator source",
        ),
        (
            "slos:\n  - service: a\n    name: b\n    objective: 99\n"
            "    indicator: {duckdb: {path: x.parquet}}\n",
            "no good or bad predicate",
        ),
        (
            "slos:\n  - service: a\n    objective: 99\n    indicator: {health: {service: a}}\n",
            "'name' is missing",
        ),
        (
            "slos:\n  - service: a\n    name: b\n    objective: 99\n    budgeting: timeslices\n"
            "    indicator: {health: {service: a}}\n",
            "timeslice_target",
        ),
    ],
)
def test_native_field_errors(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "slo.yaml").write_text(body)
    result = read(tmp_path)
    assert not result.records
    assert any(message in str(p) and "slo.yaml: line" in str(p) for p in result.problems), [
        str(p) for p in result.problems
    ]


def test_empty_or_missing_folder_reads_nothing(tmp_path: Path) -> None:
    assert read(tmp_path / "absent").records == []
    (tmp_path / "empty.yaml").write_text("# nothing here\n")
    result = read(tmp_path)
    assert result.records == [] and result.problems == []
