"""Hours in the middle of a span fetched as one count each: exact sums for windows ending at
the end, far fewer points asked of Prometheus.

The same backfilled counters as the engine test (15 s scrapes of known events); the
expected counts come from the events themselves, by numpy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.engines.prometheus_engine import PrometheusEngine, Spans
from opsledger.model.slo import BudgetingMethod, Slo
from opsledger.slo.service import evaluate_workspace
from tests.engines.test_prometheus_engine import openmetrics, prometheus_slo
from tests.slo.prometheus_server import backfilled_prometheus
from tests.slo.slo_events import MINUTES, START, Events, generate

END = START + timedelta(minutes=MINUTES)


@pytest.fixture(scope="module")
def events() -> Events:
    return generate(seed=9, steady_slots=True)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, events: Events) -> Iterator[str]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics(events)) as url:
        yield url


class CountingEngine(PrometheusEngine):
    """The engine, counting the evaluation points of every range query it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.points = 0

    def query_range(self, expr: str, start: datetime, end: datetime, slo: Slo,
                    step: int = 60) -> Any:
        self.points += int((end - start).total_seconds() // step) + 1
        return super().query_range(expr, start, end, slo, step)


def test_spans_cover_the_minutes_with_whole_hours_ending_before_the_tail() -> None:
    assert Spans.of(360, None) == Spans(360, 0, 0)
    assert Spans.of(360, timedelta(minutes=45)) == Spans(0, 5, 60)
    assert Spans.of(367, timedelta(hours=1)) == Spans(7, 5, 60)
    assert Spans.of(367, timedelta(hours=2, minutes=1)) == Spans(7, 3, 180)
    assert Spans.of(30, timedelta(hours=1)) == Spans(0, 0, 30)


@pytest.mark.prometheus
@pytest.mark.parametrize("head", [0, 13])
def test_windows_ending_at_the_end_are_exact_with_hours_summed(
    prometheus: str, events: Events, head: int
) -> None:
    start = START + timedelta(minutes=head)
    minutes = MINUTES - head
    good, total = events.expected("checkout", start, minutes)
    coarse = CountingEngine(prometheus)
    series = coarse.series(prometheus_slo("checkout"), start, END, timedelta(hours=1))
    fine = CountingEngine(prometheus)
    fine.series(prometheus_slo("checkout"), start, END)
    for window in (5, 30, 60, 120, 180, 300, minutes):
        np.testing.assert_allclose(series.total[-window:].sum(), total[-window:].sum(),
                                   rtol=1e-9, err_msg=f"{window} minutes")
        np.testing.assert_allclose(series.good[-window:].sum(), good[-window:].sum(),
                                   rtol=1e-9, err_msg=f"{window} minutes")
    # Both counters in one query: the minutes before the first whole hour, one point an
    # hour, the last hour's minutes (and a query's first point each), not one point a minute.
    spans = Spans.of(minutes, timedelta(hours=1))
    assert spans.hours >= 4
    assert coarse.points <= spans.head + spans.hours + spans.tail + 3
    assert fine.points >= minutes
    # Inside the summed hours, each minute holds an even share of its hour.
    hour = slice(spans.head, spans.head + 60)
    assert np.ptp(series.total[hour]) == pytest.approx(0, abs=1e-9)
    assert series.total[hour].sum() == pytest.approx(total[hour].sum(), rel=1e-9)


@pytest.mark.prometheus
def test_time_slice_budgets_are_always_fetched_by_the_minute(
    prometheus: str, events: Events
) -> None:
    slo = prometheus_slo("search")
    sliced = Slo(slo.service, slo.name, slo.objective, slo.window, slo.indicator,
                 budgeting=BudgetingMethod.TIMESLICES, timeslice_target=0.9)
    good, total = events.expected("search", START, MINUTES)
    series = PrometheusEngine(prometheus).series(sliced, START, END, timedelta(hours=1))
    np.testing.assert_allclose(series.total, total, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(series.good, good, rtol=1e-9, atol=1e-6)


@pytest.mark.prometheus
def test_hours_meeting_an_exact_span_are_fetched_by_the_minute(
    prometheus: str, events: Events
) -> None:
    good, total = events.expected("checkout", START, MINUTES)
    incident = (START + timedelta(minutes=75), START + timedelta(minutes=140))
    series = PrometheusEngine(prometheus).series(
        prometheus_slo("checkout"), START, END, timedelta(hours=1), exact=[incident]
    )
    # Hours 1 and 2 (minutes 60-180) meet the incident: exact minutes; hour 0 is spread.
    np.testing.assert_allclose(series.total[60:180], total[60:180], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(series.good[60:180], good[60:180], rtol=1e-9, atol=1e-6)
    assert np.ptp(series.total[0:60]) == pytest.approx(0, abs=1e-9)
    assert series.total.sum() == pytest.approx(total.sum(), rel=1e-9)


@pytest.mark.prometheus
def test_status_from_summed_hours_equals_status_from_minutes(
    prometheus: str, tmp_path: Path
) -> None:
    """What ``slo status`` shows is the same whichever way the counts were fetched,
    incidents' shares of the budget included."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "checkout.yaml").write_text(
        "slos:\n  - service: checkout\n    name: availability\n    objective: 0.995\n"
        "    window: 1d\n    indicator:\n      prometheus:\n"
        "        good: 'http_requests_total{service=\"checkout\",code!~\"5..\"}'\n"
        "        total: 'http_requests_total{service=\"checkout\"}'\n")
    (tmp_path / "incidents").mkdir()
    (tmp_path / "incidents" / "incidents.csv").write_text(
        "id,title,service,severity,status,created_at,resolved_at\n"
        f"INC-1,errors,checkout,SEV2,resolved,{(START + timedelta(minutes=95)).isoformat()},"
        f"{(START + timedelta(minutes=170)).isoformat()}\n")
    reports = []
    for minute_history in (True, False):
        ctx = Context.open(open_workspace(tmp_path), END)
        reports.append(evaluate_workspace(ctx, prometheus, min_events=1,
                                          minute_history=minute_history))
    fine, coarse = (r.to_json() for r in reports)
    assert json.loads(json.dumps(fine), parse_float=lambda x: round(float(x), 9)) == \
        json.loads(json.dumps(coarse), parse_float=lambda x: round(float(x), 9))
    (evaluation,) = reports[1].evaluations
    assert evaluation.status.valid and evaluation.status.burn_rates
