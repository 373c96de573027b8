"""The SLO section of the monthly report: status, budgets, burn rates, exhaustion, policy.

Also a burn-rate heat map (SLO × lookback window) and a budget burn-down chart per SLO
(remaining error budget across the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from opsledger.core.inputs import Context
from opsledger.core.problems import Problem
from opsledger.core.workspace import InputKey
from opsledger.render.sections import Chart, Section, Status, md_table, percent
from opsledger.slo.backtest import (
    DEFAULT_MAX_ALERTS_PER_WEEK,
    BacktestResult,
    SkippedBacktest,
    SloBacktest,
)
from opsledger.slo.health import (
    BudgetStatus,
    ServiceHealth,
    SkippedServiceHealth,
    service_health,
)
from opsledger.slo.noise import NoiseReport
from opsledger.slo.objectives import BURN_WINDOWS, SloStatus, budget_burndown
from opsledger.slo.service import (
    SloEvaluation,
    SloReport,
    backtest_json,
    backtest_workspace,
    evaluate_workspace,
    noise_json,
    workspace_noise,
)

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
            "problems": [p.to_json() for p in report.problems],
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


ALERTING_KEY = "alerting"
ALERTING_TITLE = "Alerting: policy backtest and alert tuning"
SHOWN_RECOMMENDATIONS = 10


def alerting_section(ctx: Context, report: SloReport | None = None) -> Section:
    """Return the alerting section; pass the SLO section's ``report`` to fetch counts once."""
    run = backtest_workspace(ctx, report)
    noise, noise_problems = workspace_noise(ctx)
    if not run.results and not noise.alerts:
        return Section.skipped(ALERTING_KEY, ALERTING_TITLE,
                               "no SLI history to backtest and no alert history")
    return build_alerting_section(ctx, run.results, noise, noise_problems)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _minutes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} min"


def _backtest_table(done: Sequence[SloBacktest]) -> str:
    rows = []
    for result in done:
        best = result.score(result.recommendation.policy)
        rows.append(
            [
                result.slo,
                best.policy,
                _percent(best.recall),
                _percent(best.precision),
                f"{best.alerts_per_week:.2f}",
                _minutes(best.mean_detection_minutes),
                _minutes(best.mean_reset_minutes),
                result.recommendation.reason,
            ]
        )
    header = [
        "SLO",
        "recommended policy",
        "recall",
        "precision",
        "alerts/week",
        "detection",
        "reset",
        "why",
    ]
    return md_table(header, rows, "llrrrrrl")


def build_alerting_section(
    ctx: Context,
    backtests: Sequence[BacktestResult],
    noise: NoiseReport,
    problems: Sequence[Problem] = (),
) -> Section:
    """Return the section from computed backtests and noise (tests need no engines)."""
    done = [r for r in backtests if isinstance(r, SloBacktest)]
    skipped = [r for r in backtests if isinstance(r, SkippedBacktest)]
    lines: list[str] = []
    if done:
        lines += [
            "**Burn-rate policy backtest** (incidents as ground truth)",
            "",
            _backtest_table(done),
        ]
    if skipped:
        lines += ["", "Not backtested:", ""] + [f"- {r.slo}: {r.reason}" for r in skipped]
    if noise.alerts:
        weeks = noise.weeks
        rate = f", {noise.firings / weeks:.1f} per week" if weeks else ""
        lines += [
            "",
            f"**Alert noise**: {noise.firings} firings of {len(noise.alerts)} alerts"
            f"{rate} (hours in {noise.working_hours.timezone})",
            "",
        ]
        shown = noise.recommendations[:SHOWN_RECOMMENDATIONS]
        if shown:
            lines.append(
                md_table(
                    ["alert", "service", "change", "why"],
                    [[r.alert, r.service or "", r.action.value, r.reason] for r in shown],
                )
            )
        else:
            lines.append("No alert needs tuning.")
    if problems:
        lines += ["", f"**Alert history problems** ({len(problems)})", ""]
        lines += [f"- {p}" for p in problems[:20]]
    status = Status.WARN if noise.recommendations or problems or skipped else Status.PASS
    owners = {s.name: s.owner or "" for s in ctx.workspace.config.services}
    return Section(
        ALERTING_KEY,
        ALERTING_TITLE,
        "\n".join(lines) + "\n",
        status,
        data={
            "headline": (
                f"{sum(1 for b in backtest_json(backtests) if b['valid'])} SLO(s) backtested; "
                f"{len(noise.recommendations)} alert(s) to tune"
            ),
            "backtest": backtest_json(backtests),
            "noise": noise_json(noise),
            "problems": [p.to_json() for p in problems],
        },
        charts=(recall_chart(done),) if any(
            score.recall is not None for r in done for score in r.scores) else (),
        actions=tuple(
            {
                "action": f"{r.alert} ({r.service or 'no service'}): {r.action.value}",
                "owner": owners.get(r.service or "", ""),
                "due": "",
                "source": "alert-noise",
            }
            for r in noise.recommendations[:SHOWN_RECOMMENDATIONS]
        ),
    )


