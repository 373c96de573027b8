"""The work the kill test interrupts: approvals appended and a procedure run, in a loop.

The procedure writes sizeable JSON evidence through the same atomic writes and persisted
state as the real procedures, so a SIGKILL can land inside any of them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from opsledger.core.fileio import atomic_write_json, atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.lock import workspace_lock
from opsledger.core.workspace import open_workspace
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.model import Procedure, Step, StepKind, StepResult
from opsledger.protocols.runner import RunOutcome, StepContext, run_procedure, step_result

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ITEMS = 4000  # about 300 KB of JSON per evidence file: writes take long enough to be hit


def collect(sctx: StepContext) -> StepResult:
    items = [{"id": f"item-{i}", "score": i * 0.5, "owner": f"team-{i % 7}"} for i in range(ITEMS)]
    first = sctx.evidence_path("collected.json")
    atomic_write_json(first, {"schema_version": 1, "items": items})
    second = sctx.evidence_path("collected-copy.json")
    atomic_write_json(second, {"schema_version": 1, "items": items[::-1]})
    return step_result(f"collected {ITEMS} items", [first, second])


def summarise(sctx: StepContext) -> StepResult:
    import json

    items = json.loads(sctx.evidence_path("collected.json").read_text())["items"]
    out = sctx.evidence_path("summary.json")
    atomic_write_json(out, {"schema_version": 1, "count": len(items)})
    notes = sctx.evidence_path("summary.md")
    atomic_write_text(notes, f"# Summary\n\n{len(items)} items.\n")
    return step_result("summarised", [out, notes])


PROCEDURE = Procedure(
    "kill",
    "Interrupted procedure",
    lambda ws: ws.root / ".artifacts" / "kill",
    (
        Step("collect", 1, "Collect", "Collecting items.", StepKind.MUST, ("collect",),
             ("collected.json", "collected-copy.json"), collect),
        Step("summarise", 2, "Summarise", "Summarising.", StepKind.MUST, ("summarise",),
             ("summary.json", "summary.md"), summarise,
             reads_evidence=("collected.json",)),
    ),
    (),
)


def context(root: Path) -> Context:
    return Context.open(open_workspace(root), NOW)


def append_approval(root: Path, ident: str) -> None:
    """Append one approval row the way ``opsledger approve`` does (under the lock)."""
    ctx = context(root)
    with workspace_lock(ctx.workspace.state_dir, "approve kill"):
        approval_ledger(PROCEDURE.evidence_dir(ctx.workspace), PROCEDURE).append(
            {
                "time": NOW.isoformat(), "procedure": "kill", "step": "summarise",
                "stakeholder": "Olu Ops", "email": "olu@example.com",
                "role": "operations-director", "decision": "approved",
                "conditions": ident, "plan_digest": "-",
            }
        )


def run_once(root: Path) -> RunOutcome:
    """Run the whole procedure again (forced from its first step), under the lock."""
    ctx = context(root)
    with workspace_lock(ctx.workspace.state_dir, "run kill"):
        return run_procedure(PROCEDURE, ctx, from_step="collect")


def work_forever(root: Path, round_id: int) -> None:
    """Alternate appends and runs; acknowledge each append on stdout once it returned."""
    n = 0
    while True:
        ident = f"{round_id}-{n}"
        append_approval(root, ident)
        os.write(1, f"ack {ident}\n".encode())
        run_once(root)
        n += 1
