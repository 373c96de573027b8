"""``opsledger patch``: vulnerability findings with due dates, and the dependency update plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsledger.cli.common import (
    EXIT_FAILED,
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
    report_problems,
    resolve_now,
    rich_table,
)
from opsledger.core.catalog import open_scoped
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
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


def _context(workspace: Path, now: str | None, strict: bool, team: str | None = None,
             service: str | None = None) -> Context:
    from opsledger.patching.service import security_result

    context = open_scoped(open_workspace(workspace), resolve_now(now), team=team,
                          service=service)
    report_problems(context, security_result(context), strict)
    return context


@app.command()
@handle_errors
def findings(
    workspace: WorkspaceArg,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
    team: TeamOpt = None,
    service: ServiceOpt = None,
) -> None:
    """List open vulnerability findings, folded across tools, with their due dates and the
    services their scans name; --team/--service keep only those services' findings."""
    from opsledger.patching.service import (
        attributed_json,
        finding_services,
        findings_left_out,
        known_service_names,
        patch_view,
    )

    ctx = _context(workspace, now, strict, team, service)
    view = patch_view(ctx)
    known = known_service_names(ctx)
    left_out = findings_left_out(ctx)
    if json:
        found = [attributed_json(item, known) for item in view.posture.items]
        print_json(found if ctx.scope.whole else {"scope": left_out.to_json(), "findings": found})
        return
    table = rich_table("Id", "Package", "Installed", "Severity", "CVSS", "KEV", "Due", "Sources",
                       "Services")
    for item in view.posture.items:
        f = item.finding
        due = f"[red]{item.due_date}[/]" if item.overdue else str(item.due_date)
        table.add_row(escape(f.id), escape(f.package), escape(f.installed or "?"),
                      f.severity.value, "" if f.cvss_score is None else f"{f.cvss_score:.1f}",
                      "yes" if f.kev else "", due, escape(", ".join(f.sources)),
                      escape(", ".join(finding_services(f, known)) or "—"))
    console.print(table)
    console.print(f"{len(view.posture.items)} finding(s), {len(view.posture.overdue)} overdue, "
                  f"{len(view.posture.due_soon)} due soon.")
    if not ctx.scope.whole:
        console.print(escape(left_out.sentence()))


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


def register(root: typer.Typer) -> None:
    """Add the ``patch`` commands to the root command."""
    root.add_typer(app, name="patch")
