"""Rollback runbooks as Markdown (one per service, written atomically under the p09
evidence folder) and the canary verdict as Markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.gates import GateSpec
from opsledger.model.slo import Slo
from opsledger.quality.canary import CanaryReport, Decision
from opsledger.quality.gate_definitions import resolve_definitions
from opsledger.quality.rollback import (
    Runbook,
    ServiceFacts,
    build_runbook,
    deployment_kind,
)
from opsledger.render.links import link_destination, md_link, unlinkable_reason
from opsledger.render.sections import md_escape, md_table

ROLLBACK_DIR = "rollback"
INDEX_FILE = "README.md"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def runbook_file_name(service: str) -> str:
    """Return a safe file name for the service's runbook (no path separators)."""
    cleaned = _UNSAFE.sub("-", service).strip(".-") or "service"
    return f"{cleaned}.md"


def runbook_markdown(runbook: Runbook) -> str:
    """Return the runbook as a Markdown document."""
    s = runbook.service
    lines = [
        f"# Rollback runbook: {md_escape(s.name)}",
        "",
        f"Deployment kind: **{s.kind.value}** (from {md_escape(s.kind_source)}). "
        f"Owner: {md_escape(s.owner or 'unassigned')}. Tier: "
        f"{'?' if s.tier is None else s.tier}. On-call: {md_escape(s.oncall or 'unknown')}.",
        "",
        f"Decide within **{runbook.decide_within_minutes} minutes** of detecting a failed "
        "change; when in doubt, roll back first and investigate after.",
        "",
    ]
    lines += _catalog_links(s)
    lines += ["## When to roll back", "", "Roll back when any of these holds:", ""]
    lines += [f"- {md_escape(c)}" for c in runbook.roll_back_when]
    lines += ["", "Escalate to the owner instead of rolling back when:", ""]
    lines += [f"- {md_escape(c)}" for c in runbook.escalate_when]
    lines.append("")
    if runbook.variables:
        lines += ["## Set these first", "", "Names below assume the workload, release, package "
                  "or function is named after the service; adjust them if not.", "", "```sh"]
        for name, value, meaning in runbook.variables:
            lines.append(f'export {name}="{value}"  # {meaning}')
        lines += ["```", ""]
    for heading, steps in (("Prepare", runbook.prepare), ("Roll back", runbook.rollback)):
        if not steps:
            continue
        lines += [f"## {heading}", ""]
        for number, step in enumerate(steps, 1):
            lines.append(f"{number}. **{md_escape(step.title)}**")
            if step.commands:
                lines += ["", "   ```sh"] + [f"   {c}" for c in step.commands] + ["   ```"]
            if step.note:
                lines += ["", f"   {step.note}"]
            lines.append("")
    if runbook.data_loss:
        lines += ["## Data loss", ""] + [f"- {md_escape(n)}" for n in runbook.data_loss] + [""]
    lines += ["## Verify", "", "The rollback is done when every check holds:", ""]
    lines.append(md_table(["Check", "Target", "How", "From"],
                          [[c.what, c.target, c.how, c.source] for c in runbook.checks]))
    lines += ["## Afterwards", "",
              "- Record the rollback in the incident (time, version rolled back to, checks).",
              "- Keep the failed version out of the next change window until a fix passes the "
              "test gates.", ""]
    return "\n".join(lines)


def _catalog_links(service: ServiceFacts) -> list[str]:
    """Return the "See also" line for the catalog's addresses, and a note for each one that
    is not linked (only http and https: a catalog is untrusted input)."""
    links: list[str] = []
    notes: list[str] = []
    for label, field, url in (("dashboard", "dashboard", service.dashboard),
                              ("service runbook", "runbook", service.catalog_runbook)):
        if not url:
            continue
        destination = link_destination(url)
        if destination is not None:
            links.append(md_link(label, destination))
        else:
            notes.append(f"Not linked: the service catalog's {field} address for "
                         f"{md_escape(service.name)}, because {unlinkable_reason(url)}.")
    lines = [f"See also: {', '.join(links)}.", ""] if links else []
    return lines + [line for note in notes for line in (note, "")]


