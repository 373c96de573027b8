"""The security posture and patch plan section of the monthly report, and the one place
that turns a run's inputs into a posture and a plan (shared with ``opsledger patch``).

A run scoped to a team or a service (:attr:`Context.scope`) looks only at the findings and
outdated packages of its services (:mod:`opsledger.patching.attribution`) and says how many
it left out."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsledger.core.catalog import scope_of
from opsledger.core.fileio import atomic_write_bytes, atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.scope import LeftOut
from opsledger.core.workspace import InputKey
from opsledger.patching.attribution import FindingsLeftOut, split_by_scope
from opsledger.patching.cadence import (
    SECURITY_BANDS,
    ErrorBudgetFreeze,
    Posture,
    UpdatePlan,
    assess_posture,
    plan_updates,
)
from opsledger.patching.plan import (
    STATUS_WORDS,
    dependabot_yaml,
    finding_json,
    placement_json,
    plan_calendar,
    plan_markdown,
    renovate_json,
)
from opsledger.readers import security
from opsledger.readers.security import SecurityReadResult
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table

KEY = "security-patching"
TITLE = "Security posture and patch plan"
LISTED = 10
CHARTED = 20  # findings on the age chart: the most urgent first


@dataclass(frozen=True)
class PatchView:
    result: SecurityReadResult
    posture: Posture
    plan: UpdatePlan


def security_result(ctx: Context) -> SecurityReadResult:
    """Return the run's read of ``security/``: in a scoped run, only the findings and
    outdated packages of the scope's services (read once, like every input)."""
    return ctx.once(_security_result)


def _security_result(ctx: Context) -> SecurityReadResult:
    result = ctx.inputs.read(InputKey.SECURITY)  # findings already in the run's scope
    if not isinstance(result, SecurityReadResult):  # no folder, or no file in it
        path = ctx.workspace.path(InputKey.SECURITY)
        return security.read(path) if path.exists() else SecurityReadResult(path)
    if ctx.scope.whole:
        return result
    scoped = copy.copy(result)  # the outdated lists ride along unfiltered
    scoped.outdated = split_by_scope(result.outdated, ctx.scope)[0]
    return scoped


def findings_left_out(ctx: Context) -> FindingsLeftOut:
    """Return what the run's view of the findings left out (nothing for the whole
    workspace)."""
    scope = ctx.scope
    # Reading counts the findings a scoped run leaves out; the outdated lists on the
    # result are the whole workspace's.
    read = ctx.inputs.read(InputKey.SECURITY)
    outdated = LeftOut()
    if not scope.whole and isinstance(read, SecurityReadResult):
        outdated = split_by_scope(read.outdated, scope)[1]
    folder = ctx.workspace.path(InputKey.SECURITY)
    relative = folder.relative_to(ctx.workspace.root) if folder.is_relative_to(
        ctx.workspace.root) else folder
    return FindingsLeftOut(scope, ctx.inputs.left_out.get(InputKey.SECURITY, LeftOut()),
                           outdated, relative.as_posix())


def known_service_names(ctx: Context) -> frozenset[str]:
    """Return every service name the workspace knows (configuration and catalogs), by
    which findings are attributed to services."""
    return ctx.scope.known or scope_of(ctx).known


PLAN_FILES = ("patch-plan.md", "patch-plan.ics", "renovate.json", "dependabot.yml")


def slo_freeze(ctx: Context) -> ErrorBudgetFreeze:
    """Return the services whose error budget policy freezes releases (None: no freeze)."""
    try:
        from opsledger.slo.service import evaluate_workspace
    except ImportError:
        return None
    report = evaluate_workspace(ctx)
    frozen = sorted({
        d.slo.split("/", 1)[0]
        for e in report.evaluations for d in e.decisions if d.kind == "release_freeze"
    })
    if not ctx.scope.whole:  # a view plans only its own services' changes
        frozen = [service for service in frozen if ctx.scope.covers(service)]
    return frozen or None


def patch_view(ctx: Context, error_budget_freeze: ErrorBudgetFreeze = None) -> PatchView:
    """Return the findings with due dates and the update plan for this run.

    Without an explicit ``error_budget_freeze``, the SLOs' error budget policy decides it.
    Computed once per run and freeze.
    """
    freeze = error_budget_freeze
    return ctx.once(_patch_view, freeze if freeze is None or isinstance(freeze, str)
                    else tuple(freeze))


def _patch_view(ctx: Context, error_budget_freeze: ErrorBudgetFreeze) -> PatchView:
    if error_budget_freeze is None:
        error_budget_freeze = slo_freeze(ctx)
    config = ctx.workspace.config
    result = security_result(ctx)
    posture = assess_posture(result.records, config.policies.vulnerability_sla_days, ctx.now)
    plan = plan_updates(
        posture,
        result.outdated,
        config.change_windows,
        config.freezes,
        ctx.now,
        error_budget_freeze,
        config.policies.error_budget.freeze_allows,
        services=ctx.scope.services,
    )
    return PatchView(result, posture, plan)


