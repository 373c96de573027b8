"""PagerDuty REST/analytics JSON and Opsgenie readers; duplicates folded across exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsledger.core.incident_policy import IncidentPolicy, fold_duplicates, similar_titles
from opsledger.core.problems import Level, ReadResult
from opsledger.model.incidents import UNKNOWN_SERVICE, Incident
from opsledger.readers import (
    incidents_json,
    incidents_opsgenie,
    incidents_pagerduty_csv,
    incidents_pagerduty_json,
)

from .fixtures import incident

DATA = Path(__file__).parent / "data"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_pagerduty_rest_export() -> None:
    result = incidents_pagerduty_json.read(DATA / "pagerduty-rest.json")
    assert not result.problems
    assert result.detected_format == incidents_pagerduty_json.FORMAT_REST
    fire, slow = result.records
    assert (fire.id, fire.service, fire.severity, fire.priority) == (
        "PT4KHLK", "checkout", "SEV2", "P2")
    assert fire.status == "resolved" and fire.resolved_at == at("2026-03-02 11:30")
    # A resolved REST incident has its acknowledgements emptied: no ack time.
    assert fire.acknowledged_at is None
    assert (fire.team, fire.escalation_policy) == ("payments", "payments-ep")
    # No priority: urgency low -> SEV4; the earliest acknowledgement wins.
    assert (slow.severity, slow.urgency) == ("SEV4", "low")
    assert slow.acknowledged_at == at("2026-03-03 22:19")
    assert slow.assignee == "Ann Lee" and slow.resolved_at is None


def test_pagerduty_analytics_json() -> None:
    result = incidents_pagerduty_json.read(DATA / "pagerduty-analytics.json")
    assert not result.problems
    assert result.detected_format == incidents_pagerduty_json.FORMAT_ANALYTICS
    (lag,) = result.records
    # "major": true with no priority -> the first major severity.
    assert (lag.id, lag.service, lag.team, lag.severity) == ("Q2ANALYT", "db", "data", "SEV1")
    assert lag.acknowledged_at == at("2026-03-05 01:00") + timedelta(seconds=300)
    assert lag.resolved_at == at("2026-03-05 02:30")


def test_priority_map_comes_from_the_policy() -> None:
    data = json.loads((DATA / "pagerduty-rest.json").read_text())
    policy = IncidentPolicy(priority_severity={"P2": "SEV1"})
    result: ReadResult[Incident] = ReadResult(DATA / "x.json")
    incidents_pagerduty_json.read_data(DATA / "x.json", data, result, policy)
    assert result.records[0].severity == "SEV1"


def test_opsgenie_alerts() -> None:
    result = incidents_opsgenie.read(DATA / "opsgenie-alerts.json")
    assert not result.problems
    closed, stalled = result.records
    assert (closed.id, closed.service, closed.severity, closed.team) == (
        "1791", "checkout", "SEV1", "payments")
    # ackTime and closeTime are milliseconds after createdAt.
    assert closed.acknowledged_at == at("2026-03-02 10:01:30") + timedelta(milliseconds=15702)
    assert closed.resolved_at == at("2026-03-02 10:01:30") + timedelta(milliseconds=60503)
    assert closed.assignee == "agent_smith" and closed.status == "resolved"
    assert (stalled.service, stalled.severity, stalled.status) == ("inventory", "SEV4",
                                                                   "triggered")
    assert stalled.resolved_at is None


def test_json_exports_are_told_apart() -> None:
    kinds = {name: incidents_json.read_file(DATA / name).detected_format
             for name in ("pagerduty-rest.json", "pagerduty-analytics.json",
                          "opsgenie-alerts.json")}
    assert kinds == {
        "pagerduty-rest.json": incidents_pagerduty_json.FORMAT_REST,
        "pagerduty-analytics.json": incidents_pagerduty_json.FORMAT_ANALYTICS,
        "opsgenie-alerts.json": incidents_opsgenie.FORMAT,
    }


def test_pagerduty_analytics_csv_is_read_by_the_csv_reader() -> None:
    result = incidents_pagerduty_csv.read(DATA / "pagerduty-analytics.csv")
    assert not result.problems
    first, second = result.records
    assert (first.severity, first.team, first.title) == ("SEV1", "core", "api: 5xx spike")
    assert first.acknowledged_at == at("2026-03-07 12:02")
    assert first.resolved_at == at("2026-03-07 12:45")
    assert second.severity == "SEV4" and second.resolved_at is None


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "incidents": [\n    {"id": "X",}\n  ]\n}\n')
    result = incidents_json.read_file(path)
    assert result.fatal and not result.records
    problem = result.problems[0]
    assert problem.location == "line 3, column 16"
    assert str(path) in str(problem)


def test_unknown_json_shape_is_a_clear_failure(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"alerts_total": 3}')
    result = incidents_json.read_file(path)
    assert result.fatal
    assert "not a known incident export" in str(result.problems[0])
    assert "alerts_total" in result.problems[0].found


def test_bad_records_are_quarantined_with_their_json_path(tmp_path: Path) -> None:
    path = tmp_path / "pd.json"
    path.write_text(json.dumps({"incidents": [
        {"id": "OK1", "title": "fine", "service": {"summary": "api"},
         "created_at": "2026-03-01T00:00:00Z", "urgency": "high"},
        {"id": "BAD1", "title": "bad time", "service": {"summary": "api"},
         "created_at": "yesterday", "urgency": "high"},
        {"id": "BAD2", "title": "no service", "created_at": "2026-03-01T00:00:00Z",
         "priority": {"summary": "P9"}},
        "not an object",
    ]}))
    result = incidents_pagerduty_json.read(path)
    assert [i.id for i in result.records] == ["OK1"]
    where = {p.location: p for p in result.problems}
    assert where["$.incidents[1].created_at"].found == "'yesterday'"
    assert "$.incidents[2].service" in where
    assert where["$.incidents[2].priority.summary"].found == "'P9'"
    assert where["$.incidents[3]"].message == "list element is not an object"
    assert all(p.level is Level.ROW for p in result.problems)


def test_opsgenie_alert_without_a_service(tmp_path: Path) -> None:
    path = tmp_path / "og.json"
    path.write_text(json.dumps({"data": [
        {"tinyId": "7", "message": "m", "createdAt": "2026-03-01T00:00:00Z",
         "report": {"ackTime": -5}},
        {"tinyId": "8", "message": "n", "createdAt": "2026-03-01T00:00:00Z"},
    ]}))
    result = incidents_opsgenie.read(path)
    # A bad ackTime quarantines the alert; a missing service does not.
    assert [(i.id, i.service) for i in result.records] == [("8", UNKNOWN_SERVICE)]
    locations = {p.location: p.level for p in result.problems}
    assert locations == {"$.data[0].report.ackTime": Level.ROW, "$": Level.WARNING}


def test_duplicates_fold_across_exports() -> None:
    records = (incidents_pagerduty_json.read(DATA / "pagerduty-rest.json").records
               + incidents_opsgenie.read(DATA / "opsgenie-alerts.json").records)
    result = fold_duplicates(records, IncidentPolicy())
    # The PagerDuty incident (10:00:00) and the Opsgenie alert (10:01:30) on checkout with
    # the same title are one incident. Both fill 6 optional fields (PagerDuty: resolved,
    # detected, team, urgency, escalation policy, priority; Opsgenie: acknowledged, resolved,
    # detected, team, assignee, priority), so the first one created stays.
    assert [(f.kept, f.dropped) for f in result.folded] == [("PT4KHLK", "1791")]
    assert "90s apart" in result.folded[0].reason
    assert len(result.incidents) == 3


def test_duplicate_rules() -> None:
    base = incident("P1", "api", "SEV2", "2026-03-01 10:00", title="API latency high")
    near = incident("P2", "api", "SEV2", "2026-03-01 10:02", title="api latency HIGH!")
    late = incident("P3", "api", "SEV2", "2026-03-01 10:02:01", title="API latency high")
    other = incident("P4", "web", "SEV2", "2026-03-01 10:00:30", title="API latency high")
    again = incident("P1", "api", "SEV2", "2026-03-05 10:00", title="reopened")
    result = fold_duplicates([base, near, late, other, again], IncidentPolicy())
    # near: same service, exactly 2 minutes later, same words; late: 2 min 1 s after base
    # but only 1 s after near... compared with the kept record (base), so it stands;
    # other: another service; again: same id.
    assert sorted((f.kept, f.dropped) for f in result.folded) == [("P1", "P1"), ("P1", "P2")]
    assert {i.id for i in result.incidents} == {"P1", "P3", "P4"}


@pytest.mark.parametrize(("a", "b", "same"), [
    ("checkout: payment timeouts", "Checkout: payment timeouts!", True),
    ("db replication lag", "[FIRING] db replication lag on primary", True),
    ("db replication lag", "disk full on primary", False),
    ("", "", True),
])
def test_similar_titles(a: str, b: str, same: bool) -> None:
    assert similar_titles(a, b, 0.8) is same
