"""``opsledger forecast``: support demand forecasts and the coverage they need."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsledger.cli.common import (
    JsonOpt,
    NowOpt,
    ServiceOpt,
    StrictOpt,
    TeamOpt,
    WorkspaceArg,
    console,
    err_console,
    escape,
    fail_if_strict,
    handle_errors,
    print_json,
    progress,
    resolve_now,
    rich_table,
)
from opsledger.core.lock import writing
from opsledger.core.workspace import InputKey, open_workspace

if TYPE_CHECKING:
    from opsledger.support.service import CoveragePlan

app = typer.Typer(
    name="forecast",
    help="Forecast support demand and the staffing that covers it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def forecast() -> None:
    """Forecast support demand and the staffing that covers it."""


HorizonOpt = Annotated[
    int, typer.Option("--horizon", min=1, max=366, help="Days to forecast.")
]


@app.command()
@handle_errors
def tickets(
    workspace: WorkspaceArg,
    horizon: HorizonOpt = 28,
    now: NowOpt = None,
    strict: StrictOpt = False,
    json: JsonOpt = False,
    team: TeamOpt = None,
    service: ServiceOpt = None,
) -> None:
    """Forecast ticket volume per queue; staff hours and shifts; propose a rotation.

    With --team or --service, only the tickets of those services are forecast, and the plan
    is written beside the workspace's (support-coverage-plan.team-NAME.json)."""
    from opsledger.core.inputs import Inputs
    from opsledger.support.service import PLAN_FILE, forecast_ticket_volume

    if team is not None or service is not None:
        _scope_tickets(workspace, horizon, now, strict, json, team, service)
        return
    ws = open_workspace(workspace)
    if strict:  # checked before the plan is written
        fail_if_strict(strict, Inputs(ws).read(InputKey.TICKETS).problems, "the ticket history")
    output = ws.p18_evidence / PLAN_FILE
    with writing(ws, "forecast tickets"), progress("forecasting ticket volume", quiet=json):
        plan = forecast_ticket_volume(
            ws.path(InputKey.TICKETS),
            output,
            horizon_days=horizon,
            now=resolve_now(now),
            policy=ws.config.policies.support,
        )
    if json:
        print_json({"output": str(output), "plan": plan.to_json()})
        return
    _print_plan(plan, horizon, output)


def _scope_tickets(workspace: Path, horizon: int, now: str | None, strict: bool, json: bool,
                   team: str | None, service: str | None) -> None:
    """Forecast one team's or one service's tickets and write its plan beside the whole's."""
    from opsledger.core.catalog import open_scoped
    from opsledger.support.service import write_scope_coverage_plan

    ws = open_workspace(workspace)
    ctx = open_scoped(ws, resolve_now(now), team=team, service=service)
    if strict:  # checked before the plan is written
        fail_if_strict(strict, ctx.inputs.read(InputKey.TICKETS).problems, "the ticket history")
    with writing(ws, "forecast tickets"), progress("forecasting ticket volume", quiet=json):
        plan, output = write_scope_coverage_plan(ctx, horizon_days=horizon)
    if json:
        print_json({"output": str(output), "scope": plan.scope_json(), "plan": plan.to_json()})
        return
    _print_plan(plan, horizon, output)


def _print_plan(plan: CoveragePlan, horizon: int, output: Path) -> None:
    of = "" if plan.scope.whole else f" of {escape(plan.scope.label)}"
    table = rich_table("queue", "model", "MASE", "naive MASE", "beats naive", "tickets/day",
                       "skill group", title=f"Support coverage{of}, next {horizon} days")
    for queue in plan.forecast_queues:
        forecast = queue.forecast
        per_day = sum(p.mean for p in forecast.daily) / len(forecast.daily)
        table.add_row(
            escape(queue.queue),
            forecast.model,
            _figure(forecast.mase),
            _figure(forecast.baseline_mase),
            {True: "yes", False: "[red]no[/]", None: "n/a"}[forecast.beats_seasonal_naive],
            f"{per_day:.1f}",
            escape(queue.group),
        )
    for skipped in plan.skipped_queues:
        table.add_row(escape(skipped.queue), "[yellow]skipped[/]", "", "", "", "", "")
    console.print(table)
    for skipped in plan.skipped_queues:
        console.print(f"[yellow]{escape(skipped.queue)}:[/] {escape(skipped.reason)}")
    staffing = rich_table("skill group", "hours", "work h/week", "agent-h", "occupancy",
                          "service level", "peak agents", "peak heads", "rostered",
                          title="Staffing of a typical week (every interval in the plan file)")
    for group in plan.groups:
        totals = group.totals
        staffing.add_row(
            escape(group.name), escape(f"{group.hours.describe()} ({group.hours.timezone})"),
            f"{totals.work_hours:.1f}", f"{totals.staffed_hours:.1f}",
            _share(totals.occupancy), _share(totals.service_level), str(group.peak_agents),
            str(group.peak_heads),
            str(plan.rotation.headcount_of(group.name) if plan.rotation else 0),
        )
    if plan.groups:
        console.print(staffing)
    for line in plan.sanity_lines():
        console.print(escape(line))
    if plan.rotation is not None:
        state = "[green]covered[/]" if plan.rotation.covered else "[red]gaps[/]"
        console.print(f"Rotation: {plan.rotation.headcount} agents, {state}")
    elif plan.rotation_skipped:
        console.print(f"[yellow]No rotation:[/] {escape(plan.rotation_skipped)}")
    if plan.problems:
        err_console.print(f"[yellow]{len(plan.problems)} ticket rows quarantined[/] "
                          f"(listed in the plan)")
    if not plan.scope.whole:
        console.print(escape(plan.left_out_line()))
    console.print(f"Wrote {escape(str(output))}")


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def register(root: typer.Typer) -> None:
    """Add the ``forecast`` commands to the root command."""
    root.add_typer(app, name="forecast")
