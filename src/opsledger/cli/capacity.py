"""``opsledger capacity WS [--threshold 0.8] [--months 6] [--team T | --service S]``: when
each service's resources reach a utilisation threshold, and the capacity needed."""

from __future__ import annotations

from typing import Annotated

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
    handle_errors,
    print_json,
    progress,
    resolve_now,
    rich_table,
)
from opsledger.core.errors import InputError
from opsledger.core.problems import Level
from opsledger.core.workspace import open_workspace

ThresholdOpt = Annotated[
    float, typer.Option("--threshold", min=0.05, max=1.0,
                        help="Utilisation that counts as full (0-1).")
]
TargetOpt = Annotated[
    float, typer.Option("--target", min=0.05, max=1.0,
                        help="Utilisation to size capacity for (0-1).")
]
MonthsOpt = Annotated[int, typer.Option("--months", min=1, max=24, help="Months to forecast.")]


@handle_errors
def capacity(
    workspace: WorkspaceArg,
    threshold: ThresholdOpt = 0.8,
    target: TargetOpt = 0.7,
    months: MonthsOpt = 6,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
    team: TeamOpt = None,
    service: ServiceOpt = None,
) -> None:
    """Forecast utilisation per service and resource; days until the threshold."""
    from opsledger.core.catalog import open_scoped
    from opsledger.cost.service import CapacitySettings, capacity_json, capacity_view

    ctx = open_scoped(open_workspace(workspace), resolve_now(now), team=team, service=service)
    with progress("forecasting utilisation", quiet=json):
        view = capacity_view(ctx, CapacitySettings(threshold, target, months))
    problems = [p for p in view.result.problems if p.level is not Level.WARNING]
    for problem in problems:
        err_console.print(f"[yellow]{escape(str(problem))}[/]")
    if strict and problems:
        raise InputError(f"{len(problems)} problem(s) in the utilisation series (--strict)",
                         problems)
    if not view.result.files:
        raise InputError(f"{view.result.path}: no utilisation series (CSV or Parquet)")
    if json:
        print_json(capacity_json(view))
        return
    title = "Capacity runway" + ("" if ctx.scope.whole else f", {ctx.scope.label}")
    table = rich_table("service", "resource", "now", f"reaches {threshold:.0%}", "upper bound",
                       f"needed in {months} mo", title=escape(title))
    for runway in view.runways:
        point, upper = runway.days_to_threshold, runway.days_to_threshold_upper
        need = runway.needs[-1] if runway.needs else None
        table.add_row(
            escape(runway.service), runway.resource, f"{runway.current:.0%}",
            _days(point, urgent=point is not None and point <= 30), _days(upper),
            "" if need is None else f"×{need.factor:.2f}")
    console.print(table)
    for skipped in view.skipped:
        console.print(f"[yellow]not forecast[/] {escape(skipped.service)} {skipped.resource}: "
                      f"{escape(skipped.reason)}")
    left_out = view.left_out.line(view.scope) if view.left_out is not None else ""
    if left_out:
        console.print(f"[yellow]{escape(left_out)}[/]")


def _days(value: int | None, urgent: bool = False) -> str:
    if value is None:
        return "beyond horizon"
    text = "already" if value == 0 else f"{value} d"
    return f"[red]{text}[/]" if urgent else text


def register(root: typer.Typer) -> None:
    """Add ``capacity`` to the root command."""
    root.command(name="capacity")(capacity)
