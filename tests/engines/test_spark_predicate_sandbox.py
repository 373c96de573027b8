"""On a real Spark session, a predicate that calls into the JVM is refused before it runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from opsledger.engines.predicates import PredicateRefused
from opsledger.engines.spark_engine import SparkEngine
from opsledger.model.slo import DuckDbSource, Slo, SloWindow

from ..slo.slo_events import MINUTES, START, generate, write_parquet

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark

SPAN = (START, START + timedelta(minutes=MINUTES))


def slo(name: str, good: str) -> Slo:
    return Slo(
        "checkout",
        name,
        0.99,
        SloWindow(days=1),
        DuckDbSource("events", "ts", good=good),
        source_path="slos/checkout.yaml",
        source_line=9,
    )


def test_java_method_in_backquotes_is_refused_and_allowed_predicates_run(
    spark: SparkSession, tmp_path: Path
) -> None:
    write_parquet(generate(seed=8), tmp_path / "events" / "part-0.parquet")
    marker = tmp_path / "created-by-the-jvm"
    engine = SparkEngine(tmp_path, session=spark)
    hostile = slo(
        "hostile",
        f"`java_method`('java.io.File', 'createTempFile', 'x', '', '{tmp_path}') IS NOT NULL "
        f"OR reflect/**/('java.nio.file.Files', 'createFile', '{marker}') IS NULL",
    )
    try:
        with pytest.raises(PredicateRefused) as refused:
            engine.series(hostile, *SPAN)
        assert str(refused.value).startswith(
            "checkout/hostile (defined at slos/checkout.yaml:9): the good predicate was refused"
        )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["events"]
        # Double quotes name columns in Spark as in DuckDB, and allowed functions run.
        fine = engine.series(slo("fine", "\"status\" < 500 AND lower(service) <> 'x'"), *SPAN)
        assert 0 < fine.good.sum() <= fine.total.sum()
    finally:
        engine.close()
