"""The DuckDB engine counts generated events exactly as an independent numpy count does."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from opsledger.core.errors import EngineError
from opsledger.engines.duckdb_engine import DuckDbEngine
from opsledger.model.slo import DuckDbSource, SliSeries, Slo, SloWindow
from tests.slo.slo_events import MINUTES, SERVICES, START, Events, availability_slo, write_parquet


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, events: Events) -> Path:
    root = tmp_path_factory.mktemp("ws")
    write_parquet(events, root / "telemetry" / "requests" / "part-0.parquet")
    # The same events as CSV (ISO text timestamps) and JSON lines.
    stamps = [datetime.fromtimestamp(t / 1e6, tz=START.tzinfo).isoformat() for t in events.ts_us]
    with open(root / "telemetry" / "events.csv", "w") as out:
        out.write("ts,service,status,latency_ms\n")
        for t, s, st, lat in zip(
            stamps, events.service, events.status, events.latency_ms, strict=True
        ):
            out.write(f"{t},{SERVICES[s]},{st},{lat:.3f}\n")
    with open(root / "telemetry" / "events.jsonl", "w") as out:
        for t, s, st in zip(stamps, events.service, events.status, strict=True):
            out.write(json.dumps({"ts": t, "service": SERVICES[s], "status": int(st)}) + "\n")
    return root


@pytest.mark.parametrize(
    "path",
    [
        "telemetry/requests/*.parquet",
        "telemetry/requests",
        "telemetry/events.csv",
        "telemetry/events.jsonl",
    ],
)
@pytest.mark.parametrize("service", SERVICES)
def test_counts_match_numpy(
    workspace: Path, events: Events, span: tuple[datetime, datetime], path: str, service: str
) -> None:
    engine = DuckDbEngine(workspace)
    series = engine.series(availability_slo(service, path), *span)
    good, total = events.expected(service, START, MINUTES)
    assert series.minutes == MINUTES
    np.testing.assert_array_equal(series.total, total)
    np.testing.assert_array_equal(series.good, good)
    assert total.sum() > 10_000 and (total - good).sum() > 100  # the test has teeth


def test_bad_predicate_gives_the_same_good(
    workspace: Path, span: tuple[datetime, datetime]
) -> None:
    engine = DuckDbEngine(workspace)
    path = "telemetry/requests/*.parquet"
    by_good = engine.series(availability_slo("checkout", path), *span)
    by_bad = engine.series(availability_slo("checkout", path, bad=True), *span)
    np.testing.assert_array_equal(by_good.good, by_bad.good)


def test_span_edges_are_half_open(workspace: Path, events: Events) -> None:
    engine = DuckDbEngine(workspace)
    start = START + timedelta(minutes=100)
    series = engine.series(
        availability_slo("search", "telemetry/events.csv"), start, start + timedelta(minutes=30)
    )
    good, total = events.expected("search", start, 30)
    np.testing.assert_array_equal(series.total, total)
    np.testing.assert_array_equal(series.good, good)


def test_sql_is_one_group_by(workspace: Path, span: tuple[datetime, datetime]) -> None:
    engine = DuckDbEngine(workspace)
    sql = engine.query_sql(availability_slo("checkout", "telemetry/requests/*.parquet"), *span)
    assert sql.count("GROUP BY") == 1 and "read_parquet" in sql
    assert "TIMESTAMPTZ '2026-03-01T00:00:00+00:00'" in sql  # typed like the column


def _slo(path: str, good: str = "status < 500") -> Slo:
    return Slo(
        "svc",
        "a",
        0.99,
        SloWindow(1),
        DuckDbSource(path, "ts", good=good),
        source_path="slos/a.yaml",
        source_line=7,
    )


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        (
            _slo("telemetry/requests/*.parquet", good="no_such_column > 1"),
            "svc/a (defined at slos/a.yaml:7): the SLI query failed",
        ),
        (_slo("../outside/*.parquet"), "must be inside the workspace"),
        (_slo("/etc/passwd.csv"), "must be inside the workspace"),
        (_slo("telemetry/nothing-*.parquet"), "no files match"),
        (_slo("telemetry/events.xml"), "no files match"),
    ],
)
def test_errors_are_clear(
    workspace: Path, span: tuple[datetime, datetime], slo: Slo, message: str
) -> None:
    with pytest.raises(EngineError) as caught:
        DuckDbEngine(workspace).series(slo, *span)
    assert message in str(caught.value)


def test_predicates_cannot_read_outside_the_workspace(
    workspace: Path, span: tuple[datetime, datetime]
) -> None:
    sneaky = _slo(
        "telemetry/requests/*.parquet",
        good="status IN (SELECT 1 FROM read_csv('/etc/passwd'))",
    )
    with pytest.raises(EngineError, match="a subquery is not allowed"):
        DuckDbEngine(workspace).series(sneaky, *span)


def test_unaligned_span_is_refused(workspace: Path) -> None:
    with pytest.raises(EngineError, match="minute-aligned"):
        DuckDbEngine(workspace).series(
            availability_slo("checkout", "telemetry/events.csv"),
            START + timedelta(seconds=30),
            START + timedelta(minutes=5),
        )


def test_many_slos_in_one_scan_match_one_at_a_time(
    workspace: Path, events: Events, span: tuple[datetime, datetime]
) -> None:
    path = "telemetry/requests/*.parquet"
    latency = Slo(
        "checkout",
        "latency",
        0.99,
        SloWindow(1),
        DuckDbSource(path, "ts", good="latency_ms < 80", total="service = 'checkout'"),
    )
    slos = [
        availability_slo("checkout", path),
        availability_slo("search", path, bad=True),
        latency,
    ]
    engine = DuckDbEngine(workspace)
    together = engine.series_many(slos, *span)
    assert set(together) == {s.key for s in slos}
    for slo in slos:
        alone = engine.series(slo, *span)
        np.testing.assert_array_equal(together[slo.key].good, alone.good)
        np.testing.assert_array_equal(together[slo.key].total, alone.total)
    good, total = events.expected("search", START, MINUTES)
    np.testing.assert_array_equal(together["search/availability"].total, total)
    np.testing.assert_array_equal(together["search/availability"].good, good)


def test_many_slos_name_the_one_with_a_bad_predicate(
    workspace: Path, span: tuple[datetime, datetime]
) -> None:
    path = "telemetry/requests/*.parquet"
    broken = _slo(path, good="missing_column = 1")
    with pytest.raises(EngineError, match=r"svc/a \(defined at slos/a.yaml:7\)"):
        DuckDbEngine(workspace).series_many([availability_slo("checkout", path), broken], *span)


def test_one_scan_returns_a_row_per_minute_and_mask_not_per_combination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Eight status codes in every minute of two services: sixteen combinations a minute that
    # the predicates reduce to four masks (each service's events, good or not).
    import pyarrow as pa
    import pyarrow.parquet as pq

    codes = np.array([200, 201, 204, 301, 404, 500, 502, 503])
    minutes, per_minute = 60, 48
    rng = np.random.default_rng(5)
    stamps = (np.repeat(np.arange(minutes), per_minute) * 60 + rng.integers(0, 60, minutes
              * per_minute)) * 1_000_000 + int(START.timestamp() * 1_000_000)
    service = np.tile(np.repeat(["checkout", "search"], per_minute // 2), minutes)
    status = np.tile(np.tile(codes, per_minute // len(codes)), minutes)
    (tmp_path / "telemetry").mkdir()
    pq.write_table(pa.table({"ts": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                             "service": service, "status": status.astype(np.int32)}),
                   tmp_path / "telemetry" / "codes.parquet")
    slos = [availability_slo(name, "telemetry/codes.parquet") for name in ("checkout", "search")]
    engine = DuckDbEngine(tmp_path)
    calls = recorded_counts(engine, monkeypatch)
    together = engine.series_many(slos, START, START + timedelta(days=1))
    assert [len(columns["minute"]) for _, columns in calls] == [minutes * 4]
    for name in ("checkout", "search"):
        mine = service == name
        expected_total = np.bincount((stamps[mine] // 1_000_000 - int(START.timestamp())) // 60,
                                     minlength=24 * 60)
        expected_good = np.bincount(
            (stamps[mine & (status < 500)] // 1_000_000 - int(START.timestamp())) // 60,
            minlength=24 * 60)
        np.testing.assert_array_equal(together[f"{name}/availability"].total, expected_total)
        np.testing.assert_array_equal(together[f"{name}/availability"].good, expected_good)


@pytest.mark.parametrize("with_latency", [False, True])
def test_one_scan_groups_only_the_events_of_its_slos_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_latency: bool
) -> None:
    # Two services with SLOs among eight in the file. Availability SLOs alone are grouped by
    # their columns first; a latency SLO (a continuous column) makes the scan group by mask.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(8)
    count = 6_000
    stamps = (rng.integers(0, 6 * 3600, count) * 1_000_000 + int(START.timestamp() * 1_000_000))
    names = ["checkout", "search", *(f"other-{i}" for i in range(6))]
    service = rng.choice(names, count)
    status = rng.choice([200, 404, 503], count).astype(np.int32)
    latency = rng.uniform(1, 200, count)
    (tmp_path / "telemetry").mkdir()
    pq.write_table(pa.table({"ts": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                             "service": service, "status": status, "latency_ms": latency}),
                   tmp_path / "telemetry" / "mixed.parquet")
    path = "telemetry/mixed.parquet"
    slos = [availability_slo("checkout", path), availability_slo("search", path)]
    if with_latency:
        slos.append(Slo("search", "latency", 0.99, SloWindow(1), DuckDbSource(
            path, "ts", good="latency_ms < 80", total="service = 'search'")))
    engine = DuckDbEngine(tmp_path)
    calls = recorded_counts(engine, monkeypatch)
    together = engine.series_many(slos, START, START + timedelta(days=1))
    ((sql, columns),) = calls
    mine = np.isin(service, ["checkout", "search"])
    assert int(columns["events"].sum()) == int(mine.sum())
    # The scopes took in a quarter of the events: the others were left out by one IN list.
    assert "service IN ('checkout', 'search')" in sql
    minute = (stamps // 1_000_000 - int(START.timestamp())) // 60
    for name in ("checkout", "search"):
        assert_day_counted(together[f"{name}/availability"], minute, service == name,
                           status < 500)
    if with_latency:
        assert_day_counted(together["search/latency"], minute, service == "search",
                           latency < 80)


def test_a_scan_whose_slos_take_in_most_events_tests_no_scope_per_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(9)
    stamps = rng.integers(0, 3600, 3_000) * 1_000_000 + int(START.timestamp() * 1_000_000)
    service = rng.choice(["checkout", "search", "other"], 3_000, p=[0.45, 0.45, 0.1])
    (tmp_path / "telemetry").mkdir()
    pq.write_table(pa.table({"ts": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                             "service": service, "status": np.full(3_000, 200, np.int32)}),
                   tmp_path / "telemetry" / "most.parquet")
    slos = [availability_slo(name, "telemetry/most.parquet") for name in ("checkout", "search")]
    engine = DuckDbEngine(tmp_path)
    calls = recorded_counts(engine, monkeypatch)
    together = engine.series_many(slos, START, START + timedelta(days=1))
    ((sql, _),) = calls
    assert " IN (" not in sql
    minute = (stamps // 1_000_000 - int(START.timestamp())) // 60
    for name in ("checkout", "search"):
        assert_day_counted(together[f"{name}/availability"], minute, service == name,
                           np.ones(3_000, dtype=bool))


def test_scopes_naming_one_column_with_literals_of_two_types_count_what_each_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An integer column, one SLO naming its value as text and one as a number: the IN list
    # that leaves out the other events casts its values as each '=' does.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(10)
    stamps = rng.integers(0, 3600, 4_000) * 1_000_000 + int(START.timestamp() * 1_000_000)
    tenant = rng.choice(np.arange(40, 48, dtype=np.int32), 4_000)
    status = rng.choice([200, 503], 4_000, p=[0.9, 0.1]).astype(np.int32)
    (tmp_path / "telemetry").mkdir()
    pq.write_table(pa.table({"ts": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                             "tenant": tenant, "status": status}),
                   tmp_path / "telemetry" / "tenants.parquet")
    path = "telemetry/tenants.parquet"
    slos = [Slo(f"tenant-{n}", "availability", 0.99, SloWindow(1), DuckDbSource(
        path, "ts", good="status < 500", total=total)) for n, total in
        ((42, "tenant = '42'"), (43, "tenant = 43"))]
    engine = DuckDbEngine(tmp_path)
    calls = recorded_counts(engine, monkeypatch)
    together = engine.series_many(slos, START, START + timedelta(days=1))
    ((sql, columns),) = calls
    assert "tenant IN ('42', 43)" in sql
    assert int(columns["events"].sum()) == int(np.isin(tenant, [42, 43]).sum())
    minute = (stamps // 1_000_000 - int(START.timestamp())) // 60
    for n in (42, 43):
        assert_day_counted(together[f"tenant-{n}/availability"], minute, tenant == n,
                           status < 500)


def recorded_counts(engine: DuckDbEngine, monkeypatch: pytest.MonkeyPatch
                    ) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Record each counting query ``engine`` runs from now on, with the columns it returned."""
    calls: list[tuple[str, dict[str, np.ndarray]]] = []
    counts = engine._counts

    def counted(sql: str, label: str) -> dict[str, np.ndarray]:
        columns = counts(sql, label)
        calls.append((sql, columns))
        return columns

    monkeypatch.setattr(engine, "_counts", counted)
    return calls


