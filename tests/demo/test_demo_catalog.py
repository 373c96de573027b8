"""The demo service catalog, Backstage file and security risk log: deterministic, readable,
faithful to the world, with the planted defects in place."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest

from opsledger.core.problems import Level
from opsledger.demo.catalog import (
    BACKSTAGE_COMPONENTS,
    catalog_workbook,
    write_catalog,
    write_security_risks,
)
from opsledger.demo.world import Size, build_world
from opsledger.model.common import ItemStatus, Severity
from opsledger.readers import backstage, security_risk_log, service_catalog

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def medium():
    return build_world(Size.MEDIUM, 7, NOW)


def test_catalog_files_are_byte_identical_across_runs(tmp_path, monkeypatch, medium):
    first = [p.read_bytes() for p in write_catalog(medium, tmp_path / "a")]
    # A different wall clock must not leak into the archive's entry times.
    import time as clock

    real = clock.time
    monkeypatch.setattr(clock, "time", lambda: real() + 86_400 * 3 + 7)
    second = [p.read_bytes() for p in write_catalog(medium, tmp_path / "b")]
    assert first == second


def test_workbook_entries_and_properties_carry_the_world_time(medium):
    archive = zipfile.ZipFile(io.BytesIO(catalog_workbook(medium)))
    assert {info.date_time for info in archive.infolist()} == {(2026, 11, 1, 0, 0, 0)}
    core = archive.read("docProps/core.xml").decode()
    assert "<dcterms:created" in core and "2026-11-01T00:00:00Z</dcterms:created>" in core
    assert "2026-11-01T00:00:00Z</dcterms:modified>" in core


def test_catalog_reads_back_as_the_world_services(tmp_path, medium):
    workbook_path, _ = write_catalog(medium, tmp_path)
    assert workbook_path.name == "SERVICE-CATALOG.xlsx"
    assert workbook_path.parent.name == "handover"
    result = service_catalog.read(workbook_path)
    assert result.problems == []
    by_name = {record.name: record for record in result.records}
    assert list(by_name) == [s.name for s in medium.services]
    for service in medium.services:
        record = by_name[service.name]
        assert (record.owner, record.team, record.tier, record.deployment, record.oncall) == (
            service.owner,
            service.team,
            service.tier,
            service.deployment,
            service.oncall,
        )
        assert record.dependencies == service.dependencies
    orphans = [r.name for r in result.records if r.owner is None]
    assert orphans == [s.name for s in medium.services if s.owner is None]
    assert len(orphans) == 1
    # Some low-tier services lack a runbook; every critical one has one.
    assert any(r.runbook is None for r in result.records)
    assert all(r.runbook for r in result.records if r.tier is not None and r.tier <= 1)


def test_workbook_has_a_dependencies_sheet(medium):
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(catalog_workbook(medium)), read_only=True)
    assert book.sheetnames == ["Services", "Dependencies"]
    rows = list(book["Dependencies"].iter_rows(values_only=True))
    book.close()
    assert rows[0] == ("Service", "Depends on", "Kind")
    expected = {(s.name, d) for s in medium.services for d in s.dependencies}
    assert {(r[0], r[1]) for r in rows[1:]} == expected


def test_backstage_file_reads_back(tmp_path, medium):
    _, path = write_catalog(medium, tmp_path)
    result = backstage.read(path)
    # Only the Group, passed over with a warning.
    assert [(p.level, p.message.split(" (")[0]) for p in result.problems] == [
        (Level.WARNING, "passed over 1 Group entity")
    ]
    components = result.records[:BACKSTAGE_COMPONENTS]
    world = {s.name: s for s in medium.services}
    for record in components:
        service = world[record.name]
        assert (record.team, record.tier, record.dependencies) == (
            service.team,
            service.tier,
            service.dependencies,
        )
        assert record.oncall and record.runbook and record.dashboard
    assert min(r.tier for r in components if r.tier is not None) == 0
    # The System and the Resource are read too; the Group is passed over.
    assert len(result.records) == BACKSTAGE_COMPONENTS + 2


def test_security_risk_log_has_the_planted_defects(tmp_path, medium):
    [path] = write_security_risks(medium, tmp_path)
    assert path.name == "SECURITY-RISK-LOG.csv"
    assert path.read_bytes() == write_security_risks(medium, tmp_path / "again")[0].read_bytes()
    result = security_risk_log.read(path)
    [problem] = result.problems  # one malformed likelihood, quarantined
    assert problem.level is Level.ROW
    assert problem.location.endswith("column 'likelihood'")
    assert problem.found == "'very high'"
    items = result.records
    assert len(items) + 1 == 20
    today = NOW.date()
    severe = [i for i in items if i.severity and i.severity.is_high_or_critical]
    assert len(severe) >= 5
    overdue = [i for i in items if i.status.is_open and i.due_date and i.due_date < today]
    assert len([i for i in overdue if i in severe]) >= 2
    undated = [i for i in items if i.severity is Severity.CRITICAL and i.due_date is None]
    assert len(undated) == 1 and undated[0].status is ItemStatus.OPEN
    assert any("PCI-DSS" in i.compliance for i in items)
    assert all(i.reference for i in items)
    services = {s.name for s in medium.services}
    assert all(i.service in services for i in items)


def test_small_world_risk_log_is_still_readable(tmp_path):
    world = build_world(Size.SMALL, 3, NOW)
    [path] = write_security_risks(world, tmp_path)
    result = security_risk_log.read(path)
    assert len(result.records) == 7 and len(result.problems) == 1
