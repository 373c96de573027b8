"""``opsledger slo``: SLO status, error budgets and burn rates."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsledger.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EngineOpt,
    JsonOpt,
    NowOpt,
    PrometheusOpt,
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
from opsledger.core.inputs import Context
from opsledger.core.options import DEFAULT_MIN_EVENTS
from opsledger.core.problems import Level, Problem
from opsledger.core.workspace import open_workspace

if TYPE_CHECKING:
    from opsledger.slo.service import SloReport, SloStatus

app = typer.Typer(
    name="slo",
    help="SLO status, error budgets, burn rates; alert rules and backtests.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

MinEventsOpt = Annotated[
    int,
    typer.Option("--min-events", min=1, help="Fewer events in the window make an SLO invalid."),
]
FailOpt = Annotated[
    bool,
    typer.Option("--fail-on-exhausted", help="Exit 1 when any error budget is exhausted."),
]


@app.command()
@handle_errors
def status(
    workspace: WorkspaceArg,
    now: NowOpt = None,
    json: JsonOpt = False,
    prometheus: PrometheusOpt = None,
    min_events: MinEventsOpt = DEFAULT_MIN_EVENTS,
    strict: StrictOpt = False,
    fail_on_exhausted: FailOpt = False,
    engine: EngineOpt = None,
    team: TeamOpt = None,
    service: ServiceOpt = None,
) -> None:
    """Show each SLO's SLI, error budget remaining, burn rates and exhaustion date."""
    from opsledger.core.catalog import open_scoped
    from opsledger.slo.service import evaluate_workspace

    ws = open_workspace(workspace)
    ctx = open_scoped(ws, resolve_now(now), team=team, service=service)
    with progress("computing SLOs", quiet=json):
        report = evaluate_workspace(
            ctx, prometheus_url=prometheus, min_events=min_events, engine=engine,
            minute_history=False,
        )
    problems = [p for p in report.problems if p.level is not Level.WARNING]
    if strict and problems:
        raise InputError(f"{len(problems)} problem(s) in the SLO definitions (--strict)", problems)
    for problem in report.problems:
        _warn(problem)
    if json and report.scope is not None:
        print_json({"scope": report.scope.to_json(), "slos": report.to_json()})
    elif json:
        print_json(report.to_json())
    else:
        _print_table(report)
    # No SLO could be read at all (a view of a team without SLOs is not an input error).
    if not report.evaluations and report.problems and not (report.scope and report.scope.total):
        raise typer.Exit(EXIT_BAD_INPUT)
    exhausted = any(
        e.status.budget is not None and e.status.budget.remaining <= 0 for e in report.evaluations
    )
    if fail_on_exhausted and exhausted:
        raise typer.Exit(EXIT_FAILED)


def _print_table(report: SloReport) -> None:
    view = report.scope
    if not report.evaluations and view is not None:
        console.print(f"No SLO definitions of {escape(view.scope.label)} found in slos/.")
        console.print(escape(view.line()))
        return
    if not report.evaluations:
        console.print("No SLO definitions found in slos/.")
        return
    table = rich_table(
        "service",
        "SLO",
        "objective",
        "window",
        "SLI",
        "budget left",
        "burn 1h",
        "burn 1d",
        "burn window",
        "exhausted at",
        "newest event",
        "notes",
    )
    for evaluation in report.evaluations:
        s = evaluation.status
        if not s.valid:
            table.add_row(
                escape(s.slo.service),
                escape(s.slo.name),
                f"{s.slo.objective:.3%}",
                s.slo.window.label,
                "—",
                "—",
                "—",
                "—",
                "—",
                "—",
                "—" if evaluation.series is None else _age(s.data_age),
                escape("; ".join([*s.reasons, *_excluded_note(s)])),
            )
            continue
        assert s.budget is not None and s.sli is not None
        remaining = s.budget.remaining
        colour = "red" if remaining <= 0 else "yellow" if remaining < 0.25 else "green"
        table.add_row(
            escape(s.slo.service),
            escape(s.slo.name),
            f"{s.slo.objective:.3%}",
            s.slo.window.label,
            f"{s.sli:.4%}",
            f"[{colour}]{remaining:.1%}[/]",
            *(_rate(s.burn_rates.get(k)) for k in SHOWN_BURNS),
            s.exhaustion_at.strftime("%Y-%m-%d %H:%M") if s.exhaustion_at else "—",
            _age(s.data_age),
            escape("; ".join([*(f"burn {w}: {note}" for w, note in s.burn_rate_notes.items()
                                if w in SHOWN_BURNS),
                              *_excluded_note(s),
                              *(d.action for d in evaluation.decisions)])),
        )
    console.print(table)
    for evaluation in report.evaluations:
        excluded = evaluation.status.exclusions
        for applied in excluded.applied if excluded else ():
            item = applied.exclusion
            console.print(f"  {escape(evaluation.status.slo.key)}: excluded {escape(item.label)}"
                          f" ({escape(item.reason)}; approved by {escape(item.approved_by)}):"
                          f" {applied.minutes:,} min, {applied.events:,.0f} events"
                          f" ({applied.bad_events:,.0f} bad)")
    if view is not None:
        console.print(escape(view.line()))
        if view.components:
            console.print(escape(view.components_line()))


