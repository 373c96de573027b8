"""Persisted run state of a procedure: per step, what it read, what it wrote, how it ended."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from opsledger.errors import InputError
from opsledger.fileio import atomic_write_json

STATE_SCHEMA_VERSION = 1


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
    version = data.get("schema_version")
    if not isinstance(version, int) or version > STATE_SCHEMA_VERSION:
        raise InputError(
            f"{path}: run state has schema version {version!r}, newer than this opsledger "
            f"understands ({STATE_SCHEMA_VERSION}); upgrade opsledger"
        )
    steps = {
        key: StepState(
            status=StepStatus(value.get("status", "pending")),
            input_digest=value.get("input_digest", ""),
            evidence=dict(value.get("evidence", {})),
            finished_at=value.get("finished_at", ""),
            summary=value.get("summary", ""),
            halts=list(value.get("halts", [])),
        )
        for key, value in data.get("steps", {}).items()
    }
    return ProcedureState(procedure, steps, data.get("updated_at", ""))


def save_state(path: Path, state: ProcedureState, now: datetime) -> None:
    state.updated_at = now.isoformat()
    atomic_write_json(
        path,
        {
            "schema_version": STATE_SCHEMA_VERSION,
            "procedure": state.procedure,
            "updated_at": state.updated_at,
            "steps": {key: asdict(value) for key, value in state.steps.items()},
        },
    )
