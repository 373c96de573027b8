"""The dependency update plan as people and tools read it: Markdown, an iCalendar file of
the scheduled change windows, and suggested Renovate and Dependabot configurations whose
cadence matches the plan (patch and minor monthly, major quarterly, security at once).

Same inputs, same bytes: event UIDs derive from the group and window, DTSTAMP is the
plan's ``as_of`` time, and nothing reads the clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from icalendar import Calendar, Event

from opsledger.core.config import ChangeWindow
from opsledger.patching.cadence import (
    DueFinding,
    Placement,
    PlacementStatus,
    Posture,
    UpdatePlan,
)
from opsledger.render.sections import md_escape, md_table

PRODID = "-//opsledger//dependency update plan//EN"
LISTED_UPDATES = 25
ECOSYSTEM_MANAGERS = {"PyPI": "pip", "npm": "npm"}
STATUS_WORDS = {
    PlacementStatus.SCHEDULED: "scheduled",
    PlacementStatus.EMERGENCY: "EMERGENCY CHANGE OR WAIVER",
    PlacementStatus.NO_FIX: "no fix: mitigate or waive",
    PlacementStatus.HELD: "held (error-budget freeze)",
    PlacementStatus.NO_WINDOW: "NO WINDOW",
}


def _when(placement: Placement) -> str:
    slot = placement.slot
    if slot is None:
        return "—"
    return f"{slot.start:%Y-%m-%d %H:%M} {slot.timezone} ({slot.window})"


def plan_markdown(posture: Posture, plan: UpdatePlan) -> str:
    """Return the plan as a Markdown document."""
    lines = [
        "# Dependency update plan",
        "",
        f"As of {plan.as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC. "
        f"{len(posture.items)} open finding(s): {len(posture.overdue)} overdue, "
        f"{len(posture.due_soon)} due within {posture.due_soon_days} days, "
        f"{len(posture.kev)} known exploited.",
        "",
    ]
    if plan.error_budget_freeze:
        frozen = ", ".join(plan.error_budget_freeze)
        lines += [f"**Error-budget freeze in force ({frozen}):** only security and P0 changes "
                  "ship to the frozen services.", ""]
    if plan.flagged:
        lines += ["## Needs a decision", ""]
        for placement in plan.flagged:
            lines.append(f"- **{md_escape(placement.group.title)}**: {md_escape(placement.reason)}")
        lines.append("")
    lines += ["## Groups", ""]
    rows = [
        [p.group.title, p.group.cadence, p.group.due_date or "", len(p.group.updates), _when(p),
         STATUS_WORDS[p.status]]
        for p in plan.placements
    ]
    lines.append(md_table(["Group", "Cadence", "Due", "Updates", "Window", "Status"], rows,
                          "lllrll"))
    for placement in plan.placements:
        group = placement.group
        lines += [f"### {md_escape(group.title)}", ""]
        if placement.reason:
            lines += [f"_{md_escape(placement.reason)}_", ""]
        if placement.excluded_services:
            lines += ["Not for these services until their error budget recovers: "
                      + md_escape(", ".join(placement.excluded_services)), ""]
        rows = [[u.package, u.ecosystem, u.current or "?", u.target or "no fix", u.kind,
                 ", ".join(u.advisories), u.due_date or ""]
                for u in group.updates[:LISTED_UPDATES]]
        lines.append(md_table(["Package", "Ecosystem", "Current", "Target", "Kind", "Advisories",
                               "Due"], rows))
        if len(group.updates) > LISTED_UPDATES:
            lines += [f"… and {len(group.updates) - LISTED_UPDATES} more.", ""]
        if placement.passed_over:
            lines.append("Windows passed over: " + md_escape("; ".join(placement.passed_over[:5]))
                         + ("…" if len(placement.passed_over) > 5 else ""))
            lines.append("")
    lines += [
        "## Procedure",
        "",
        "1. Open the update pull requests before the window (Renovate or Dependabot, below).",
        "2. Merge only when the test gates pass (`opsledger gates p09`).",
        "3. Deploy in the window; verify the service's SLOs and smoke checks.",
        "4. On a failed check, roll back with the service's runbook and reopen the group.",
        "",
    ]
    return "\n".join(lines)


def _uid(placement: Placement) -> str:
    assert placement.slot is not None
    key = f"{placement.group.key}|{placement.slot.window}|{placement.slot.start.isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:24] + "@opsledger"


def plan_calendar(plan: UpdatePlan) -> bytes:
    """Return an iCalendar file with one event per group placed in a window."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Dependency updates")
    stamp = plan.as_of.astimezone(UTC).replace(microsecond=0)
    for placement in plan.placements:
        if placement.slot is None:
            continue
        group = placement.group
        event = Event()
        event.add("uid", _uid(placement))
        event.add("dtstamp", stamp)
        event.add("dtstart", placement.slot.start)
        event.add("dtend", placement.slot.end)
        prefix = "" if placement.status is PlacementStatus.SCHEDULED else "[needs decision] "
        event.add("summary", f"{prefix}{group.title} ({len(group.updates)} updates)")
        packages = ", ".join(f"{u.package} {u.current or '?'} -> {u.target or 'no fix'}"
                             for u in group.updates[:LISTED_UPDATES])
        description = f"Cadence: {group.cadence}. Due: {group.due_date or 'n/a'}.\n{packages}"
        if placement.reason:
            description += f"\n{placement.reason}"
        event.add("description", description)
        event.add("categories", ["maintenance", "security" if group.security else "dependencies"])
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def renovate_schedule(
    window: ChangeWindow, days_of_month: str = "*", months: str = "*"
) -> list[str]:
    """Return Renovate cron schedules covering the window's hours (Renovate ignores minutes).

    Standard cron ORs a restricted day-of-month with a restricted day-of-week, so when the
    cadence restricts the days of the month the window's weekday is dropped: the pull
    requests open in the first week of the month, during the window's hours.
    """
    minute, hour, dom, month, dow = window.cron.split()
    if days_of_month != "*":
        dom, dow = days_of_month, "*"
    if months != "*":
        month = months
    if not (minute.isdigit() and hour.isdigit()):
        return [f"* {hour} {dom} {month} {dow}"]
    start = int(hour) * 60 + int(minute)
    end = start + window.duration_minutes - 1
    if end < 24 * 60:
        return [f"* {_hours(int(hour), end // 60)} {dom} {month} {dow}"]
    schedules = [f"* {_hours(int(hour), 23)} {dom} {month} {dow}"]
    next_dow = dow
    if dow.isdigit():
        next_dow = str((int(dow) + 1) % 7)
    last_hour = min(end // 60 - 24, 23)
    schedules.append(f"* {_hours(0, last_hour)} {dom} {month} {next_dow}")
    return schedules


def _hours(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def renovate_config(windows: Sequence[ChangeWindow]) -> dict[str, Any]:
    """Return a suggested ``renovate.json`` matching the windows and the cadence."""
    window = windows[0] if windows else None
    config: dict[str, Any] = {
        "$schema": "https://docs.renovatebot.com/renovate-schema.json",
        "extends": ["config:recommended"],
        "timezone": window.timezone if window else "UTC",
        "dependencyDashboard": True,
        # Security fixes are not held to the cadence: their SLA is the schedule.
        "vulnerabilityAlerts": {
            "enabled": True, "labels": ["security"], "schedule": ["at any time"]
        },
        "osvVulnerabilityAlerts": True,
        "packageRules": [
            {
                "description": "Patch and minor updates: one grouped PR a month",
                "matchUpdateTypes": ["patch", "minor"],
                "groupName": "patch and minor updates",
                "schedule": renovate_schedule(window, "1-7") if window else ["* 0-3 1 * *"],
            },
            {
                "description": "Major updates: one grouped PR a quarter",
                "matchUpdateTypes": ["major"],
                "groupName": "major updates",
                "schedule": renovate_schedule(window, "1-7", "1,4,7,10") if window
                else ["* 0-3 1 1,4,7,10 *"],
            },
        ],
    }
    if window:
        config["schedule"] = renovate_schedule(window)
    return config


def renovate_json(windows: Sequence[ChangeWindow]) -> str:
    return json.dumps(renovate_config(windows), indent=2, ensure_ascii=False) + "\n"


def dependabot_yaml(windows: Sequence[ChangeWindow], ecosystems: Sequence[str]) -> str:
    """Return a suggested ``.github/dependabot.yml`` (version 2) for pip and npm.

    Dependabot allows one schedule per ecosystem and directory, so version updates run
    monthly with patch/minor and major in separate groups; major-update PRs are merged at
    the quarterly window. Security updates are grouped too and are not held to the schedule.
    """
    window = windows[0] if windows else None
    minute, hour = (window.cron.split()[:2] if window else ("0", "6"))
    at = f"{int(hour):02d}:{int(minute):02d}" if hour.isdigit() and minute.isdigit() else "06:00"
    zone = window.timezone if window else "UTC"
    managers = [ECOSYSTEM_MANAGERS[e] for e in sorted(set(ecosystems)) if e in ECOSYSTEM_MANAGERS]
    lines = [
        "# Suggested by opsledger from the change windows and the update cadence.",
        "version: 2",
        "updates:",
    ]
    for manager in managers or ["pip", "npm"]:
        lines += [
            f'  - package-ecosystem: "{manager}"',
            '    directory: "/"',
            "    schedule:",
            '      interval: "monthly"',
            f'      time: "{at}"',
            f'      timezone: "{zone}"',
            "    open-pull-requests-limit: 10",
            "    labels:",
            '      - "dependencies"',
            "    groups:",
            "      security-fixes:",
            '        applies-to: "security-updates"',
            "        patterns:",
            '          - "*"',
            "      patch-and-minor:",
            '        applies-to: "version-updates"',
            "        update-types:",
            '          - "minor"',
            '          - "patch"',
            "      major:",
            '        applies-to: "version-updates"',
            "        update-types:",
            '          - "major"',
        ]
    return "\n".join(lines) + "\n"


def finding_json(item: DueFinding) -> dict[str, Any]:
    """Return one finding in the ``patch findings --json`` contract."""
    finding = item.finding
    return {
        "id": finding.id,
        "aliases": list(finding.aliases),
        "package": finding.package,
        "ecosystem": finding.ecosystem,
        "purl": finding.purl,
        "installed": finding.installed,
        "fixed": list(finding.fixed),
        "severity": finding.severity.value,
        "severity_basis": finding.severity_basis,
        "cvss_vector": finding.cvss_vector,
        "cvss_score": finding.cvss_score,
        "scope": finding.scope.value,
        "relationship": finding.relationship.value,
        "kev": finding.kev,
        "kev_due": finding.kev_due.isoformat() if finding.kev_due else None,
        "epss": finding.epss,
        "epss_percentile": finding.epss_percentile,
        "first_seen": finding.first_seen.isoformat() if finding.first_seen else None,
        "due_date": item.due_date.isoformat(),
        "due_basis": item.basis,
        "overdue": item.overdue,
        "sources": list(finding.sources),
    }


def placement_json(placement: Placement) -> dict[str, Any]:
    slot = placement.slot
    return {
        "group": placement.group.key,
        "title": placement.group.title,
        "cadence": placement.group.cadence,
        "due_date": placement.group.due_date.isoformat() if placement.group.due_date else None,
        "status": placement.status.value,
        "reason": placement.reason,
        "window": slot.window if slot else None,
        "start": slot.start.isoformat() if slot else None,
        "end": slot.end.isoformat() if slot else None,
        "excluded_services": list(placement.excluded_services),
        "updates": [
            {"package": u.package, "ecosystem": u.ecosystem, "current": u.current,
             "target": u.target, "kind": u.kind, "advisories": list(u.advisories),
             "due_date": u.due_date.isoformat() if u.due_date else None}
            for u in placement.group.updates
        ],
    }
