"""Persisted run state of a procedure: per step, what it read, what it wrote, how it ended."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_json
from opsledger.model import schema


class StepStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    AWAITING_APPROVAL = "awaiting-approval"  # its work is done; sign-off is not
    HALTED = "halted"


@dataclass
class StepState:
    status: StepStatus = StepStatus.PENDING
    input_digest: str = ""
    evidence: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    finished_at: str = ""
    summary: str = ""
    halts: list[dict[str, Any]] = field(default_factory=list)
    # Hashes of the approval-log rows the step's sign-off rested on when it last ran.
    decisions: list[str] = field(default_factory=list)


@dataclass
class ProcedureState:
    procedure: str
    steps: dict[str, StepState] = field(default_factory=dict)
    updated_at: str = ""

    def step(self, step_id: str) -> StepState:
        return self.steps.setdefault(step_id, StepState())


def state_path(state_dir: Path, procedure: str) -> Path:
    return state_dir / "runs" / f"{procedure}.json"


def load_state(path: Path, procedure: str) -> ProcedureState:
    """Return the saved state (a fresh one if none); refuse a file from a newer version."""
    if not path.exists():
        return ProcedureState(procedure)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable run state ({exc}); delete it to start over") from None
    if not isinstance(data, dict):
        raise _malformed(path, "it does not hold a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > schema.RUN_STATE:
        raise InputError(
            f"{path}: run state has schema version {version!r}, newer than this opsledger "
            f"understands ({schema.RUN_STATE}); upgrade opsledger"
        )
    steps = data.get("steps", {})
    if not isinstance(steps, dict):
        raise _malformed(path, "'steps' is not a mapping of step ids")
    return ProcedureState(
        procedure,
        {key: _step_state(path, key, value) for key, value in steps.items()},
        _text(path, "updated_at", data.get("updated_at", "")),
    )


def _step_state(path: Path, step: str, value: object) -> StepState:
    """Return one step's saved state; raise :class:`InputError` naming what is wrong."""
    if not isinstance(value, dict):
        raise _malformed(path, f"step '{step}' is not a mapping")
    status = value.get("status", StepStatus.PENDING.value)
    try:
        parsed = StepStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in StepStatus)
        raise _malformed(
            path, f"step '{step}' has the unknown status {status!r} (expected one of: {known})"
        ) from None
    evidence = value.get("evidence", {})
    halts = value.get("halts", [])
    if not isinstance(evidence, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in evidence.items()
    ):
        raise _malformed(path, f"step '{step}': 'evidence' is not a mapping of file digests")
    if not isinstance(halts, list) or not all(isinstance(h, dict) for h in halts):
        raise _malformed(path, f"step '{step}': 'halts' is not a list of halts")
    decisions = value.get("decisions", [])
    if not isinstance(decisions, list) or not all(isinstance(d, str) for d in decisions):
        raise _malformed(path, f"step '{step}': 'decisions' is not a list of row hashes")
    return StepState(
        status=parsed,
        input_digest=_text(path, f"step '{step}': input_digest", value.get("input_digest", "")),
        evidence=dict(evidence),
        finished_at=_text(path, f"step '{step}': finished_at", value.get("finished_at", "")),
        summary=_text(path, f"step '{step}': summary", value.get("summary", "")),
        halts=list(halts),
        decisions=list(decisions),
    )


def _text(path: Path, what: str, value: object) -> str:
    if not isinstance(value, str):
        raise _malformed(path, f"{what} is {value!r}, not text")
    return value


def _malformed(path: Path, problem: str) -> InputError:
    # The state only remembers what earlier runs did; starting over costs a re-run, and the
    # approvals themselves live in the approval log, not here.
    return InputError(
        f"{path}: run state is not valid: {problem}. opsledger writes this file itself; "
        "restore it from version control, or delete it to start over (the next 'opsledger "
        "run' re-runs every step)"
    )


def save_state(path: Path, state: ProcedureState, now: datetime) -> None:
    state.updated_at = now.isoformat()
    atomic_write_json(
        path,
        {
            "schema_version": schema.RUN_STATE,
            "procedure": state.procedure,
            "updated_at": state.updated_at,
            "steps": {key: asdict(value) for key, value in state.steps.items()},
        },
    )
