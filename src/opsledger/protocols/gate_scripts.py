"""Entry points of the p18 automation hooks that ``opsledger init`` writes into ``scripts/``.

Each hook is a thin wrapper: it takes the path the procedure names, runs one check through
the library, prints the result and exits 0 (passed), 1 (failed) or 2 (bad usage or input).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from opsledger.core.errors import OpsledgerError
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, Workspace, open_workspace
from opsledger.model.gates import GateResult
from opsledger.protocols.model import StepContext
from opsledger.protocols.p18 import PROCEDURE, finish
from opsledger.protocols.p18_intake import handover_artifacts
from opsledger.protocols.p18_plan import (
    check_approvals,
    check_backlog_integrity,
    check_governance,
)
from opsledger.protocols.runner import evaluate_gates, write_gate_report
from opsledger.render.junit import gates_junit

EVIDENCE = ".artifacts/protocol-21"


def _parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workspace", type=Path, default=Path("."),
                        help="the ops workspace (default: the current folder)")
    return parser


def _report(results: Sequence[GateResult]) -> int:
    for result in results:
        verdict = "waived" if result.waiver else result.status.value.upper()
        print(f"[{verdict}] {result.title}: {result.actual} (evidence: {result.evidence})")
        for failure in result.failures:
            print(f"  - {failure}")
        if not result.passed and result.remedy:
            print(f"  remedy: {result.remedy}")
    return 0 if all(r.passed for r in results) else 1


def _guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except OpsledgerError as exc:
        print(f"error: {exc}")
        return 2


def _workspace(path: Path) -> Workspace:
    return open_workspace(path)


def backlog(argv: Sequence[str] | None = None) -> int:
    """Gate: every High/Critical backlog item has an owner and a due date."""
    parser = _parser("Gate: every High/Critical backlog item has an owner and a due date.")
    parser.add_argument("--input", type=Path, default=Path(EVIDENCE) / "maintenance-backlog.csv")
    args = parser.parse_args(argv)
    root = args.workspace.resolve()
    return _guarded(lambda: _report([check_backlog_integrity(root / args.input, root)]))


def approvals(argv: Sequence[str] | None = None) -> int:
    """Gate: the operations, support, product and security leads approved the plan."""
    parser = _parser("Gate: operations, support, product and security leads approved the plan.")
    parser.add_argument("--log", type=Path, default=Path(EVIDENCE) / "approval-log.csv")
    parser.add_argument("--plan", type=Path, default=Path(EVIDENCE) / "maintenance-plan.md")
    args = parser.parse_args(argv)
    root = args.workspace.resolve()
    return _guarded(
        lambda: _report([check_approvals(root / args.log, root / args.plan, root, PROCEDURE)])
    )


def governance(argv: Sequence[str] | None = None) -> int:
    """Gate: every governance checklist field is Complete."""
    parser = _parser("Gate: every governance checklist field is Complete.")
    parser.add_argument("--checklist", type=Path,
                        default=Path(EVIDENCE) / "governance-cadence-checklist.json")
    args = parser.parse_args(argv)
    root = args.workspace.resolve()
    return _guarded(lambda: _report([check_governance(root / args.checklist, root)]))


def prerequisites(argv: Sequence[str] | None = None) -> int:
    """Check that every p18 prerequisite is present and readable."""
    args = _parser("Check that every p18 prerequisite is present and readable.").parse_args(argv)

    def run() -> int:
        ctx = Context.open(_workspace(args.workspace))
        evidence_dir = PROCEDURE.evidence_dir(ctx.workspace)
        sctx = StepContext(ctx, PROCEDURE, PROCEDURE.steps[0], evidence_dir)
        for problem in sctx.not_applicable.breaks:
            print(f"[tampered] {sctx.not_applicable.log}: {problem}")
        failed = len(sctx.not_applicable.breaks)
        artifacts, _ = handover_artifacts(sctx)
        for entry in artifacts:
            key = InputKey(entry["artifact"])
            status = ctx.inputs.status(key)
            if not status.present and entry["satisfied_by"]:
                why = (f": {entry['not_applicable']['reason']}" if entry["not_applicable"]
                       else "")
                print(f"[not needed] {key.value}: {entry['satisfied_by']}{why}")
                continue
            where = "expected at " if not status.present else ""
            print(f"[{status.state}] {key.value}: {where}{status.path}")
            failed += status.state in ("missing", "malformed")
        return 1 if failed else 0

    return _guarded(run)


def all_gates(argv: Sequence[str] | None = None) -> int:
    """Run every p18 quality gate (waivers applied) for CI."""
    parser = _parser("Run every p18 quality gate (waivers applied) for CI.")
    parser.add_argument("--junit", type=Path, help="also write JUnit XML here")
    args = parser.parse_args(argv)

    def run() -> int:
        ctx = Context.open(_workspace(args.workspace))
        results = evaluate_gates(PROCEDURE, ctx)
        write_gate_report(PROCEDURE.evidence_dir(ctx.workspace), PROCEDURE, ctx.now, results)
        if args.junit:
            args.junit.write_text(gates_junit("p18", results, ctx.now))
        return _report(results)

    return _guarded(run)


def aggregate(argv: Sequence[str] | None = None) -> int:
    """Write the p18 evidence summary and the lessons input."""
    parser = _parser("Write the evidence summary and the lessons input.")
    parser.add_argument("--output", type=Path, default=Path(EVIDENCE))
    args = parser.parse_args(argv)

    def run() -> int:
        ctx = Context.open(_workspace(args.workspace))
        expected = PROCEDURE.evidence_dir(ctx.workspace).resolve()
        if (args.workspace / args.output).resolve() != expected:
            print(f"error: evidence lives in {expected} (set paths.p18_evidence to move it)")
            return 2
        for path in finish(ctx, evaluate_gates(PROCEDURE, ctx)):
            print(f"wrote {path}")
        return 0

    return _guarded(run)


# Script name (as the procedure names it) -> entry point.
SCRIPTS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "validate_prerequisites_18.py": prerequisites,
    "validate_gate_18_backlog.py": backlog,
    "validate_gate_18_approvals.py": approvals,
    "validate_gate_18_governance.py": governance,
    "aggregate_evidence_18.py": aggregate,
    "run_protocol_18_gates.py": all_gates,
}
