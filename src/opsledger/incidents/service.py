"""Incidents of a workspace, end to end: read, fold duplicates, compute KPIs and follow-up.

The edge between I/O and the pure analysis (:mod:`opsledger.incidents.kpis`,
:mod:`opsledger.incidents.postmortems`, :mod:`opsledger.incidents.escalation`): records come
from the workspace's readers, the error budget each incident consumed from the SLO
evaluation when there is one, and the outputs (postmortem drafts, the escalation matrix,
``alertmanager.yml``) are written atomically.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsledger.core.catalog import configured_services
from opsledger.core.errors import OpsledgerError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.incident_policy import (
    FoldedDuplicate,
    IncidentPolicy,
    apply_policy,
    fold_duplicates,
    policy_of,
)
from opsledger.core.inputs import Context, read_input
from opsledger.core.problems import Problem, ReadResult
from opsledger.core.scope import EVERYTHING, LeftOut, Scope
from opsledger.core.workspace import InputKey, Workspace
from opsledger.incidents.escalation import EscalationMatrix, escalation_matrix
from opsledger.incidents.escalation_matrix import escalation_markdown as escalation_markdown
from opsledger.incidents.kpis import DurationStats as DurationStats
from opsledger.incidents.kpis import IncidentKpis, Period, incident_kpis, rotation_resolver
from opsledger.incidents.postmortems import ActionItemSummary as ActionItemSummary
from opsledger.incidents.postmortems import PostmortemReview, review_postmortems
from opsledger.incidents.postmortems import track_action_items as track_action_items
from opsledger.incidents.scoping import (
    IncidentSplit,
    left_out_in,
    split_incidents,
    split_postmortems,
)
from opsledger.model.handover import CatalogService, Postmortem
from opsledger.model.incidents import Incident

DEFAULT_PERIOD_DAYS = 90
DRAFTS_DIR = "drafts"
MATRIX_FILE = "escalation-matrix.md"
ALERTMANAGER_FILE = "alertmanager.yml"
NOTHING_LEFT_OUT = LeftOut()


@dataclass(frozen=True)
class IncidentRecords:
    incidents: tuple[Incident, ...]
    problems: tuple[Problem, ...]
    folded: tuple[FoldedDuplicate, ...]
    # In a team's or a service's view, the incidents on record that it leaves out: those of
    # other services or teams, and those naming neither a known service nor a team.
    other: tuple[Incident, ...] = ()
    unplaced: tuple[Incident, ...] = ()

    @property
    def left_out(self) -> LeftOut:
        return LeftOut(len(self.other), len(self.unplaced))


def _read_whole(ctx: Context, key: InputKey, reader: Any) -> ReadResult[Any]:
    """Return an input with every record, also in a scoped run: incidents are placed in a
    view only once the incident policy has named their services (:mod:`.scoping`)."""
    if ctx.scope.whole:
        return read_input(ctx, key, reader)
    whole = Context(ctx.workspace, ctx.inputs.source or ctx.inputs, ctx.now)
    return read_input(whole, key, reader)


def load_incidents(ctx: Context, policy: IncidentPolicy | None = None) -> IncidentRecords:
    """Return the run's incidents from every export, duplicates folded (in a team's or a
    service's view, only its incidents, with those it leaves out)."""
    from opsledger.readers import incidents as folder_reader

    policy = policy or policy_of(ctx.workspace.config)
    base = _read_whole(ctx, InputKey.INCIDENTS, folder_reader.read)
    records = [r for r in base.records if isinstance(r, Incident)]
    folded = fold_duplicates(apply_policy(records, policy), policy)
    if ctx.scope.whole:
        return IncidentRecords(folded.incidents, tuple(base.problems), folded.folded)
    split = split_incidents(ctx.scope, folded.incidents)
    kept = {incident.id for incident in split.kept}
    return IncidentRecords(split.kept, tuple(base.problems),
                           tuple(f for f in folded.folded if f.kept in kept),
                           split.other, split.unplaced)


def load_postmortems(ctx: Context) -> ReadResult[Postmortem]:
    """Return the run's postmortems (in a team's or a service's view, those of its
    incidents)."""
    return _postmortems_in_scope(ctx)[0]


def _postmortems_in_scope(
    ctx: Context, records: IncidentRecords | None = None
) -> tuple[ReadResult[Postmortem], LeftOut]:
    from opsledger.readers import postmortems

    result = _read_whole(ctx, InputKey.POSTMORTEMS, postmortems.read)
    if ctx.scope.whole:
        return result, NOTHING_LEFT_OUT
    records = records or load_incidents(ctx)
    split = IncidentSplit(records.incidents, records.other, records.unplaced)
    kept, left_out = split_postmortems(
        ctx.scope, (p for p in result.records if isinstance(p, Postmortem)), split)
    scoped = copy.copy(result)
    scoped.records = kept
    return scoped, left_out


