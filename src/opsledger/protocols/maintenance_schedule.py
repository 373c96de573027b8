"""The maintenance schedule presented for approval in p09 step 1: change windows and their
next occurrences, freezes, the update cadence of the patch plan, the test gates that guard
every change and the rollback procedures, in one document."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from opsledger.core.config import Role
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.gates import GateSpec
from opsledger.patching.section import patch_view
from opsledger.patching.service import (
    STATUS_WORDS,
    ErrorBudgetFreeze,
    freeze_interval,
    window_slots,
)
from opsledger.quality.service import (
    ROLLBACK_DIR,
    describe,
    gate_definitions,
    runbook_file_name,
    write_runbooks,
)
from opsledger.render.links import md_link
from opsledger.render.sections import md_escape, md_table

SCHEDULE_FILE = "maintenance-schedule.md"
NEXT_OCCURRENCES = 3
LOOKAHEAD_DAYS = 120
APPROVERS = (Role.SRE_MANAGER, Role.ENGINEERING_MANAGER, Role.SECURITY_LEAD)


def _windows(ctx: Context) -> list[str]:
    config = ctx.workspace.config
    if not config.change_windows:
        return ["_No change windows are configured (`change_windows` in opsledger.yaml): "
                "every update is an unscheduled change._", ""]
    rows = []
    until = ctx.now + timedelta(days=LOOKAHEAD_DAYS)
    for window in config.change_windows:
        slots = list(window_slots(window, ctx.now, until))[:NEXT_OCCURRENCES]
        upcoming = "; ".join(
            f"{s.start:%a %Y-%m-%d %H:%M %Z} ({s.start.astimezone(UTC):%H:%M} UTC)"
            for s in slots) or f"none in the next {LOOKAHEAD_DAYS} days"
        rows.append([window.name, f"`{window.cron}`", window.timezone,
                     f"{window.duration_minutes} min",
                     ", ".join(window.services) or "all services", upcoming])
    return [md_table(["Window", "Cron", "Time zone", "Length", "Services", "Next occurrences"],
                     rows)]


def _freezes(ctx: Context) -> list[str]:
    config = ctx.workspace.config
    if not config.freezes:
        return ["No freezes are configured.", ""]
    zone = ZoneInfo(config.change_windows[0].timezone if config.change_windows else "UTC")
    rows = []
    for freeze in config.freezes:
        start, end = freeze_interval(freeze, zone)
        rows.append([freeze.name, f"{start:%Y-%m-%d %H:%M %Z}", f"{end:%Y-%m-%d %H:%M %Z}",
                     ", ".join(freeze.allow) or "nothing"])
    policy = config.policies.error_budget
    lines = [md_table(["Freeze", "From", "Until (exclusive)", "Lets through"], rows)]
    if policy.freeze_when_exhausted:
        lines.append(f"An exhausted error budget freezes the service's changes too; only "
                     f"{', '.join(policy.freeze_allows)} changes go through until it recovers.")
        lines.append("")
    return lines


def _cadence(ctx: Context, error_budget_freeze: ErrorBudgetFreeze) -> list[str]:
    view = patch_view(ctx, error_budget_freeze)
    sla = ctx.workspace.config.policies.vulnerability_sla_days
    lines = [
        f"Security fixes follow their SLA from first seen: critical {sla.critical} days, high "
        f"{sla.high}, medium {sla.medium}, low {sla.low}; known exploited (CISA KEV) within 14 "
        "days at most. Patch and minor updates ship monthly, major updates quarterly.",
        "",
    ]
    if not view.plan.placements:
        return [*lines, "No update is pending (no findings and no outdated packages).", ""]
    rows = [[p.group.title, p.group.cadence, p.group.due_date or "", len(p.group.updates),
             f"{p.slot.start:%Y-%m-%d %H:%M} {p.slot.timezone}" if p.slot else "—",
             STATUS_WORDS[p.status]] for p in view.plan.placements]
    lines.append(md_table(["Group", "Cadence", "Due", "Updates", "Window", "Status"], rows,
                          "lllrll"))
    for placement in view.plan.flagged:
        lines.append(f"- **{md_escape(placement.group.title)}**: {md_escape(placement.reason)}")
    if view.plan.flagged:
        lines.append("")
    lines += ["The full plan, its calendar and the Renovate/Dependabot configuration: "
              "`opsledger patch plan WS`.", ""]
    return lines


def _gates(ctx: Context) -> list[str]:
    path = ctx.workspace.path(InputKey.GATES)
    gates = ([g for g in ctx.inputs.read(InputKey.GATES).records if isinstance(g, GateSpec)]
             if path.exists() else [])
    if not gates:
        return ["_No test gates are configured (gates_config.yaml): changes are unguarded._",
                ""]
    gates = list(gate_definitions(ctx, gates).gates)  # former metric names resolved
    rows = [[g.name, describe(g), f"{g.weight:g}", "blocks" if g.blocking else "advisory"]
            for g in gates]
    return [
        "Every update and change merges and deploys only when these gates pass "
        "(`opsledger quality check WS --junit gates.xml` in CI; exit 1 blocks). A failed "
        "gate fails the check unless it is advisory; the weighted score counts pass 1, "
        "warn ½, fail 0.",
        "",
        md_table(["Gate", "Rule", "Weight", "On failure"], rows, "llrc"),
    ]


def _rollback_index(ctx: Context) -> tuple[list[str], list[Path]]:
    written = write_runbooks(ctx)
    if not written.runbooks:
        return ["_No services are configured or catalogued: no rollback runbooks._", ""], \
            list(written.paths)
    rows = [[md_link(r.service.name, f"{ROLLBACK_DIR}/{runbook_file_name(r.service.name)}"),
             r.service.kind.value, r.service.kind_source, r.decide_within_minutes]
            for r in written.runbooks]
    lines = ["On a failed check after a change, roll back with the service's runbook "
             "(deployment-specific commands, verification against its SLOs and gates, and "
             "when to roll back). Canary deployments are judged with `opsledger rollback "
             "canary WS --baseline F --canary F`.", "",
             md_table(["Service", "Deployment", "Kind from", "Decide within (min)"], rows,
                      "lllr")]
    return lines, list(written.paths)


def maintenance_schedule_markdown(
    ctx: Context, rollback_lines: list[str], error_budget_freeze: ErrorBudgetFreeze = None
) -> str:
    config = ctx.workspace.config
    approvers = [s for role in APPROVERS for s in config.stakeholders_with(role)]
    lines = [
        "# Maintenance schedule and update procedures",
        "",
        f"Prepared {ctx.now.astimezone(UTC):%Y-%m-%d %H:%M} UTC for "
        f"{md_escape(config.organisation)} — for team review and approval before the "
        "cadence starts.",
        "",
        "## 1. Change windows", "", *_windows(ctx),
        "## 2. Freezes", "", *_freezes(ctx),
        "## 3. Dependency and security update cadence", "", *_cadence(ctx, error_budget_freeze),
        "## 4. Test gates for every change", "", *_gates(ctx),
        "## 5. Rollback procedures", "", *rollback_lines,
        "## 6. Approval", "",
        "Approval is recorded with `opsledger approve p09 WS --step <step> --as ROLE "
        "--decision approved`.", "",
    ]
    if approvers:
        lines.append(md_table(["Approver", "Role", "Decision"],
                              [[s.name, s.role.value, "awaited"] for s in approvers]))
    else:
        lines += ["_No stakeholder with an approving role (sre-manager, engineering-manager, "
                  "security-lead) is configured._", ""]
    return "\n".join(lines)


def write_maintenance_schedule(
    ctx: Context, error_budget_freeze: ErrorBudgetFreeze = None
) -> list[Path]:
    """Write ``maintenance-schedule.md`` (and the rollback runbooks it indexes); return the
    paths written, the schedule first."""
    rollback_lines, runbook_paths = _rollback_index(ctx)
    path = ctx.workspace.p09_evidence / SCHEDULE_FILE
    atomic_write_text(path, maintenance_schedule_markdown(ctx, rollback_lines,
                                                          error_budget_freeze))
    return [path, *runbook_paths]
