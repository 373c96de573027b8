"""``opsledger experiment``: analyse an A/B test, plan its size and duration, assign a unit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from opsledger.cli.common import (
    JsonOpt,
    NowOpt,
    StrictOpt,
    WorkspaceArg,
    console,
    err_console,
    escape,
    fail_if_strict,
    handle_errors,
    print_json,
    resolve_now,
    rich_table,
)
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, open_workspace

if TYPE_CHECKING:  # the statistics libraries load only when an experiment command runs
    from opsledger.experiments.service import ExperimentResult
    from opsledger.model.experiments import Experiment

app = typer.Typer(
    help="A/B experiments: analysis with a decision, sample size and duration, assignment.",
    no_args_is_help=True,
)

ExperimentArg = Annotated[
    str, typer.Argument(help="The experiment's name (its 'name:' in experiments/).",
                        show_default=False)
]
DailyUnitsOpt = Annotated[
    float | None,
    typer.Option("--daily-units", min=0.0,
                 help="Eligible units per day (default: from telemetry via 'traffic:')."),
]


def _open(
    workspace: WorkspaceArg, name: str, now: str | None, strict: bool = False
) -> tuple[Context, Experiment]:
    from opsledger.experiments.service import find_experiment, workspace_experiments

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    experiment = find_experiment(ctx, name)
    folder = str(ctx.workspace.path(InputKey.EXPERIMENTS) / name)
    own = [problem for problem in workspace_experiments(ctx).problems
           if problem.path == experiment.source or problem.path.startswith(folder)]
    for problem in own:
        err_console.print(f"[yellow]{escape(str(problem))}[/]")
    fail_if_strict(strict, own, f"experiment '{name}'")
    return ctx, experiment


@app.command()
@handle_errors
def analyze(
    workspace: WorkspaceArg,
    experiment: ExperimentArg,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Analyse the observations: SRM, lifts with intervals, CUPED, sequential, decision."""
    from opsledger.experiments.service import NotAnalyzed, analyze_experiment, outcome_json

    ctx, found = _open(workspace, experiment, now, strict)
    outcome = analyze_experiment(found, ctx.now)
    if json:
        print_json(outcome_json(outcome, ctx.now))
        return
    if isinstance(outcome, NotAnalyzed):
        console.print(f"{escape(outcome.name)}: {outcome.verdict.value} — {escape(outcome.reason)}")
        return
    _print_result(outcome)


def _print_result(result: ExperimentResult) -> None:
    srm = result.srm
    flag = "[red]MISMATCH[/]" if srm.mismatch else "ok"
    console.print(f"[bold]{escape(result.name)}[/] ({result.definition.status.value}, "
                  f"{result.horizon.value}); sample ratio: chi-square p = {srm.p_value:.3g} "
                  f"{flag}")
    variants = rich_table("Variant", "Units", "Mean", "Std")
    for v in result.variants:
        variants.add_row(escape(v.name), str(v.n), f"{v.mean:.4g}", f"{v.std:.4g}")
    console.print(variants)
    level = f"{1 - result.definition.alpha:.0%}"
    table = rich_table("Metric", "Variant", "Lift", "Relative", f"{level} CI", "p", "p adj.",
                       "Always-valid CI", "P(win)", "CUPED")
    for c in result.comparisons:
        lift = c.lift
        rel = "n/a" if lift.lift_rel is None else f"{lift.lift_rel:+.2%}"
        cuped = "" if c.cuped is None else f"-{c.cuped.variance_reduction:.0%} var"
        table.add_row(escape(c.metric), escape(c.variant), f"{lift.lift_abs:+.4g}", rel,
                      f"{lift.ci_low:+.4g} … {lift.ci_high:+.4g}", f"{lift.p_value:.3g}",
                      f"{c.p_value_adjusted:.3g}",
                      f"{c.sequential.ci_low:+.4g} … {c.sequential.ci_high:+.4g}",
                      f"{c.posterior.chance_to_win:.1%}", cuped)
    console.print(table)
    for skipped in result.skipped:
        console.print(f"not computed: {escape(skipped.metric)} {escape(skipped.variant)}: "
                      f"{escape(skipped.reason)}")
    decision = result.decision
    shipped = f" {escape(decision.variant)}" if decision.variant else ""
    console.print(f"[bold]Decision: {decision.verdict.value}{shipped}[/]")
    for reason in decision.reasons:
        console.print(f"  - {escape(reason)}")


@app.command()
@handle_errors
def plan(
    workspace: WorkspaceArg,
    experiment: ExperimentArg,
    daily_units: DailyUnitsOpt = None,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Sample size per variant (statsmodels power analysis) and duration in days."""
    from opsledger.experiments.service import (
        SampleSize,
        plan_experiment,
        plan_json,
        telemetry_daily_units,
    )

    ctx, found = _open(workspace, experiment, now, strict)
    units: float | None = daily_units
    source = "--daily-units"
    if units is None:
        units, source = telemetry_daily_units(ctx, found)
    result = plan_experiment(found, units, source)
    if json:
        print_json(plan_json(result))
        return
    size = result.sample_size
    if not isinstance(size, SampleSize):
        raise InputError(f"{experiment}: sample size not computable: {size.reason}")
    console.print(f"[bold]{escape(experiment)}[/]: {size.method}, effect {size.effect_abs:.4g} "
                  f"(effect size {size.effect_size:.4f}), alpha {size.alpha:g}, "
                  f"power {size.power:g}")
    for name, need in size.per_variant.items():
        console.print(f"  {escape(name)}: {need:,} units")
    if result.duration_days is None:
        console.print(f"Duration unknown: {escape(source)}.")
    else:
        console.print(f"Duration: {result.duration_days} days at {units or 0:,.0f} units/day "
                      f"({escape(source)}).")


@app.command(name="assign")
@handle_errors
def assign_command(
    workspace: WorkspaceArg,
    experiment: ExperimentArg,
    unit_id: Annotated[str, typer.Argument(help="The unit (user, session or account) id.",
                                           show_default=False)],
    json: JsonOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Print the variant a unit is assigned to (salted SHA-256, stable everywhere)."""
    from opsledger.experiments.service import assign

    _, found = _open(workspace, experiment, None, strict)
    variant = assign(unit_id, found)
    if json:
        print_json({"experiment": experiment, "unit_id": unit_id, "variant": variant})
    else:
        console.print(escape(variant))


def register(root: typer.Typer) -> None:
    """Add the ``experiment`` commands to the root command."""
    root.add_typer(app, name="experiment")
