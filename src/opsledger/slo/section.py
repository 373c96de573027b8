"""The SLO section of the monthly report: status, budgets, burn rates, exhaustion, policy.

It leads with the SLOs off target or at risk (:func:`opsledger.slo.objectives.standing`);
those on target are one line in the body and a table under the section's details. Every
row says how old its newest event is, and a burn rate that could not be computed says why.
Charts: a burn-rate heat map (SLO × lookback window) on a diverging scale centred on 1 (on
budget), and a budget burn-down for each SLO off target or at risk.

The service-health and alerting sections live beside it and are exported from here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from opsledger.core.inputs import Context
from opsledger.render.sections import Chart, Section, Status, md_table, percent
from opsledger.slo.alerting_section import alerting_section as alerting_section
from opsledger.slo.alerting_section import build_alerting_section as build_alerting_section
from opsledger.slo.alerting_section import recall_chart as recall_chart
from opsledger.slo.health_section import health_section as health_section
from opsledger.slo.objectives import (
    BURN_WINDOWS,
    SloStatus,
    Standing,
    budget_burndown,
    format_age,
    standing,
)
from opsledger.slo.service import (
    PROMETHEUS_URL_ENV,
    SloEvaluation,
    SloReport,
    evaluate_workspace,
)

KEY = "slos"
TITLE = "SLOs and error budgets"
SHOWN_BURNS = ("1h", "6h", "1d", "3d", "window")
HEAT_WINDOWS = (*BURN_WINDOWS, "window")
# A burn rate of 1 spends the budget exactly over the window: the heat map's colours diverge
# from there, under budget one way and over it the other.
HEAT_CENTER = 1.0


def slo_section(ctx: Context) -> Section:
    """Return the SLO section for the workspace at ``ctx.now``."""
    report = evaluate_workspace(ctx)
    if not report.evaluations and report.scope is not None and report.scope.total:
        return Section.skipped(KEY, TITLE, f"no SLO definitions of {ctx.scope.label} in "
                               f"slos/ ({report.scope.note()})")
    if not report.evaluations:
        reason = "no SLO definitions in slos/"
        if report.problems:
            reason += f" could be read ({len(report.problems)} problem(s))"
        return Section.skipped(KEY, TITLE, reason)
    return build_section(ctx, report)


def build_section(ctx: Context, report: SloReport) -> Section:
    """Return the section for an evaluated report (separate so tests need no engines)."""
    statuses = [e.status for e in report.evaluations]
    valid = [s for s in statuses if s.valid]
    promql = [s for s in statuses if s.needs_prometheus]
    invalid = [s for s in statuses if not s.valid and not s.needs_prometheus]
    standings = {s.slo.key: standing(s) for s in valid}
    off = [s for s in valid if standings[s.slo.key][0] is Standing.OFF_TARGET]
    risk = [s for s in valid if standings[s.slo.key][0] is Standing.AT_RISK]
    on = [s for s in valid if standings[s.slo.key][0] is Standing.ON_TARGET]
    decisions = [d for e in report.evaluations for d in e.decisions]
    exhausted = [s for s in valid if s.budget is not None and s.budget.remaining <= 0]
    headline = _headline(valid, off, risk, exhausted, invalid)
    lines = [headline + "."]
    if off or risk:
        lines += ["", "**Off target or at risk**", "",
                  _status_table(_worst_first(off) + _worst_first(risk), standings)]
    if decisions:
        lines += ["", "**Error budget policy decisions**", ""]
        lines += [f"- {d.slo}: {d.reason} → {d.action}" for d in decisions]
    if invalid:
        lines += ["", "**Not computed**", ""]
        lines += [f"- {s.slo.key}: {'; '.join(s.reasons)}{_age_note(s)}" for s in invalid]
    if promql:
        lines += ["", f"{len(promql)} SLO(s) written in PromQL were not computed here: no "
                  f"Prometheus server was given (--prometheus URL or {PROMETHEUS_URL_ENV}). "
                  "Prometheus computes them from the rules `opsledger slo rules` writes: "
                  + ", ".join(s.slo.key for s in promql) + "."]
    excluded = [s for s in statuses if s.exclusions is not None]
    if excluded:
        lines += ["", "**Excluded from SLIs and error budgets**", "",
                  "Declared in `opsledger.yaml` (`error_budget_exclusions`): these minutes count "
                  "neither as good nor as bad in the SLI, the budget, the burn rates and the "
                  "alert backtest.", "", _exclusions_table(excluded),
                  *_exclusion_lines(excluded)]
    stale = _burn_notes(valid)
    if stale:
        lines += ["", "**Burn rates not computed**", "", *stale]
    if report.problems:
        lines += ["", f"**Definition problems** ({len(report.problems)})", ""]
        lines += [f"- {p}" for p in report.problems[:20]]
    if valid:
        lines += ["", f"**{len(on)} of {len(valid)} computed SLOs are on target.**"]
    attention = {s.slo.key for s in (*off, *risk)}
    charted = [e for e in report.evaluations
               if e.series is not None and e.status.slo.key in attention]
    if valid:
        lines += ["", f"Budget burn-down charts: {len(charted)} SLO(s) off target or at risk; "
                  f"{len(valid) - len(charted)} omitted."]
    scoped: dict[str, Any] = {}
    if report.scope is not None:
        lines += ["", report.scope.line() + "."]
        if report.scope.components:
            lines += ["", report.scope.components_line() + "."]
        scoped = {"scope": report.scope.to_json()}
    status = Status.PASS
    if exhausted:
        status = Status.FAIL
    elif off or risk or invalid or report.problems:
        status = Status.WARN
    return Section(
        KEY,
        TITLE,
        "\n".join(lines) + "\n",
        status,
        data={
            "headline": headline,
            "slos": report.to_json(),
            "budgets": {s.slo.key: asdict(s.budget) for s in valid if s.budget is not None},
            "decisions": [_decision_json(d) for d in decisions],
            "problems": [p.to_json() for p in report.problems],
            "needs_prometheus": [s.slo.key for s in promql],
            "burndowns_omitted": len(valid) - len(charted),
            **scoped,
        },
        charts=(*_heatmap(valid), *(_burndown_chart(e) for e in charted)),
        actions=tuple(
            {
                "action": f"{d.slo}: {d.action}",
                "owner": _owner(ctx, d.slo),
                "due": "",
                "source": "error-budget-policy",
            }
            for d in decisions
            if d.kind in ("release_freeze", "postmortem_required")
        ),
        headline=headline,
        details=(
            f"**SLOs on target** ({len(on)})\n\n" + _status_table(_worst_first(on), standings)
            if on else ""
        ),
    )


def _headline(
    valid: Sequence[SloStatus],
    off: Sequence[SloStatus],
    risk: Sequence[SloStatus],
    exhausted: Sequence[SloStatus],
    invalid: Sequence[SloStatus],
) -> str:
    text = (
        f"{len(off)} SLO(s) off target, {len(risk)} at risk, "
        f"{len(valid) - len(off) - len(risk)} of {len(valid)} computed on target"
    )
    if exhausted:
        text += f"; {len(exhausted)} error budget(s) exhausted"
    if invalid:
        text += f"; {len(invalid)} not computed"
    return text


def _worst_first(statuses: Sequence[SloStatus]) -> list[SloStatus]:
    return sorted(statuses, key=lambda s: (s.budget.remaining if s.budget else 0.0, s.slo.key))


def _status_table(
    statuses: Sequence[SloStatus], standings: dict[str, tuple[Standing, str]]
) -> str:
    rows = []
    for s in statuses:
        where, why = standings[s.slo.key]
        rows.append(
            [
                s.slo.service,
                s.slo.name,
                where.value,
                percent(s.slo.objective),
                s.slo.window.label,
                percent(s.sli),
                percent(s.budget.remaining if s.budget else None, 1),
                *(_burn(s.burn_rates.get(w)) for w in SHOWN_BURNS),
                s.exhaustion_at.strftime("%Y-%m-%d %H:%M") if s.exhaustion_at else "—",
                _age(s),
                why,
            ]
        )
    header = ["service", "SLO", "standing", "objective", "window", "SLI", "budget left"]
    header += [f"burn {w}" for w in SHOWN_BURNS] + ["budget exhausted at", "newest event", "why"]
    return md_table(header, rows, "lllrlrr" + "r" * len(SHOWN_BURNS) + "lrl")


def _exclusions_table(statuses: Sequence[SloStatus]) -> str:
    """Return per SLO what was excluded and its SLI and budget with and without it."""
    rows = []
    for s in statuses:
        excluded, raw = s.exclusions, s.without_exclusions
        assert excluded is not None and raw is not None
        rows.append([
            s.slo.key,
            f"{excluded.minutes:,}",
            f"{excluded.events:,.0f} ({excluded.bad_events:,.0f} bad)",
            _sli_counts(s),
            _sli_counts(raw),
            percent(s.budget.remaining if s.budget else None, 1),
            percent(raw.budget.remaining if raw.budget else None, 1),
        ])
    header = ["SLO", "minutes excluded", "events excluded", "SLI (good / total)",
              "SLI without exclusions", "budget left", "budget left without exclusions"]
    return md_table(header, rows, "lrrrrrr")


def _sli_counts(status: SloStatus) -> str:
    if status.sli is None or status.good is None or status.total is None:
        return "not computed"
    return f"{percent(status.sli)} ({status.good:,.0f} / {status.total:,.0f})"


SHOWN_SPANS = 3


def _exclusion_lines(statuses: Sequence[SloStatus]) -> list[str]:
    """Return one line per exclusion applied to an SLO: what, when, why, who approved it,
    and what it took out of the window."""
    lines = []
    for s in statuses:
        assert s.exclusions is not None
        for applied in s.exclusions.applied:
            item = applied.exclusion
            spans = ", ".join(f"{b:%Y-%m-%d %H:%M}–{f:%H:%M} UTC" if b.date() == f.date()
                              else f"{b:%Y-%m-%d %H:%M}–{f:%Y-%m-%d %H:%M} UTC"
                              for b, f in applied.spans[:SHOWN_SPANS])
            if len(applied.spans) > SHOWN_SPANS:
                spans += f" and {len(applied.spans) - SHOWN_SPANS} more"
            who = f"{item.approver} <{item.approved_by}>" if item.approver else item.approved_by
            role = f" ({item.approver_role})" if item.approver_role else ""
            lines.append(
                f"- {s.slo.key}: {item.label}, {spans or 'before the window'}: {item.reason}; "
                f"approved by {who}{role}; {applied.minutes:,} min, "
                f"{applied.events:,.0f} events ({applied.bad_events:,.0f} bad) excluded"
            )
    return lines


def _burn(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _age(status: SloStatus) -> str:
    age = status.data_age
    return "none read" if age is None else f"{format_age(age)} ago"


def _age_note(status: SloStatus) -> str:
    age = status.data_age
    return "" if age is None else f" (newest event {format_age(age)} old)"


def _burn_notes(valid: Sequence[SloStatus]) -> list[str]:
    """Return why shown burn rates are n/a, one line per distinct explanation."""
    groups: dict[str, list[str]] = {}
    for s in valid:
        missing = [w for w in SHOWN_BURNS if w in s.burn_rate_notes]
        if not missing:
            continue
        age = s.data_age
        stale = age is not None and all(
            s.burn_rate_notes[w].startswith(f"no events in the last {w}:") for w in missing
        )
        if stale and age is not None:
            text = (f"burn {', '.join(missing)} n/a: no events in the last {missing[-1]}; "
                    f"newest event {format_age(age)} old")
        else:
            text = "; ".join(f"burn {w}: {s.burn_rate_notes[w]}" for w in missing)
        groups.setdefault(text, []).append(s.slo.key)
    return [f"- {text} ({len(keys)} SLO(s): {', '.join(keys)})" for text, keys in groups.items()]


def _decision_json(decision: Any) -> dict[str, Any]:
    return {
        "slo": decision.slo,
        "kind": decision.kind,
        "reason": decision.reason,
        "action": decision.action,
        "incident_id": decision.incident_id,
        "budget_consumed": decision.budget_consumed,
    }


def _owner(ctx: Context, key: str) -> str:
    service = key.split("/", 1)[0]
    for entry in ctx.workspace.config.services:
        if entry.name == service:
            return entry.owner or ""
    return ""


def _burndown_chart(evaluation: SloEvaluation) -> Chart:
    status = evaluation.status
    assert evaluation.series is not None
    points = budget_burndown(status, evaluation.series)
    return Chart(
        key=f"slo-burndown-{status.slo.service}-{status.slo.name}",
        title=f"Error budget remaining: {status.slo.key} ({status.slo.window.label})",
        kind="line",
        data={
            "x": points["time"],
            "series": [{"name": "budget remaining", "y": points["remaining"]}],
            "hlines": [{"y": 0.0, "label": "exhausted"}],
            "y_label": "share of error budget",
        },
    )


def heat_scale(values: Sequence[Sequence[float | None]]) -> dict[str, Any]:
    """Return the heat map's colour scale: diverging from 0 through 1 (on budget) to ``max``.

    ``max`` is the largest burn rate shown, or twice the centre when all are lower, so the
    scale always reaches as far above the centre as below it.
    """
    observed = max((v for row in values for v in row if v is not None), default=0.0)
    return {
        "type": "diverging",
        "min": 0.0,
        "center": HEAT_CENTER,
        "max": round(max(observed, 2 * HEAT_CENTER), 4),
        "observed_max": round(observed, 4),
    }


def _heatmap(valid: Sequence[SloStatus]) -> tuple[Chart, ...]:
    """Return the burn-rate heat map of the computed SLOs (none when there are none)."""
    if not valid:
        return ()
    ordered = sorted(valid, key=lambda s: s.slo.key)
    values = [[s.burn_rates.get(w) for w in HEAT_WINDOWS] for s in ordered]
    return (
        Chart(
            key="slo-burn-rates",
            title="Burn rate: SLO × lookback window (1 = on budget)",
            kind="heatmap",
            data={
                "rows": [s.slo.key for s in ordered],
                "columns": list(HEAT_WINDOWS),
                "values": values,
                "scale": heat_scale(values),
                "label": "burn rate (1 = on budget; blank = no events in the window)",
            },
        ),
    )