def _excluded_note(status: SloStatus) -> list[str]:
    """Return the note on what exclusions took out, and the SLI and budget without them."""
    excluded, raw = status.exclusions, status.without_exclusions
    if excluded is None or raw is None:
        return []
    without = "not computed" if raw.sli is None or raw.budget is None else (
        f"SLI {raw.sli:.4%}, budget left {raw.budget.remaining:.1%}")
    return [f"{excluded.minutes:,} min excluded ({excluded.events:,.0f} events, "
            f"{excluded.bad_events:,.0f} bad); without exclusions: {without}"]


SHOWN_BURNS = ("1h", "1d", "window")


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _age(age: timedelta | None) -> str:
    """Return how old the newest event is, to the minute (``17 h 5 min ago``)."""
    from opsledger.slo.service import format_age

    return "none read" if age is None else f"{format_age(age)} ago"


@app.command()
@handle_errors
def rules(
    workspace: WorkspaceArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Rule file to write (default: the p09 evidence folder)."),
    ] = None,
    with_tests: Annotated[
        bool, typer.Option("--with-tests", help="Also write promtool unit tests beside it.")
    ] = False,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> None:
    """Write Prometheus recording and multi-window burn-rate alerting rules (Sloth names)."""
    from opsledger.slo.service import write_rule_files

    ctx = Context.open(open_workspace(workspace))
    files = write_rule_files(ctx, out, with_tests, strict, warn=_warn)
    if json:
        print_json({"written": [str(p) for p in files.written],
                    "problems": [p.to_json() for p in files.problems]})
        return
    for item in files.written:
        console.print(f"wrote {escape(str(item))}")
    console.print("Check them with: promtool check rules " + escape(str(files.path)))


def _warn(problem: Problem) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(str(problem))}")


@app.command()
@handle_errors
def dashboards(
    workspace: WorkspaceArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write into (default: the p09 evidence folder)."),
    ] = None,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> None:
    """Write Grafana dashboards (one per SLO, and an overview) over the 'slo rules' series."""
    from opsledger.slo.service import write_dashboards

    ctx = Context.open(open_workspace(workspace))
    files = write_dashboards(ctx, out, strict, warn=_warn)
    if json:
        print_json({"written": [str(p) for p in files.written],
                    "not_charted": [{"slo": k, "reason": r} for k, r in files.not_charted],
                    "problems": [p.to_json() for p in files.problems]})
        return
    for item in files.written:
        console.print(f"wrote {escape(str(item))}")
    if not files.written:
        console.print("No SLO has a Prometheus SLI: no dashboard written.")
    if files.not_charted:
        console.print(f"{len(files.not_charted)} SLO(s) without Prometheus rules are not "
                      "charted (their results can go to Prometheus with 'opsledger slo export').")


class ExportFormatChoice(StrEnum):
    """The formats of ``slo export``, as opsledger.slo.export.ExportFormat (a test checks)."""

    OPENMETRICS = "openmetrics"
    JSONL = "jsonl"


@app.command()
@handle_errors
def export(
    workspace: WorkspaceArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default: the p09 evidence folder)."),
    ] = None,
    output_format: Annotated[
        ExportFormatChoice,
        typer.Option("--format", case_sensitive=False,
                     help="openmetrics (Prometheus, timestamped) or jsonl (one record per SLO)."),
    ] = ExportFormatChoice.OPENMETRICS,
    timestamps: Annotated[
        bool,
        typer.Option("--timestamps/--no-timestamps",
                     help="Stamp OpenMetrics samples with the run time (the node exporter's "
                     "textfile collector needs --no-timestamps)."),
    ] = True,
    now: NowOpt = None,
    prometheus: PrometheusOpt = None,
    min_events: MinEventsOpt = DEFAULT_MIN_EVENTS,
    engine: EngineOpt = None,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> None:
    """Write the computed SLO results as OpenMetrics or JSON Lines."""
    from opsledger.slo.service import export_results

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    with progress("computing SLOs", quiet=json):
        written = export_results(ctx, out, output_format.value, timestamps,
                                 prometheus, min_events, engine, strict, warn=_warn)
    if json:
        print_json({"written": str(written.path), "format": written.format,
                    "slos": written.slos, "computed": written.computed})
        return
    console.print(f"wrote {escape(str(written.path))}: {written.slos} SLO(s), "
                  f"{written.computed} computed")