def service_facts(ctx: Context) -> list[ServiceFacts]:
    """Return every service of the configuration and the catalog, with its deployment kind.

    A kind set explicitly in ``opsledger.yaml`` wins; else the catalog's; else the
    configuration's default (Kubernetes), marked as not declared.
    """
    from opsledger.incidents.service import load_catalog

    catalog = {entry.name: entry for entry in load_catalog(ctx)}
    facts: list[ServiceFacts] = []
    seen: set[str] = set()
    for service in ctx.workspace.config.services:
        entry = catalog.get(service.name)
        declared = "deployment" in service.model_fields_set
        from_catalog = deployment_kind(entry.deployment) if entry else None
        if declared:
            kind, source = service.deployment, "opsledger.yaml"
        elif from_catalog is not None:
            kind, source = from_catalog, "service catalog"
        else:
            kind, source = service.deployment, "the default (not declared)"
        facts.append(ServiceFacts(
            service.name, kind, source, service.owner or (entry.team if entry else None),
            service.tier, service.oncall or (entry.oncall if entry else None),
            entry.dashboard if entry else None, entry.runbook if entry else None))
        seen.add(service.name)
    # A catalog entry missing from the configuration gets a runbook only when it says how
    # it is deployed; other entries (resources, systems) are not deployable services.
    for name, entry in sorted(catalog.items()):
        known = deployment_kind(entry.deployment)
        if name in seen or known is None:
            continue
        facts.append(ServiceFacts(name, known, "service catalog", entry.team or entry.owner,
                                  entry.tier, entry.oncall, entry.dashboard, entry.runbook))
    return sorted(facts, key=lambda f: f.name)


def _slos(ctx: Context) -> list[Slo]:
    try:
        from opsledger.slo.service import read_slos
    except ImportError:
        return []
    return [s for s in read_slos(ctx).records if isinstance(s, Slo)]


def _gates(ctx: Context) -> list[GateSpec]:
    """Return the workspace's gates with their metrics under their current names."""
    if not ctx.workspace.path(InputKey.GATES).exists():
        return []
    gates = [g for g in ctx.inputs.read(InputKey.GATES).records if isinstance(g, GateSpec)]
    return list(resolve_definitions(gates, "gates_config.yaml").gates)


@dataclass(frozen=True)
class WrittenRunbooks:
    runbooks: tuple[Runbook, ...]
    paths: tuple[Path, ...]  # one per runbook, then the index
    index: Path


def write_runbooks(ctx: Context) -> WrittenRunbooks:
    """Write ``rollback/<service>.md`` for every service and an index beside them."""
    folder = ctx.workspace.p09_evidence / ROLLBACK_DIR
    gates = _gates(ctx)
    slos = _slos(ctx)
    config = ctx.workspace.config
    runbooks = []
    paths = []
    every = service_facts(ctx)
    names = [f.name for f in every]
    for facts in every:
        runbook = build_runbook(facts, config.budget_for(facts.name), gates,
                                [s for s in slos if s.service == facts.name], names)
        path = folder / runbook_file_name(facts.name)
        atomic_write_text(path, runbook_markdown(runbook))
        runbooks.append(runbook)
        paths.append(path)
    index = folder / INDEX_FILE
    atomic_write_text(index, runbook_index(runbooks))
    return WrittenRunbooks(tuple(runbooks), (*paths, index), index)


def runbook_index(runbooks: list[Runbook]) -> str:
    rows = [[md_link(r.service.name, runbook_file_name(r.service.name)), r.service.kind.value,
             r.service.kind_source, r.service.owner or "", len(r.checks)] for r in runbooks]
    return ("# Rollback procedures\n\nOne runbook per service, from its deployment kind.\n\n"
            + md_table(["Service", "Kind", "Kind from", "Owner", "Checks"], rows, "llllr"))


def canary_markdown(report: CanaryReport, baseline: str, canary: str) -> str:
    """Return the canary verdict and the evidence behind it."""
    word = {Decision.PROCEED: "PROCEED", Decision.ROLL_BACK: "ROLL BACK",
            Decision.INCONCLUSIVE: "INCONCLUSIVE: keep the canary small and collect more"}
    lines = [f"# Canary comparison: {word[report.decision]}", "",
             f"Baseline: `{md_escape(baseline)}`; canary: `{md_escape(canary)}`.", ""]
    lines += [f"- {md_escape(r)}" for r in report.reasons] + [""]
    rows = []
    for verdict in report.endpoints:
        e = verdict.errors
        latency = {c.percentile: c for c in verdict.latency}
        rows.append([
            verdict.endpoint,
            f"{e.baseline_errors}/{e.baseline_requests}" if e else "n/a",
            f"{e.canary_errors}/{e.canary_requests}" if e else "n/a",
            f"{e.p_value:.3g}" if e else "n/a",
            *(f"{latency[p].baseline_ms:g} -> {latency[p].canary_ms:g}" if p in latency else "n/a"
              for p in ("p95", "p99")),
        ])
    lines.append(md_table(["Endpoint", "Baseline errors", "Canary errors", "p (one-sided)",
                           "p95 ms", "p99 ms"], rows, "lrrrll"))
    if report.unmatched:
        lines.append("Not compared (in one run only): " + md_escape(", ".join(report.unmatched)))
    return "\n".join(lines) + "\n"
