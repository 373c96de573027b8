"""Spark and DuckDB count the same SLI definitions identically on the same event files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opsledger.core.config import EngineChoice
from opsledger.core.errors import EngineError
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.engines.choice import configured_engine, with_engine
from opsledger.engines.duckdb_engine import DuckDbEngine
from opsledger.engines.spark_engine import SparkEngine
from opsledger.engines.spark_session import missing_requirement, start_session
from opsledger.model.slo import DuckDbSource, Slo, SloWindow
from opsledger.slo.service import evaluate_workspace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=3)
EVENTS = 300_000
SERVICES = np.array(["checkout", "search", "auth"])
STATUSES = np.array([200, 201, 404, 500, 503], dtype=np.int16)
REGIONS = ["eu", "us", None]


def make_events(seed: int, count: int) -> dict[str, Any]:
    """Random events around the span, plus events exactly on its edges."""
    rng = np.random.default_rng(seed)
    lo = int((START - timedelta(hours=6)).timestamp() * 1e6)
    hi = int((END + timedelta(hours=6)).timestamp() * 1e6)
    edges = [int(START.timestamp() * 1e6), int(END.timestamp() * 1e6),
             int(END.timestamp() * 1e6) - 1, int(START.timestamp() * 1e6) - 1]
    ts = np.sort(np.concatenate([rng.integers(lo, hi, count - len(edges)), edges]))
    return {
        "ts": ts,
        "service": SERVICES[rng.integers(0, SERVICES.size, count)],
        "status": STATUSES[rng.choice(STATUSES.size, count, p=[0.6, 0.2, 0.1, 0.06, 0.04])],
        "latency_ms": rng.lognormal(np.log(120.0), 0.8, count).astype(np.float32),
        "region": [REGIONS[i] for i in rng.integers(0, 3, count)],
    }


def write_parquet(path: Path, events: dict[str, Any],
                  zone: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "ts": pa.array(events["ts"], type=pa.timestamp("us", tz=zone)),
        "service": pa.array(events["service"]),
        "status": pa.array(events["status"], type=pa.int16()),
        "latency_ms": pa.array(events["latency_ms"], type=pa.float32()),
        "region": pa.array(events["region"], type=pa.string()),
    })
    pq.write_table(table, path, row_group_size=50_000)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("events")
    first, second = make_events(1, EVENTS // 2), make_events(2, EVENTS // 2)
    write_parquet(root / "events" / "part-0.parquet", first, "UTC")
    write_parquet(root / "events" / "day2" / "part-1.parquet", second, "UTC")
    write_parquet(root / "naive" / "events.parquet", make_events(3, 20_000), None)
    small = make_events(4, 2_000)
    lines = [
        json.dumps({
            "ts": datetime.fromtimestamp(int(small["ts"][i]) / 1e6, UTC).isoformat(),
            "service": str(small["service"][i]),
            "status": int(small["status"][i]),
            "latency_ms": float(small["latency_ms"][i]),
            "region": small["region"][i],
        })
        for i in range(len(small["ts"]))
    ]
    (root / "jsonl").mkdir()
    (root / "jsonl" / "events.jsonl").write_text("\n".join(lines) + "\n")
    merged = {k: np.concatenate([np.asarray(first[k]), np.asarray(second[k])]) for k in first}
    return root, merged


def slo(name: str, path: str, good: str | None = None, bad: str | None = None,
        total: str | None = None) -> Slo:
    return Slo("svc", name, 0.99, SloWindow(3), DuckDbSource(path, "ts", good, bad, total))


SLOS = [
    slo("availability", "events", good="status < 500", total="service = 'checkout'"),
    slo("errors-or-slow", "events", bad="status >= 500 OR latency_ms > 800",
        total="service = 'search'"),
    slo("latency", "events", good="latency_ms <= 300"),
    slo("region", "events", good="region = 'eu'", total="region IS NOT NULL OR status = 404"),
    slo("quoted", "events", good='"status" IN (200, 201)', total="\"service\" = 'auth'"),
    slo("naive", "naive/events.parquet", bad="status >= 500", total="service <> 'auth'"),
    slo("jsonl", "jsonl/*.jsonl", good="latency_ms < 200", total="region IS NULL"),
]


@pytest.fixture(scope="module")
def engines(
    spark: SparkSession, workspace: tuple[Path, dict[str, np.ndarray]]
) -> tuple[SparkEngine, DuckDbEngine]:
    root, _ = workspace
    return SparkEngine(root, session=spark), DuckDbEngine(root)


def test_spark_counts_equal_duckdb_counts_minute_by_minute(
    engines: tuple[SparkEngine, DuckDbEngine],
) -> None:
    spark_engine, duckdb_engine = engines
    on_spark = spark_engine.series_many(SLOS, START, END)
    on_duckdb = duckdb_engine.series_many(SLOS, START, END)
    assert set(on_spark) == {s.key for s in SLOS}
    for s in SLOS:
        ours, theirs = on_spark[s.key], on_duckdb[s.key]
        assert ours.minutes == theirs.minutes == 3 * 1440
        np.testing.assert_array_equal(ours.total, theirs.total, err_msg=s.key)
        np.testing.assert_array_equal(ours.good, theirs.good, err_msg=s.key)
        assert ours.total.sum() > 0 and 0 < ours.good.sum() < ours.total.sum(), s.key
    # The folder holds 300,000 events; about 6 of the 36 hours fall outside the span.
    assert on_spark["svc/latency"].total.sum() > 0.7 * EVENTS


def test_counts_match_an_independent_numpy_count(
    engines: tuple[SparkEngine, DuckDbEngine], workspace: tuple[Path, dict[str, np.ndarray]],
) -> None:
    _, events = workspace
    series = engines[0].series(SLOS[0], START, END)  # checkout availability, alone
    start_us, end_us = int(START.timestamp() * 1e6), int(END.timestamp() * 1e6)
    ts = events["ts"]
    scope = (ts >= start_us) & (ts < end_us) & (events["service"] == "checkout")
    minute = (ts[scope] - start_us) // 60_000_000
    total = np.bincount(minute, minlength=3 * 1440)
    good = np.bincount(minute, weights=events["status"][scope] < 500, minlength=3 * 1440)
    np.testing.assert_array_equal(series.total, total)
    np.testing.assert_array_equal(series.good, good)
    # The data holds events on the span's first microsecond (counted) and on its end (not).
    assert (ts == start_us).any() and (ts == end_us).any()
    assert series.source == "spark:events"


def test_a_bad_predicate_names_the_slo_and_the_column(
    engines: tuple[SparkEngine, DuckDbEngine],
) -> None:
    broken = slo("broken", "events", good="no_such_column = 1")
    with pytest.raises(EngineError, match=r"svc/broken.*no_such_column"):
        engines[0].series(broken, START, END)
    # In a batch, the broken SLO is reported on its own and the others still count.
    with pytest.raises(EngineError, match="svc/broken"):
        engines[0].series_many([SLOS[0], broken], START, END)


def test_predicates_cannot_call_into_the_jvm(engines: tuple[SparkEngine, DuckDbEngine]) -> None:
    hostile = slo("hostile", "events",
                  good="reflect('java.lang.System', 'exit', '1') IS NULL")
    with pytest.raises(EngineError, match="'reflect' is not allowed"):
        engines[0].series(hostile, START, END)
    quoted = slo("quoted-text", "events", good="service <> 'reflect(x)'")
    assert engines[0].series(quoted, START, END).total.sum() > 0  # only a string literal
    with pytest.raises(EngineError, match="inside the workspace"):
        engines[0].series(slo("escape", "../outside.parquet", good="TRUE"), START, END)


def test_demo_workspace_slos_agree_between_engines(spark: SparkSession, small_demo: Path) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ws = open_workspace(small_demo)
    on_duckdb = evaluate_workspace(Context.open(ws, now), engine=EngineChoice.DUCKDB)
    # The configuration names the engine when no option does.
    chosen = with_engine(ws, EngineChoice.SPARK)
    assert configured_engine(chosen) is EngineChoice.SPARK
    on_spark = evaluate_workspace(Context.open(chosen, now))
    event_slos = 0
    for ours, theirs in zip(on_spark.evaluations, on_duckdb.evaluations, strict=True):
        assert ours.status.slo.key == theirs.status.slo.key
        if ours.series is None or not ours.series.source.startswith("spark:"):
            continue
        event_slos += 1
        assert theirs.series is not None and theirs.series.source.startswith("duckdb:")
        np.testing.assert_array_equal(ours.series.total, theirs.series.total)
        np.testing.assert_array_equal(ours.series.good, theirs.series.good)
        assert ours.status.sli == theirs.status.sli
        assert ours.status.to_json() == theirs.status.to_json()
    assert event_slos >= 5
    assert spark.sparkContext._jsc is not None  # the shared session was left running


def test_without_java_spark_reports_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "Java runtime" in str(missing_requirement())
    with pytest.raises(EngineError, match="Java runtime"):
        start_session()
