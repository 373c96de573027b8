"""Incident readers: native CSV, PagerDuty CSV exports, and the folder that sniffs and folds."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsledger.core.problems import Level
from opsledger.readers import incidents, incidents_native, incidents_pagerduty_csv
from opsledger.readers.incident_fields import normalise_severity, normalise_status

FIXTURES = Path(__file__).parent / "fixtures" / "incidents"


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("SEV1", "SEV1"),
        ("sev-2", "SEV2"),
        ("Sev 3", "SEV3"),
        ("S4", "SEV4"),
        ("5", "SEV5"),
        ("P1", "SEV1"),
        ("p0", "SEV1"),
        ("P5", "SEV5"),
        ("Critical", "SEV1"),
        ("major", "SEV2"),
        ("medium", "SEV3"),
        ("low", "SEV4"),
        ("info", "SEV5"),
        ("urgent-ish", None),
        ("P7", None),
    ],
)
def test_severity_spellings(text: str, severity: str | None):
    assert normalise_severity(text) == severity


def test_status_spellings():
    assert [normalise_status(s) for s in ("Open", "ACKED", "in progress", "Closed", "x")] == [
        "triggered",
        "acknowledged",
        "acknowledged",
        "resolved",
        None,
    ]


def test_native_csv():
    result = incidents_native.read(FIXTURES / "native.csv")
    assert result.problems == []
    first, second, third = result.records
    assert first.severity == "SEV2" and first.status == "resolved"
    assert first.started_at == datetime(2026, 10, 1, 9, 55, tzinfo=UTC)
    assert first.postmortem_required is True and first.data_loss is False
    assert first.tags == ("deploy", "tier-0")
    assert first.source == "native" and first.assignee == "Dana Silva"
    # P3 -> SEV3; no status but acknowledged -> acknowledged.
    assert (second.severity, second.status, second.resolved_at) == ("SEV3", "acknowledged", None)
    assert (third.severity, third.status) == ("SEV1", "triggered")
    assert third.created_at == datetime(2026, 10, 3, 6, 30, tzinfo=UTC)


def test_pagerduty_reports_export_derives_ack_and_severity_from_urgency():
    result = incidents_pagerduty_csv.read(FIXTURES / "pagerduty_reports.csv")
    assert result.problems == []
    disk, cert = result.records
    created = datetime(2026, 10, 4, 19, 0, tzinfo=UTC)
    assert disk.created_at == created and disk.detected_at == created
    assert disk.acknowledged_at == created + timedelta(seconds=120)
    assert disk.resolved_at == created + timedelta(minutes=30)
    assert (disk.title, disk.service, disk.severity, disk.status) == (
        "Disk full on search-3",
        "search",
        "SEV2",
        "resolved",
    )
    assert disk.escalation_policy == "storefront-ep" and disk.assignee == "Lena Park"
    assert disk.oncall_intervention is True and disk.source == "pagerduty"
    assert (cert.severity, cert.acknowledged_at, cert.oncall_intervention) == ("SEV4", None, False)


def test_pagerduty_web_export_uses_priority_title_and_teams():
    result = incidents_pagerduty_csv.read(FIXTURES / "pagerduty_ui.csv")
    assert result.problems == []
    checkout, orders = result.records
    assert (checkout.id, checkout.title, checkout.severity, checkout.team) == (
        "Q1",
        "Checkout errors",
        "SEV1",
        "payments",
    )
    assert checkout.acknowledged_at == datetime(2026, 10, 6, 10, 2, tzinfo=UTC)
    # No title: the description stands in; no priority: low urgency -> SEV4.
    assert (orders.title, orders.severity, orders.status) == ("Queue lag", "SEV4", "acknowledged")


def test_bad_rows_are_quarantined_each_with_line_and_column():
    result = incidents_native.read(FIXTURES / "bad_rows.csv")
    assert [r.id for r in result.records] == ["INC-10", "INC-15"]
    located = [(p.location, p.level) for p in result.problems]
    assert located == [
        ("line 3, column 'created_at'", Level.ROW),
        ("line 4, column 'severity'", Level.ROW),
        ("line 5, column 'resolved_at'", Level.ROW),
        ("line 6", Level.ROW),
    ]
    bad_date, bad_severity, order, ragged = result.problems
    assert "2026-02-30T10:00:00Z" in bad_date.found
    assert "SEV1..SEV5" in bad_severity.expected
    assert order.message == "resolved before it was created"
    assert (ragged.expected, ragged.found) == ("7 cells", "4 cells")
    assert all(p.path.endswith("bad_rows.csv") for p in result.problems)


def test_bad_bool_is_quarantined():
    result = incidents_native.read(FIXTURES / "bad_bool.csv")
    (problem,) = result.problems
    assert problem.location == "line 2, column 'data_loss'"
    assert "'perhaps'" in problem.found


def test_missing_column_is_fatal():
    result = incidents_native.read(FIXTURES / "missing_column.csv")
    (problem,) = result.problems
    assert problem.level is Level.FATAL and problem.location == "line 1"
    assert "severity" in problem.message


def test_pagerduty_without_any_id_column_is_fatal(tmp_path: Path):
    path = tmp_path / "pd.csv"
    path.write_text("service_name,created_on,urgency\nsearch,2026-10-01T00:00:00Z,high\n")
    result = incidents_pagerduty_csv.read(path)
    assert result.fatal and result.problems[0].location == "line 1"


def test_folder_sniffs_each_file_and_folds_duplicates(tmp_path: Path):
    for name in ("native.csv", "pagerduty_reports.csv", "pagerduty_ui.csv"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    # INC-1 exported again by PagerDuty with fewer fields: the native record is kept.
    (tmp_path / "pd-again.csv").write_text(
        "id,description,service_name,created_on,urgency\n"
        "INC-1,checkout: 5xx after deploy,checkout,2026-10-01T10:00:00Z,high\n"
    )
    (tmp_path / "rest.json").write_text(
        '{"incidents": [{"id": "PX1", "title": "API down", "service": {"summary": "api-gateway"},'
        ' "created_at": "2026-10-08T00:00:00Z", "urgency": "high", "status": "triggered"}]}'
    )
    (tmp_path / "notes.txt").write_text("on-call notes\n")
    result = incidents.read(tmp_path)
    assert result.detected_format == (
        "native incidents csv + pagerduty incidents csv + pagerduty rest incidents json"
    )
    assert len(result.records) == 3 + 2 + 2 + 1
    assert [r.created_at for r in result.records] == sorted(r.created_at for r in result.records)
    kept = next(r for r in result.records if r.id == "INC-1")
    assert kept.source == "native" and kept.started_at is not None
    warnings = [p for p in result.problems if p.level is Level.WARNING]
    assert len(warnings) == 2
    duplicate = next(p for p in warnings if "INC-1" in p.message)
    assert duplicate.path.endswith("pd-again.csv") and "native.csv" in duplicate.message
    assert any("notes.txt" in p.message for p in warnings)


def test_folder_rejects_an_unknown_csv_but_reads_the_rest(tmp_path: Path):
    shutil.copy(FIXTURES / "unknown.csv", tmp_path / "unknown.csv")
    shutil.copy(FIXTURES / "native.csv", tmp_path / "native.csv")
    result = incidents.read(tmp_path)
    assert len(result.records) == 3
    (fatal,) = [p for p in result.problems if p.level is Level.FATAL]
    assert fatal.path.endswith("unknown.csv") and fatal.location == "line 1"
    assert "ticket, opened, summary" in fatal.found


def test_folder_nul_byte_and_non_utf8_are_fatal_with_line(tmp_path: Path):
    (tmp_path / "a.csv").write_bytes(
        b"id,title,service,severity,created_at\nINC-1,x\x00,a,SEV1,2026-10-01T00:00:00Z\n"
    )
    (tmp_path / "b.csv").write_bytes(
        b"id,title,service,severity,created_at\nINC-2,caf\xe9,a,SEV1,2026-10-01T00:00:00Z\n"
    )
    result = incidents.read(tmp_path)
    assert [(Path(p.path).name, p.location, p.level) for p in result.problems] == [
        ("a.csv", "line 2", Level.FATAL),
        ("b.csv", "line 2", Level.FATAL),
    ]
