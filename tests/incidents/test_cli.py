"""``opsledger incidents`` commands and the report section on a small workspace."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.incidents import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.incidents.section import incidents_section
from opsledger.render.sections import Status

DATA = Path(__file__).parent / "data"
NOW = "2026-03-31T00:00:00Z"
runner = CliRunner()

CONFIG = """\
organisation: Example
services:
  - {name: checkout, owner: payments, tier: 0, oncall: payments-primary}
  - {name: search, owner: storefront, tier: 1, oncall: storefront-primary}
stakeholders:
  - {name: Sam Manager, email: sam@example.com, role: sre-manager}
"""
NATIVE = (
    "id,title,service,severity,created_at,acknowledged_at,resolved_at,team,assignee\n"
    "N-1,search index stale,search,SEV3,2026-03-10T10:00:00Z,2026-03-10T10:10:00Z,"
    "2026-03-10T11:00:00Z,storefront,bo\n"
    "N-2,checkout card errors,checkout,SEV1,2026-03-20T03:00:00Z,2026-03-20T03:04:00Z,"
    "2026-03-20T04:00:00Z,payments,ann\n"
)
POSTMORTEM = """\
---
incident_id: N-2
title: checkout card errors
service: checkout
severity: SEV1
date: 2026-03-20
review_date: 2026-03-22
status: published
---

# checkout card errors

## Action items

