"""The hand-written handover documents: ownership record, knowledge gaps, observability
baseline, performance backlog and tech-debt register."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from opsledger.core.problems import Level, Problem
from opsledger.model.common import ItemStatus, Severity
from opsledger.readers import (
    handover_record,
    kt_feedback,
    observability_baseline,
    perf_backlog,
    tech_debt,
)

FIXTURES = Path(__file__).parent / "fixtures" / "handover"


def messages(problems: list[Problem], level: Level) -> list[str]:
    return [str(p) for p in problems if p.level is level]


# --- operational-handover-record.json ---------------------------------------------------


def test_handover_record_reads_nested_and_flat_sla_spellings() -> None:
    result = handover_record.read(FIXTURES / "handover-record.json")
    assert result.problems == []
    checkout, search = result.records
    assert checkout.owner == "Dana Silva"
    assert checkout.team == "payments"
    assert checkout.response_sla_minutes == 15
    assert checkout.resolution_sla_hours == 4
    assert checkout.availability_sla == pytest.approx(0.9995)
    # Variant spellings: "Service Name", "primaryOwner", durations "30m"/"1d", "99.9%".
    assert search.service == "search"
    assert search.owner is None  # unclear ownership is kept for the intake check
    assert search.team == "storefront"
    assert search.response_sla_minutes == 30
    assert search.resolution_sla_hours == 24
    assert search.availability_sla == 0.999


def test_handover_record_truncated_json_names_line_and_column() -> None:
    path = FIXTURES / "handover-record-truncated.json"
    result = handover_record.read(path)
    (message,) = messages(result.problems, Level.FATAL)
    assert message.startswith(f"{path}: line 7, column 1: invalid JSON")
    assert result.records == []


def test_handover_record_bad_sla_quarantines_that_service_only() -> None:
    path = FIXTURES / "handover-record-bad-sla.json"
    result = handover_record.read(path)
    assert [r.service for r in result.records] == ["orders"]
    (message,) = messages(result.problems, Level.ROW)
    assert message.startswith(f"{path}: $.services[0].sla.availability:")
    assert "found 'three nines'" in message


def test_handover_record_without_a_list_fails(tmp_path: Path) -> None:
    path = tmp_path / "operational-handover-record.json"
    path.write_text('{"owner": "nobody"}')
    result = handover_record.read(path)
    (message,) = messages(result.problems, Level.FATAL)
    assert "no list of records found" in message and "services" in message


def test_handover_record_missing_service_name(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('[{"owner": "A"}, {"service": "b", "owner": "B"}, {"service": "b"}]')
    result = handover_record.read(path)
    assert [r.service for r in result.records] == ["b", "b"]
    (missing,) = messages(result.problems, Level.ROW)
    assert missing.startswith(f"{path}: $[0].service: missing value for 'service'")
    assert "assigned more than once" in messages(result.problems, Level.WARNING)[0]


# --- knowledge-transfer-feedback.json ---------------------------------------------------


def test_kt_feedback_good_rows_and_one_problem_per_bad_row() -> None:
    path = FIXTURES / "kt-feedback.json"
    result = kt_feedback.read(path)
    first, second = result.records
    assert first.severity is Severity.HIGH
    assert first.due_date == date(2026, 11, 30)  # from "dueDate"
    assert first.follow_up == "Pair with the delivery team"
    assert second.topic == "Batch schedule of billing undocumented"  # "title" alias
    assert second.severity is Severity.MEDIUM  # "P3"
    assert second.status is ItemStatus.DONE  # "closed"
    assert second.owner is None and second.due_date is None
    rows = messages(result.problems, Level.ROW)
    assert rows == [
        f"{path}: $.gaps[2].severity: 'severity' is not a known severity (expected critical, "
        "high, medium, low (or P0-P4, SEV1-SEV5), found 'urgent-ish')",
        f"{path}: $.gaps[3].due_date: 'due_date' is not a date (expected a date (YYYY-MM-DD), "
        "found '2026-13-01')",
        f"{path}: $.gaps[4]: list element is not an object (expected a JSON object, "
        "found 'not an object')",
    ]


def test_kt_feedback_unrated_gap_is_unknown_and_gets_a_positional_id(tmp_path: Path) -> None:
    path = tmp_path / "kt.json"
    path.write_text('[{"topic": "On-call handbook"}]')
    (gap,) = kt_feedback.read(path).records
    assert gap.id == "KT-1"
    assert gap.severity is Severity.UNKNOWN
    assert gap.status is ItemStatus.OPEN


# --- OBSERVABILITY-BASELINE.md ----------------------------------------------------------


def test_observability_baseline() -> None:
    path = FIXTURES / "observability-baseline.md"
    result = observability_baseline.read(path)
    (baseline,) = result.records
    assert baseline.measured_at == date(2026, 10, 12)  # from "**Measured:** 2026-10-12"
    assert baseline.services() == {"checkout", "search"}
    latency, availability, errors = baseline.metrics
    assert (latency.value, latency.threshold) == ("180 ms", "above 400 ms")
    assert latency.dashboard == "https://grafana.example.com/d/checkout"  # "Dashboard URL"
    assert latency.alert == "CheckoutLatencyHigh"  # "Alert rule"
    assert availability.alert is None  # "—"
    assert errors.dashboard is None  # "n/a"
    assert all(m.measured_at == date(2026, 10, 12) for m in baseline.metrics)
    (ragged,) = messages(result.problems, Level.ROW)
    assert ragged.startswith(f"{path}: line 14: wrong number of cells")


def test_observability_baseline_missing_column() -> None:
    path = FIXTURES / "observability-baseline-missing-column.md"
    result = observability_baseline.read(path)
    (message,) = messages(result.problems, Level.FATAL)
    assert message.startswith(f"{path}: line 5: missing required column baseline")
    assert result.records == []


def test_observability_baseline_bad_measured_date() -> None:
    path = FIXTURES / "observability-baseline-bad-date.md"
    result = observability_baseline.read(path)
    (message,) = messages(result.problems, Level.ROW)
    assert message == (
        f"{path}: line 3: the measurement date is not a date "
        "(expected Measured: YYYY-MM-DD, found 'last Tuesday')"
    )
    (baseline,) = result.records
    assert baseline.measured_at is None
    assert len(baseline.metrics) == 1


def test_observability_baseline_without_date_warns(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("| service | metric | baseline |\n|---|---|---|\n| a | p95 | 10 ms |\n")
    result = observability_baseline.read(path)
    assert result.records[0].measured_at is None
    assert "age is unknown" in messages(result.problems, Level.WARNING)[0]


def test_observability_baseline_without_table(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("# Baseline\n\nMeasured: 2026-10-01\n\nTo be written.\n")
    (message,) = messages(observability_baseline.read(path).problems, Level.FATAL)
    assert "no baseline table found" in message


# --- PERFORMANCE-IMPROVEMENT-BACKLOG.json -----------------------------------------------


def test_perf_backlog() -> None:
    path = FIXTURES / "perf-backlog.json"
    result = perf_backlog.read(path)
    first, second = result.records
    assert first.source == "performance"
    assert first.endpoint == "GET /cart/items"
    assert first.severity is Severity.HIGH  # "priority": "high"
    assert first.due_date == date(2026, 12, 15)
    assert first.description == "p95_ms: 480 -> 250"  # "target" is the goal, not a date
    assert first.reach == 1_200_000
    assert second.severity is Severity.LOW  # "P4"
    assert second.status is ItemStatus.IN_PROGRESS
    assert second.effort_days == 2  # "2 days"
    assert messages(result.problems, Level.ROW) == [
        f"{path}: $.items[2].impact: 'impact' is above 5 (expected at most 5, found 9)",
        f"{path}: $.items[3].due: 'due_date' is not a date (expected a date (YYYY-MM-DD), "
        "found 'soon')",
    ]


def test_perf_backlog_truncated_json(tmp_path: Path) -> None:
    path = tmp_path / "PERFORMANCE-IMPROVEMENT-BACKLOG.json"
    path.write_text('{"items": [\n  {"id": "PERF-1",\n   "title": "x"\n')
    (message,) = messages(perf_backlog.read(path).problems, Level.FATAL)
    assert message.startswith(f"{path}: line 4, column 1: invalid JSON")


# --- TECH-DEBT-REGISTER.md --------------------------------------------------------------


def test_tech_debt_register() -> None:
    path = FIXTURES / "tech-debt.md"
    result = tech_debt.read(path)
    items = {i.id: i for i in result.records}
    assert list(items) == ["TD-001", "TD-002", "TD-003", "TD-000"]  # both tables
    assert items["TD-001"].compliance == ("SOC2", "PCI-DSS")
    assert items["TD-001"].effort_days == 5
    assert items["TD-001"].source == "tech-debt"
    # High with no owner and Critical with no due date are kept for the gates.
    assert items["TD-002"].owner is None
    assert items["TD-002"].title == "Remove `a|b` regex from **search**"
    assert items["TD-002"].effort_days == 5  # "1w" = five working days
    assert items["TD-003"].due_date is None  # "TBD"
    assert items["TD-003"].severity is Severity.CRITICAL
    assert items["TD-003"].effort_days == 2  # "16h" = two eight-hour days
    # Second table with its own spellings: Item / Priority / State / Due date.
    assert items["TD-000"].severity is Severity.HIGH
    assert items["TD-000"].status is ItemStatus.DONE
    assert messages(result.problems, Level.ROW) == [
        f"{path}: line 12, column 'severity': 'severity' is not a known severity (expected "
        "critical, high, medium, low (or P0-P4, SEV1-SEV5), found 'sort of bad')",
        f"{path}: line 13, column 'due_date': 'due_date' is not a date (expected a date "
        "(YYYY-MM-DD), found '2026-02-30')",
        f"{path}: line 14: wrong number of cells in table row (expected 12 cells, found 5 cells)",
    ]


def test_tech_debt_missing_column() -> None:
    path = FIXTURES / "tech-debt-missing-column.md"
    result = tech_debt.read(path)
    (message,) = messages(result.problems, Level.FATAL)
    assert message.startswith(f"{path}: line 3: missing required column title")


def test_tech_debt_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "TECH-DEBT-REGISTER.md"
    path.write_bytes(b"| ID | Title |\n|---|---|\n| 1 | caf\xe9 |\n")
    (message,) = messages(tech_debt.read(path).problems, Level.FATAL)
    assert message.startswith(f"{path}: line 3: file is not valid UTF-8")
