"""``opsledger patch``: vulnerability findings with due dates, and the dependency update plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from opsledger.cli.common import (
    EXIT_FAILED,
    JsonOpt,
    NowOpt,
    StrictOpt,
    WorkspaceArg,
    console,
    err_console,
    escape,
    handle_errors,
    print_json,
    resolve_now,
)
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.problems import Level
from opsledger.core.workspace import open_workspace

if TYPE_CHECKING:  # version libraries load only when a patch command runs
    from opsledger.patching.service import ErrorBudgetFreeze

app = typer.Typer(
    help="Vulnerability findings, due dates and the dependency update plan.",
    no_args_is_help=True,
)

FreezeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--freeze",
        help="A service under an error-budget freeze (repeat), or 'all'. Only security and "
        "P0 changes are planned for it.",
    ),
]


def _freeze(values: list[str] | None) -> ErrorBudgetFreeze:
    if not values:
        return None
    return "all" if "all" in values else values


def _context(workspace: Path, now: str | None, strict: bool) -> Context:
    from opsledger.patching.service import security_result

    context = Context.open(open_workspace(workspace), resolve_now(now))
    result = security_result(context)
    for problem in result.problems:
        if problem.level is not Level.WARNING:
            err_console.print(f"[yellow]{escape(str(problem))}[/]")
    if strict:
        context.inputs.require_clean()
    return context


@app.command()
@handle_errors
def findings(
    workspace: WorkspaceArg,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
) -> None:
    """List open vulnerability findings, folded across tools, with their due dates."""
    from opsledger.patching.service import finding_json, patch_view

    ctx = _context(workspace, now, strict)
    view = patch_view(ctx)
    if json:
        print_json([finding_json(item) for item in view.posture.items])
        return
    table = Table("Id", "Package", "Installed", "Severity", "CVSS", "KEV", "Due", "Sources")
    for item in view.posture.items:
        f = item.finding
        due = f"[red]{item.due_date}[/]" if item.overdue else str(item.due_date)
        table.add_row(escape(f.id), escape(f.package), escape(f.installed or "?"),
                      f.severity.value, "" if f.cvss_score is None else f"{f.cvss_score:.1f}",
                      "yes" if f.kev else "", due, escape(", ".join(f.sources)))
    console.print(table)
    console.print(f"{len(view.posture.items)} finding(s), {len(view.posture.overdue)} overdue, "
                  f"{len(view.posture.due_soon)} due soon.")


@app.command()
@handle_errors
def plan(
    workspace: WorkspaceArg,
    freeze: FreezeOpt = None,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Write the update plan (Markdown, .ics, renovate.json, dependabot.yml) as p09 evidence."""
    from opsledger.patching.service import patch_view, placement_json, write_patch_plan

    ctx = _context(workspace, now, strict)
    with writing(ctx.workspace, "patch plan"):
        view = patch_view(ctx, _freeze(freeze))
        written = [str(p) for p in write_patch_plan(ctx, _freeze(freeze))]
    if json:
        print_json({"written": written,
                    "groups": [placement_json(p) for p in view.plan.placements]})
    else:
        for placement in view.plan.placements:
            slot = placement.slot
            when = f"{slot.start:%Y-%m-%d %H:%M} {slot.timezone}" if slot else "—"
            console.print(f"{escape(placement.group.title)}: {when} [{placement.status.value}]")
        console.print("Wrote " + ", ".join(escape(w) for w in written))
    if view.plan.flagged:
        raise typer.Exit(EXIT_FAILED)

