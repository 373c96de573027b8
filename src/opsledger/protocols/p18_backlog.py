"""p18 phase 2: consolidated backlog, prioritisation matrix, automation candidates."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from opsledger.backlog.service import (
    BACKLOG_COLUMNS,
    Backlog,
    BacklogItem,
    automation_candidates,
    consolidated_backlog,
    work_items,
)
from opsledger.core.config import Role
from opsledger.core.fileio import atomic_write_csv, atomic_write_json
from opsledger.core.workspace import InputKey
from opsledger.protocols.model import Conflict, Halt, HaltKind, StepResult
from opsledger.protocols.p18_intake import evidence_header
from opsledger.protocols.runner import StepContext, step_result

BACKLOG_FILE = "maintenance-backlog.csv"
MATRIX_FILE = "backlog-prioritization-matrix.json"
AUTOMATION_FILE = "automation-candidates.json"
BACKLOG_INPUTS = (
    InputKey.TECH_DEBT, InputKey.PERF_BACKLOG, InputKey.SECURITY_RISKS, InputKey.POSTMORTEMS,
    InputKey.KT_FEEDBACK, InputKey.SECURITY,
)
# Who decides when the prioritisation conflicts: the procedure's product and security leads.
CONFLICT_DECIDERS = (Role.PRODUCT_OWNER,)


def build_backlog(sctx: StepContext) -> Backlog:
    return consolidated_backlog(sctx.ctx)


def consolidate_backlog(sctx: StepContext) -> StepResult:
    """Step 2.1: one tracker from debt, postmortems, risks, performance and scanners."""
    backlog = build_backlog(sctx)
    path = sctx.evidence_path(BACKLOG_FILE)
    atomic_write_csv(path, BACKLOG_COLUMNS, [item.as_row() for item in backlog.items])
    lacking = backlog.lacking_owner_or_severity()
    halts = []
    if lacking:
        details = tuple(
            f"{i.id} ({i.source}): "
            + ", ".join(w for w, bad in (("no owner", not i.owner),
                                         ("no severity", i.severity is None)) if bad)
            + f" — {i.title}"
            for i in lacking
        )
        halts.append(Halt(
            HaltKind.UNRATED,
            f"{len(lacking)} open backlog item(s) lack an owner or a severity rating",
            details,
        ))
    sources = sorted({s for i in backlog.items for s in i.source.split("+")})
    summary = (f"{len(backlog.items)} items from {', '.join(sources)}; "
               f"{backlog.duplicates_folded} duplicates folded; "
               f"{len(backlog.open_items())} open")
    return step_result(summary, [path], halts)


def _matrix_entry(item: BacklogItem) -> dict[str, Any]:
    s = item.scores
    return {
        "id": item.id,
        "title": item.title,
        "source": item.source,
        "service": item.service,
        "owner": item.owner,
        "severity": item.severity.value if item.severity else None,
        "priority": item.priority,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "status": item.status.value,
        "scores": {
            "likelihood": s.likelihood, "impact": s.impact, "risk": s.risk,
            "rice": s.rice, "wsjf": s.wsjf, "cost_of_delay": s.cost_of_delay,
            "job_size": s.job_size, "time_criticality": s.time_criticality,
            "confidence": s.confidence,
        },
        "rationale": s.rationale,
        "sla": {"due": item.sla_due.isoformat() if item.sla_due else None,
                "aligned": item.sla_aligned},
        "compliance": list(item.compliance),
        "merged_ids": list(item.merged_ids),
    }


def prioritise(sctx: StepContext) -> StepResult:
    """Step 2.2: risk, RICE and WSJF per item, SLA and compliance alignment, conflicts."""
    backlog = build_backlog(sctx)
    matrix = {
        **evidence_header(sctx, BACKLOG_INPUTS),
        "methods": {
            "risk": "likelihood (1-5) × impact (1-5); P1 ≥ 15, P2 ≥ 10, P3 ≥ 5, else P4",
            "rice": "reach × impact (0.25-3) × confidence ÷ effort (days)",
            "wsjf": "(business value + time criticality + risk reduction) ÷ job size, "
                    "modified Fibonacci 1-20; time criticality from days left to the due date",
        },
        "order": "WSJF, then risk, then due date",
        "items": [_matrix_entry(i) for i in backlog.items if i.status.is_open],
        "conflicts": [
            {"kind": c.kind, "items": list(c.items), "owner": c.owner,
             "explanation": c.explanation}
            for c in backlog.conflicts
        ],
    }
    path = sctx.evidence_path(MATRIX_FILE)
    atomic_write_json(path, matrix)
    top = backlog.open_items()[:3]
    summary = (f"{len(matrix['items'])} open items scored; top: "
               + ", ".join(f"{i.id} (WSJF {i.scores.wsjf:.1f})" for i in top)
               + f"; {len(backlog.conflicts)} conflicts")
    return step_result(summary, [path])


# What a conflict decision is about, per item: a change to any of these reopens it.
DECIDED_FIELDS = ("title", "owner", "priority", "severity", "due_date", "status")


def _conflict_id(kind: str, owner: str | None, items: list[str]) -> str:
    """Return the id a decider types: ``sla-SEC-004``, ``capacity-dana-silva``."""
    if kind == "capacity" and owner:
        return "capacity-" + re.sub(r"[^a-z0-9]+", "-", owner.lower()).strip("-")
    return f"{kind}-{'+'.join(items)}"


def matrix_conflicts(sctx: StepContext) -> tuple[Conflict, ...]:
    """Return the conflicts in the prioritisation matrix, each with the facts it decides.

    A decision holds while the conflict's items keep their owner, priority, severity, due
    date and SLA date: a change elsewhere in the backlog does not reopen it.
    """
    path = sctx.evidence_path(MATRIX_FILE)
    try:
        matrix = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    items = {i.get("id"): i for i in matrix.get("items", []) if isinstance(i, dict)}
    conflicts = []
    for entry in matrix.get("conflicts", []):
        ids = [str(i) for i in entry.get("items", [])]
        facts = []
        for item_id in ids:
            item = items.get(item_id, {})
            facts.append({"id": item_id, **{f: item.get(f) for f in DECIDED_FIELDS},
                          "sla_due": (item.get("sla") or {}).get("due")})
        ident = _conflict_id(entry.get("kind", ""), entry.get("owner"), ids)
        conflicts.append(Conflict(ident, entry.get("explanation", ""), {
            "id": ident, "kind": entry.get("kind"), "owner": entry.get("owner"),
            "items": facts,
        }))
    return tuple(conflicts)


def find_automation(sctx: StepContext) -> StepResult:
    """Step 2.3: recurring toil in tickets and manual work in the backlog."""
    tickets = sctx.ctx.inputs.read(InputKey.TICKETS).records
    items = [w for key in (InputKey.TECH_DEBT, InputKey.PERF_BACKLOG)
             for w in work_items(sctx.ctx, key)]
    content = automation_candidates(
        tickets, items, now=sctx.now,
        inputs=evidence_header(sctx, (InputKey.TICKETS, InputKey.TECH_DEBT))["inputs"],
    )
    path = sctx.evidence_path(AUTOMATION_FILE)
    atomic_write_json(path, content)
    summary_data = content.get("summary", {})
    summary = "automation candidates: " + (
        ", ".join(f"{k} {v}" for k, v in summary_data.items()) if isinstance(summary_data, dict)
        else "written"
    )
    return step_result(summary, [path])


def read_backlog_csv(path: Path) -> list[dict[str, str]]:
    """Return the rows of maintenance-backlog.csv as written (the gate reads the evidence)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