| ID | Action | Owner | Due | Status | Priority |
| --- | --- | --- | --- | --- | --- |
| N-2-A1 | Alert on card error rate | ann | 2026-03-25 | Open | P1 |
| N-2-A2 | Retry budget | bo | 2026-04-30 | Done | P2 |
"""


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "incidents").mkdir(parents=True)
    (root / "opsledger.yaml").write_text(CONFIG)
    (root / "incidents" / "native.csv").write_text(NATIVE)
    shutil.copy(DATA / "pagerduty-rest.json", root / "incidents" / "pagerduty.json")
    shutil.copy(DATA / "opsgenie-alerts.json", root / "incidents" / "opsgenie.json")
    folder = root / "handover" / "INCIDENT-POSTMORTEMS"
    folder.mkdir(parents=True)
    (folder / "N-2.md").write_text(POSTMORTEM)
    return root


def stats(root: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["stats", str(root), "--now", NOW, "--since",
                                 "2026-03-01T00:00:00Z", "--no-budget", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_stats_json_contract(workspace: Path) -> None:
    data = stats(workspace)
    assert data["period"] == {"start": "2026-03-01T00:00:00+00:00",
                              "end": "2026-03-31T00:00:00+00:00"}
    # N-1, N-2 (native); PT4KHLK and Q1ZAB9X (PagerDuty); 1791 folded into PT4KHLK; 1792.
    assert data["count"] == 5
    assert [d["dropped"] for d in data["duplicates_folded"]] == ["1791"]
    assert data["by_severity"] == {"SEV1": 1, "SEV2": 1, "SEV3": 1, "SEV4": 2, "SEV5": 0}
    # Acknowledged: N-1 10 min, N-2 4 min, Q1ZAB9X 4 min (22:15 -> 22:19): mean 6.
    assert data["mtta_minutes"] == pytest.approx(6.0)
    # Resolved: N-1 60, N-2 60, PT4KHLK 90 minutes: mean 70, median 60,
    # p90 at h = 2 * 0.9 + 1 = 2.8 -> 60 + 0.8 * 30 = 84.
    assert data["mttr_minutes"] == {"mean": 70.0, "median": 60.0, "p90": 84.0}
    # checkout: 30 days = 720 h; down 60 min (N-2) + 90 min (PT4KHLK); 2 failures.
    assert data["mtbf_hours"]["checkout"] == pytest.approx((720 - 2.5) / 2)
    # PT4KHLK (SEV2) has no postmortem; N-2 (SEV1) has one, reviewed within 3 days.
    assert data["postmortems"] == {"required": 2, "present": 1, "missing": ["PT4KHLK"],
                                   "late": []}
    assert data["action_items"]["open"] == 1
    assert data["action_items"]["overdue"] == ["N-2-A1"]
    assert data["action_items"]["closure_rate"] == 0.5
    assert data["gate"]["status"] == "fail"


def test_stats_table_output(workspace: Path) -> None:
    result = runner.invoke(app, ["stats", str(workspace), "--now", NOW, "--no-budget"])
    assert result.exit_code == 0, result.output
    assert "MTTR (p90)" in result.stdout
    assert "PT4KHLK: postmortem missing" in result.stdout


def test_bad_options_exit_2(workspace: Path) -> None:
    result = runner.invoke(app, ["stats", str(workspace), "--since", "last week"])
    assert result.exit_code == 2
    assert "--since: 'last week' is not an ISO 8601 date-time" in result.output
    result = runner.invoke(app, ["stats", str(workspace), "--since", "2026-04-01",
                                 "--until", "2026-03-01"])
    assert result.exit_code == 2
    assert "before it starts" in result.output


def test_malformed_export_is_reported_not_raised(workspace: Path) -> None:
    (workspace / "incidents" / "broken.json").write_text('{"incidents": [\n')
    data = stats(workspace)
    broken = [p for p in data["problems"] if p["path"].endswith("broken.json")]
    assert broken and broken[0]["location"].startswith("line 2")
    assert broken[0]["level"] == "fatal"
    assert data["count"] == 5


def test_postmortem_drafts_never_overwrite(workspace: Path) -> None:
    args = ["postmortem-drafts", str(workspace), "--now", NOW, "--since",
            "2026-03-01T00:00:00Z", "--no-budget", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    written = [Path(p) for p in json.loads(first.stdout)["written"]]
    assert [p.name for p in written] == ["PT4KHLK.md"]
    text = written[0].read_text()
    assert "incident_id: PT4KHLK" in text and "status: draft" in text
    assert "| 2026-03-02 11:30 UTC | Resolved |" in text
    assert "| ID | Action | Owner | Due | Priority | Status | Kind |" in text
    written[0].write_text(text + "\nMy notes.\n")
    second = runner.invoke(app, args)
    assert json.loads(second.stdout) == {"written": [], "kept": [str(written[0])]}
    assert written[0].read_text().endswith("My notes.\n")
    # The draft is readable as a postmortem but does not count as one.
    assert stats(workspace)["postmortems"]["missing"] == ["PT4KHLK"]


def test_escalation_writes_matrix_and_alertmanager(workspace: Path) -> None:
    result = runner.invoke(app, ["escalation", str(workspace), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    evidence = workspace / ".artifacts" / "protocol-09"
    assert Path(data["markdown"]) == (evidence / "escalation-matrix.md").resolve()
    assert (evidence / "alertmanager.yml").read_text().startswith("# Generated by opsledger")
    assert [s["service"] for s in data["matrix"]["services"]] == ["checkout", "search"]


def test_incidents_section(workspace: Path) -> None:
    ws = open_workspace(workspace)
    ctx = Context.open(ws, datetime(2026, 3, 31, tzinfo=UTC))
    section = incidents_section(ctx)
    assert section.key == "incidents"
    assert section.status is Status.FAIL  # PT4KHLK lacks its postmortem
    assert "PT4KHLK: postmortem missing" in section.body
    # Five incidents in March 1-31, none in the 30 days before; majors N-2 and PT4KHLK.
    assert "| Incidents | 5 (▲ 5) |" in section.body
    assert "| Major | 2 (▲ 2) |" in section.body
    assert "| ann | 1 | N-2-A1 (due 2026-03-25) |" in section.body
    actions = {a["action"]: a for a in section.actions}
    assert actions["Alert on card error rate"]["owner"] == "ann"
    assert any(a.startswith("Write and review the postmortem of PT4KHLK") for a in actions)
    assert section.data["count"] == 5


def test_section_without_incidents_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "opsledger.yaml").write_text("organisation: Empty\n")
    section = incidents_section(Context.open(open_workspace(tmp_path)))
    assert section.status is Status.SKIPPED
    assert "no incident records" in section.body
