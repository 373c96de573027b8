"""Utilisation series: CSV and Parquet, ratio or used/capacity, located errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opsledger.core.problems import Level
from opsledger.readers import utilisation


def folder(telemetry: Path) -> Path:
    """Return the utilisation folder of a telemetry folder, created."""
    path = telemetry / "utilisation"
    path.mkdir(exist_ok=True)
    return path


def test_request_events_beside_it_are_never_read(tmp_path: Path) -> None:
    (tmp_path / "requests").mkdir()
    (tmp_path / "requests" / "events.csv").write_text("ts,service,status\n2026-10-01,a,200\n")
    result = utilisation.read(tmp_path)
    assert result.problems == [] and len(result.log.frame) == 0

def test_csv_with_used_and_capacity(tmp_path: Path) -> None:
    folder = tmp_path / "utilisation"
    folder.mkdir()
    (folder / "u.csv").write_text(
        "Timestamp,Service,Kind,Used,Capacity\n"
        "2026-10-01T10:00:00Z,api,cpu,1.5,4\n"
        "2026-10-01T10:00:00Z,api,mem,6,8\n"
        "2026-10-01T10:00:00Z,api,gpu,1,2\n"
        "yesterday,api,cpu,1,2\n"
        "2026-10-01T10:00:00Z,api,disk,5,0\n"
        "2026-10-01T10:00:00Z,,cpu,1,2\n")
    result = utilisation.read(tmp_path)  # the telemetry folder: utilisation/ is found in it
    frame = result.log.frame
    assert list(frame["resource"]) == ["cpu", "memory"]
    assert list(frame["utilisation"]) == pytest.approx([0.375, 0.75])
    found = {p.location for p in result.problems if p.level is Level.ROW}
    assert found == {"line 4, column 'resource'", "line 5, column 'time'",
                     "line 6, column 'capacity'", "line 7, column 'service'"}


def test_percentages_are_scaled_and_parquet_rows_located(tmp_path: Path) -> None:
    pd.DataFrame({
        "time": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03"], utc=True),
        "service": ["db", "db", "db"],
        "resource": ["connections", "connections", "connections"],
        "utilization": [55.0, 60.0, -5.0],
    }).to_parquet(folder(tmp_path) / "u.parquet")
    result = utilisation.read(tmp_path)
    assert list(result.log.frame["utilisation"]) == pytest.approx([0.55, 0.60])
    assert any(p.level is Level.WARNING and "percentages" in p.message for p in result.problems)
    (bad,) = [p for p in result.problems if p.level is Level.ROW]
    assert bad.location == "row 3, column 'utilisation'"


def test_missing_columns_fail_the_file(tmp_path: Path) -> None:
    (folder(tmp_path) / "u.csv").write_text("time,service,used\n2026-10-01,api,3\n")
    result = utilisation.read(tmp_path)
    assert result.fatal
    assert "resource" in result.problems[0].message
    assert "utilisation (or used and capacity)" in result.problems[0].message
