"""The SLO section of the monthly report: status, budgets, burn rates, exhaustion, policy.

Also a burn-rate heat map (SLO × lookback window) and a budget burn-down chart per SLO
(remaining error budget across the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from opsledger.core.inputs import Context
from opsledger.render.sections import Chart, Section, Status, md_table, percent
from opsledger.slo.objectives import BURN_WINDOWS, SloStatus, budget_burndown
from opsledger.slo.service import SloEvaluation, SloReport, evaluate_workspace

KEY = "slos"
TITLE = "SLOs and error budgets"
SHOWN_BURNS = ("1h", "6h", "1d", "3d", "window")
HEAT_WINDOWS = (*BURN_WINDOWS, "window")
# The heat map's colour tops out at 14.4, the fast-burn page threshold (2 % of a 30-day
# budget in one hour, Google SRE workbook ch. 5); the cell text still shows the full rate.
HEAT_CEILING = 14.4


def slo_section(ctx: Context) -> Section:
    """Return the SLO section for the workspace at ``ctx.now``."""
    report = evaluate_workspace(ctx)
    if not report.evaluations:
        reason = "no SLO definitions in slos/"
        if report.problems:
            reason += f" could be read ({len(report.problems)} problem(s))"
        return Section.skipped(KEY, TITLE, reason)
    return build_section(ctx, report)


def build_section(ctx: Context, report: SloReport) -> Section:
    """Return the section for an evaluated report (separate so tests need no engines)."""
    statuses = [e.status for e in report.evaluations]
    valid = [s for s in statuses if s.valid]
    invalid = [s for s in statuses if not s.valid]
    decisions = [d for e in report.evaluations for d in e.decisions]
    lines = (
        [_summary(valid, invalid), "", _status_table(valid)]
        if valid
        else [_summary(valid, invalid)]
    )
    if invalid:
        lines += ["", "**Not computed**", ""]
        lines += [f"- {s.slo.key}: {'; '.join(s.reasons)}" for s in invalid]
    if decisions:
        lines += ["", "**Error budget policy decisions**", ""]
        lines += [f"- {d.slo}: {d.reason} → {d.action}" for d in decisions]
    if report.problems:
        lines += ["", f"**Definition problems** ({len(report.problems)})", ""]
        lines += [f"- {p}" for p in report.problems[:20]]
    exhausted = [s for s in valid if s.budget is not None and s.budget.remaining <= 0]
    burning = [s for s in valid if (s.burn_rates.get("window") or 0.0) > 1.0]
    status = Status.PASS
    if exhausted:
        status = Status.FAIL
    elif burning or invalid or report.problems:
        status = Status.WARN
    return Section(
        KEY,
        TITLE,
        "\n".join(lines) + "\n",
        status,
        data={
            "headline": (
                f"{sum(1 for s in valid if s.met)} of {len(valid)} computed SLOs meet their "
                f"objective; {len(exhausted)} error budget(s) exhausted"
                + (f"; {len(invalid)} not computed" if invalid else "")
            ),
            "slos": report.to_json(),
            "budgets": {s.slo.key: asdict(s.budget) for s in valid if s.budget is not None},
            "decisions": [_decision_json(d) for d in decisions],
            "problems": [p.to_dict() for p in report.problems],
        },
        charts=(*_heatmap(valid),
                *(_burndown_chart(e) for e in report.evaluations
                  if e.status.valid and e.series)),
        actions=tuple(
            {
                "action": f"{d.slo}: {d.action}",
                "owner": _owner(ctx, d.slo),
                "due": "",
                "source": "error-budget-policy",
            }
            for d in decisions
            if d.kind in ("release_freeze", "postmortem_required")
        ),
    )


def _summary(valid: Sequence[SloStatus], invalid: Sequence[SloStatus]) -> str:
    met = sum(1 for s in valid if s.met)
    return f"{met} of {len(valid)} computed SLOs meet their objective" + (
        f"; {len(invalid)} could not be computed." if invalid else "."
    )


def _status_table(valid: Sequence[SloStatus]) -> str:
    rows = []
    for s in sorted(valid, key=lambda s: (s.budget.remaining if s.budget else 0.0, s.slo.key)):
        burns = [_burn(s.burn_rates.get(w)) for w in SHOWN_BURNS]
        rows.append(
            [
                s.slo.service,
                s.slo.name,
                percent(s.slo.objective),
                s.slo.window.label,
                percent(s.sli),
                "yes" if s.met else "**no**",
                percent(s.budget.remaining if s.budget else None, 1),
                *burns,
                s.exhaustion_at.strftime("%Y-%m-%d %H:%M") if s.exhaustion_at else "—",
            ]
        )
    header = ["service", "SLO", "objective", "window", "SLI", "met", "budget left"]
    header += [f"burn {w}" for w in SHOWN_BURNS] + ["budget exhausted at"]
    return md_table(header, rows, "lllllll" + "r" * len(SHOWN_BURNS) + "l")


def _burn(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _decision_json(decision: Any) -> dict[str, Any]:
    return {
        "slo": decision.slo,
        "kind": decision.kind,
        "reason": decision.reason,
        "action": decision.action,
        "incident_id": decision.incident_id,
        "budget_consumed": decision.budget_consumed,
    }


def _owner(ctx: Context, key: str) -> str:
    service = key.split("/", 1)[0]
    for entry in ctx.workspace.config.services:
        if entry.name == service:
            return entry.owner or ""
    return ""


def _burndown_chart(evaluation: SloEvaluation) -> Chart:
    status = evaluation.status
    assert evaluation.series is not None
    points = budget_burndown(status, evaluation.series)
    return Chart(
        key=f"slo-burndown-{status.slo.service}-{status.slo.name}",
        title=f"Error budget remaining: {status.slo.key} ({status.slo.window.label})",
        kind="line",
        data={
            "x": points["time"],
            "series": [{"name": "budget remaining", "y": points["remaining"]}],
            "hlines": [{"y": 0.0, "label": "exhausted"}],
            "y_label": "share of error budget",
        },
    )


def _heatmap(valid: Sequence[SloStatus]) -> tuple[Chart, ...]:
    """Return the burn-rate heat map of the computed SLOs (none when there are none)."""
    if not valid:
        return ()
    ordered = sorted(valid, key=lambda s: s.slo.key)
    return (
        Chart(
            key="slo-burn-rates",
            title="Burn rate: SLO × lookback window (1 = on budget)",
            kind="heatmap",
            data={
                "rows": [s.slo.key for s in ordered],
                "columns": list(HEAT_WINDOWS),
                "values": [[s.burn_rates.get(w) for w in HEAT_WINDOWS] for s in ordered],
                "vmax": HEAT_CEILING,
                "label": f"burn rate (colour capped at {HEAT_CEILING:g})",
            },
        ),
    )
