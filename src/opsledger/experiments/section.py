"""The experiments section of the monthly report: one row per A/B test, with its decision.

p09 step 4 ("establish A/B testing framework and experimentation process"): what each
experiment found on its primary metric, whether its sample ratio holds, and what to do next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from opsledger.core.inputs import Context
from opsledger.core.problems import Level, Problem
from opsledger.experiments.results import (
    Comparison,
    ExperimentResult,
    Horizon,
    Verdict,
)
from opsledger.experiments.service import (
    ExperimentOutcome,
    NotAnalyzed,
    outcome_json,
    workspace_analyses,
    workspace_experiments,
)
from opsledger.render.sections import Chart, Section, Status, md_table

KEY = "experiments"
TITLE = "Experiments: A/B test results and decisions"
ACTION_DAYS = 7


def experiments_section(ctx: Context) -> Section:
    """Return the experiments section (skipped when the workspace defines no experiment)."""
    read = workspace_experiments(ctx)
    if not read.records and not read.problems:
        return Section.skipped(KEY, TITLE, "no experiment definitions in experiments/")
    outcomes = list(workspace_analyses(ctx).outcomes)
    return build_experiments_section(ctx, outcomes, read.problems)


def deciding_interval(
    result: ExperimentResult, comparison: Comparison
) -> tuple[str, float | None, float | None, float | None, float]:
    """Return (label, relative lift, low, high, p) of the evidence the decision used.

    At a fixed horizon: the delta-method interval and the adjusted p-value. While running:
    the always-valid interval, shown relative to the control mean (its uncertainty is small
    beside the difference's), and the adjusted always-valid p-value.
    """
    lift = comparison.lift
    level = f"{1 - result.definition.alpha:.0%}"
    if result.horizon is Horizon.FIXED:
        return (f"{level} CI", lift.lift_rel, lift.rel_ci_low, lift.rel_ci_high,
                comparison.p_value_adjusted)
    if lift.control_mean == 0:
        return f"always-valid {level} CI", None, None, None, comparison.sequential_p_adjusted
    scale = abs(lift.control_mean)
    return (f"always-valid {level} CI", lift.lift_rel, comparison.sequential.ci_low / scale,
            comparison.sequential.ci_high / scale, comparison.sequential_p_adjusted)


def _primary_cells(outcome: ExperimentOutcome) -> list[str]:
    if isinstance(outcome, NotAnalyzed):
        return ["n/a", "n/a", "n/a", "n/a"]
    comparison = outcome.primary()
    if comparison is None:
        return ["not computable", "", "", ""]
    label, rel, low, high, p = deciding_interval(outcome, comparison)
    lift = comparison.lift
    if rel is not None and low is not None and high is not None:
        shown = f"{rel:+.2%} ({label} {low:+.2%} to {high:+.2%})"
    else:
        shown = f"{lift.lift_abs:+.4g} ({label} {lift.ci_low:+.4g} to {lift.ci_high:+.4g})"
    always_valid = "" if outcome.horizon is Horizon.FIXED else " (always-valid)"
    return [
        f"{comparison.metric} ({comparison.variant})",
        shown,
        f"{p:.3g}{always_valid}",
        f"{comparison.posterior.chance_to_win:.1%}",
    ]


def _srm_cell(outcome: ExperimentOutcome) -> str:
    if isinstance(outcome, NotAnalyzed):
        return "n/a"
    flag = "MISMATCH" if outcome.srm.mismatch else "ok"
    return f"{flag} (p = {outcome.srm.p_value:.2g})"


def _verdict(outcome: ExperimentOutcome) -> Verdict:
    return outcome.verdict if isinstance(outcome, NotAnalyzed) else outcome.decision.verdict


def _decision_cell(outcome: ExperimentOutcome) -> str:
    if isinstance(outcome, NotAnalyzed):
        return outcome.verdict.value
    variant = outcome.decision.variant
    return outcome.decision.verdict.value + (f" {variant}" if variant else "")


def _lift_chart(results: Sequence[ExperimentResult]) -> Chart | None:
    points = []
    for result in results:
        comparison = result.primary()
        if comparison is None:
            continue
        _, rel, low, high, _ = deciding_interval(result, comparison)
        if rel is None or low is None or high is None:
            continue
        # A categorical axis: one column per experiment, the lift between its bounds.
        where = f"{result.name}\n({comparison.variant})"
        points.append({"x": where, "y": round(rel * 100, 4),
                       "group": "relative lift", "size": 40})
        for bound in (low, high):
            points.append({"x": where, "y": round(bound * 100, 4),
                           "group": "confidence interval bound", "size": 25})
    if not points:
        return None
    return Chart(
        "experiment-lifts",
        "Primary metric: relative lift with the interval that decides",
        "scatter",
        {"points": points, "hlines": [{"y": 0, "label": "no effect"}],
         "x_label": "experiment", "y_label": "relative lift (%)"},
    )


def _actions(ctx: Context, outcomes: Sequence[ExperimentOutcome]) -> list[dict[str, str]]:
    due = (ctx.now.date() + timedelta(days=ACTION_DAYS)).isoformat()
    actions = []
    for outcome in outcomes:
        definition = outcome.definition
        verdict = _verdict(outcome)
        if verdict is Verdict.INVALID:
            text = (f"Find the cause of the sample ratio mismatch in '{definition.name}' "
                    "before reading its results")
        elif verdict is Verdict.SHIP and isinstance(outcome, ExperimentResult):
            text = f"Roll out '{outcome.decision.variant}' of '{definition.name}' and close it"
        else:
            continue
        actions.append({"action": text, "owner": definition.owner, "due": due,
                        "source": "experiments"})
    return actions


def build_experiments_section(
    ctx: Context, outcomes: Sequence[ExperimentOutcome], problems: Sequence[Problem] = ()
) -> Section:
    """Return the section from analysed experiments (tests need no workspace files)."""
    header = ["experiment", "status", "owner", "decision", "primary metric",
              "lift (CI)", "adjusted p", "chance to win", "sample ratio"]
    rows = [
        [o.name, o.definition.status.value, o.definition.owner, _decision_cell(o),
         *_primary_cells(o), _srm_cell(o)]
        for o in outcomes
    ]
    lines = [md_table(header, rows, "lllllrrrl")] if rows else ["No valid experiment."]
    for outcome in outcomes:
        reasons = ((outcome.reason,) if isinstance(outcome, NotAnalyzed)
                   else outcome.decision.reasons)
        lines += ["", f"**{outcome.name}** — {_decision_cell(outcome)}", ""]
        lines += [f"- {reason}" for reason in reasons]
    serious = [p for p in problems if p.level is not Level.WARNING]
    if problems:
        lines += ["", f"**Input problems** ({len(problems)})", ""]
        lines += [f"- {p}" for p in problems[:20]]
    results = [o for o in outcomes if isinstance(o, ExperimentResult)]
    chart = _lift_chart(results)
    invalid = any(_verdict(o) is Verdict.INVALID for o in outcomes)
    status = Status.WARN if invalid or serious else Status.PASS
    return Section(
        KEY,
        TITLE,
        "\n".join(lines) + "\n",
        status,
        data={"headline": ", ".join(
                  f"{n} {verdict}" for verdict, n in sorted(Counter(
                      str(_verdict(o).value) for o in outcomes).items()))
              or "no experiment analysed",
              "experiments": [outcome_json(o) for o in outcomes],
              "problems": [p.to_json() for p in problems]},
        charts=(chart,) if chart else (),
        actions=tuple(_actions(ctx, outcomes)),
    )