@app.command()
@handle_errors
def backtest(
    workspace: WorkspaceArg,
    now: NowOpt = None,
    policies: Annotated[
        Path | None, typer.Option("--policies", help="YAML file of custom alert policies.")
    ] = None,
    max_alerts_per_week: Annotated[
        float, typer.Option("--max-alerts-per-week", min=0.1, help="Noise budget per SLO.")
    ] = 2.0,
    prometheus: PrometheusOpt = None,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> None:
    """Replay alert policies over the SLI history; score them against the incidents."""
    from opsledger.slo.service import backtest_json, backtest_workspace, load_policies

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    choice = load_policies(policies) if policies else None
    with progress("backtesting alert policies", quiet=json):
        run = backtest_workspace(ctx, policies=choice, max_alerts_per_week=max_alerts_per_week,
                                 prometheus_url=prometheus)
    fail_if_strict(strict, [*run.problems, *ctx.inputs.problems()])
    results = backtest_json(run.results)
    if json:
        print_json(results)
        return
    table = rich_table(title="Alert policy backtest")
    table.add_column("SLO", no_wrap=True)
    table.add_column("recommended")
    table.add_column("recall", justify="right")
    table.add_column("precision", justify="right")
    table.add_column("alerts/week", justify="right")
    table.add_column("detect (min)", justify="right")
    table.add_column("confidence")
    for item in results:
        if not item["valid"]:
            table.add_row(escape(item["slo"]), f"[dim]{escape(item['reason'])}[/]", "", "", "",
                          "", "")
            continue
        confidence = f"{item['confidence']} ({item['incidents']} incidents)"
        if item["recommended"] is None:
            table.add_row(escape(item["slo"]), "[dim]none: not enough incidents[/]", "", "", "",
                          "", confidence)
            continue
        best = next(p for p in item["policies"] if p["policy"] == item["recommended"])
        table.add_row(escape(item["slo"]), escape(item["recommended"]), _fmt(best["recall"]),
                      _fmt(best["precision"]), _fmt(best["alerts_per_week"]),
                      _fmt(best["mean_detection_minutes"]), confidence)
    console.print(table)
    for item in results:
        if item["valid"]:
            console.print(f"  {escape(item['slo'])}: {escape(item['reason'])}")


@app.command()
@handle_errors
def noise(
    workspace: WorkspaceArg, now: NowOpt = None, strict: StrictOpt = False, json: JsonOpt = False
) -> None:
    """Rank alerts by noise: flapping, auto-resolved, never actionable, off-hours pages."""
    from opsledger.slo.service import noise_json, workspace_noise

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    report, problems = workspace_noise(ctx)
    fail_if_strict(strict, [*problems, *ctx.inputs.problems()])
    for problem in problems:
        _warn(problem)
    data = noise_json(report)
    if json:
        print_json(data)
        return
    if not data.get("alerts"):
        console.print("No alert history under incidents/alerts/.")
        return
    _print_noise(data)


def _print_noise(data: dict[str, Any]) -> None:
    """Print one row per alert (name and service), noisiest first, then the changes."""
    table = rich_table(title="Alert noise (noisiest first)")
    columns = ("alert", "service", "noise", "firings", "pages", "acknowledged", "precision",
               "time firing", "flapping", "in sleep hours", "decision", "confidence")
    for column in columns:
        numeric = column not in ("alert", "service", "decision", "confidence")
        table.add_column(column, justify="right" if numeric else "left",
                         no_wrap=column in ("alert", "service"))
    for item in data["alerts"]:
        decision = item["decision"]
        table.add_row(escape(str(item["alert"])), escape(str(item["service"] or "—")),
                      str(item["noise"]), str(item["firings"]), str(item["pages"]),
                      str(item["acknowledged"]), f"{item['precision']:.0%}",
                      _hours(item["minutes_firing"]), str(item["flapping_episodes"]),
                      str(item["sleep_hours"]), escape(decision["action"]),
                      escape(decision["confidence"]))
    console.print(table)
    for item in data["recommendations"]:
        also = "".join(f"; also {escape(a)}" for a in item["also"])
        console.print(f"  {escape(str(item['alert']))} ({escape(str(item['service'] or '—'))}):"
                      f" {escape(item['action'])}, confidence {escape(item['confidence'])}: "
                      f"{escape(item['evidence'])} — {escape(item['reason'])}{also}")


def _hours(minutes: float | None) -> str:
    return "" if minutes is None else f"{minutes / 60:.1f} h"


def _fmt(value: object) -> str:
    return "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def register(root: typer.Typer) -> None:
    """Add the ``slo`` commands to the root command."""
    root.add_typer(app, name="slo")
