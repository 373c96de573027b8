"""One SLI, two engines: a real Prometheus backfilled with the same events agrees with DuckDB.

The events are backfilled as counters scraped every 15 s (see :mod:`.prometheus_server`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from opsledger.core.errors import EngineError
from opsledger.engines.duckdb_engine import DuckDbEngine
from opsledger.engines.prometheus_engine import (
    SIDE_LABEL,
    PrometheusEngine,
    counts_expr,
    redact_url,
)
from opsledger.model.slo import PrometheusSource, PromQuery, PromQueryKind, Slo, SloWindow
from tests.slo.prometheus_server import backfilled_prometheus, free_port
from tests.slo.slo_events import (
    MINUTES,
    SERVICES,
    START,
    Events,
    availability_slo,
    generate,
    write_parquet,
)

SCRAPE_SECONDS = 15


def openmetrics(events: Events) -> str:
    """Return the events as counters ``http_requests_total{service, code}`` every 15 s."""
    start_s = int(START.timestamp())
    stamps = np.arange(start_s, start_s + MINUTES * 60 + 1, SCRAPE_SECONDS)
    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests served."]
    for index, service in enumerate(SERVICES):
        for code in sorted(set(events.status[events.service == index].tolist())):
            chosen = events.ts_us[(events.service == index) & (events.status == code)]
            # A counter sampled at t counts the events up to and including t.
            values = np.searchsorted(np.sort(chosen), stamps * 1_000_000, side="right")
            label = f'{{service="{service}",code="{code}"}}'
            lines += [
                f"http_requests_total{label} {v} {t}" for t, v in zip(stamps, values, strict=True)
            ]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def steady_events() -> Events:
    return generate(seed=5, steady_slots=True)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, steady_events: Events) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    with backfilled_prometheus(root, openmetrics(steady_events)) as url:
        yield url


def prometheus_slo(service: str) -> Slo:
    return Slo(
        service,
        "availability",
        0.99,
        SloWindow(days=1),
        PrometheusSource(
            good=PromQuery(f'http_requests_total{{service="{service}",code!~"5.."}}'),
            total=PromQuery(f'http_requests_total{{service="{service}"}}'),
        ),
    )


@pytest.mark.prometheus
@pytest.mark.parametrize("service", SERVICES)
def test_both_engines_give_the_same_counts(
    prometheus: str, steady_events: Events, tmp_path: Path, service: str
) -> None:
    write_parquet(steady_events, tmp_path / "telemetry" / "requests.parquet")
    span = (START, START + timedelta(minutes=MINUTES))
    duck = DuckDbEngine(tmp_path).series(availability_slo(service, "telemetry/*.parquet"), *span)
    # Small chunks so the span is fetched in several range queries.
    prom = PrometheusEngine(prometheus, chunk_minutes=100).series(prometheus_slo(service), *span)
    good, total = steady_events.expected(service, START, MINUTES)
    np.testing.assert_array_equal(duck.total, total)
    np.testing.assert_allclose(prom.total, duck.total, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(prom.good, duck.good, rtol=1e-9, atol=1e-6)
    assert (total - good).sum() > 0 and total.sum() > 10_000


@pytest.mark.prometheus
def test_rate_template_matches_counter(prometheus: str, steady_events: Events) -> None:
    span = (START + timedelta(hours=1), START + timedelta(hours=2))
    engine = PrometheusEngine(prometheus)
    sloth = Slo(
        "checkout",
        "a",
        0.99,
        SloWindow(1),
        PrometheusSource(
            bad=PromQuery(
                'sum(rate(http_requests_total{service="checkout",code=~"5.."}[{{.window}}]))',
                PromQueryKind.RATE_TEMPLATE,
            ),
            total=PromQuery(
                'sum(rate(http_requests_total{service="checkout"}[{{.window}}]))',
                PromQueryKind.RATE_TEMPLATE,
            ),
        ),
    )
    good, total = steady_events.expected("checkout", span[0], 60)
    series = engine.series(sloth, *span)
    np.testing.assert_allclose(series.total, total, rtol=1e-9)
    np.testing.assert_allclose(series.good, good, rtol=1e-9, atol=1e-6)


@pytest.mark.prometheus
def test_a_rejected_query_names_the_slo_and_the_query(prometheus: str) -> None:
    bad = Slo(
        "svc",
        "broken",
        0.99,
        SloWindow(1),
        PrometheusSource(total=PromQuery("sum(rate(x[5m])"), good=PromQuery("y")),
        source_path="slos/x.yaml",
        source_line=4,
    )
    with pytest.raises(EngineError) as caught:
        PrometheusEngine(prometheus).series(bad, START, START + timedelta(minutes=5))
    text = str(caught.value)
    assert "svc/broken (defined at slos/x.yaml:4)" in text
    assert "rejected the query (bad_data)" in text
    # Good and total were asked for together; asked again alone, the side at fault is named.
    assert text.endswith("query: sum(increase((sum(rate(x[5m]))[1m:15s]))")


def test_prometheus_down_fails_fast_with_a_clear_message() -> None:
    port = free_port()  # nothing listens here
    engine = PrometheusEngine(f"http://127.0.0.1:{port}", attempts=3, backoff=0.05)
    began = time.monotonic()
    with pytest.raises(EngineError) as caught:
        engine.series(prometheus_slo("checkout"), START, START + timedelta(minutes=10))
    assert time.monotonic() - began < 3
    text = str(caught.value)
    assert f"Prometheus at http://127.0.0.1:{port} is not reachable" in text
    assert "connection refused" in text and "after 3 attempt(s)" in text
    assert "checkout/availability" in text


def test_credentials_in_the_url_never_reach_a_message() -> None:
    port = free_port()
    engine = PrometheusEngine(f"http://reader:s3cret@127.0.0.1:{port}", attempts=1)
    with pytest.raises(EngineError) as caught:
        engine.series(prometheus_slo("checkout"), START, START + timedelta(minutes=10))
    assert "s3cret" not in str(caught.value) and "reader" not in str(caught.value)
    assert f"http://***@127.0.0.1:{port}" in str(caught.value)
    assert redact_url("https://prom.example.com/x") == "https://prom.example.com/x"


def test_a_slow_prometheus_times_out_with_a_clear_message() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept_and_hang() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_and_hang, daemon=True).start()
    port = server.getsockname()[1]
    engine = PrometheusEngine(f"http://127.0.0.1:{port}", timeout=0.2, attempts=2, backoff=0.01)
    try:
        with pytest.raises(EngineError, match=r"did not answer within 0.2 s after 2 attempt"):
            engine.series(prometheus_slo("search"), START, START + timedelta(minutes=10))
    finally:
        server.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            PromQuery('http_requests_total{job="a"}'),
            'sum(increase(http_requests_total{job="a"}[1m]))',
        ),
        (PromQuery("sum by (job) (x_total)"), "sum(increase((sum by (job) (x_total))[1m:15s]))"),
        (
            PromQuery("sum(rate(x[{{.window}}]))", PromQueryKind.RATE_TEMPLATE),
            "(sum(sum(rate(x[1m]))) * 60)",
        ),
        (
            PromQuery("sum(increase(x[{{.window}}]))", PromQueryKind.COUNT_TEMPLATE),
            "sum(sum(increase(x[1m])))",
        ),
    ],
)
def test_counts_expression(query: PromQuery, expected: str) -> None:
    assert counts_expr(query) == expected


def test_span_is_fetched_in_chunks_within_the_point_limit() -> None:
    calls: list[tuple[str, float, float]] = []

    class Recorder(PrometheusEngine):
        def query_range(
            self, expr: str, start: datetime, end: datetime, slo: Slo, step: int = 60
        ) -> list:
            calls.append((expr, start.timestamp(), end.timestamp()))
            return []

    minutes = 30 * 1440
    series = Recorder("http://unused").series(
        prometheus_slo("checkout"), START, START + timedelta(minutes=minutes)
    )
    assert series.minutes == minutes and series.total.sum() == 0
    per_query = [((end - start) / 60 + 1) for _, start, end in calls]
    assert max(per_query) <= 11_000
    # Each query asks for good and total together; together they cover every minute once.
    assert sum(per_query) == minutes
    assert all(f'"{SIDE_LABEL}", "good"' in expr and f'"{SIDE_LABEL}", "total"' in expr
               for expr, _, _ in calls)
