"""Demo SLO definitions and request events: deterministic, readable, consistent with incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from opsledger.core.fileio import sha256_file
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.generate import generate_demo
from opsledger.demo.slo import (
    REQUESTS_FILE,
    TELEMETRY_DAYS,
    slo_services,
    write_slos,
    write_telemetry,
)
from opsledger.demo.world import Size, World, build_world
from opsledger.readers.slo_definitions import read
from opsledger.slo.section import alerting_section, slo_section
from opsledger.slo.service import evaluate_workspace, workspace_rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(Size.SMALL, 7, NOW)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, world: World) -> Path:
    root = tmp_path_factory.mktemp("demo-slo")
    write_telemetry(world, root)
    write_slos(world, root)
    return root


def test_same_seed_same_bytes(world: World, root: Path, tmp_path: Path) -> None:
    again = write_telemetry(world, tmp_path) + write_slos(world, tmp_path)
    for path in again:
        assert sha256_file(path) == sha256_file(root / path.relative_to(tmp_path)), path


def test_events_schema_span_and_volume(root: Path) -> None:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT count(*), min(ts), max(ts), count(DISTINCT service) FROM '{root / REQUESTS_FILE}'"
    ).fetchone()
    assert rows is not None
    count, first, last, services = rows
    assert 300_000 < count < 500_000
    assert first >= NOW - timedelta(days=TELEMETRY_DAYS) and last < NOW
    assert services == 5
    described = con.execute(f"DESCRIBE SELECT * FROM '{root / REQUESTS_FILE}'").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types == {
        "ts": "TIMESTAMP WITH TIME ZONE",
        "service": "VARCHAR",
        "endpoint": "VARCHAR",
        "status": "SMALLINT",
        "latency_ms": "FLOAT",
    }


def test_outages_line_up_with_incidents(world: World, root: Path) -> None:
    names = {s.name for s in slo_services(world)}
    start = NOW - timedelta(days=TELEMETRY_DAYS)
    impacts = [
        i
        for i in world.incidents
        if i.service in names
        and i.started_at >= start
        and i.error_fraction >= 0.1
        and i.resolved_at - i.started_at >= timedelta(minutes=20)
    ]
    assert impacts, "the small world should have a visible outage in the telemetry span"
    con = duckdb.connect()
    for incident in impacts:
        during = con.execute(
            f"SELECT avg((status >= 500)::INT) FROM '{root / REQUESTS_FILE}' "
            "WHERE service = ? AND ts >= ? AND ts < ?",
            [incident.service, incident.started_at, incident.resolved_at],
        ).fetchone()
        assert during is not None
        assert during[0] == pytest.approx(incident.error_fraction, abs=0.08), incident.id
    background = con.execute(
        f"SELECT avg((status >= 500)::INT) FROM '{root / REQUESTS_FILE}'"
    ).fetchone()
    assert background is not None and background[0] < 0.05


def test_definitions_read_cleanly_in_every_format(root: Path, world: World) -> None:
    result = read(root / "slos")
    assert result.problems == []
    formats = {slo.source_format for slo in result.records}
    assert formats == {"openslo/v1", "sloth", "slo-generator/v2", "native"}
    assert {s.service for s in result.records} >= {s.name for s in slo_services(world)}


def test_a_fresh_demo_computes_every_short_burn_rate(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    demo = generate_demo(tmp_path / "ws", Size.SMALL, seed=7)
    after = datetime.now(UTC)
    # Without --now, the demo's clock is the minute it was written in: its telemetry and
    # probes reach the present, so a review right after has data for the last hour.
    assert before.replace(second=0, microsecond=0) <= demo.world.now <= after
    ctx = Context.open(open_workspace(tmp_path / "ws"), after)
    report = evaluate_workspace(ctx)
    statuses = [e.status for e in report.evaluations]
    valid = [s for s in statuses if s.valid]
    assert len(valid) >= 5
    for status in valid:
        assert status.burn_rates["1h"] is not None and status.burn_rates["6h"] is not None
        assert not set(status.burn_rate_notes) & {"1h", "6h", "1d", "3d"}, status.slo.key
        # Probes run every 15 minutes in the small demo; requests arrive every minute.
        assert status.data_age is not None and status.data_age < timedelta(minutes=20)
    # The PromQL SLOs are examples for 'slo rules': not failures of the demo's data.
    promql = [s for s in statuses if not s.valid]
    assert promql and all(s.needs_prometheus for s in promql)
    rules, _ = workspace_rules(ctx)
    assert len(yaml.safe_load(rules)["groups"]) >= len(promql)
    section = slo_section(ctx)
    assert "Not computed" not in section.body
    assert "Burn rates not computed" not in section.body
    assert "not computed" not in section.headline
    assert "Not backtested:" not in alerting_section(ctx, report).body
