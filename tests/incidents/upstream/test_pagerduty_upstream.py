"""PagerDuty's REST incident list as the API returns it: read, merged incidents counted once,
open incidents with a resolution time kept open, other priorities named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from opsledger.core.incident_policy import IncidentPolicy, apply_policy
from opsledger.core.problems import Level, ReadResult
from opsledger.incidents.kpis import DurationStats, Period, incident_kpis
from opsledger.model.incidents import Incident
from opsledger.readers import alerts_pagerduty, incidents_json, incidents_pagerduty_json

from .upstream import PAGERDUTY, load, pagerduty_with_ids, when, write


def read(tmp_path: Path, data: dict, policy: IncidentPolicy | None = None) -> ReadResult[Incident]:
    path = write(tmp_path / "pd.json", data)
    result: ReadResult[Incident] = ReadResult(path)
    incidents_pagerduty_json.read_data(path, data, result, policy or IncidentPolicy())
    return result


def warnings(result: ReadResult[Incident]) -> list[str]:
    return [p.message for p in result.problems if p.level is Level.WARNING]


def test_the_upstream_incident_list_reads_as_exported() -> None:
    raw = load(PAGERDUTY)
    result = incidents_json.read_file(PAGERDUTY)
    assert result.detected_format == incidents_pagerduty_json.FORMAT_REST
    expected = [
        # The ids are blanked in this recording, so the incident number identifies them.
        (item["id"] or str(item["incident_number"]), item["service"]["summary"],
         when(item["created_at"]), when(item["resolved_at"]), item["status"],
         item["escalation_policy"]["summary"])
        for item in raw["incidents"]
    ]
    assert [(i.id, i.service, i.created_at, i.resolved_at, i.status, i.escalation_policy)
            for i in result.records] == expected
    # No priority in the export: urgency high is the documented SEV2.
    assert {item["urgency"] for item in raw["incidents"]} == {"high"}
    assert {i.severity for i in result.records} == {"SEV2"}
    # "more": true — the file is one page of the list, and the reader says so.
    assert raw["more"] is True
    [page] = result.problems
    assert (page.level, page.location) == (Level.WARNING, "$.more")
    assert "later pages are not in this file" in page.message


def test_the_upstream_list_is_also_an_alert_history() -> None:
    raw = load(PAGERDUTY)
    result = alerts_pagerduty.read(PAGERDUTY)
    assert [e.id for e in result.records] == [str(i["incident_number"]) for i in raw["incidents"]]
    assert [p.location for p in result.problems] == ["$.more"]


def test_a_merged_incident_counts_once_and_is_named(tmp_path: Path) -> None:
    data = pagerduty_with_ids("PSURVIVE", "PMERGED")
    data["incidents"][1]["resolve_reason"] = {
        "type": "merge_resolve_reason",
        "incident": {"id": "PSURVIVE", "type": "incident_reference"},
    }
    result = read(tmp_path, data)
    assert [i.id for i in result.records] == ["PSURVIVE"]
    [merge] = [m for m in warnings(result) if "merge_resolve_reason" in m]
    assert "the survivor is in this file" in merge and "PMERGED into PSURVIVE" in merge

    # MTTR and MTBF are those of the survivor alone (computed here with pandas).
    frame = pd.DataFrame(data["incidents"])
    survivor = frame[frame["id"] == "PSURVIVE"]
    minutes = (pd.to_datetime(survivor["resolved_at"]) - pd.to_datetime(survivor["created_at"])
               ).dt.total_seconds() / 60
    start = when("2023-11-19T00:00:00Z")
    period = Period(start, start + timedelta(days=1))
    kpis = incident_kpis(result.records, period, period.end)
    assert kpis.count == 1
    assert isinstance(kpis.mttr, DurationStats)
    assert kpis.mttr.count == 1 and kpis.mttr.mean == pytest.approx(minutes.mean())
    mtbf = kpis.mtbf["API Service"]
    assert mtbf.failures == 1
    assert mtbf.hours == pytest.approx(24 - minutes.sum() / 60)


def test_a_merge_into_an_incident_outside_the_file_is_said_so(tmp_path: Path) -> None:
    data = pagerduty_with_ids("PA", "PB")
    data["incidents"][0]["resolve_reason"] = {"type": "merge_resolve_reason",
                                              "incident": {"id": "PELSEWHERE"}}
    result = read(tmp_path, data)
    assert [i.id for i in result.records] == ["PB"]
    assert any("the survivor is not in this file" in m and "PA into PELSEWHERE" in m
               for m in warnings(result))


def test_an_unknown_resolve_reason_is_named(tmp_path: Path) -> None:
    data = pagerduty_with_ids("PA", "PB")
    data["incidents"][0]["resolve_reason"] = {"type": "timeout_resolve_reason"}
    result = read(tmp_path, data)
    assert [i.id for i in result.records] == ["PA", "PB"]
    assert any("resolve_reason 'timeout_resolve_reason' is not known" in m
               for m in warnings(result))


def test_a_triggered_incident_with_resolved_at_stays_open(tmp_path: Path) -> None:
    data = pagerduty_with_ids("PA", "PB")
    data["incidents"][1]["status"] = "triggered"  # resolved_at is still set
    data["incidents"][0]["resolved_at"] = None
    data["incidents"][0]["last_status_change_at"] = None
    result = read(tmp_path, data)
    by_id = {i.id: i for i in result.records}
    assert (by_id["PB"].status, by_id["PB"].resolved_at) == ("triggered", None)
    assert (by_id["PA"].status, by_id["PA"].resolved_at) == ("resolved", None)
    notes = warnings(result)
    assert any(m.startswith("status 'triggered' with resolved_at set") and "(PB)" in m
               for m in notes)
    assert any(m.startswith("status 'resolved' without a resolution time") and "(PA)" in m
               for m in notes)


@pytest.mark.parametrize(
    "priority, severity",
    [("SEV-2", "SEV2"), ("P0", "SEV1"), ("Critical", "SEV1"), ("p4", "SEV4"), ("S3", "SEV3")],
)
def test_severity_spellings_as_priorities_are_mapped(
    tmp_path: Path, priority: str, severity: str
) -> None:
    data = pagerduty_with_ids("PA", "PB")
    data["incidents"][0]["priority"] = {"summary": priority, "type": "priority_reference"}
    result = read(tmp_path, data)
    assert result.records[0].severity == severity
    assert result.records[0].priority == priority
    assert not any("priority" in m for m in warnings(result))


def test_another_priority_falls_back_to_urgency_by_name(tmp_path: Path) -> None:
    data = pagerduty_with_ids("PA", "PB")
    for incident in data["incidents"]:
        incident["priority"] = {"summary": "Urgent", "type": "priority_reference"}
    result = read(tmp_path, data)
    assert [i.severity for i in result.records] == ["SEV2", "SEV2"]  # urgency high
    [note] = [m for m in warnings(result) if "priority" in m]
    assert note.startswith("priority 'Urgent' is not in incidents.priority_severity")
    assert "2 incidents (PA, PB)" in note
    # Mapped in the workspace, it gives the severity: read with the policy, or re-derived.
    policy = IncidentPolicy(priority_severity={"Urgent": "SEV1"})
    assert {i.severity for i in read(tmp_path, data, policy).records} == {"SEV1"}
    assert {i.severity for i in apply_policy(result.records, policy)} == {"SEV1"}