def assert_day_counted(series: SliSeries, minute: np.ndarray, mine: np.ndarray,
                       good: np.ndarray) -> None:
    """Assert a day's counts per minute: the ``mine`` events in total, ``good`` among them."""
    np.testing.assert_array_equal(series.total, np.bincount(minute[mine], minlength=1440))
    np.testing.assert_array_equal(series.good, np.bincount(minute[mine & good], minlength=1440))


@pytest.mark.parametrize(("unit", "zone"), [("s", None), ("ms", "UTC"), ("us", "+02:00"),
                                            ("ns", None), ("ns", "UTC"), ("ns", "+02:00")])
def test_times_of_every_precision_with_or_without_a_zone_count_by_their_minute(
    tmp_path: Path, unit: str, zone: str | None
) -> None:
    # Pandas writes an aware column in nanoseconds with its zone (TIMESTAMPTZ_NS to DuckDB).
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(11)
    seconds = np.sort(rng.integers(0, 3 * 3600, 2_000)) + int(START.timestamp())
    service = rng.choice(["checkout", "search"], seconds.size)
    status = rng.choice([200, 503], seconds.size, p=[0.9, 0.1]).astype(np.int32)
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    (tmp_path / "telemetry").mkdir()
    pq.write_table(pa.table({"ts": pa.array(seconds * per_second, pa.timestamp(unit, tz=zone)),
                             "service": service, "status": status}),
                   tmp_path / "telemetry" / "events.parquet")
    slos = [availability_slo(name, "telemetry/events.parquet") for name in ("checkout", "search")]
    end = START + timedelta(days=1)
    engine = DuckDbEngine(tmp_path)
    together = engine.series_many(slos, START, end)  # one scan for both
    alone = engine.series(slos[0], START, end)
    minute = (seconds - int(START.timestamp())) // 60
    for name in ("checkout", "search"):
        assert_day_counted(together[f"{name}/availability"], minute, service == name,
                           status < 500)
    np.testing.assert_array_equal(alone.total, together["checkout/availability"].total)
