"""One local Spark session (``local[2]``) shared by the Spark tests, stopped after them.

The tests are skipped, with the reason, only when Spark cannot run here (no PySpark or no
Java runtime); anywhere Java is installed they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from opsledger.engines.spark_session import missing_requirement, start_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: runs a local Spark session (needs Java)")


@pytest.fixture(scope="package")
def spark() -> Iterator[SparkSession]:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(f"Spark cannot run here: {reason}")
    session = start_session("local[2]")
    yield session
    session.stop()
