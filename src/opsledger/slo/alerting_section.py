"""The alerting section of the monthly report: which burn-rate policy to run per SLO, and
which alerts to tune (p09 step 2, "tune alerting thresholds and notification procedures")."""

from __future__ import annotations

from collections.abc import Sequence

from opsledger.core.inputs import Context
from opsledger.core.problems import Problem
from opsledger.render.sections import Chart, Section, Status, md_table
from opsledger.slo.alerting_service import (
    backtest_json,
    backtest_workspace,
    noise_json,
    workspace_noise,
)
from opsledger.slo.backtest import (
    DEFAULT_MAX_ALERTS_PER_WEEK,
    BacktestResult,
    SkippedBacktest,
    SloBacktest,
)
from opsledger.slo.noise import NoiseReport
from opsledger.slo.service import SloReport

KEY = "alerting"
TITLE = "Alerting: policy backtest and alert tuning"
SHOWN_RECOMMENDATIONS = 10


def alerting_section(ctx: Context, report: SloReport | None = None) -> Section:
    """Return the alerting section; pass the SLO section's ``report`` to fetch counts once."""
    run = backtest_workspace(ctx, report)
    noise, noise_problems = workspace_noise(ctx)
    if not run.results and not noise.alerts:
        return Section.skipped(KEY, TITLE, "no SLI history to backtest and no alert history")
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
        KEY,
        TITLE,
        "\n".join(lines) + "\n",
        status,
        data={
            "headline": (
                f"{sum(1 for b in backtest_json(backtests) if b['valid'])} SLO(s) backtested; "
                f"{len(noise.recommendations)} alert(s) to tune"
            ),
            "backtest": backtest_json(backtests),
            "noise": noise_json(noise),
            "problems": [p.to_dict() for p in problems],
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
