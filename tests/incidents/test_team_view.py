"""``incidents stats --team/--service``: a team's incidents, counted by hand from the raw exports.

The demo's two incident exports (a PagerDuty CSV and the payments team's own log) are read
here with the csv module, placed by the owners in ``opsledger.yaml`` and compared with what
opsledger reports. Opsgenie alerts are added that name no service: one routed to the payments
team, one that ``incidents.service_mapping`` gives to checkout, one naming nothing at all.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from opsledger.cli.incidents import app
from opsledger.core.catalog import open_scoped
from opsledger.core.workspace import open_workspace
from opsledger.incidents.section import incidents_section
from opsledger.incidents.service import write_escalation
from opsledger.render.sections import Status
from tests.conftest import DEMO_NOW

SINCE, UNTIL = "2026-08-01T00:00:00Z", DEMO_NOW.isoformat()
runner = CliRunner()


@dataclass(frozen=True)
class RawIncident:
    id: str
    service: str | None
    team: str | None
    severity: str
    created: datetime
    ack_minutes: float | None
    resolve_minutes: float | None
    postmortem_flag: bool = False


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _native(row: dict[str, str]) -> RawIncident:
    created = _time(row["created_at"])
    ack = _time(row["acknowledged_at"]) if row["acknowledged_at"] else None
    resolved = _time(row["resolved_at"]) if row["resolved_at"] else None
    return RawIncident(
        row["id"], row["service"], row["team"] or None, row["severity"], created,
        (ack - created).total_seconds() / 60 if ack else None,
        (resolved - created).total_seconds() / 60 if resolved else None,
        row["postmortem_required"] == "true" or row["data_loss"] == "true")


def _pagerduty(row: dict[str, str]) -> RawIncident:
    return RawIncident(
        row["id"], row["service_name"], row["teams"] or None, "SEV" + row["priority"][1:],
        _time(row["created_on"]), int(row["seconds_to_first_ack"]) / 60,
        int(row["seconds_to_resolve"]) / 60)


def raw_incidents(root: Path) -> dict[str, RawIncident]:
    """Every incident of the CSV exports by id; a row with an impossible date is left out,
    as the reader quarantines it; the team's own log wins over the PagerDuty copy."""
    found: dict[str, RawIncident] = {}
    for path in sorted((root / "incidents").glob("*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    incident = _native(row) if "severity" in row else _pagerduty(row)
                except ValueError:
                    continue
                if incident.id in found and "severity" not in row:
                    continue
                found[incident.id] = incident
    return found


def owners(root: Path) -> dict[str, set[str]]:
    config = yaml.safe_load((root / "opsledger.yaml").read_text())
    teams: dict[str, set[str]] = {}
    for service in config["services"]:
        teams.setdefault(service["owner"], set()).add(service["name"])
    return teams


def alert(tiny: str, created: str, *, teams: tuple[str, ...] = (), tags: tuple[str, ...] = (),
          ack_minutes: int = 5, close_minutes: int = 60, priority: str = "P3") -> dict[str, Any]:
    return {
        "id": f"og-{tiny}", "tinyId": tiny, "message": f"alert {tiny}", "status": "closed",
        "acknowledged": True, "tags": list(tags), "createdAt": created, "priority": priority,
        "teams": [{"id": f"id-{t}", "name": t} for t in teams],
        "report": {"ackTime": ack_minutes * 60_000, "closeTime": close_minutes * 60_000},
    }


ALERTS = {"data": [
    alert("9001", "2026-10-15T10:00:00Z", teams=("payments",), close_minutes=60),
    alert("9002", "2026-10-16T10:00:00Z", tags=("db",), ack_minutes=2, close_minutes=30),
    alert("9003", "2026-10-17T10:00:00Z"),
    alert("9004", "2026-10-18T10:00:00Z", teams=("storefront",), tags=("service:search",)),
]}
# What the alerts are, by construction: (service placing it, team, MTTA, MTTR, severity).
ALERT_FACTS = {
    "9001": RawIncident("9001", None, "payments", "SEV3", _time("2026-10-15T10:00:00Z"), 5, 60),
    "9002": RawIncident("9002", "checkout", None, "SEV3", _time("2026-10-16T10:00:00Z"), 2, 30),
    "9003": RawIncident("9003", None, None, "SEV3", _time("2026-10-17T10:00:00Z"), 5, 60),
    "9004": RawIncident("9004", "search", "storefront", "SEV3", _time("2026-10-18T10:00:00Z"),
                        5, 60),
}
POSTMORTEM = """\
---
incident_id: "{incident}"
title: alert {incident}
severity: SEV3
date: 2026-10-15
review_date: 2026-10-20
status: published
---

# alert {incident}

## Action items

| ID | Action | Owner | Due | Status | Priority |
| --- | --- | --- | --- | --- | --- |
| A-{incident}-1 | Route the alert to a service | Eli Novak | 2026-10-25 | Open | P2 |
"""


@pytest.fixture(scope="module")
def team_ws(small_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    root = tmp_path_factory.mktemp("team-view") / "ws"
    shutil.copytree(small_demo, root)
    (root / "incidents" / "opsgenie-alerts.json").write_text(json.dumps(ALERTS))
    with (root / "opsledger.yaml").open("a") as handle:
        handle.write("incidents:\n  service_mapping:\n    'tag:db': checkout\n")
    folder = root / "handover" / "INCIDENT-POSTMORTEMS"
    for incident in ("9001", "9003"):
        (folder / f"2026-10-15-{incident}.md").write_text(POSTMORTEM.format(incident=incident))
    return root


def stats(root: Path, *extra: str) -> dict[str, Any]:
    result = runner.invoke(app, ["stats", str(root), "--now", UNTIL, "--since", SINCE,
                                 "--until", UNTIL, "--no-budget", "--json", *extra])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def in_period(incident: RawIncident) -> bool:
    return _time(SINCE) <= incident.created < _time(UNTIL)


@dataclass(frozen=True)
class View:
    kept: list[RawIncident]
    other: list[RawIncident]  # another service's or team's
    unplaced: list[RawIncident]  # naming neither a service nor a team


def view(root: Path, services: set[str], team: str | None) -> View:
    """Return the incidents on record that a view holds and those it leaves out."""
    found = View([], [], [])
    for incident in {**raw_incidents(root), **ALERT_FACTS}.values():
        if incident.service is not None:
            inside: bool | None = incident.service in services
        elif incident.team is not None and team is not None:
            inside = incident.team == team
        else:
            inside = None
        (found.kept if inside else found.unplaced if inside is None else found.other).append(
            incident)
    return found


def postmortem_ids(root: Path) -> dict[str, str]:
    """Return each postmortem file's incident id."""
    found = {}
    for path in (root / "handover" / "INCIDENT-POSTMORTEMS").glob("*.md"):
        match = re.search(r'^incident_id:\s*"?([^"\n]+)"?$', path.read_text(), flags=re.M)
        assert match, path
        found[path.name] = match.group(1)
    return found


def overdue_items(root: Path, incidents: set[str], today: date) -> set[str]:
    """Return the open action items due before ``today`` in the postmortems of ``incidents``."""
    overdue = set()
    for path in (root / "handover" / "INCIDENT-POSTMORTEMS").glob("*.md"):
        if postmortem_ids(root)[path.name] not in incidents:
            continue
        for line in path.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            dated = len(cells) >= 5 and re.fullmatch(r"\d{4}-\d\d-\d\d", cells[3])
            if dated and cells[4] not in ("Done", "Won't do") \
                    and date.fromisoformat(cells[3]) < today:
                overdue.add(cells[0])
    return overdue


def test_team_view_counts_what_a_hand_count_of_the_exports_gives(team_ws: Path) -> None:
    services = owners(team_ws)["payments"]
    payments = view(team_ws, services, "payments")
    period = [i for i in payments.kept if in_period(i)]
    assert {i.id for i in period} >= {"9001", "9002"}
    assert [i.id for i in payments.unplaced] == ["9003"]

    data = stats(team_ws, "--team", "payments")

    assert data["count"] == len(period) == 9
    assert data["mttr_minutes"]["mean"] == pytest.approx(
        mean(i.resolve_minutes for i in period if i.resolve_minutes is not None), abs=1e-3)
    assert data["mtta_minutes"] == pytest.approx(
        mean(i.ack_minutes for i in period if i.ack_minutes is not None), abs=1e-3)
    by_severity = {s: sum(1 for i in period if i.severity == s)
                   for s in ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")}
    assert data["by_severity"] == by_severity
    assert set(data["by_service"]) <= services | {"(unknown service)"}
    assert data["by_service"]["(unknown service)"] == 1  # routed to the team, no service
    required = [i for i in period if i.severity in ("SEV1", "SEV2") or i.postmortem_flag]
    assert data["postmortems"]["required"] == len(required)
    team_ids = {i.id for i in payments.kept}
    expected_overdue = overdue_items(team_ws, team_ids, DEMO_NOW.date())
    assert set(data["action_items"]["overdue"]) == expected_overdue
    assert {"INC-1006-A5", "A-9001-1"} <= expected_overdue  # the demo's own and the added one
    assert "A-9003-1" not in expected_overdue

    scope = data["scope"]
    assert scope["team"] == "payments" and set(scope["services"]) == services
    left = scope["left_out"]
    assert left["incidents"] == {"other": len(payments.other), "unplaced": 1}
    assert len(payments.other) == 17
    assert left["incidents_in_period"] == {
        "other": sum(1 for i in payments.other if in_period(i)), "unplaced": 1}
    files = postmortem_ids(team_ws)
    outside = [pid for pid in files.values() if pid not in team_ids]
    assert left["postmortems"] == {"other": len(outside) - 1, "unplaced": 1}


def test_the_whole_view_still_holds_every_incident(team_ws: Path) -> None:
    whole = stats(team_ws)
    everything = {**raw_incidents(team_ws), **ALERT_FACTS}
    assert "scope" not in whole
    assert whole["count"] == sum(1 for i in everything.values() if in_period(i)) == 27
    teams = {team: stats(team_ws, "--team", team)["count"] for team in owners(team_ws)}
    # Every incident is in exactly one team's view, but the one naming no service or team.
    assert sum(teams.values()) == whole["count"] - 1


def test_service_view_places_by_service_and_cannot_place_team_only_alerts(team_ws: Path) -> None:
    everything = {**raw_incidents(team_ws), **ALERT_FACTS}
    checkout = [i for i in everything.values() if i.service == "checkout" and in_period(i)]
    data = stats(team_ws, "--service", "checkout")
    assert data["count"] == len(checkout) == 7  # six from the exports, one mapped by tag:db
    assert data["by_service"] == {"checkout": 7}
    assert data["mttr_minutes"]["mean"] == pytest.approx(
        mean(i.resolve_minutes for i in checkout if i.resolve_minutes is not None), abs=1e-3)
    # The alert routed to the payments team names no service: not one service's incident.
    assert data["scope"]["left_out"]["incidents"]["unplaced"] == 2
    assert data["scope"]["service"] == "checkout" and data["scope"]["team"] == "payments"


def test_human_output_says_what_the_view_left_out(team_ws: Path) -> None:
    result = runner.invoke(app, ["stats", str(team_ws), "--now", UNTIL, "--since", SINCE,
                                 "--no-budget", "--team", "payments"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # as printed, whatever the terminal's width
    assert text.startswith(f"Incidents of team payments {_time(SINCE).isoformat()} .. "
                           f"{_time(UNTIL).isoformat()}: 9 ")
    assert ("Not in the view of team payments: 17 incident(s) of other services or teams "
            "(17 in the period), 1 naming no known service and no team (1 in the period), "
            "and 5 postmortem(s) of incidents outside the view.") in text
    whole = runner.invoke(app, ["stats", str(team_ws), "--now", UNTIL, "--since", SINCE,
                                "--no-budget"])
    assert "Not in the view" not in whole.stdout
    assert " ".join(whole.stdout.split()).startswith(f"Incidents {_time(SINCE).isoformat()} ")


@pytest.mark.parametrize(("option", "name", "guess"),
                         [("--team", "paymnts", "payments"), ("--service", "checkot", "checkout")])
def test_an_unknown_team_or_service_is_an_input_error_with_a_guess(
        team_ws: Path, option: str, name: str, guess: str) -> None:
    result = runner.invoke(app, ["stats", str(team_ws), "--now", UNTIL, option, name])
    assert result.exit_code == 2
    assert f"did you mean '{guess}'" in result.stderr
    assert "Traceback" not in result.output


def test_report_section_of_a_team_says_what_it_left_out(team_ws: Path) -> None:
    ctx = open_scoped(open_workspace(team_ws), DEMO_NOW, team="payments")
    section = incidents_section(ctx)
    assert "Not in the view of team payments:" in section.body
    assert section.data["scope"]["team"] == "payments"
    month = [i for i in view(team_ws, owners(team_ws)["payments"], "payments").kept
             if DEMO_NOW - timedelta(days=30) <= i.created < DEMO_NOW]
    assert section.data["count"] == len(month)


def test_a_team_without_incidents_gets_a_skipped_section_naming_the_team(
        team_ws: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(team_ws, root)
    # Keep only storefront's PagerDuty rows: the payments team has nothing on record.
    for path in (root / "incidents").iterdir():
        if path.is_file() and path.name != "pagerduty-incidents.csv":
            path.unlink()
    pagerduty = root / "incidents" / "pagerduty-incidents.csv"
    lines = pagerduty.read_text().splitlines(keepends=True)
    storefront = [line for line in lines[1:] if ",storefront," in line]
    pagerduty.write_text(lines[0] + "".join(storefront))
    ctx = open_scoped(open_workspace(root), DEMO_NOW, team="payments")
    section = incidents_section(ctx)
    assert section.status is Status.SKIPPED
    assert section.data["reason"].startswith(
        f"no incident records of team payments ({len(storefront)} of other services or teams "
        "and 0 naming no known service and no team left out)")


def test_escalation_of_a_team_is_written_beside_the_whole_matrix(team_ws: Path,
                                                                 tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(team_ws, root)
    ws = open_workspace(root)
    whole = write_escalation(open_scoped(ws, DEMO_NOW))
    before = whole.markdown.read_bytes()
    team = write_escalation(open_scoped(ws, DEMO_NOW, team="payments"))
    assert team.markdown.name == "escalation-matrix.team-payments.md"
    assert team.alertmanager.name == "alertmanager.team-payments.yml"
    assert whole.markdown.read_bytes() == before
    assert {s.service for s in team.matrix.services} == owners(root)["payments"]
    assert {s.service for s in whole.matrix.services} >= owners(root)["storefront"]
