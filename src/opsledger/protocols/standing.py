"""Where a procedure stands now, without running it (``opsledger run --status``).

Each step is judged the way the next ``opsledger run`` would judge it: its saved result is
reused only if nothing it reads changed, and its sign-off is read from the approval log as
it is now (:func:`opsledger.protocols.signoff.step_signoff`, which the runner and the gates
use too). The gates are evaluated live, as ``opsledger gates`` does. The exit code follows
the same rule as ``run``: 0 when every step is done and every gate passes (or is waived).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsledger.core.inputs import Context
from opsledger.model.gates import GateResult
from opsledger.protocols.model import Halt, HaltKind, Procedure, Step, StepContext
from opsledger.protocols.runner import evaluate_gates, outcome_exit_code, reusable, step_digest
from opsledger.protocols.signoff import StepSignoff, signoff_halts, step_signoff
from opsledger.protocols.state import ProcedureState, StepStatus, load_state, state_path


class Standing(StrEnum):
    PENDING = "pending"  # never ran: the next run starts here
    COMPLETED = "completed"
    AWAITING_APPROVAL = "awaiting-approval"  # its work is done; decisions are not
    HALTED = "halted"  # its last run halted; the next run tries it again
    CHANGED = "changed"  # what it reads changed since it ran: the next run redoes it
    WAITING = "waiting"  # an earlier step is not done yet


@dataclass(frozen=True)
class StepStanding:
    step: Step
    standing: Standing
    note: str  # the step's last summary, or why it stands where it does
    halts: tuple[Halt, ...] = ()
    signoff: StepSignoff | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step.id,
            "title": self.step.title,
            "status": self.standing.value,
            "note": self.note,
            "halts": [h.to_json() for h in self.halts],
            "signoff": self.signoff.to_json() if self.signoff else None,
        }


@dataclass(frozen=True)
class ProcedureStanding:
    procedure: str
    steps: tuple[StepStanding, ...]
    gates: tuple[GateResult, ...]

    @property
    def halted_at(self) -> str | None:
        """Return the step the next run stops at or starts from (None when all are done)."""
        return next((s.step.id for s in self.steps if s.standing is not Standing.COMPLETED),
                    None)

    @property
    def complete(self) -> bool:
        return self.halted_at is None

    @property
    def exit_code(self) -> int:
        return outcome_exit_code(self.complete, list(self.gates))

    def to_json(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "complete": self.complete,
            "halted_at": self.halted_at,
            "exit_code": self.exit_code,
            "steps": [s.to_json() for s in self.steps],
            "gates": [g.to_json() for g in self.gates],
        }


def _with_signoff(summary: str, signoff: StepSignoff | None) -> str:
    if signoff is None:
        return summary
    return f"{summary}; {signoff.summary()}" if summary else signoff.summary()


def step_standing(sctx: StepContext, saved_state: ProcedureState) -> StepStanding:
    """Return where one step stands, judged as the next run would judge it."""
    step = sctx.step
    saved = saved_state.steps.get(step.id)
    if saved is None or saved.status is StepStatus.PENDING:
        return StepStanding(step, Standing.PENDING, "not run yet: the next run starts here")
    if saved.status is StepStatus.HALTED:
        halts = tuple(Halt(HaltKind(h.get("kind", HaltKind.FAILED_CHECK.value)),
                           h.get("reason", ""), tuple(h.get("details", ())))
                      for h in saved.halts)
        return StepStanding(step, Standing.HALTED,
                            "; ".join(h.reason for h in halts) or saved.summary, halts)
    if not reusable(sctx, saved, step_digest(sctx)):
        return StepStanding(step, Standing.CHANGED,
                            "what it reads changed since it ran: the next run redoes it "
                            f"(last time: {saved.summary})")
    signoff = step_signoff(sctx)
    halts = tuple(signoff_halts(sctx, signoff))
    note = _with_signoff(saved.summary, signoff)
    if not halts:
        return StepStanding(step, Standing.COMPLETED, note, (), signoff)
    waiting = all(h.kind in (HaltKind.APPROVAL_AWAITED, HaltKind.CONFLICT,
                             HaltKind.APPROVAL_REFUSED) for h in halts)
    standing = Standing.AWAITING_APPROVAL if waiting else Standing.HALTED
    return StepStanding(step, standing, note, halts, signoff)


def procedure_standing(procedure: Procedure, ctx: Context) -> ProcedureStanding:
    """Return every step's standing and every gate's result, as they are now."""
    ws = ctx.workspace
    evidence_dir = procedure.evidence_dir(ws)
    state = load_state(state_path(ws.state_dir, procedure.id), procedure.id)
    steps: list[StepStanding] = []
    blocked_by: str | None = None
    for step in procedure.steps:
        if blocked_by is not None:
            saved = state.steps.get(step.id)
            last = f" (last time: {saved.summary})" if saved and saved.summary else ""
            steps.append(StepStanding(step, Standing.WAITING,
                                      f"runs once {blocked_by} is done{last}"))
            continue
        standing = step_standing(StepContext(ctx, procedure, step, evidence_dir), state)
        steps.append(standing)
        if standing.standing is not Standing.COMPLETED:
            blocked_by = step.id
    return ProcedureStanding(procedure.id, tuple(steps), tuple(evaluate_gates(procedure, ctx)))
