"""``opsledger incidents``: incident KPIs, postmortem follow-up and the escalation matrix."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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
from opsledger.core.errors import InputError
from opsledger.core.lock import writing
from opsledger.core.workspace import open_workspace
from opsledger.formats.fields import parse_datetime

app = typer.Typer(
    name="incidents",
    help="Incident KPIs, postmortem follow-up and escalation.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Start of the period (ISO 8601, inclusive); default 90 days "
                 "before --until."),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="End of the period (ISO 8601, exclusive); default --now."),
]
NoBudgetOpt = Annotated[
    bool,
    typer.Option("--no-budget", help="Skip the SLO evaluation that measures the error budget "
                 "each incident consumed."),
]


def _time(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise InputError(f"{option}: '{value}' is not an ISO 8601 date-time") from None


def _review(workspace: Any, since: str | None, until: str | None, now: str | None,
            budgets: bool = True, strict: bool = False, quiet: bool = False,
            team: str | None = None, service: str | None = None) -> Any:
    from opsledger.core.catalog import open_scoped
    from opsledger.incidents.service import default_period, review_incidents

    ws = open_workspace(workspace)
    moment = resolve_now(now)
    try:
        period = default_period(moment, _time("--since", since), _time("--until", until))
    except ValueError as exc:
        raise InputError(f"--since/--until: {exc}") from None
    ctx = open_scoped(ws, moment, team=team, service=service)
    with progress("reading incidents", quiet=quiet) as stage:
        ctx.progress = stage
        review = review_incidents(ctx, period, with_budgets=budgets)
    fail_if_strict(strict, [*ctx.inputs.problems(), *review.records.problems,
                            *review.postmortem_problems])
    return ctx, review


def _minutes(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f} min"


@app.command()
@handle_errors
def stats(
    workspace: WorkspaceArg,
    since: SinceOpt = None,
    until: UntilOpt = None,
    now: NowOpt = None,
    no_budget: NoBudgetOpt = False,
    strict: StrictOpt = False,
    json: JsonOpt = False,
    team: TeamOpt = None,
    service: ServiceOpt = None,
) -> None:
    """Show MTTA, MTTR, MTBF, counts, interruptions and postmortem follow-up for a period
    (of one team's or one service's incidents with --team / --service)."""
    _, review = _review(workspace, since, until, now, budgets=not no_budget, strict=strict,
                        quiet=json, team=team, service=service)
    data = review.stats_json()
    if json:
        print_json(data)
        return
    kpis = review.kpis
    of = "" if review.scope.whole else f" of {escape(review.scope.label)}"
    console.print(f"Incidents{of} {data['period']['start']} .. {data['period']['end']}: "
                  f"{kpis.count}")
    if not review.scope.whole:
        console.print(escape(review.left_out_text()))
    summary = rich_table("KPI", "value", title="Incident KPIs")
    summary.add_row("MTTA (mean)", _minutes(data["mtta_minutes"]))
    summary.add_row("MTTD (mean)", _minutes(data["mttd_minutes"]))
    for key in ("mean", "median", "p90"):
        summary.add_row(f"MTTR ({key})", _minutes(data["mttr_minutes"][key]))
    last = kpis.last_major.to_json()
    summary.add_row("since last major", f"{last['days_since']:.1f} days" if "days_since" in last
                    else escape(last["skipped"]))
    bands = kpis.interruptions
    summary.add_row("interruptions", f"{bands.business} business, {bands.off} off-hours, "
                    f"{bands.sleep} sleep")
    console.print(summary)
    bands = kpis.response_by_severity
    severity = rich_table("", *bands.keys(), title="By severity")
    severity.add_row("incidents", *(str(b.count) for b in bands.values()))
    for figure in ("mtta", "mttr"):
        for key in ("mean", "median"):
            severity.add_row(f"{figure.upper()} {key}", *(
                _minutes(getattr(band, figure).to_json().get(key)) for band in bands.values()))
    console.print(severity)
    mtbf = rich_table("service", "incidents", "downtime h", "MTBF h", title="MTBF per service")
    for name, m in kpis.mtbf.items():
        mtbf.add_row(escape(name), str(m.failures), f"{m.downtime_hours:.2f}",
                     "n/a" if m.hours is None else f"{m.hours:.1f}")
    console.print(mtbf)
    follow = data["postmortems"]
    console.print(f"Postmortems: {follow['required']} required, {follow['present']} present, "
                  f"missing: {escape(', '.join(follow['missing']) or 'none')}, "
                  f"late: {escape(', '.join(follow['late']) or 'none')}")
    items = data["action_items"]
    rate = items["closure_rate"]
    console.print(f"Action items: {items['open']} open, {len(items['overdue'])} overdue, "
                  f"closure rate {'n/a' if rate is None else f'{rate:.0%}'}")
    gate = review.postmortems.gate
    state = "[green]pass[/]" if gate.passed else "[red]fail[/]"
    console.print(f"Gate 'incidents resolved with postmortems': {state}")
    for breach in gate.breaches:
        console.print(f"  {escape(breach.incident)}: {escape(breach.reason)} "
                      f"({escape(breach.detail)})")
    if data["problems"]:
        err_console.print(f"[yellow]{len(data['problems'])} input problem(s)[/] "
                          "(see --json 'problems')")


@app.command("postmortem-drafts")
@handle_errors
def postmortem_drafts(
    workspace: WorkspaceArg,
    since: SinceOpt = None,
    until: UntilOpt = None,
    now: NowOpt = None,
    no_budget: NoBudgetOpt = False,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> None:
    """Write a prefilled draft for each incident missing its postmortem (never overwrites)."""
    from opsledger.incidents.service import write_postmortem_drafts

    ctx, review = _review(workspace, since, until, now, budgets=not no_budget, strict=strict,
                          quiet=json)
    with writing(ctx.workspace, "incidents postmortem-drafts"):
        drafts = write_postmortem_drafts(ctx, review)
    if json:
        print_json({"written": [str(p) for p in drafts.written],
                    "kept": [str(p) for p in drafts.kept]})
        return
    for path in drafts.written:
        console.print(f"Wrote {escape(str(path))}")
    for path in drafts.kept:
        console.print(f"Kept existing {escape(str(path))}")
    if not drafts.written and not drafts.kept:
        console.print("No incident is missing its postmortem.")


@app.command()
@handle_errors
def escalation(workspace: WorkspaceArg, strict: StrictOpt = False, json: JsonOpt = False) -> None:
    """Write the escalation matrix (Markdown) and an Alertmanager routing configuration."""
    from opsledger.core.inputs import Context
    from opsledger.incidents.service import load_catalog, write_escalation

    ws = open_workspace(workspace)
    ctx = Context.open(ws)
    load_catalog(ctx)  # what the matrix reads, checked before anything is written
    fail_if_strict(strict, ctx.inputs.problems())
    with writing(ws, "incidents escalation"):
        outputs = write_escalation(ctx)
    if json:
        print_json({"matrix": outputs.matrix.to_json(), "markdown": str(outputs.markdown),
                    "alertmanager": str(outputs.alertmanager)})
        return
    table = rich_table("service", "tier", "rotation", "levels", "gaps", title="Escalation")
    for service in outputs.matrix.services:
        table.add_row(escape(service.service), str(service.tier), escape(service.rotation),
                      str(len(service.levels)), str(len(service.gaps)))
    console.print(table)
    console.print(f"Wrote {escape(str(outputs.markdown))}")
    console.print(f"Wrote {escape(str(outputs.alertmanager))}")


def register(root: typer.Typer) -> None:
    """Add the ``incidents`` commands to the root command."""
    root.add_typer(app, name="incidents")
