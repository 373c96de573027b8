"""The alerting section of the monthly report: policy backtests and one decision per alert.

It leads with what to change: the SLOs whose incidents chose a policy, and the alerts to
tune, ranked by noise. What needs nothing (alerts to keep, SLOs without incidents to choose
a policy by) is one line each in the body, listed in full under the section's details.
"""

from __future__ import annotations

from collections.abc import Sequence

from opsledger.core.inputs import Context
from opsledger.core.problems import Problem
from opsledger.core.workspace import InputKey
from opsledger.render.sections import Chart, Section, Status, md_table
from opsledger.slo.backtest import (
    DEFAULT_MAX_ALERTS_PER_WEEK,
    BacktestResult,
    SkippedBacktest,
    SloBacktest,
)
from opsledger.slo.noise import AlertNoise, NoiseReport, TuningRecommendation
from opsledger.slo.scoping import left_out_json, left_out_line, left_out_note
from opsledger.slo.service import (
    PROMETHEUS_URL_ENV,
    SloReport,
    backtest_json,
    backtest_workspace,
    noise_json,
    workspace_noise,
)

ALERTING_KEY = "alerting"
ALERTING_TITLE = "Alerting: policy backtest and alert tuning"
SHOWN_RECOMMENDATIONS = 10
NOISE_LEGEND = (
    "Acted on: acknowledged, and linked to an incident or resolved by a person. Precision: "
    "share of firings linked to an incident. Noise: firings that needed no one (not acted "
    "on, or repeats for an incident already acted on). Confidence: high when the 95% "
    "interval of the share the decision turns on lies wholly on its side of the threshold."
)


def alerting_section(ctx: Context, report: SloReport | None = None) -> Section:
    """Return the alerting section; pass the SLO section's ``report`` to fetch counts once."""
    run = backtest_workspace(ctx, report)
    noise, noise_problems = workspace_noise(ctx)
    if not run.results and not noise.alerts:
        left_out = left_out_note(ctx, InputKey.ALERTS, "alert firings")
        return Section.skipped(ALERTING_KEY, ALERTING_TITLE,
                               "no SLI history to backtest and no alert history"
                               + (f" ({left_out} are not in this view)" if left_out else ""))
    return build_alerting_section(ctx, run.results, noise, noise_problems)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _minutes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} min"


def firing_time(minutes: float) -> str:
    """Return a time spent firing for people: ``52 min``, ``4.5 h``, ``3.2 d``."""
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _backtest_table(chosen: Sequence[SloBacktest]) -> str:
    rows = []
    for result in chosen:
        choice = result.recommendation
        assert choice.policy is not None
        best = result.score(choice.policy)
        rows.append(
            [
                result.slo,
                choice.policy,
                _percent(best.recall),
                _percent(best.precision),
                f"{best.alerts_per_week:.2f}",
                _minutes(best.mean_detection_minutes),
                _minutes(best.mean_reset_minutes),
                choice.describe_confidence(),
                choice.reason,
            ]
        )
    header = ["SLO", "recommended policy", "recall", "precision", "alerts/week", "detection",
              "reset", "confidence", "why"]
    return md_table(header, rows, "llrrrrrll")


def _unchosen_table(unchosen: Sequence[SloBacktest]) -> str:
    """Return the SLOs without incidents: how often each policy would have fired anyway."""
    policies = list(dict.fromkeys(s.policy for r in unchosen for s in r.scores))
    rows = [
        [r.slo, f"{r.minutes / 1440:.0f} days",
         *(f"{r.score(p).alerts_per_week:.2f}" if p in {s.policy for s in r.scores} else ""
           for p in policies)]
        for r in unchosen
    ]
    header = ["SLO", "history", *(f"{p} alerts/week" for p in policies)]
    return md_table(header, rows, "ll" + "r" * len(policies))


def _decision_row(decision: TuningRecommendation, figures: AlertNoise) -> list[object]:
    why = decision.reason
    if decision.also:
        why += "; also " + "; ".join(decision.also)
    return [
        decision.alert,
        decision.service or "",
        decision.action.value,
        f"{decision.confidence.value}: {decision.evidence}",
        figures.firings,
        figures.pages,
        figures.acknowledged,
        f"{figures.precision:.0%}",
        firing_time(figures.minutes_firing),
        figures.noise,
        why,
    ]


