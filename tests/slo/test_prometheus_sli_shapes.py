"""Every ratio SLI is a ratio of sums: each SLI shape as users write it, on a real Prometheus.

Prometheus is backfilled (see :mod:`.prometheus_server`) with request counters and a latency
histogram sampled every 15 s over four hours. The traffic is deliberately uneven: busy
minutes with few errors and few slow requests, quiet minutes with many, so averaging the
minute ratios gives a clearly different SLI from dividing the window's good events by its
total events. Each SLO is written as definition text (native, Sloth, OpenSLO, slo-generator),
read by the readers, counted by the Prometheus engine and evaluated by the SLO analysis; its
SLI must equal the ratio of the summed counter increments to 1e-9.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from string import Template

import numpy as np
import pytest

from opsledger.core.problems import Level
from opsledger.engines.prometheus_engine import PrometheusEngine
from opsledger.model.slo import PrometheusSource
from opsledger.readers import slo_definitions
from opsledger.slo.objectives import evaluate, evaluation_span

from .prometheus_server import backfilled_prometheus

START = datetime(2026, 5, 4, tzinfo=UTC)
MINUTES = 4 * 60
SLOTS_PER_MINUTE = 4  # a sample every 15 s, on the minute boundaries too
NOW = START + timedelta(minutes=MINUTES)
BOUNDS = ("0.1", "0.25", "1", "+Inf")  # the latency histogram's buckets (le), in seconds
FAST = "0.25"  # the bucket that counts as good latency
TOLERANCE = 1e-9

QUERIES = {
    "ALL": 'http_requests_total{service="shop"}',
    "ERRORS": 'http_requests_total{service="shop", code=~"5.."}',
    "OK": 'http_requests_total{service="shop", code!~"5.."}',
    "BUCKETS": 'http_request_duration_seconds_bucket{service="shop"}',
}


class Measure(Enum):
    AVAILABILITY = "requests that do not fail"
    LATENCY = f"requests served within {FAST} s"


@dataclass(frozen=True)
class Traffic:
    """Events per 15-second slot, in time order: requests by outcome and by latency bucket."""

    ok: np.ndarray
    errors: np.ndarray
    latency: np.ndarray  # one column per bucket of BOUNDS, not cumulative

    def per_minute(self, measure: Measure) -> tuple[np.ndarray, np.ndarray]:
        """Return (good, total) events per minute, summed from the slots."""
        if measure is Measure.AVAILABILITY:
            good, total = self.ok, self.ok + self.errors
        else:
            good = self.latency[:, : BOUNDS.index(FAST) + 1].sum(axis=1)
            total = self.latency.sum(axis=1)
        minutes = (-1, SLOTS_PER_MINUTE)
        return good.reshape(minutes).sum(axis=1), total.reshape(minutes).sum(axis=1)

    def ratio_of_sums(self, measure: Measure) -> float:
        good, total = self.per_minute(measure)
        return float(good.sum() / total.sum())

    def mean_of_minute_ratios(self, measure: Measure) -> float:
        good, total = self.per_minute(measure)
        return float(np.mean(good / total))


def generate(seed: int = 17) -> Traffic:
    """Return uneven traffic: every fifth minute is quiet and goes badly, the others are busy."""
    rng = np.random.default_rng(seed)
    slots = MINUTES * SLOTS_PER_MINUTE
    quiet = (np.arange(slots) // SLOTS_PER_MINUTE) % 5 == 0
    requests = np.where(quiet, rng.poisson(3, slots) + 1, rng.poisson(300, slots))
    errors = rng.binomial(requests, np.where(quiet, 0.4, 0.002))
    shares = np.where(quiet[:, None], [0.3, 0.2, 0.3, 0.2], [0.9, 0.09, 0.009, 0.001])
    latency = np.array([rng.multinomial(n, p) for n, p in zip(requests, shares, strict=True)])
    return Traffic(requests - errors, errors, latency)


def openmetrics(traffic: Traffic) -> str:
    """Return the traffic as counters sampled every 15 s from START (value 0 at START)."""
    stamps = int(START.timestamp()) + 15 * np.arange(MINUTES * SLOTS_PER_MINUTE + 1)

    def counter(increments: np.ndarray) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(increments)])

    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests served."]
    for code, increments in (("200", traffic.ok), ("500", traffic.errors)):
        label = f'{{service="shop",code="{code}"}}'
        values = counter(increments)
        lines += [
            f"http_requests_total{label} {v} {t}" for t, v in zip(stamps, values, strict=True)
        ]
    name = "http_request_duration_seconds"
    lines += [f"# TYPE {name} histogram", f"# HELP {name} Request latency."]
    buckets = [counter(traffic.latency[:, : i + 1].sum(axis=1)) for i in range(len(BOUNDS))]
    count = counter(traffic.latency.sum(axis=1))
    for index, stamp in enumerate(stamps):
        for bound, values in zip(BOUNDS, buckets, strict=True):
            lines.append(f'{name}_bucket{{service="shop",le="{bound}"}} {values[index]} {stamp}')
        lines.append(f'{name}_count{{service="shop"}} {count[index]} {stamp}')
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, traffic: Traffic) -> Iterator[str]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics(traffic)) as url:
        yield url


# --- definitions, as users write them ----------------------------------------------------

NATIVE = """\
slos:
  - service: shop
    name: availability
    objective: 99.5
    window: 1d
    indicator:
      prometheus:
