"""Properties: readers never raise on arbitrary JSON; statistics and folding stay consistent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsledger.core.incident_policy import IncidentPolicy, fold_duplicates
from opsledger.core.problems import ReadResult
from opsledger.incidents.kpis import DurationStats, duration_stats
from opsledger.model.incidents import Incident
from opsledger.readers import incidents_opsgenie, incidents_pagerduty_json

SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(
    ["2026-03-01T00:00:00Z", "P1", "high", "resolved", "closed", "api"])
KEYS = st.sampled_from(["id", "title", "service", "summary", "created_at", "createdAt",
                        "priority", "urgency", "status", "report", "ackTime", "tinyId",
                        "message", "acknowledgements", "at", "incidents", "data"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(KEYS, inner, max_size=5), max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=JSON)
def test_readers_never_raise(document: Any) -> None:
    path = Path("export.json")
    for reader in (incidents_pagerduty_json.read_data, incidents_opsgenie.read_data):
        result: ReadResult[Incident] = ReadResult(path)
        reader(path, {"incidents": [document]} if reader is incidents_pagerduty_json.read_data
               else {"data": [document]}, result)
        for incident in result.records:
            assert incident.severity in ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
            json.dumps(incident.id)
        for problem in result.problems:
            assert problem.location.startswith("$")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1,
                max_size=40))
def test_duration_stats_match_numpy(values: list[float]) -> None:
    stats = duration_stats(values, "x")
    assert isinstance(stats, DurationStats)
    # Equal up to floating-point rounding: (a + b) / 2 and a + (b - a) / 2 can differ by an ulp.
    assert stats.median == pytest.approx(np.percentile(values, 50), rel=1e-12, abs=1e-12)
    assert stats.p90 == pytest.approx(np.percentile(values, 90), rel=1e-12, abs=1e-12)
    assert min(values) <= stats.median <= stats.p90 <= max(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["a", "b"]),
                          st.integers(0, 600), st.sampled_from(["disk full", "disk full!",
                                                                "slow query"])),
                max_size=12))
def test_folding_accounts_for_every_record(rows: list[tuple[int, str, int, str]]) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    records = [Incident(f"I{n}", title, service, "SEV3", "resolved",
                        start + timedelta(seconds=seconds))
               for n, service, seconds, title in rows]
    result = fold_duplicates(records, IncidentPolicy())
    assert len(result.incidents) + len(result.folded) == len(records)
    kept_ids = [i.id for i in result.incidents]
    assert len(set(kept_ids)) == len(kept_ids)
    # Folding is idempotent: what is left has no duplicates left to fold.
    assert fold_duplicates(result.incidents, IncidentPolicy()).folded == ()
