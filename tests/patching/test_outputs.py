"""The plan's renderings, the ``opsledger patch`` commands, the report section and the demo."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from icalendar import Calendar
from typer.testing import CliRunner

from opsledger.cli.patch import app
from opsledger.core.config import ChangeWindow, SeverityDays
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.config import write_config
from opsledger.demo.security import write_security
from opsledger.demo.world import Size, build_world
from opsledger.model.common import Severity
from opsledger.model.security import Finding, OutdatedPackage
from opsledger.patching.cadence import Posture, UpdatePlan, assess_posture, plan_updates
from opsledger.patching.plan import (
    dependabot_yaml,
    plan_calendar,
    plan_markdown,
    renovate_config,
    renovate_schedule,
)
from opsledger.patching.section import PLAN_FILES, patch_section
from opsledger.readers import security
from opsledger.render.sections import Status

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
WINDOW = ChangeWindow(
    name="sunday-night", cron="0 22 * * 6", duration_minutes=240, timezone="Europe/Berlin"
)
DEMO_NOW = datetime(2026, 11, 20, tzinfo=UTC)


def small_plan() -> tuple[Posture, UpdatePlan]:
    findings = [
        Finding(
            "CVE-2024-34064",
            ("GHSA-h75v-3vvj-5mfj",),
            "jinja2",
            "PyPI",
            "3.1.3",
            ("3.1.4",),
            severity=Severity.MEDIUM,
            first_seen=date(2026, 3, 1),
        )
    ]
    outdated = [
        OutdatedPackage("Django", "PyPI", "4.2.11", "5.1.3"),
        OutdatedPackage("react", "npm", "18.2.0", "18.3.1"),
    ]
    posture = assess_posture(findings, SeverityDays(), NOW)
    return posture, plan_updates(posture, outdated, [WINDOW], [], NOW)


def test_calendar_is_byte_identical_and_well_formed() -> None:
    _, plan = small_plan()
    first, second = plan_calendar(plan), plan_calendar(small_plan()[1])
    assert first == second
    calendar = Calendar.from_ical(first)
    events = calendar.walk("VEVENT")
    assert len(events) == 3
    assert len({str(e["uid"]) for e in events}) == 3
    assert all(e.decoded("dtstamp") == NOW for e in events)
    start = events[0].decoded("dtstart")
    assert str(start.tzinfo) == "Europe/Berlin" and (start.hour, start.minute) == (22, 0)
    assert calendar.walk("VTIMEZONE")  # the zone travels with the file


def test_markdown_lists_groups_and_escapes_cells() -> None:
    posture, plan = small_plan()
    text = plan_markdown(posture, plan)
    assert "| Security fixes: medium | SLA | 2026-05-30 | 1 |" in text
    assert "Major updates" in text and "Django" in text and "5.1.3" in text


def test_renovate_schedule_covers_window_hours_across_midnight() -> None:
    assert renovate_schedule(WINDOW) == ["* 22-23 * * 6", "* 0-1 * * 0"]
    assert renovate_schedule(WINDOW, "1-7") == ["* 22-23 1-7 * *", "* 0-1 1-7 * *"]
    daytime = ChangeWindow(name="d", cron="30 9 * * 2", duration_minutes=90)
    assert renovate_schedule(daytime) == ["* 9-10 * * 2"]
    config = renovate_config([WINDOW])
    assert config["timezone"] == "Europe/Berlin" and config["vulnerabilityAlerts"]["enabled"]
    rules = {tuple(r["matchUpdateTypes"]): r for r in config["packageRules"]}
    assert rules[("major",)]["schedule"][0] == "* 22-23 1-7 1,4,7,10 *"
    assert rules[("patch", "minor")]["groupName"] == "patch and minor updates"


def test_dependabot_yaml_is_version_2_with_groups_per_ecosystem() -> None:
    document = yaml.safe_load(dependabot_yaml([WINDOW], ["PyPI", "npm", "Go"]))
    assert document["version"] == 2
    assert [u["package-ecosystem"] for u in document["updates"]] == ["pip", "npm"]
    update = document["updates"][0]
    assert update["schedule"] == {
        "interval": "monthly",
        "time": "22:00",
        "timezone": "Europe/Berlin",
    }
    assert update["groups"]["patch-and-minor"]["update-types"] == ["minor", "patch"]
    assert update["groups"]["security-fixes"]["applies-to"] == "security-updates"


def demo_workspace(root: Path) -> Path:
    world = build_world(Size.SMALL, 7, DEMO_NOW)
    write_config(world, root)
    write_security(world, root)
    return root


def test_demo_security_folder_is_deterministic_and_overlaps(tmp_path: Path) -> None:
    world = build_world(Size.SMALL, 7, DEMO_NOW)
    first = {p.name: p.read_bytes() for p in write_security(world, tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in write_security(world, tmp_path / "b")}
    assert first == second and len(first) == 11
    result = security.read(tmp_path / "a" / "security")
    assert not result.fatal
    jinja = next(f for f in result.records if f.package == "jinja2")
    assert len(jinja.sources) >= 3 and jinja.id == "CVE-2024-34064"
    kev = [f for f in result.records if f.kev]
    assert [f.id for f in kev] == ["CVE-2023-44487"] and len(kev[0].sources) == 2
    assert all(f.epss is not None for f in result.records if f.cves)


def test_findings_json_contract(tmp_path: Path) -> None:
    root = demo_workspace(tmp_path / "ws")
    args = ["findings", str(root), "--json", "--now", "2026-11-20T00:00:00Z"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    findings = json.loads(run.output)
    required = {
        "id",
        "aliases",
        "package",
        "installed",
        "fixed",
        "severity",
        "cvss_score",
        "kev",
        "first_seen",
        "due_date",
        "sources",
    }
    assert all(required <= set(f) for f in findings)
    assert {f["severity"] for f in findings} <= {"critical", "high", "medium", "low", "unknown"}
    cryptography = next(f for f in findings if f["package"] == "cryptography")
    # Dependabot first saw it 45 days before; high SLA 30 days.
    assert cryptography["first_seen"] == "2026-10-06" and cryptography["due_date"] == "2026-11-05"
    assert cryptography["sources"] == ["dependabot", "pip-audit"]
    net = next(f for f in findings if f["package"] == "golang.org/x/net")
    assert net["kev"] is True and net["due_date"] == "2026-12-01" and net["cvss_score"] == 7.5


def test_plan_command_writes_four_files_atomically_and_repeatably(tmp_path: Path) -> None:
    root = demo_workspace(tmp_path / "ws")
    args = ["plan", str(root), "--now", "2026-11-20T00:00:00Z", "--json"]
    first = CliRunner().invoke(app, args)
    out = root / ".artifacts" / "protocol-09"
    contents = {name: (out / name).read_bytes() for name in PLAN_FILES}
    second = CliRunner().invoke(app, args)
    assert first.exit_code == second.exit_code == 1  # overdue fixes need a decision
    assert contents == {name: (out / name).read_bytes() for name in PLAN_FILES}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    groups = {g["group"]: g for g in json.loads(first.output)["groups"]}
    assert groups["security-overdue"]["status"] == "emergency-change-or-waiver"
    assert groups["security-kev"]["status"] == "scheduled"
    json.loads((out / "renovate.json").read_text())
    frozen = CliRunner().invoke(app, [*args, "--freeze", "all"])
    held = {g["group"]: g["status"] for g in json.loads(frozen.output)["groups"]}
    assert held["patch-minor"] == held["major"] == "held-by-error-budget-freeze"


def test_section_counts_bands_and_fails_on_overdue(tmp_path: Path) -> None:
    root = demo_workspace(tmp_path / "ws")
    ctx = Context.open(open_workspace(root), DEMO_NOW)
    section = patch_section(ctx)
    assert section.status is Status.FAIL
    assert section.data["counts"] == {"critical": 1, "high": 5, "medium": 4, "low": 0, "unknown": 1}
    assert section.data["overdue"] == 2 and section.data["kev"] == 1
    assert "| critical | high | medium | low | unknown |" in section.body
    assert "**Overdue:** 2" in section.body and "**Patch plan**" in section.body
    assert section.actions and section.actions[0]["source"] == "security"


def test_section_is_skipped_without_reports(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    section = patch_section(Context.open(open_workspace(root), DEMO_NOW))
    assert section.status is Status.SKIPPED and "no scanner reports" in section.body
