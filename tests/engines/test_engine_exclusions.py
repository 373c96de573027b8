"""Every engine leaves the same excluded minutes out: a real Prometheus backfilled with the
events of ``tests/slo/test_exclusions.py`` as counters, and Spark over their Parquet file,
give the hand counts DuckDB gives there.

With Prometheus the status (``minute_history`` False) fetches most hours as one sum each; the
maintenance hour must still be fetched minute by minute, or its excluded half would take out
half the hour's average instead of its own counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from opsledger.core.config import EngineChoice
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.engines.choice import with_engine
from opsledger.slo.service import evaluate_workspace
from tests.engines.test_prometheus_engine import openmetrics
from tests.slo.prometheus_server import backfilled_prometheus
from tests.slo.test_exclusions import (
    MAINTENANCE,
    NOW,
    PROMETHEUS_SLOS,
    RECURRING,
    A,
    check_maintenance_left_out,
    check_status,
    evaluate,
    exclusion_events,
    hand_count,
    write_workspace,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus-exclusions")
    with backfilled_prometheus(root, openmetrics(exclusion_events())) as url:
        yield url


@pytest.mark.prometheus
@pytest.mark.parametrize("minute_history", [True, False], ids=["by-minute", "hours-summed"])
def test_prometheus_leaves_the_maintenance_out(
    prometheus: str, tmp_path: Path, minute_history: bool
) -> None:
    root = write_workspace(tmp_path, MAINTENANCE, slos=PROMETHEUS_SLOS)
    report = evaluate(root, prometheus_url=prometheus, minute_history=minute_history)
    (evaluation,) = report.evaluations
    assert evaluation.series is not None
    assert evaluation.series.source.startswith("prometheus:")
    check_maintenance_left_out(report, rel=1e-9)


@pytest.mark.prometheus
def test_prometheus_leaves_each_change_window_occurrence_out(
    prometheus: str, tmp_path: Path
) -> None:
    root = write_workspace(tmp_path, RECURRING, slos=PROMETHEUS_SLOS)
    (evaluation,) = evaluate(root, prometheus_url=prometheus, minute_history=False).evaluations
    check_status(evaluation.status, hand_count([A]), rel=1e-9)


@pytest.mark.spark
def test_spark_leaves_the_maintenance_out_as_duckdb_does(
    spark: SparkSession, tmp_path: Path
) -> None:
    root = write_workspace(tmp_path, MAINTENANCE)
    on_spark = evaluate_workspace(
        Context.open(with_engine(open_workspace(root), EngineChoice.SPARK), NOW), min_events=1
    )
    (evaluation,) = on_spark.evaluations
    assert evaluation.series is not None and evaluation.series.source.startswith("spark:")
    check_maintenance_left_out(on_spark)
    on_duckdb = evaluate(root)
    assert evaluation.status.to_json() == on_duckdb.evaluations[0].status.to_json()
