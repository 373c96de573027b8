"""Opsgenie's List Alerts and Get Alert responses as the API returns them: every alert kept,
its service derived or mapped, pages and the Incident API named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from opsledger.core.incident_policy import IncidentPolicy, apply_policy
from opsledger.core.problems import Level
from opsledger.model.incidents import UNKNOWN_SERVICE
from opsledger.readers import alerts, incidents_json, incidents_opsgenie

from .upstream import (
    OPSGENIE_INCIDENTS,
    OPSGENIE_LAST_PAGE,
    OPSGENIE_PAGE,
    load,
    when,
    write,
)


@pytest.mark.parametrize("path", [OPSGENIE_PAGE, OPSGENIE_LAST_PAGE], ids=lambda p: p.name)
def test_list_alerts_responses_give_one_incident_per_alert(path: Path) -> None:
    raw = load(path)
    result = incidents_json.read_file(path)
    assert result.detected_format == incidents_opsgenie.FORMAT
    # The List Alerts response has no details, no entity and here no tags: no service.
    assert all(not a["tags"] and "details" not in a and "entity" not in a for a in raw["data"])
    assert [(i.id, i.title, i.service, i.created_at, i.priority, i.status)
            for i in result.records] == [
        (a["tinyId"], a["message"], UNKNOWN_SERVICE, when(a["createdAt"]), a["priority"],
         "triggered")  # status "open", not acknowledged
        for a in raw["data"]
    ]
    assert [i.severity for i in result.records] == [
        "SEV" + a["priority"][1:] for a in raw["data"]]
    warnings = {p.location: p.message for p in result.problems}
    assert all(p.level is Level.WARNING for p in result.problems)
    assert f"'{UNKNOWN_SERVICE}'" in warnings["$"]
    assert f"1 alert ({raw['data'][0]['tinyId']})" in warnings["$"]
    # Only the page with paging.next says that later pages are missing.
    assert ("$.paging.next" in warnings) == ("next" in raw["paging"])


def test_the_alert_history_reads_the_same_responses() -> None:
    page = alerts.read_file(OPSGENIE_PAGE)
    assert [e.id for e in page.records] == [a["id"] for a in load(OPSGENIE_PAGE)["data"]]
    assert [p.location for p in page.problems] == ["$.paging.next"]
    assert alerts.read_file(OPSGENIE_LAST_PAGE).problems == []


def test_the_incident_api_is_refused_by_name() -> None:
    for result in (incidents_json.read_file(OPSGENIE_INCIDENTS),
                   alerts.read_file(OPSGENIE_INCIDENTS)):
        [problem] = result.problems
        assert problem.level is Level.FATAL
        assert "Opsgenie Incident API response (GET /v1/incidents) is not read" in problem.message
        assert result.records == [] and result.detected_format == ""


def test_a_get_alert_response_is_read(tmp_path: Path) -> None:
    alert = copy.deepcopy(load(OPSGENIE_LAST_PAGE)["data"][0])
    alert.update({"details": {"service": "checkout"}, "entity": "web-1", "status": "closed",
                  "report": {"ackTime": 60000, "closeTime": 600000, "acknowledgedBy": "ann"}})
    path = write(tmp_path / "get.json", {"data": alert, "took": 0.01, "requestId": "r"})
    result = incidents_json.read_file(path)
    assert result.problems == []
    [incident] = result.records
    created = when(alert["createdAt"])
    assert (incident.id, incident.service, incident.status, incident.assignee) == (
        alert["tinyId"], "checkout", "resolved", "ann")
    assert (incident.acknowledged_at - created).total_seconds() == 60
    assert (incident.resolved_at - created).total_seconds() == 600
    history = alerts.read_file(path)
    assert [e.service for e in history.records] == ["checkout"] and history.problems == []


def test_a_get_alert_problem_is_located_under_data(tmp_path: Path) -> None:
    alert = copy.deepcopy(load(OPSGENIE_LAST_PAGE)["data"][0])
    alert["createdAt"] = "yesterday"
    result = incidents_json.read_file(write(tmp_path / "get.json", {"data": alert}))
    assert [p.location for p in result.problems] == ["$.data.createdAt"]


def page_with(**changes: object) -> dict:
    data = copy.deepcopy(load(OPSGENIE_LAST_PAGE))
    data["data"][0].update(changes)
    return data


@pytest.mark.parametrize(
    "changes, mapping",
    [
        ({"tags": ["Critical", "payments"]}, {"tag:payments": "checkout"}),
        ({"teams": [{"id": "T-1", "name": "Payments"}]}, {"team:payments": "checkout"}),
        ({"teams": [{"id": "8418d193"}]}, {"team:8418d193": "checkout"}),
        ({"ownerTeamId": "8418d193"}, {"team:8418d193": "checkout"}),
        ({"responders": [{"type": "team", "id": "R-9"}]}, {"responder:r-9": "checkout"}),
        # The alias of the upstream alert begins "b7da6303-"; the longest prefix wins.
        ({}, {"alias:b7da": "search", "alias:b7da6303-": "checkout"}),
    ],
    ids=["tag", "team name", "team id", "owner team", "responder", "alias prefix"],
)
def test_the_service_mapping_places_an_alert(
    tmp_path: Path, changes: dict, mapping: dict[str, str]
) -> None:
    result = incidents_json.read_file(write(tmp_path / "og.json", page_with(**changes)))
    [incident] = result.records
    assert incident.service == UNKNOWN_SERVICE
    [mapped] = apply_policy(result.records, IncidentPolicy(service_mapping=mapping))
    assert mapped.service == "checkout"


def test_a_named_service_is_never_remapped(tmp_path: Path) -> None:
    data = page_with(tags=["service:search", "payments"])
    result = incidents_json.read_file(write(tmp_path / "og.json", data))
    policy = IncidentPolicy(service_mapping={"tag:payments": "checkout"})
    assert [i.service for i in apply_policy(result.records, policy)] == ["search"]
    assert result.problems == []


def test_closed_without_close_time_and_acknowledged_without_ack_time_are_named(
    tmp_path: Path,
) -> None:
    data = page_with(status="closed", acknowledged=True, tags=["service:api"])
    result = incidents_json.read_file(write(tmp_path / "og.json", data))
    [incident] = result.records
    assert (incident.status, incident.acknowledged_at, incident.resolved_at) == (
        "resolved", None, None)
    messages = [p.message for p in result.problems]
    assert any(m.startswith("closed without report.closeTime") for m in messages)
    assert any(m.startswith("acknowledged without report.ackTime") for m in messages)


def test_a_bad_mapping_key_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="'owner:x' is not one of tag:NAME"):
        IncidentPolicy(service_mapping={"owner:x": "checkout"})