$INDICATOR
"""

SLOTH = """\
version: prometheus/v1
service: shop
slos:
  - name: availability
    objective: 99.5
    sli:
$SLI
    alerting:
      name: ShopAvailability
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 1d
      isRolling: true
  objectives:
    - target: 0.995
  indicator:
    metadata:
      name: shop-availability
    spec:
      ratioMetric:
        counter: true
$METRICS
"""

SLO_GENERATOR = """\
apiVersion: sre.google.com/v2
kind: ServiceLevelObjective
metadata:
  name: shop-availability
  labels:
    service_name: shop
    slo_name: availability
spec:
  backend: prometheus
  goal: 0.995
$METHOD
"""


def openslo_metric(name: str, query: str) -> str:
    return (
        f"        {name}:\n          metricSource:\n            type: prometheus\n"
        f"            spec:\n              query: '{query}'"
    )


@dataclass(frozen=True)
class Shape:
    name: str
    text: str
    measure: Measure = Measure.AVAILABILITY

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.yaml"
        path.write_text(Template(self.text).substitute(QUERIES))
        return path


def shape(name: str, template: str, measure: Measure = Measure.AVAILABILITY, **parts: str) -> Shape:
    return Shape(name, Template(template).substitute(parts), measure)


SHAPES = [
    # 1. good over total
    shape(
        "native-good-total",
        NATIVE,
        INDICATOR="        good: '$OK'\n        total: '$ALL'",
    ),
    shape(
        "sloth-events",
        SLOTH,
        SLI="      events:\n"
        "        error_query: 'sum(rate($ERRORS[{{.window}}]))'\n"
        "        total_query: 'sum(rate($ALL[{{.window}}]))'",
    ),
    shape(
        "openslo-good-total",
        OPENSLO,
        METRICS=openslo_metric("good", "$OK") + "\n" + openslo_metric("total", "$ALL"),
    ),
    shape(
        "slo-generator-good-valid",
        SLO_GENERATOR,
        METHOD="  method: good_bad_ratio\n  service_level_indicator:\n"
        "    filter_good: '$OK'\n    filter_valid: '$ALL'",
    ),
    # 2. bad over total
    shape(
        "openslo-bad-total",
        OPENSLO,
        METRICS=openslo_metric("bad", "sum(rate($ERRORS[{{.window}}]))")
        + "\n"
        + openslo_metric("total", "sum(rate($ALL[{{.window}}]))"),
    ),
    shape(
        "slo-generator-bad-valid",
        SLO_GENERATOR,
        METHOD="  method: good_bad_ratio\n  service_level_indicator:\n"
        "    filter_bad: '$ERRORS'\n    filter_valid: '$ALL'",
    ),
    # 3. slo-generator query_sli, A / B over [window]
    shape(
        "query-sli-rate",
        SLO_GENERATOR,
        METHOD="  method: query_sli\n  service_level_indicator:\n"
        "    expression: 'sum(rate($OK[window])) / sum(rate($ALL[window]))'",
    ),
    shape(
        "query-sli-increase",
        SLO_GENERATOR,
        METHOD="  method: query_sli\n  service_level_indicator:\n"
        "    expression: 'sum(increase($OK[window])) / sum(increase($ALL[window]))'",
    ),
    shape(
        "query-sli-complement",
        SLO_GENERATOR,
        METHOD="  method: query_sli\n  service_level_indicator:\n"
        "    expression: '1 - (sum(increase($ERRORS[window])) / sum(increase($ALL[window])))'",
    ),
    # 4. raw ratios: Sloth error_ratio_query, OpenSLO ratioMetric.raw, native ratio
    shape(
        "sloth-raw",
        SLOTH,
        SLI="      raw:\n        error_ratio_query: "
        "'sum(rate($ERRORS[{{.window}}])) / sum(rate($ALL[{{.window}}]))'",
    ),
    shape(
        "sloth-raw-complement",
        SLOTH,
        SLI="      raw:\n        error_ratio_query: |\n          1 - (\n"
        "            sum(rate($OK[{{.window}}]))\n            /\n"
        "            sum(rate($ALL[{{.window}}]))\n          )",
    ),
    shape(
        "openslo-raw-failure",
        OPENSLO,
        METRICS="        rawType: failure\n"
        + openslo_metric("raw", "sum(rate($ERRORS[{{.window}}])) / sum(rate($ALL[{{.window}}]))"),
    ),
    shape(
        "openslo-raw-success",
        OPENSLO,
        METRICS="        rawType: success\n"
        + openslo_metric(
            "raw", "(sum(increase($OK[{{.window}}])) / sum(increase($ALL[{{.window}}])))"
        ),
    ),
    shape(
        "native-ratio",
        NATIVE,
        INDICATOR="        ratio: 'sum(rate($OK[window])) / sum(rate($ALL[window]))'",
    ),
    # 5. slo-generator distribution_cut on a histogram
    shape(
        "distribution-cut",
        SLO_GENERATOR,
        Measure.LATENCY,
        METHOD="  method: distribution_cut\n  service_level_indicator:\n"
        "    expression: '$BUCKETS'\n    threshold_bucket: 0.25",
    ),
]


def test_the_traffic_tells_a_ratio_of_sums_from_a_mean_of_minute_ratios(traffic: Traffic) -> None:
    for measure in Measure:
        ratio, mean = traffic.ratio_of_sums(measure), traffic.mean_of_minute_ratios(measure)
        assert abs(ratio - mean) > 0.05, measure
        assert 0.9 < ratio < 1  # the busy minutes hold most events and go well


@pytest.mark.prometheus
@pytest.mark.parametrize("case", SHAPES, ids=lambda case: case.name)
def test_the_sli_is_the_ratio_of_summed_events(
    prometheus: str, traffic: Traffic, tmp_path: Path, case: Shape
) -> None:
    path = case.write(tmp_path / "slos")
    result = slo_definitions.read(path.parent)
    assert not result.problems, [str(p) for p in result.problems]
    (slo,) = result.records
    series = PrometheusEngine(prometheus).series(slo, *evaluation_span(slo, NOW))
    status = evaluate(slo, series, NOW)
    assert status.valid and status.sli is not None, status.reasons
    expected = traffic.ratio_of_sums(case.measure)
    mean = traffic.mean_of_minute_ratios(case.measure)
    assert abs(status.sli - expected) <= TOLERANCE, (
        f"{case.name}: SLI {status.sli!r}, ratio of sums {expected!r}, "
        f"mean of minute ratios {mean!r}"
    )
    good, total = traffic.per_minute(case.measure)
    assert status.total == pytest.approx(total.sum(), rel=TOLERANCE)
    assert status.good == pytest.approx(good.sum(), rel=TOLERANCE)


UNSPLIT = [
    (
        shape(
            "sloth-raw-gauge",
            SLOTH,
            SLI="      raw:\n        error_ratio_query: "
            "'job:http_errors:ratio_rate5m{service=\"shop\"}'",
        ),
        "slos.0.sli.raw.error_ratio_query",
        "it is not a ratio 'A / B'",
    ),
    (
        shape(
            "openslo-raw-fixed-range",
            OPENSLO,
            METRICS="        rawType: failure\n"
            + openslo_metric("raw", "sum(rate($ERRORS[5m])) / sum(rate($ALL[5m]))"),
        ),
        "spec.indicator.spec.ratioMetric.raw.metricSource.spec.query",
        "do not both range over {{.window}}",
    ),
    (
        shape("native-ratio-gauge", NATIVE, INDICATOR="        ratio: 'job:http_ok:ratio'"),
        "slos.0.indicator.prometheus.ratio",
        "it is not a ratio 'A / B'",
    ),
    (
        shape(
            "query-sli-percent",
            SLO_GENERATOR,
            METHOD="  method: query_sli\n  service_level_indicator:\n"
            "    expression: '100 * sum(rate($OK[window])) / sum(rate($ALL[window]))'",
        ),
        "spec.service_level_indicator.expression",
        "it is not a ratio 'A / B'",
    ),
]


@pytest.mark.parametrize(("case", "key", "reason"), UNSPLIT, ids=[c.name for c, _, _ in UNSPLIT])
def test_a_ratio_that_cannot_be_split_is_sampled_with_a_warning_naming_why(
    tmp_path: Path, case: Shape, key: str, reason: str
) -> None:
    path = case.write(tmp_path / "slos")
    result = slo_definitions.read(path.parent)
    (slo,) = result.records
    source = slo.indicator
    assert isinstance(source, PrometheusSource) and source.ratio is not None
    assert source.good is None and source.bad is None  # sampled once a minute
    (problem,) = result.problems
    assert problem.level is Level.WARNING and problem.path == str(path)
    assert problem.location.startswith("line ")
    assert problem.message.startswith(f"{key}: ")
    assert reason in problem.message and "sampled once a minute" in problem.message
