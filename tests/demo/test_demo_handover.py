"""The demo handover folder: complete, readable without problems, consistent with the world,
deterministic, and carrying exactly the planted defects."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from opsledger.core.workspace import HANDOVER_FILES, InputKey
from opsledger.demo.handover import BASELINE_AGE_DAYS, write_handover
from opsledger.demo.handover_items import perf_backlog_json, tech_debt_markdown
from opsledger.demo.world import Size, World, build_world
from opsledger.model.common import Severity
from opsledger.readers import (
    closure_package,
    handover_record,
    kt_feedback,
    observability_baseline,
    perf_backlog,
    postmortems,
    tech_debt,
)
from opsledger.readers.registry import READERS as REGISTRY

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HANDOVER_KEYS = (
    InputKey.CLOSURE_PACKAGE, InputKey.HANDOVER_RECORD, InputKey.KT_FEEDBACK,
    InputKey.OBSERVABILITY_BASELINE, InputKey.POSTMORTEMS, InputKey.PERF_BACKLOG,
    InputKey.TECH_DEBT,
)
READERS = {key: REGISTRY[key] for key in HANDOVER_KEYS}


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    world = build_world(Size.MEDIUM, 7, NOW)
    root = tmp_path_factory.mktemp("handover")
    write_handover(world, root)
    return world, root / "handover"


def path_of(folder: Path, key: InputKey) -> Path:
    return folder / HANDOVER_FILES[key]


def test_every_handover_input_is_written_and_reads_without_problems(
    medium: tuple[World, Path],
) -> None:
    _, folder = medium
    for key, read in READERS.items():
        result = read(path_of(folder, key))
        assert result.problems == [], (key, result.problems[:3])
        assert result.records, key


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def digest(seed: int, name: str) -> dict[str, str]:
        root = tmp_path / name
        paths = write_handover(build_world(Size.SMALL, seed, NOW), root)
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in paths
        }

    first, again, other = digest(3, "a"), digest(3, "b"), digest(4, "c")
    assert first == again
    assert first != other


def test_handover_record_covers_every_service_and_the_orphan_has_no_owner(
    medium: tuple[World, Path],
) -> None:
    world, folder = medium
    records = handover_record.read(path_of(folder, InputKey.HANDOVER_RECORD)).records
    assert sorted(r.service for r in records) == sorted(s.name for s in world.services)
    orphans = [s.name for s in world.services if s.owner is None]
    assert len(orphans) == 1
    assert [r.service for r in records if r.owner is None] == orphans
    tier0 = next(s.name for s in world.services if s.tier == 0)
    sla = next(r for r in records if r.service == tier0)
    assert (sla.response_sla_minutes, sla.resolution_sla_hours) == (15, 4)
    assert sla.availability_sla == pytest.approx(0.9995)


def test_knowledge_gaps_are_a_handful_open_and_closed(medium: tuple[World, Path]) -> None:
    _, folder = medium
    gaps = kt_feedback.read(path_of(folder, InputKey.KT_FEEDBACK)).records
    assert 5 <= len(gaps) <= 12
    assert any(g.status.is_open for g in gaps)
    assert any(not g.status.is_open for g in gaps)


def test_observability_baseline_age_and_gaps(medium: tuple[World, Path]) -> None:
    world, folder = medium
    (baseline,) = observability_baseline.read(
        path_of(folder, InputKey.OBSERVABILITY_BASELINE)
    ).records
    assert baseline.measured_at == NOW.date() - timedelta(days=BASELINE_AGE_DAYS)
    assert baseline.services() == {s.name for s in world.services}
    no_dashboard = {m.service for m in baseline.metrics if m.dashboard is None}
    no_alert = {m.service for m in baseline.metrics if m.alert is None}
    assert len(no_dashboard) == len(world.services) // 10 == len(no_alert)
    assert not no_dashboard & no_alert


def test_postmortems_match_the_major_incidents(medium: tuple[World, Path]) -> None:
    world, folder = medium
    records = postmortems.read(path_of(folder, InputKey.POSTMORTEMS)).records
    expected = {i.id: i for i in world.incidents if i.major and i.has_postmortem}
    assert {pm.incident_id for pm in records} == set(expected)
    missing = [i.id for i in world.incidents if i.major and not i.has_postmortem]
    assert missing and not set(missing) & {pm.incident_id for pm in records}
    overdue = 0
    outside_window = []
    for pm in records:
        incident = expected[pm.incident_id]
        assert pm.severity == incident.severity
        assert pm.service == incident.service
        assert pm.incident_date == incident.started_at
        assert pm.authors
        assert {
            "Summary",
            "Impact",
            "Timeline",
            "Root cause",
            "What went well",
            "What went wrong",
            "Action items",
        } <= set(pm.sections)
        assert 2 <= len(pm.action_items) <= 5
        window = {"SEV1": 15, "SEV2": 30}[incident.severity]
        for item in pm.action_items:
            assert item.owner and item.due_date
            days = (item.due_date - incident.started_at.date()).days
            if not window - 2 <= days <= window + 3:
                outside_window.append(item.id)
            overdue += item.status.is_open and item.due_date < NOW.date()
    assert overdue >= 1
    # Only an item moved into the past to guarantee an overdue action may leave the window.
    assert len(outside_window) <= 1


def test_performance_backlog_uses_the_world_endpoints(medium: tuple[World, Path]) -> None:
    world, folder = medium
    items = perf_backlog.read(path_of(folder, InputKey.PERF_BACKLOG)).records
    assert len(items) == 15
    endpoints = {(s.name, e) for s in world.services for e in s.endpoints}
    assert all((i.service, i.endpoint) in endpoints for i in items)
    assert all(i.source == "performance" and i.owner and i.severity for i in items)


def test_tech_debt_register_has_exactly_the_planted_defects(medium: tuple[World, Path]) -> None:
    _, folder = medium
    items = tech_debt.read(path_of(folder, InputKey.TECH_DEBT)).records
    assert len(items) == 25
    undated_critical = [i for i in items if i.severity is Severity.CRITICAL and i.due_date is None]
    unowned_high = [
        i for i in items if i.severity and i.severity.is_high_or_critical and i.owner is None
    ]
    assert len(undated_critical) == 1 and undated_critical[0].status.is_open
    assert len(unowned_high) == 1 and unowned_high[0].severity is Severity.HIGH
    assert all(i.due_date is not None for i in items if i.severity is Severity.HIGH)


def test_closure_package_holds_runbooks_overview_and_copies(medium: tuple[World, Path]) -> None:
    world, folder = medium
    package = path_of(folder, InputKey.CLOSURE_PACKAGE)
    manifest = {e.name: e for e in closure_package.read(package).records}
    runbooks = {n for n in manifest if n.startswith("runbooks/")}
    assert runbooks == {f"runbooks/{s.name}.md" for s in world.services if s.tier <= 1}
    assert "architecture/overview.md" in manifest and "README.md" in manifest
    for key in (
        InputKey.HANDOVER_RECORD,
        InputKey.KT_FEEDBACK,
        InputKey.OBSERVABILITY_BASELINE,
        InputKey.PERF_BACKLOG,
        InputKey.TECH_DEBT,
    ):
        copy = manifest[f"handover-documents/{HANDOVER_FILES[key]}"]
        assert copy.sha256 == hashlib.sha256(path_of(folder, key).read_bytes()).hexdigest()
    with zipfile.ZipFile(package) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    handover_day = NOW.date() - timedelta(days=45)
    assert stamps == {(handover_day.year, handover_day.month, handover_day.day, 12, 0, 0)}


def test_large_backlogs_are_capped(tmp_path: Path) -> None:
    # Only the sized documents: writing 300 postmortems is not needed to check the caps.
    world = build_world(Size.LARGE, 7, NOW)
    assert len(json.loads(perf_backlog_json(world))["items"]) == 150
    debt = tmp_path / "TECH-DEBT-REGISTER.md"
    debt.write_text(tech_debt_markdown(world))
    result = tech_debt.read(debt)
    assert result.problems == []
    assert len(result.records) == 200
    assert sum(i.severity is Severity.CRITICAL and i.due_date is None for i in result.records) == 1


def test_small_workspace_sizes(tmp_path: Path) -> None:
    world = build_world(Size.SMALL, 7, NOW)
    write_handover(world, tmp_path)
    folder = tmp_path / "handover"
    assert len(perf_backlog.read(path_of(folder, InputKey.PERF_BACKLOG)).records) == 6
    assert len(tech_debt.read(path_of(folder, InputKey.TECH_DEBT)).records) == 8
    assert date.fromisoformat(
        json.loads(path_of(folder, InputKey.HANDOVER_RECORD).read_text())["handover_date"]
    ) == NOW.date() - timedelta(days=45)