def load_catalog(ctx: Context) -> list[CatalogService]:
    """Return catalog entries from SERVICE-CATALOG.xlsx and Backstage, when readable (in a
    team's or a service's view, the entries of its services)."""
    from opsledger.readers import backstage, service_catalog

    entries: list[CatalogService] = []
    for key, reader in ((InputKey.SERVICE_CATALOG, service_catalog.read),
                        (InputKey.BACKSTAGE, backstage.read)):
        result = read_input(ctx, key, reader)
        seen = {e.name for e in entries}
        entries.extend(r for r in result.records
                       if isinstance(r, CatalogService) and r.name not in seen)
    scope = ctx.scope
    return entries if scope.whole else [e for e in entries if scope.covers(e.name, e.team)]


@dataclass(frozen=True)
class BudgetShares:
    """Error budget consumed per incident (largest over the service's SLOs), or why not."""

    fractions: dict[str, float] = field(default_factory=dict)
    skipped: str = ""


def budget_shares(ctx: Context, incidents: tuple[Incident, ...]) -> BudgetShares:
    """Return the budget share of each incident inside an evaluated SLO window."""
    try:
        from opsledger.slo.service import evaluate_workspace, floor_minute, incident_budget_share
    except ImportError:
        return BudgetShares(skipped="SLO evaluation is not available")
    try:
        report = evaluate_workspace(ctx)
    except OpsledgerError as exc:
        return BudgetShares(skipped=f"SLO evaluation failed: {exc}")
    fractions: dict[str, float] = {}
    for evaluation in report.evaluations:
        status, series = evaluation.status, evaluation.series
        if series is None or not status.valid:
            continue
        end = floor_minute(status.now)
        for incident in incidents:
            if incident.service != status.slo.service:
                continue
            share = incident_budget_share(status.slo, series, incident, status.window_start, end)
            if share is not None:
                fractions[incident.id] = max(share, fractions.get(incident.id, 0.0))
    if not report.evaluations:
        where = "the workspace" if ctx.scope.whole else ctx.scope.label
        return BudgetShares(skipped=f"no SLO definitions for {where}")
    return BudgetShares(fractions)


def service_rotations(ws: Workspace, catalog: list[CatalogService]) -> dict[str, str]:
    rotations = {e.name: e.oncall for e in catalog if e.oncall}
    rotations.update({s.name: s.oncall for s in ws.config.services if s.oncall})
    return rotations


@dataclass(frozen=True)
class IncidentReview:
    """Everything the incidents command, section and gate need for one period."""

    period: Period
    now: datetime
    records: IncidentRecords
    kpis: IncidentKpis
    previous: IncidentKpis
    postmortems: PostmortemReview
    postmortem_problems: tuple[Problem, ...]
    budgets: BudgetShares
    scope: Scope = EVERYTHING
    postmortems_left_out: LeftOut = NOTHING_LEFT_OUT

    def left_out_json(self) -> dict[str, Any]:
        """Return what a team's or a service's view left out, per kind of record."""
        records = self.records
        return {
            "incidents": {"other": len(records.other), "unplaced": len(records.unplaced)},
            "incidents_in_period": {"other": left_out_in(records.other, self.period),
                                    "unplaced": left_out_in(records.unplaced, self.period)},
            "postmortems": {"other": self.postmortems_left_out.other,
                            "unplaced": self.postmortems_left_out.unplaced},
        }

    def left_out_text(self) -> str:
        """Return one sentence saying what a scoped view left out ("" for every service)."""
        if self.scope.whole:
            return ""
        left = self.left_out_json()
        records, period = left["incidents"], left["incidents_in_period"]
        postmortems = self.postmortems_left_out.total
        return (f"Not in the view of {self.scope.label}: {records['other']} incident(s) of "
                f"other services or teams ({period['other']} in the period), "
                f"{records['unplaced']} naming no known service and no team "
                f"({period['unplaced']} in the period), and {postmortems} postmortem(s) of "
                "incidents outside the view.")

    def stats_json(self) -> dict[str, Any]:
        """Return the ``incidents stats --json`` object (with ``scope`` in a team's or a
        service's view)."""
        kpis, follow = self.kpis, self.postmortems
        mttr = kpis.mttr.to_json()
        mtta = kpis.mtta.to_json()
        scope = {} if self.scope.whole else {
            "scope": {**self.scope.to_json(), "left_out": self.left_out_json()}}
        return {
            **scope,
            "period": {"start": self.period.start.isoformat(),
                       "end": self.period.end.isoformat()},
            "now": self.now.isoformat(),
            "count": kpis.count,
            "by_severity": dict(kpis.by_severity),
            "response_by_severity": kpis.response_by_severity_json(),
            "by_service": dict(kpis.by_service),
            "by_team": dict(kpis.by_team),
            "mtta_minutes": mtta.get("mean"),
            "mttd_minutes": kpis.mttd.to_json().get("mean"),
            "mttr_minutes": {k: mttr.get(k) for k in ("mean", "median", "p90")},
            "mtbf_hours": {name: m.to_json()["hours"] for name, m in kpis.mtbf.items()},
            "postmortems": {
                "required": len(follow.checks),
                "present": len(follow.present),
                "missing": [c.incident.id for c in follow.missing],
                "late": [c.incident.id for c in follow.late],
            },
            "action_items": {
                "open": len(follow.action_items.open),
                "overdue": [t.item.id for t in follow.action_items.overdue],
                "closure_rate": follow.action_items.to_json()["closure_rate"],
                "median_open_age_days": follow.action_items.median_open_age_days,
            },
            "gate": follow.gate.to_json(),
            "kpis": kpis.to_json(),
            "previous_period": {
                "start": self.previous.period.start.isoformat(),
                "end": self.previous.period.end.isoformat(),
                "count": self.previous.count,
                "mtta_minutes": self.previous.mtta.to_json().get("mean"),
                "mttr_minutes": self.previous.mttr.to_json().get("mean"),
            },
            "budget_consumed": dict(sorted(self.budgets.fractions.items())),
            "budget_skipped": self.budgets.skipped or None,
            "duplicates_folded": [
                {"kept": f.kept, "dropped": f.dropped, "reason": f.reason}
                for f in self.records.folded
            ],
            "problems": [p.to_json() for p in
                         (*self.records.problems, *self.postmortem_problems)],
        }