def decisions_table(noise: NoiseReport, decisions: Sequence[TuningRecommendation]) -> str:
    """Return one row per alert: the decision, its confidence and evidence, and why."""
    figures = {a.key: a for a in noise.alerts}
    return md_table(
        ["alert", "service", "decision", "confidence", "firings", "pages", "acknowledged",
         "precision", "time firing", "noise", "why"],
        [_decision_row(d, figures[d.key]) for d in decisions],
        "llllrrrrrrl",
    )


def _prometheus_line(keys: Sequence[str]) -> str:
    return (
        f"{len(keys)} SLO(s) written in PromQL were not backtested: no Prometheus server was "
        f"given (--prometheus URL or {PROMETHEUS_URL_ENV}): {', '.join(keys)}."
    )


def build_alerting_section(
    ctx: Context,
    backtests: Sequence[BacktestResult],
    noise: NoiseReport,
    problems: Sequence[Problem] = (),
) -> Section:
    """Return the section from computed backtests and noise (tests need no engines)."""
    done = [r for r in backtests if isinstance(r, SloBacktest)]
    chosen = [r for r in done if r.recommendation.policy is not None]
    unchosen = [r for r in done if r.recommendation.policy is None]
    skipped = [r for r in backtests if isinstance(r, SkippedBacktest)]
    failed = [r for r in skipped if not r.needs_prometheus]
    promql = [r.slo for r in skipped if r.needs_prometheus]
    lines: list[str] = []
    details: list[str] = []
    if chosen:
        lines += ["**Burn-rate policy backtest** (incidents as ground truth)", "",
                  _backtest_table(chosen)]
    if unchosen:
        lines += ["", f"Not enough incidents to choose a policy for {len(unchosen)} of "
                  f"{len(done)} backtested SLO(s) (none in their SLI history, or none any "
                  "policy detected): the default rules stay (confidence low; listed under "
                  "“On target”)."]
        details += ["**SLOs without incidents to choose a policy by**: alerts per week each "
                    "policy would have sent; with no incident filed, none matched one.", "",
                    _unchosen_table(unchosen)]
    if failed:
        lines += ["", "Not backtested:", ""] + [f"- {r.slo}: {r.reason}" for r in failed]
    if promql:
        lines += ["", _prometheus_line(promql)]
    changes = noise.recommendations
    if noise.alerts:
        weeks = noise.weeks
        rate = f", {noise.firings / weeks:.1f} per week" if weeks else ""
        lines += [
            "",
            f"**Alert noise**: {noise.firings} firings of {len(noise.alerts)} alerts"
            f"{rate} (hours in {noise.working_hours.timezone}); one decision per alert, "
            "noisiest first.",
            "",
        ]
        shown = changes[:SHOWN_RECOMMENDATIONS]
        if shown:
            lines.append(decisions_table(noise, shown))
            if len(changes) > len(shown):
                lines.append(f"{len(changes) - len(shown)} more alert(s) to change: "
                             "`opsledger slo noise` lists them all.")
            lines += ["", NOISE_LEGEND]
        kept = [d for d in noise.decisions if d not in changes]
        lines += ["", f"**{len(kept)} of {len(noise.alerts)} alerts need no change.**"]
        if kept:
            details += ["", "**Alerts kept as they are**", "", decisions_table(noise, kept)]
    if problems:
        lines += ["", f"**Alert history problems** ({len(problems)})", ""]
        lines += [f"- {p}" for p in problems[:20]]
    left_out = left_out_line(ctx, InputKey.ALERTS, "alert firings")
    if left_out:
        lines += ["", left_out + "."]
    status = Status.WARN if changes or problems or failed else Status.PASS
    owners = {s.name: s.owner or "" for s in ctx.workspace.config.services}
    headline = (
        f"{len(chosen)} SLO(s) with a policy chosen by their incidents, {len(unchosen)} without "
        f"incidents to choose by; {len(changes)} of {len(noise.alerts)} alert(s) to change"
    )
    return Section(
        ALERTING_KEY,
        ALERTING_TITLE,
        "\n".join(lines) + "\n",
        status,
        data={
            "headline": headline,
            "backtest": backtest_json(backtests),
            "noise": noise_json(noise),
            "problems": [p.to_json() for p in problems],
            **({} if ctx.scope.whole else {"scope": left_out_json(ctx, InputKey.ALERTS,
                                                                  "alert_firings")}),
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
            for r in changes[:SHOWN_RECOMMENDATIONS]
        ),
        headline=headline,
        details="\n".join(details).strip() + "\n" if details else "",
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