def recall_chart(done: Sequence[SloBacktest]) -> Chart:
    """Return each policy's alerts per week against its recall, one point per SLO and policy.

    Recall is across, alerts up, so the alert budget is a horizontal line: the points under
    it and furthest right are the policies the recommendation picks from. Policies that
    would have seen no incident have no recall and are left out.
    """
    points = [
        {"x": round(score.recall, 4), "y": round(score.alerts_per_week, 4),
         "group": score.policy}
        for result in done
        for score in result.scores
        if score.recall is not None
    ]
    return Chart(
        key="alerting-recall",
        title="Burn-rate policies: alerts per week against recall (one point per SLO)",
        kind="scatter",
        data={"points": points, "x_label": "recall (share of incidents alerted on)",
              "y_label": "alerts per week",
              "hlines": [{"y": DEFAULT_MAX_ALERTS_PER_WEEK, "label": "alert budget"}],
              "legend": "outside"},
    )


WINDOW_DAYS = 30
CHARTED = 20  # services in the availability chart, worst first


def health_section(ctx: Context) -> Section:
    title = "Service health (probes)"
    result = ctx.inputs.read(InputKey.HEALTH)
    if not result.records:
        reason = "no readable health history in " + str(
            ctx.workspace.path(InputKey.HEALTH).relative_to(ctx.workspace.root)
        )
        return Section.skipped("health", title, reason)
    end = ctx.now
    start = end - timedelta(days=WINDOW_DAYS)
    config = ctx.workspace.config
    results = service_health(
        result.records, start, end, config.budget_for, [s.name for s in config.services]
    )
    assessed = [r for r in results if isinstance(r, ServiceHealth)]
    skipped = [r for r in results if isinstance(r, SkippedServiceHealth)]
    assessed.sort(key=lambda r: (r.status is not BudgetStatus.BREACHED, r.availability, r.service))
    breached = [r for r in assessed if r.status is BudgetStatus.BREACHED]
    rows = [
        [
            r.service,
            percent(r.availability),
            percent(r.availability_objective, 2),
            r.probes,
            f"{r.latency.p50_ms:.0f}" if r.latency else "n/a",
            f"{r.latency.p95_ms:.0f}" if r.latency else "n/a",
            f"{r.latency.p99_ms:.0f}" if r.latency else "n/a",
            f"{r.latency_objective_ms:.0f}" if r.latency_objective_ms else "",
            _streak(r),
            "breached" if r.status is BudgetStatus.BREACHED else "met",
        ]
        for r in assessed
    ]
    body = (
        f"Window: {start.date().isoformat()} to {end.date().isoformat()} ({WINDOW_DAYS} days). "
        "Availability = passing probes / probes; latency percentiles over passing probes.\n\n"
    )
    body += md_table(
        ["Service", "Availability", "Objective", "Probes", "p50 ms", "p95 ms", "p99 ms",
         "p95 objective", "Longest failure", "Status"],
        rows,
        "lrrrrrrrll",
    )
    if skipped:
        body += "\nNot assessed:\n\n" + "\n".join(
            f"- {s.service}: {s.reason}" for s in sorted(skipped, key=lambda s: s.service)
        ) + "\n"
    worst = assessed[:CHARTED]
    chart = Chart(
        "health-availability",
        f"Availability, last {WINDOW_DAYS} days (worst {len(worst)}; | = objective)",
        "barh",
        {
            "categories": [r.service for r in worst],
            "values": [round(r.availability * 100, 4) for r in worst],
            "limits": [round(r.availability_objective * 100, 4) for r in worst],
            "flags": [r.status is BudgetStatus.BREACHED for r in worst],
            "limit_label": "objective",
            "x_label": "availability %",
        },
    )
    headline = f"{len(breached)} of {len(assessed)} services below their objective"
    owners = {s.name: s.owner for s in config.services}
    actions = tuple(
        {
            "action": f"Restore {r.service} to its objective ({percent(r.availability)} against "
            f"{percent(r.availability_objective, 2)})",
            "owner": owners.get(r.service),
            "due": "",
            "source": "service health",
        }
        for r in breached
    )
    return Section(
        "health",
        title,
        body,
        Status.WARN if breached else Status.PASS,
        {
            "headline": headline,
            "window": {"start": start.isoformat(), "end": end.isoformat()},
            "services": [
                {
                    "service": r.service,
                    "availability": r.availability,
                    "objective": r.availability_objective,
                    "probes": r.probes,
                    "p95_ms": r.latency.p95_ms if r.latency else None,
                    "status": r.status.value,
                }
                for r in assessed
            ],
            "skipped": [{"service": s.service, "reason": s.reason} for s in skipped],
        },
        (chart,),
        actions,
    )


def _streak(r: ServiceHealth) -> str:
    streak = r.longest_failing_streak
    if streak is None:
        return ""
    return f"{streak.minutes:.0f} min ({streak.check}, {streak.start:%m-%d %H:%M})"