def write_patch_plan(ctx: Context, error_budget_freeze: ErrorBudgetFreeze = None) -> list[Path]:
    """Write the plan (Markdown, .ics, renovate.json, dependabot.yml) as p09 evidence."""
    view = patch_view(ctx, error_budget_freeze)
    out = ctx.workspace.p09_evidence
    windows = ctx.workspace.config.change_windows
    ecosystems = sorted({p.ecosystem for p in view.result.outdated}
                        | {f.ecosystem for f in view.result.records})
    paths = [out / name for name in PLAN_FILES]
    atomic_write_text(paths[0], plan_markdown(view.posture, view.plan))
    atomic_write_bytes(paths[1], plan_calendar(view.plan))
    atomic_write_text(paths[2], renovate_json(windows))
    atomic_write_text(paths[3], dependabot_yaml(windows, ecosystems))
    return paths


def patch_section(ctx: Context, error_budget_freeze: ErrorBudgetFreeze = None) -> Section:
    """Return the section: counts by band, overdue, due soon, KEV, and the plan summary."""
    result = security_result(ctx)
    if not result.files:
        return Section.skipped(KEY, TITLE, f"no scanner reports in {result.path.name}/")
    view = patch_view(ctx, error_budget_freeze)
    posture, plan = view.posture, view.plan
    counts = posture.counts_by_band()
    lines = [
        f"{len(posture.items)} open finding(s) from {result.reported} tool report(s) in "
        f"{len(result.files)} file(s); {len(posture.kev)} known exploited (CISA KEV).",
        "",
    ]
    left_out = findings_left_out(ctx)
    if not ctx.scope.whole:
        lines += [md_escape(left_out.sentence()), ""]
    lines += [
        md_table([s.value for s in SECURITY_BANDS], [[counts[s.value] for s in SECURITY_BANDS]],
                 "r" * len(SECURITY_BANDS)),
    ]
    for heading, items in (("Overdue", posture.overdue),
                           (f"Due within {posture.due_soon_days} days", posture.due_soon)):
        lines += [f"**{heading}:** {len(items)}", ""]
        if items:
            rows = [[i.finding.id, i.finding.package, i.finding.installed or "?",
                     i.finding.severity.value, "yes" if i.finding.kev else "", i.due_date,
                     ", ".join(i.finding.sources)] for i in items[:LISTED]]
            lines.append(md_table(["Id", "Package", "Installed", "Severity", "KEV", "Due",
                                   "Sources"], rows))
    plan_rows = [[p.group.title, len(p.group.updates),
                  f"{p.slot.start:%Y-%m-%d %H:%M} {p.slot.timezone}" if p.slot else "—",
                  STATUS_WORDS[p.status]] for p in plan.placements]
    lines += ["**Patch plan**", "", md_table(["Group", "Updates", "Window", "Status"], plan_rows,
                                             "lrll")]
    for placement in plan.flagged:
        lines.append(f"- {md_escape(placement.group.title)}: {md_escape(placement.reason)}")
    status = Status.PASS
    if posture.overdue or plan.flagged:
        status = Status.FAIL
    elif posture.due_soon:
        status = Status.WARN
    actions = tuple(
        {"action": f"Patch {i.finding.package} {i.finding.installed or ''} ({i.finding.id})",
         "owner": "", "due": i.due_date.isoformat(), "source": "security"}
        for i in posture.overdue[:LISTED]
    )
    data: dict[str, Any] = {
        "headline": (
            f"{len(posture.items)} finding(s): {len(posture.overdue)} past their SLA, "
            f"{len(posture.due_soon)} due soon"
        ),
        "counts": counts,
        "overdue": len(posture.overdue),
        "due_soon": len(posture.due_soon),
        "kev": len(posture.kev),
        "findings": [finding_json(i) for i in posture.items],
        "plan": [placement_json(p) for p in plan.placements],
    }
    if not ctx.scope.whole:
        data["scope"] = left_out.to_json()
    return Section(
        KEY,
        TITLE,
        "\n".join(lines) + "\n",
        status,
        data=data,
        charts=(age_chart(posture),) if posture.items else (),
        actions=actions,
    )


def age_chart(posture: Posture) -> Chart:
    """Return open findings' age (days since first seen) against their SLA days.

    Overdue findings are flagged (drawn in the warning colour); a finding whose reports gave
    no first-seen date is counted from today, as its due date is, and marked with "?".
    """
    shown = sorted(posture.items, key=lambda i: (i.days_left, i.finding.id))[:CHARTED]
    return Chart(
        key="security-finding-age",
        title="Open findings: age against SLA (overdue in vermillion)",
        kind="barh",
        data={
            "categories": [f"{i.finding.id} {i.finding.package}"
                           + ("" if i.first_seen_known else " (?)") for i in shown],
            "values": [(posture.as_of - i.first_seen).days for i in shown],
            # Days allowed from first seen to due: the band's SLA, or less for known exploited.
            "limits": [(i.due_date - i.first_seen).days for i in shown],
            "flags": [i.overdue for i in shown],
            "limit_label": "SLA limit",
            "x_label": "days since first seen",
        },
    )