def default_period(now: datetime, since: datetime | None, until: datetime | None) -> Period:
    end = until or now
    start = since or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    return Period(start, end)


def review_incidents(
    ctx: Context, period: Period, with_budgets: bool = True
) -> IncidentReview:
    """Return the incident KPIs, postmortem follow-up and gate of the workspace (once per
    run, period and choice)."""
    return ctx.once(_review_incidents, period, with_budgets)


def _review_incidents(ctx: Context, period: Period, with_budgets: bool) -> IncidentReview:
    config = ctx.workspace.config
    policy = policy_of(config)
    ctx.progress("reading incidents")
    records = load_incidents(ctx, policy)
    postmortems, postmortems_left_out = _postmortems_in_scope(ctx, records)
    catalog = load_catalog(ctx)
    rotation_of = rotation_resolver(service_rotations(ctx.workspace, catalog))
    services = [s.name for s in configured_services(ctx)]
    if with_budgets and records.incidents:
        ctx.progress("error budget consumed per incident")
        budgets = budget_shares(ctx, records.incidents)
    else:
        budgets = BudgetShares(skipped="not requested")
    kpis = incident_kpis(records.incidents, period, ctx.now, policy, rotation_of, services)
    previous = incident_kpis(records.incidents, period.previous(), ctx.now, policy,
                             rotation_of, services)
    follow = review_postmortems(
        records.incidents, [p for p in postmortems.records if isinstance(p, Postmortem)],
        period, ctx.now, config.policies.postmortems, config.policies.action_item_sla_days,
        policy, budgets.fractions,
    )
    return IncidentReview(period, ctx.now, records, kpis, previous, follow,
                          tuple(postmortems.problems), budgets, ctx.scope, postmortems_left_out)


@dataclass(frozen=True)
class DraftsWritten:
    written: tuple[Path, ...]
    kept: tuple[Path, ...]  # already there; never overwritten


def write_postmortem_drafts(ctx: Context, review: IncidentReview) -> DraftsWritten:
    """Write a draft for each incident missing its postmortem; keep existing files."""
    from opsledger.incidents.postmortem_drafts import draft_file_name, postmortem_draft

    folder = ctx.workspace.path(InputKey.POSTMORTEMS) / DRAFTS_DIR
    written, kept = [], []
    for check in review.postmortems.missing:
        target = folder / draft_file_name(check.incident.id)
        if target.exists():
            kept.append(target)
            continue
        text = postmortem_draft(check, ctx.now)
        _write_new(target, text)
        written.append(target)
    return DraftsWritten(tuple(written), tuple(kept))


def _write_new(target: Path, text: str) -> None:
    """Write ``text`` atomically, refusing to replace a file that appeared meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    atomic_write_text(temporary, text)
    try:
        # link() fails when the target exists, unlike rename(): no draft is ever replaced.
        os.link(temporary, target)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


@dataclass(frozen=True)
class EscalationOutputs:
    matrix: EscalationMatrix
    markdown: Path
    alertmanager: Path


def write_escalation(ctx: Context) -> EscalationOutputs:
    """Write the escalation matrix and ``alertmanager.yml`` under the p09 evidence folder
    (in a team's or a service's view, its services only, in files named after the view)."""
    from opsledger.incidents.alertmanager import alertmanager_yaml
    from opsledger.incidents.escalation_matrix import escalation_markdown

    config = ctx.workspace.config
    policy = policy_of(config)
    matrix = escalation_matrix(config, load_catalog(ctx), policy, ctx.scope)
    folder = ctx.workspace.p09_evidence
    markdown = folder / ctx.scope.file_name(MATRIX_FILE)
    alertmanager = folder / ctx.scope.file_name(ALERTMANAGER_FILE)
    atomic_write_text(markdown, escalation_markdown(matrix, config.organisation))
    atomic_write_text(alertmanager, alertmanager_yaml(matrix, policy))
    return EscalationOutputs(matrix, markdown, alertmanager)
