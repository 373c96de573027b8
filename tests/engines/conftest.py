"""Fixtures for the engine tests: generated request events and the span they cover, and one
local Spark session (``local[2]``) shared by the Spark tests, stopped after them.

The tests are skipped, with the reason, only when Spark cannot run here (no PySpark or no
Java runtime); anywhere Java is installed they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from opsledger.engines.spark_session import missing_requirement, start_session
from tests.slo.slo_events import MINUTES, START, Events, generate

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="module")
def events() -> Events:
    return generate()


@pytest.fixture
def span() -> tuple[datetime, datetime]:
    return START, START + timedelta(minutes=MINUTES)


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
