"""``opsledger cost WS [--json] [--now T] [--month YYYY-MM] [--team T | --service S]``: spend
against targets, month-end forecast, anomalies and savings, of every service or of one team's
or one service's."""

from __future__ import annotations

import re
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
    escape,
    handle_errors,
    print_json,
    progress,
    report_problems,
    resolve_now,
    rich_table,
)
from opsledger.core.errors import InputError
from opsledger.core.workspace import open_workspace

if TYPE_CHECKING:
    from rich.table import Table

MonthOpt = Annotated[
    str | None,
    typer.Option("--month", help="Month to assess, YYYY-MM (default: the latest with data)."),
]


@handle_errors
def cost(
    workspace: WorkspaceArg,
    month: MonthOpt = None,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
    team: TeamOpt = None,
    service: ServiceOpt = None,
) -> None:
    """Spend by month and service against the cost targets, with anomalies and savings."""
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise InputError(f"--month: '{month}' is not a month (expected YYYY-MM)")

    from opsledger.core.workspace import InputKey
    from opsledger.forecasting import background

    ws = open_workspace(workspace)
    # The month-end forecast's libraries load in a worker while the bill is read.
    with background.ahead(ws.path(InputKey.COSTS).exists()):
        from opsledger.core.catalog import open_scoped
        from opsledger.cost.service import (
            cost_json,
            cost_result,
            cost_view,
            currency_label,
            inputs_text,
            left_out_text,
            mapping_text,
            month_spend_text,
            months_table,
            spend_vs_target,
            targets_table,
        )

        ctx = open_scoped(ws, resolve_now(now), team=team, service=service)
        result = cost_result(ctx)
        report_problems(ctx, result, strict)
        if not result.records:
            raise InputError(f"{result.path}: no FOCUS cost export or OpenCost allocation "
                             "response could be read")
        with progress("forecasting spend", quiet=json):
            view = cost_view(ctx, month)  # a month without cost data: InputError naming it
    if json:
        print_json(cost_json(view))
        return
    console.print(f"read: {escape(inputs_text(result))}")
    if not ctx.scope.whole:
        services = ", ".join(sorted(ctx.scope.services or ())) or "no services"
        console.print(f"view: {escape(ctx.scope.label)} ({escape(services)})")
    if result.spend_basis == "opencost":
        console.print("[yellow]no FOCUS export: spend is the OpenCost allocations "
                      "(Kubernetes workloads only)[/]")
    console.print(f"unmapped spend: {escape(mapping_text(view))}")
    header, rows, note = months_table(view, "the --json output")
    header[2] = f"{header[2]} ({currency_label(view)})"
    console.print(_table("Spend by month", header, [[escape(c) for c in r] for r in rows], note))
    for label, text in month_spend_text(view):
        console.print(f"[bold]{escape(label)}:[/] {escape(text)}")
    header, rows = targets_table(view)
    colour = {"over": "red", "at-risk": "yellow", "under": "green", "no-forecast": "yellow"}
    console.print(_table(f"Targets, {view.month}", header,
                         [[*(escape(c) for c in row[:-1]), f"[{colour[row[-1]]}]{row[-1]}[/]"]
                          for row in rows]))
    against = spend_vs_target(view) if not ctx.scope.whole else None
    if against is not None:
        console.print(f"[bold]Spend against target:[/] {escape(against.line())}")
    for anomaly in view.anomalies:
        moved = ", ".join(escape(r.name or r.resource) for r in anomaly.resources)
        console.print(f"[red]anomaly[/] {escape(anomaly.service)} {anomaly.day}: "
                      f"{anomaly.cost:,.2f} against {anomaly.baseline:,.2f} usual "
                      f"(z {anomaly.z:.1f}); moved: {moved or 'n/a'}")
    for candidate in view.savings:
        saving = ("ownership" if candidate.estimated_saving is None
                  else f"~{candidate.estimated_saving:,.0f}/month")
        kind = escape(f"[{candidate.kind}]")
        console.print(f"saving {kind} {escape(candidate.subject)}: {saving} — "
                      f"{escape(candidate.evidence)}")
    left_out = left_out_text(view)
    if left_out:
        console.print(f"[yellow]{escape(left_out)}[/]")


def _table(title: str, header: list[str], rows: list[list[str]], caption: str = "") -> Table:
    table = rich_table(*(escape(h) for h in header), title=title, caption=escape(caption) or None)
    for row in rows:
        table.add_row(*row)
    return table


def register(root: typer.Typer) -> None:
    """Add ``cost`` to the root command."""
    root.command(name="cost")(cost)
