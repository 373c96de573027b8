"""opsledger: operational records in, reliability and maintenance decisions out.

The library's front door. Each function opens a workspace (a path or an open
:class:`Workspace`), computes what the matching command computes, and returns typed results;
those that write the workspace hold its lock as the command line does. Their names differ
from the capability packages (``monthly_review``, not ``review``), so importing a package
never hides a function::

    import opsledger

    result = opsledger.monthly_review("ops-workspace")
    print(result.report)
    for evaluation in opsledger.slo_status("ops-workspace").evaluations:
        print(evaluation.status.slo.name, evaluation.status.met)

Nothing heavy is imported until a function runs, so ``import opsledger`` is instant.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsledger.version import __version__

if TYPE_CHECKING:
    from opsledger.approvals.decisions import Decision, RecordedApproval
    from opsledger.core.config import Config, Role, load_config
    from opsledger.core.errors import InputError, OpsledgerError
    from opsledger.core.problems import Problem, ReadResult
    from opsledger.core.workspace import InputKey, Workspace
    from opsledger.cost.section import CostView
    from opsledger.incidents.service import IncidentReview
    from opsledger.model.gates import GateResult
    from opsledger.patching.section import PatchView
    from opsledger.protocols.runner import RunOutcome
    from opsledger.review.service import ReviewResult
    from opsledger.slo.service import SloReport
    from opsledger.support.service import CoveragePlan

__all__ = [
    "Config",
    "InputError",
    "InputKey",
    "OpsledgerError",
    "Problem",
    "ReadResult",
    "Workspace",
    "__version__",
    "approve",
    "cost_view",
    "coverage_plan",
    "forecast_ticket_volume",
    "gates",
    "incident_review",
    "load_config",
    "monthly_review",
    "open_workspace",
    "patch_plan",
    "run_procedure",
    "slo_status",
]

# Names re-exported from the kernel, imported on first use.
_KERNEL = {
    "Config": "opsledger.core.config",
    "load_config": "opsledger.core.config",
    "InputError": "opsledger.core.errors",
    "OpsledgerError": "opsledger.core.errors",
    "Problem": "opsledger.core.problems",
    "ReadResult": "opsledger.core.problems",
    "InputKey": "opsledger.core.workspace",
    "Workspace": "opsledger.core.workspace",
}


def __getattr__(name: str) -> Any:
    if name in _KERNEL:
        return getattr(importlib.import_module(_KERNEL[name]), name)
    raise AttributeError(f"module 'opsledger' has no attribute {name!r}")


def open_workspace(root: str | Path) -> Workspace:
    """Return the workspace at ``root`` with its configuration read and checked."""
    from opsledger.core.workspace import open_workspace as _open

    return _open(Path(root))


def _workspace(workspace: str | Path | Workspace) -> Workspace:
    from opsledger.core.workspace import Workspace

    return workspace if isinstance(workspace, Workspace) else open_workspace(workspace)


def _context(workspace: str | Path | Workspace, now: datetime | None,
             team: str | None = None, service: str | None = None) -> Any:
    """Return a run over the workspace, or over one team's or one service's records."""
    from opsledger.core.catalog import open_scoped

    return open_scoped(_workspace(workspace), now, team=team, service=service)


def monthly_review(
    workspace: str | Path | Workspace,
    now: datetime | None = None,
    *,
    strict: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    prometheus_url: str | None = None,
    month: str | None = None,
    record_history: bool | None = None,
    team: str | None = None,
    service: str | None = None,
    by_team: bool = False,
) -> ReviewResult:
    """Read everything, run every analysis and write the monthly report (``opsledger review``).

    ``month`` (``YYYY-MM``) is reviewed, by default the last complete month at ``now``. Its
    KPIs are recorded in the history when ``record_history`` says so; by default only on
    the real clock (no ``now`` and no ``month`` given), as the command does.

    ``team`` or ``service`` reviews that team's or service's view alone (under
    ``reports/ops/teams/`` or ``reports/ops/services/``; never recorded in the history);
    ``by_team`` adds one view per team and the team scorecard to the whole review.
    """
    from datetime import UTC

    from opsledger.core.lock import writing
    from opsledger.review.service import run_review

    ws = _workspace(workspace)
    if record_history is None:
        record_history = now is None and month is None and team is None and service is None
    with writing(ws, "review"):
        return run_review(ws, now or datetime.now(UTC), strict, progress, prometheus_url,
                          month=month, record_history=record_history, team=team,
                          service=service, by_team=by_team)


def slo_status(
    workspace: str | Path | Workspace,
    now: datetime | None = None,
    *,
    prometheus_url: str | None = None,
    team: str | None = None,
    service: str | None = None,
) -> SloReport:
    """Return the status, budget and burn rates of every SLO (``opsledger slo status``), or
    of one team's or one service's SLOs."""
    from opsledger.slo.service import evaluate_workspace

    return evaluate_workspace(_context(workspace, now, team, service), prometheus_url,
                              minute_history=False)


def coverage_plan(
    workspace: str | Path | Workspace, now: datetime | None = None, *,
    team: str | None = None, service: str | None = None,
) -> CoveragePlan | None:
    """Return the support coverage plan: forecast, staffing, rotation (None without tickets),
    of every ticket or of one team's or one service's."""
    from opsledger.support.service import workspace_coverage_plan

    return workspace_coverage_plan(_context(workspace, now, team, service))


def forecast_ticket_volume(input_path: str | Path, output_path: str | Path) -> CoveragePlan:
    """Return the coverage plan for a ticket-history CSV and write it to ``output_path``."""
    from opsledger.support.service import forecast_ticket_volume as _forecast

    return _forecast(input_path, output_path)


def incident_review(
    workspace: str | Path | Workspace,
    now: datetime | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    team: str | None = None,
    service: str | None = None,
) -> IncidentReview:
    """Return incident KPIs and postmortem follow-up over a period (default: 30 days), of
    every incident or of one team's or one service's."""
    from opsledger.incidents.service import default_period, review_incidents

    ctx = _context(workspace, now, team, service)
    return review_incidents(ctx, default_period(ctx.now, since, until))


def cost_view(
    workspace: str | Path | Workspace, now: datetime | None = None, *,
    month: str | None = None, team: str | None = None, service: str | None = None,
) -> CostView:
    """Return spend, forecasts, targets, anomalies and savings for a month (``opsledger cost``),
    of the whole bill or of one team's or one service's lines."""
    from opsledger.cost.service import cost_view as _cost_view

    return _cost_view(_context(workspace, now, team, service), month)


def patch_plan(workspace: str | Path | Workspace, now: datetime | None = None, *,
               team: str | None = None, service: str | None = None) -> PatchView:
    """Return the findings with due dates and the dependency update plan, of every service or
    of one team's or one service's."""
    from opsledger.patching.service import patch_view

    return patch_view(_context(workspace, now, team, service))


def run_procedure(
    procedure: str, workspace: str | Path | Workspace, now: datetime | None = None
) -> RunOutcome:
    """Step through ``p18`` or ``p09`` until it completes or halts (``opsledger run``)."""
    from opsledger.core.lock import writing
    from opsledger.protocols.service import ProcedureId
    from opsledger.protocols.service import procedure as definition_of
    from opsledger.protocols.service import run_procedure as _run

    ctx = _context(workspace, now)
    with writing(ctx.workspace, f"run {procedure}"):
        return _run(definition_of(ProcedureId(procedure)), ctx)


def gates(
    procedure: str, workspace: str | Path | Workspace, now: datetime | None = None
) -> list[GateResult]:
    """Return the result of every gate of ``p18`` or ``p09`` (``opsledger gates``)."""
    from opsledger.protocols.service import ProcedureId, evaluate_gates
    from opsledger.protocols.service import procedure as definition_of

    return evaluate_gates(definition_of(ProcedureId(procedure)), _context(workspace, now))


def approve(
    procedure: str,
    workspace: str | Path | Workspace,
    step: str,
    role: Role | str,
    decision: Decision | str,
    *,
    conditions: str = "",
    by: str | None = None,
    now: datetime | None = None,
) -> RecordedApproval:
    """Record a stakeholder's decision on a step's output (``opsledger approve``)."""
    from opsledger.approvals.decisions import Decision
    from opsledger.core.config import Role
    from opsledger.core.lock import writing
    from opsledger.protocols.service import ProcedureId, approve_step

    ctx = _context(workspace, now)
    with writing(ctx.workspace, f"approve {procedure}"):
        return approve_step(ctx, ProcedureId(procedure), step, Role(role), Decision(decision),
                            conditions, by)
